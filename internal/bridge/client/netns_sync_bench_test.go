package client_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/fredbook/udos-dist/internal/bridge/client"
	"github.com/fredbook/udos-dist/internal/bridge/hostauth"
	"github.com/fredbook/udos-dist/internal/bridge/nettest"
	"github.com/fredbook/udos-dist/internal/bridge/server"
	"github.com/fredbook/udos-dist/internal/bridge/statesync"
	"github.com/fredbook/udos-dist/internal/testenv"
)

// helperPush is one `sonic sync` in the Sonic's namespace: connect, scan
// SRC through the scan cache in DIR, push on top of the version in
// DIR/base, record the new version there.
func helperPush(dir, addr, src string) int {
	key, _ := hostauth.LoadOrCreateKey(filepath.Join(dir, "client"))
	host, _ := hostauth.LoadOrCreateKey(filepath.Join(dir, "host"))
	c, err := client.Dial(context.Background(), client.Config{Host: addr, Port: hostauth.DefaultPort, Key: key,
		HostKey: func(k ssh.PublicKey) error { return fixedKey(host.PublicKey(), k) }})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer c.Close()
	m, err := statesync.ScanCache{File: filepath.Join(dir, "scan-cache.json")}.Scan(src)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	b, _ := os.ReadFile(filepath.Join(dir, "base"))
	base, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	st, err := c.Subsystem(server.SyncSubsystem)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer st.Close()
	r, err := statesync.Push(context.Background(), st, src, m, base, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := os.WriteFile(filepath.Join(dir, "base"), []byte(strconv.Itoa(r.Version)), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// startSSHD runs the stock OpenSSH server in h's namespace on port 2222,
// letting in the bench client's key as root, and returns a known_hosts
// file pinning its key.
func startSSHD(b *testing.B, h *nettest.Host, dir string) (knownHosts string) {
	b.Helper()
	sshd := testenv.Tool(b, "sshd")
	keygen := testenv.Tool(b, "ssh-keygen")
	hk := filepath.Join(dir, "sshd_host_key")
	if out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-f", hk).CombinedOutput(); err != nil {
		b.Fatalf("ssh-keygen: %v %s", err, out)
	}
	pub, _ := os.ReadFile(hk + ".pub")
	knownHosts = filepath.Join(dir, "sshd_known_hosts")
	os.WriteFile(knownHosts, []byte("["+h.IP+"]:2222 "+string(pub)), 0o600)
	cfg := filepath.Join(dir, "sshd_config")
	os.WriteFile(cfg, []byte(strings.Join([]string{
		"Port 2222", "ListenAddress " + h.IP, "HostKey " + hk,
		"AuthorizedKeysFile " + filepath.Join(dir, "authorized_keys"),
		"PermitRootLogin prohibit-password", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
		"UsePAM no", "StrictModes no", "PidFile none", ""}, "\n")), 0o600)
	// sshd's privilege separation needs its empty folder.
	os.MkdirAll("/run/sshd", 0o755)
	cmd := h.Command(context.Background(), sshd, "-D", "-e", "-f", cfg)
	errs, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(errs)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "Server listening on") {
			go func() {
				for sc.Scan() {
				}
			}()
			return knownHosts
		}
	}
	b.Fatal("sshd did not start")
	return ""
}

// BenchmarkSyncNetns: a 100 MB state folder pushed from the Sonic's
// namespace to the Wizard's across veth pairs and a bridge, first sync
// and with 1 % changed, each iteration one whole client run (connect, scan,
// push) as `sonic sync` does; against rsync -a over the stock OpenSSH
// client and server (sshd in the Wizard's namespace), the tool a user
// would take instead.
func BenchmarkSyncNetns(b *testing.B) {
	lab := nettest.New(b, 2)
	wiz, sonic := lab.Hosts[0], lab.Hosts[1]
	dir := b.TempDir()
	k, _ := hostauth.LoadOrCreateKey(filepath.Join(dir, "client"))
	hostauth.AuthorizedKeys{File: filepath.Join(dir, "authorized_keys")}.Add(k.PublicKey(), "bench")
	startHelperServe(b, wiz, dir)
	kh := startSSHD(b, wiz, dir)
	src, change := makeState(b)
	run := func(b *testing.B, cmd *exec.Cmd) {
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%s: %v %s", cmd.Args, err, out)
		}
	}
	push := func(b *testing.B) {
		c := sonic.Command(context.Background(), os.Args[0], "-test.run=^$")
		c.Env = append(os.Environ(), "BRIDGE_BENCH_HELPER=push", "DIR="+dir, "ADDR="+wiz.IP, "SRC="+src)
		run(b, c)
	}
	syncRuns(b, "bridge", func() {
		for _, p := range []string{"store", "base", "scan-cache.json"} {
			os.RemoveAll(filepath.Join(dir, p))
		}
	}, change, push)
	rsyncBin := testenv.Tool(b, "rsync")
	sshCmd := "ssh " + strings.Join(sshOptions(filepath.Join(dir, "client"), kh, 2222), " ")
	dst := filepath.Join(dir, "rsync-dst")
	rsync := func(b *testing.B) {
		run(b, sonic.Command(context.Background(), rsyncBin, "-a", "-e", sshCmd, src+"/", "root@"+wiz.IP+":"+dst+"/"))
	}
	syncRuns(b, "rsync-openssh", func() { os.RemoveAll(dst) }, change, rsync)
	// What each rsync pays before any data: OpenSSH's connection setup
	// (client start, sshd's per-connection re-exec, key exchange, login).
	b.Run("openssh-connect", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			run(b, sonic.Command(context.Background(), "sh", "-c", sshCmd+" root@"+wiz.IP+" true"))
		}
	})
}
