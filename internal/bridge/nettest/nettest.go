// Package nettest builds small networks of Linux network namespaces for the
// bridge's tests: hosts joined by veth pairs to a bridge living in its own
// namespace, so mDNS multicast and TCP cross real interfaces and a link can
// be cut by taking a veth down; a tap device on the bridge joins a QEMU
// guest. It also starts a private avahi-daemon (with
// its own D-Bus) inside a host, for interop tests with avahi-browse and
// avahi-publish. It needs root and iproute2; tests call it through
// internal/testenv rules (skip locally, fail under CI).
package nettest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/testenv"
)

// Lab is one test network.
type Lab struct {
	t      testing.TB
	prefix string
	subnet int
	Hosts  []*Host
}

// Host is one namespace on the lab's bridge.
type Host struct {
	NS    string // namespace name
	Iface string // its veth, inside NS
	IP    string // its IPv4 address
	peer  string // the bridge-side end
	lab   *Lab
}

var seq atomic.Int32

// New makes n hosts on one bridge. Everything is removed at cleanup.
func New(t testing.TB, n int) *Lab {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Missing(t, "network namespaces need root")
	}
	testenv.Tool(t, "ip")
	id := fmt.Sprintf("%x%x", os.Getpid()&0xfff, seq.Add(1))
	l := &Lab{t: t, prefix: "ub" + id, subnet: int(seq.Load()%200) + 20}
	br := l.prefix + "br"
	t.Cleanup(l.remove)
	l.must("ip", "netns", "add", br)
	l.must("ip", "-n", br, "link", "add", "br0", "type", "bridge")
	l.must("ip", "-n", br, "link", "set", "br0", "up")
	for i := 0; i < n; i++ {
		h := &Host{NS: fmt.Sprintf("%sh%d", l.prefix, i), Iface: fmt.Sprintf("eth%d", i), lab: l,
			IP: fmt.Sprintf("10.%d.%d.%d", 200+l.subnet%50, l.subnet, i+1), peer: fmt.Sprintf("%sp%d", l.prefix, i)}
		l.must("ip", "netns", "add", h.NS)
		l.must("ip", "link", "add", h.peer, "type", "veth", "peer", "name", h.Iface, "netns", h.NS)
		l.must("ip", "link", "set", h.peer, "netns", br)
		l.must("ip", "-n", br, "link", "set", h.peer, "master", "br0", "up")
		l.must("ip", "-n", h.NS, "addr", "add", h.IP+"/24", "dev", h.Iface)
		l.must("ip", "-n", h.NS, "link", "set", h.Iface, "multicast", "on", "up")
		l.must("ip", "-n", h.NS, "link", "set", "lo", "up")
		l.Hosts = append(l.Hosts, h)
	}
	return l
}

func (l *Lab) must(args ...string) {
	l.t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		l.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (l *Lab) remove() {
	names := []string{l.prefix + "br"}
	for _, h := range l.Hosts {
		names = append(names, h.NS)
	}
	for _, ns := range names {
		// Processes left in a namespace (a killed test's helpers) go first.
		if out, err := exec.Command("ip", "netns", "pids", ns).Output(); err == nil {
			for _, p := range strings.Fields(string(out)) {
				_ = exec.Command("kill", "-9", p).Run()
			}
		}
		_ = exec.Command("ip", "netns", "del", ns).Run()
	}
}

// Tap adds a tap device to the lab's bridge, for a virtual machine: QEMU
// attaches to it by name (-netdev tap,ifname=NAME,script=no,downscript=no)
// and so must run in the bridge's namespace (BridgeCommand). The link
// carries traffic once QEMU holds the device.
func (l *Lab) Tap(name string) {
	l.t.Helper()
	br := l.prefix + "br"
	l.must("ip", "-n", br, "tuntap", "add", "dev", name, "mode", "tap")
	l.must("ip", "-n", br, "link", "set", name, "master", "br0", "up")
}

// BridgeCommand is a command run inside the bridge's namespace (where Tap
// devices live).
func (l *Lab) BridgeCommand(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", l.prefix + "br", name}, args...)...)
}

// Command is a command run inside the host's namespace.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
}

// Cut takes the host's link down (as pulling the cable does: no FIN, no RST).
func (h *Host) Cut() { h.lab.must("ip", "-n", h.lab.prefix+"br", "link", "set", h.peer, "down") }

// Mend brings the link back.
func (h *Host) Mend() { h.lab.must("ip", "-n", h.lab.prefix+"br", "link", "set", h.peer, "up") }

// Avahi is a private avahi-daemon (and its D-Bus) running in a host.
type Avahi struct {
	Bus string // DBUS_SYSTEM_BUS_ADDRESS for avahi-browse/avahi-publish
	h   *Host
	log *Buffer
}

// Buffer is a bytes.Buffer safe for a process writing while a test reads.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) { b.mu.Lock(); defer b.mu.Unlock(); return b.b.Write(p) }

// String returns what was written so far.
func (b *Buffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.b.String() }

// StartAvahi runs avahi-daemon in the host's namespace, with a D-Bus of its
// own and /run private to it (its pid file), restricted to the host's veth.
func (h *Host) StartAvahi(t testing.TB) *Avahi {
	t.Helper()
	testenv.Tool(t, "avahi-daemon")
	testenv.Tool(t, "dbus-daemon")
	testenv.Tool(t, "unshare")
	dir := t.TempDir()
	sock := filepath.Join(dir, "bus")
	busConf := `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>system</type><listen>unix:path=` + sock + `</listen><auth>EXTERNAL</auth>
<policy context="default"><allow user="*"/><allow own="*"/><allow send_type="method_call"/><allow send_type="signal"/>
<allow send_type="method_return"/><allow send_type="error"/><allow receive_type="method_call"/><allow receive_type="signal"/>
<allow receive_type="method_return"/><allow receive_type="error"/></policy></busconfig>
`
	avahiConf := "[server]\nuse-ipv4=yes\nuse-ipv6=no\nallow-interfaces=" + h.Iface + "\nenable-dbus=yes\n[publish]\npublish-hinfo=no\npublish-workstation=no\n"
	os.WriteFile(filepath.Join(dir, "bus.conf"), []byte(busConf), 0o644)
	os.WriteFile(filepath.Join(dir, "avahi.conf"), []byte(avahiConf), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	bus := exec.CommandContext(ctx, "dbus-daemon", "--nofork", "--config-file="+filepath.Join(dir, "bus.conf"))
	if err := bus.Start(); err != nil {
		t.Fatalf("dbus-daemon: %v", err)
	}
	a := &Avahi{Bus: "unix:path=" + sock, h: h, log: &Buffer{}}
	waitFor(t, 5*time.Second, func() bool { _, err := os.Stat(sock); return err == nil }, "dbus socket")
	d := h.Command(ctx, "unshare", "-m", "sh", "-c",
		"mount -t tmpfs tmpfs /run && exec avahi-daemon -f "+filepath.Join(dir, "avahi.conf")+" --no-drop-root --no-chroot --no-rlimits")
	d.Env = append(os.Environ(), "DBUS_SYSTEM_BUS_ADDRESS="+a.Bus)
	d.Stdout, d.Stderr = a.log, a.log
	if err := d.Start(); err != nil {
		t.Fatalf("avahi-daemon: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = d.Wait()
		_ = bus.Wait()
	})
	waitFor(t, 10*time.Second, func() bool { return strings.Contains(a.log.String(), "Server startup complete") }, "avahi-daemon startup:\n"+a.log.String())
	return a
}

// Command runs an avahi client (avahi-browse, avahi-publish) in the host
// against this daemon.
func (a *Avahi) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	c := a.h.Command(ctx, name, args...)
	c.Env = append(os.Environ(), "DBUS_SYSTEM_BUS_ADDRESS="+a.Bus)
	return c
}

func waitFor(t testing.TB, d time.Duration, ok func() bool, what string) {
	t.Helper()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if ok() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}
