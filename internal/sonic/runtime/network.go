package runtime

import (
	"context"
	"io/fs"
	"strings"
	"time"
)

// Runner runs a program and returns its combined output.
type Runner func(ctx context.Context, name string, args ...string) ([]byte, error)

// NetOptions tune the network bootstrap.
type NetOptions struct {
	Run         Runner
	Sleep       func(time.Duration)
	CarrierWait time.Duration // how long to wait for a link after bringing interfaces up
	Script      string        // udhcpc script path
}

// BringUpNetwork brings every interface up, waits for carrier, and runs
// busybox udhcpc once (no daemon) on those with a link. It returns the
// interfaces with carrier and addresses filled in. With no interface, or
// no link, it returns quickly and the readiness line says net=none.
func BringUpNetwork(ctx context.Context, fsys fs.FS, ifs []Interface, o NetOptions) []Interface {
	out := append([]Interface(nil), ifs...)
	if len(out) == 0 {
		return out
	}
	for _, i := range out {
		_, _ = o.Run(ctx, "ip", "link", "set", i.Name, "up")
	}
	step := 100 * time.Millisecond
	for waited := time.Duration(0); ; waited += step {
		all := true
		for k := range out {
			out[k].Carrier = readTrim(fsys, "sys/class/net/"+out[k].Name+"/carrier") == "1"
			all = all && out[k].Carrier
		}
		if all || waited >= o.CarrierWait || ctx.Err() != nil {
			break
		}
		o.Sleep(step)
	}
	for k, i := range out {
		if !i.Carrier {
			continue
		}
		// -n: give up if no lease, -q: exit once bound, 3 tries 2 s apart
		// (one xid throughout, so a late offer still counts). dnsmasq, the
		// DHCP server of many home routers, pings an address for up to 3 s
		// before it offers it: 1 s apart, the offer came after udhcpc had
		// given up.
		if _, err := o.Run(ctx, "udhcpc", "-i", i.Name, "-n", "-q", "-t", "3", "-T", "2", "-s", o.Script); err != nil {
			continue
		}
		addr, _ := o.Run(ctx, "ip", "-4", "-o", "addr", "show", "dev", i.Name)
		out[k].Address = parseInet(string(addr))
	}
	return out
}

// parseInet finds the first "inet A.B.C.D/N" in `ip -o addr` output.
func parseInet(s string) string {
	f := strings.Fields(s)
	for k := 0; k+1 < len(f); k++ {
		if f[k] == "inet" {
			a, _, _ := strings.Cut(f[k+1], "/")
			return a
		}
	}
	return ""
}
