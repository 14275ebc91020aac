package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/bridge/nettest"
	"github.com/fredbook/udos-dist/internal/sonic/build"
	"github.com/fredbook/udos-dist/internal/sonic/iso"
	"github.com/fredbook/udos-dist/internal/sonic/iso/isotest"
	"github.com/fredbook/udos-dist/internal/testenv"
)

// wizardUcode stands in for the host's uDOS CLI (bin/ucode, the command
// 'bridge serve' allows by default): it says where it ran and with what,
// on stdout and stderr, and exits 3 so the exit code's trip is visible.
const wizardUcode = `#!/bin/sh
echo "WIZARD-UCODE args=$* pwd=$(pwd)"
echo "WIZARD-UCODE-STDERR" >&2
exit 3
`

// TestBridgeOnSonic is the bridge end to end with the real image: a lab
// network (a bridge in a namespace of its own) holds the Wizard host, which
// runs dnsmasq for DHCP and 'udos-lib bridge serve'; the Sonic ISO, with
// udos-lib in it, boots in QEMU on a tap device on the same bridge. On
// Sonic's serial console, as a person would type it: discover the host,
// trust it by the fingerprint the host printed, run a command on it (its
// output and exit code on the console) and sync a state file, whose bytes
// the host then holds. One boot.
func TestBridgeOnSonic(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		testenv.Missing(t, "the bridge E2E test needs root (network namespaces, a tap device)")
	}
	dnsmasq := testenv.Tool(t, "dnsmasq")
	need(t, "qemu", "qemu-system-x86_64", "qemu-system-x86")
	vmlinuz, modules := isotest.Kernel(t, iso.AMD64)
	udosLibPath := udosLib(t)
	res, err := build.Build(context.Background(), build.Options{
		Version: version, Kernel: vmlinuz, Modules: modules,
		Busybox: need(t, "busybox", "/bin/busybox", "busybox-static"),
		Runtime: sonicRuntime(t), Core: coreTarball(t), Bins: []string{udosLibPath},
		OutputDir: t.TempDir(), Time: epoch, Tools: isotest.Tools(t, iso.AMD64), TempDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}

	lab := nettest.New(t, 1)
	wiz := lab.Hosts[0]
	lab.Tap("tap0")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// DHCP for the guest from the Wizard's side of the bridge, as a home
	// router's dnsmasq would (it pings an address before offering it). The
	// router option is dnsmasq's own address: the guest's default route,
	// which carries its mDNS queries.
	prefix := wiz.IP[:strings.LastIndex(wiz.IP, ".")+1]
	ddir := t.TempDir()
	dlog := &nettest.Buffer{}
	dns := wiz.Command(ctx, dnsmasq, "--no-daemon", "--conf-file=/dev/null", "--port=0", "--user=root",
		"--interface="+wiz.Iface, "--bind-interfaces", "--dhcp-authoritative", "--log-dhcp",
		"--dhcp-range="+prefix+"100,"+prefix+"150,255.255.255.0,1h",
		"--dhcp-leasefile="+filepath.Join(ddir, "leases"), "--pid-file="+filepath.Join(ddir, "pid"))
	dns.Stdout, dns.Stderr = dlog, dlog
	if err := dns.Start(); err != nil {
		t.Fatalf("dnsmasq: %v", err)
	}
	defer func() { dns.Process.Kill(); dns.Wait() }()

	// The Wizard: a uDOS root with bin/ucode, serving on its address.
	wroot := t.TempDir()
	os.MkdirAll(filepath.Join(wroot, "bin"), 0o755)
	os.WriteFile(filepath.Join(wroot, "bin", "ucode"), []byte(wizardUcode), 0o755)
	os.WriteFile(filepath.Join(wroot, "version.json"), []byte(`{"version": "1.5.0", "variant": "wizard-full"}`), 0o644)
	slog := &nettest.Buffer{}
	srv := wiz.Command(ctx, udosLibPath, "--root", wroot, "bridge", "serve", "--listen", wiz.IP+":7622",
		"--name", "Lab Wizard", "--iface", wiz.Iface, "--allow", "bin/ucode")
	srv.Stdout, srv.Stderr = slog, slog
	if err := srv.Start(); err != nil {
		t.Fatalf("bridge serve: %v", err)
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	fp := waitLog(ctx, t, slog, regexp.MustCompile(`host key (SHA256:\S+)`), "bridge serve's host key")[1]
	waitLog(ctx, t, slog, regexp.MustCompile(`announced as "Lab Wizard"`), "bridge serve's announcement")

	con := bootConsole(ctx, t, lab.BridgeCommand, pc, "-M", "q35", "-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no",
		"-device", "virtio-net-pci,netdev=n0", "-cdrom", res.ISO)
	if err := con.shell(ctx); err != nil {
		t.Fatal(err)
	}
	ready := readyRE.FindString(con.out.String())
	lease := regexp.MustCompile(`net=eth0:(` + regexp.QuoteMeta(prefix) + `\d+)`).FindStringSubmatch(ready)
	if lease == nil {
		t.Fatalf("no DHCP lease from dnsmasq in %q; dnsmasq:\n%s", ready, dlog)
	}
	// step types line and wants all of res in what the console shows
	// before the next prompt. The shell echoes the line: no pattern
	// matches what is typed.
	step := func(line string, res ...string) []string {
		t.Helper()
		out, err := con.runOutput(ctx, line)
		if err != nil {
			t.Fatal(err)
		}
		var m []string
		for _, re := range res {
			if m = regexp.MustCompile(re).FindStringSubmatch(out); m == nil {
				t.Fatalf("%q: want %s in the console output:\n%s\nbridge serve:\n%s", line, re, out, slog)
			}
		}
		return m
	}
	q := regexp.QuoteMeta
	step("udos-lib sonic discover --timeout 5s",
		`Lab Wizard\s+`+q(wiz.IP)+`(,\S+)?\s+port 7622\s+uDOS 1\.5\.0\s+protocol 1\s+`+q(fp))
	key := step("udos-lib sonic trust 'Lab Wizard' --fingerprint "+fp,
		`pinned \[Lab_Wizard\]:7622 `+q(fp)+` in /opt/udos/bridge/known_hosts`,
		`bridge authorize '(ssh-ed25519 [A-Za-z0-9+/=]+ sonic)'`)[1]
	if out, err := exec.Command(udosLibPath, "--root", wroot, "bridge", "authorize", key).CombinedOutput(); err != nil {
		t.Fatalf("bridge authorize: %v\n%s", err, out)
	}
	step(`udos-lib sonic run 'Lab Wizard' -- ucode STATUS; echo "exit code $?"`,
		`WIZARD-UCODE args=STATUS pwd=`+q(wroot)+`\r?\n`, `WIZARD-UCODE-STDERR\r?\n`, `exit code 3\r?\n`)

	// A state file with bytes of this run only, in the default state
	// folder under the uDOS root the runtime sets (UDOS_ROOT).
	nonce := make([]byte, 16)
	rand.Read(nonce)
	state := "notes of this Sonic " + hex.EncodeToString(nonce) + "\n"
	step(`mkdir -p "$UDOS_ROOT/memory" && printf '%s\n' '` + strings.TrimSuffix(state, "\n") + `' > "$UDOS_ROOT/memory/notes.txt"`)
	step("udos-lib sonic sync 'Lab Wizard'",
		`synced 1 files \(`+fmt.Sprint(len(state))+` bytes\) to Lab Wizard as version 1`)
	step("udos-lib sonic status", `\[Lab_Wizard\]:7622\s+`+q(fp)+`\s+version 1 synced`)
	if err := con.send("poweroff -f"); err != nil {
		t.Fatal(err)
	}
	if err := con.wait(ctx); err != nil {
		t.Fatal(err)
	}

	got, _ := filepath.Glob(filepath.Join(wroot, "bridge", "state", "*", "current", "notes.txt"))
	if len(got) != 1 {
		t.Fatalf("the host holds %d synced notes.txt, want 1 (state folder: %v)", len(got), got)
	}
	if b, err := os.ReadFile(got[0]); err != nil || string(b) != state {
		t.Fatalf("the host's synced notes.txt = %q, %v; want %q", b, err, state)
	}
	if os.Getenv("SONIC_E2E_LOG") != "" {
		t.Log(con.out.String())
	}
	t.Logf("Sonic got %s by DHCP, found, trusted, ran on and synced to the Wizard at %s", lease[1], wiz.IP)
}

// waitLog waits for re in a process's log (bridge serve's lines).
func waitLog(ctx context.Context, t *testing.T, log *nettest.Buffer, re *regexp.Regexp, what string) []string {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if m := re.FindStringSubmatch(log.String()); m != nil {
			return m
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v; log:\n%s", what, ctx.Err(), log)
		}
	}
}
