package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/fredbook/udos-dist/internal/bridge/client"
	"github.com/fredbook/udos-dist/internal/bridge/hostauth"
	"github.com/fredbook/udos-dist/internal/bridge/nettest"
	"github.com/fredbook/udos-dist/internal/bridge/pairing"
	"github.com/fredbook/udos-dist/internal/bridge/server"
	"github.com/fredbook/udos-dist/internal/testenv"
)

// ucode is the fake uDOS core CLI: it echoes its argument vector, can fail
// with a status, print to stderr, or wait to be interrupted.
const ucode = `#!/bin/sh
case "$1" in
  fail) echo "to stderr" >&2; exit "$2" ;;
  wait) trap 'echo got-INT; exit 7' INT; echo waiting; while :; do sleep 0.05; done ;;
  pwd) pwd; exit 0 ;;
esac
for a in "$@"; do printf '[%s]' "$a"; done
echo
`

type fixture struct {
	root    string
	host    ssh.Signer
	clients []ssh.Signer
	keyFile []string
	addr    *net.TCPAddr
	kh      hostauth.KnownHosts
	log     *nettest.Buffer
	ak      hostauth.AuthorizedKeys
	// window is the server's pairing window (closed unless a test opens it).
	window *pairing.Window
}

func newFixture(t testing.TB, nClients int) *fixture {
	return newFixtureWith(t, nClients, nil, nil)
}

// newFixtureWith also allows the commands extra (names on PATH) and serves
// the given subsystems.
func newFixtureWith(t testing.TB, nClients int, extra []string, subs map[string]server.SubsystemHandler) *fixture {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin", "ucode"), []byte(ucode), 0o755); err != nil {
		t.Fatal(err)
	}
	p := hostauth.For(root)
	if err := p.Ensure(); err != nil {
		t.Fatal(err)
	}
	host, err := hostauth.LoadOrCreateKey(p.HostKey())
	if err != nil {
		t.Fatal(err)
	}
	fx := &fixture{root: root, host: host, log: &nettest.Buffer{}, kh: hostauth.KnownHosts{File: filepath.Join(t.TempDir(), "known_hosts")}}
	ak := hostauth.AuthorizedKeys{File: p.AuthorizedKeys()}
	fx.ak = ak
	fx.window = &pairing.Window{Authorize: func(o pairing.Offer) error { _, err := ak.Add(o.Key, o.Comment); return err }}
	for i := 0; i < nClients; i++ {
		kf := filepath.Join(t.TempDir(), "client")
		k, err := hostauth.LoadOrCreateKey(kf)
		if err != nil {
			t.Fatal(err)
		}
		fx.keyFile = append(fx.keyFile, kf)
		if _, err := ak.Add(k.PublicKey(), fmt.Sprintf("sonic-%d", i)); err != nil {
			t.Fatal(err)
		}
		fx.clients = append(fx.clients, k)
	}
	cmds, err := server.ResolveAllow(root, append([]string{"bin/ucode"}, extra...), exec.LookPath)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{HostKey: host, Authorized: ak.Load, Commands: cmds, Dir: root,
		Env: []string{"PATH=" + os.Getenv("PATH")}, Log: func(m string) { fx.log.Write([]byte(m + "\n")) }, KeepAlive: time.Second, Subsystems: subs, Pairing: fx.window})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fx.addr = ln.Addr().(*net.TCPAddr)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return fx
}

func (fx *fixture) pin(t testing.TB) {
	t.Helper()
	if err := fx.kh.Add("127.0.0.1", fx.addr.Port, fx.host.PublicKey()); err != nil {
		t.Fatal(err)
	}
}

func (fx *fixture) cfg(i int) client.Config { return fx.cfgKey(fx.clients[i]) }

// cfgKey is the configuration of a client with key k, authorized or not.
func (fx *fixture) cfgKey(k ssh.Signer) client.Config {
	return client.Config{Host: "127.0.0.1", Port: fx.addr.Port, Key: k,
		HostKey: client.Pinned(fx.kh, "127.0.0.1", fx.addr.Port), KeepAlive: 2 * time.Second}
}

func (fx *fixture) dial(t testing.TB, i int) *client.Conn { return fx.dialKey(t, fx.clients[i]) }

// dialKey connects with key k; the connection is closed when the test ends.
func (fx *fixture) dialKey(t testing.TB, k ssh.Signer) *client.Conn {
	t.Helper()
	c, err := client.Dial(context.Background(), fx.cfgKey(k))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRunStreamsOutputAndExitStatus(t *testing.T) {
	fx := newFixture(t, 1)
	fx.pin(t)
	c := fx.dial(t, 0)
	var out, errb bytes.Buffer
	// Shell metacharacters are plain arguments: no shell on either end.
	argv := []string{"ucode", "a b", "it's", "$(id)", ";", "*", ""}
	if err := c.Run(context.Background(), argv, nil, &out, &errb); err != nil {
		t.Fatal(err, errb.String())
	}
	if got, want := out.String(), "[a b][it's][$(id)][;][*][]\n"; got != want {
		t.Fatalf("stdout %q, want %q", got, want)
	}
	out.Reset()
	if err := c.Run(context.Background(), []string{"ucode", "pwd"}, nil, &out, &errb); err != nil || strings.TrimSpace(out.String()) != fx.root {
		t.Fatalf("working dir %q, want the root %q (%v)", out.String(), fx.root, err)
	}
	err := c.Run(context.Background(), []string{"ucode", "fail", "42"}, nil, &out, &errb)
	var ee *client.ExitError
	if !errors.As(err, &ee) || ee.Status != 42 || !strings.Contains(errb.String(), "to stderr") {
		t.Fatalf("exit %v stderr %q", err, errb.String())
	}
	errb.Reset()
	err = c.Run(context.Background(), []string{"sh", "-c", "id"}, nil, &out, &errb)
	if !errors.As(err, &ee) || ee.Status != 126 || !strings.Contains(errb.String(), `command "sh" is not allowed`) {
		t.Fatalf("disallowed command: %v %q", err, errb.String())
	}
}

func TestInterruptSignalsRemote(t *testing.T) {
	fx := newFixture(t, 1)
	fx.pin(t)
	c := fx.dial(t, 0)
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := net.Pipe()
	defer pr.Close()
	var errb bytes.Buffer
	res := make(chan error, 1)
	go func() { res <- c.Run(ctx, []string{"ucode", "wait"}, nil, pw, &errb); pw.Close() }()
	buf := make([]byte, 64)
	n, _ := pr.Read(buf)
	if !strings.Contains(string(buf[:n]), "waiting") {
		t.Fatalf("got %q", buf[:n])
	}
	go func() {
		var rest bytes.Buffer
		rest.ReadFrom(pr)
		if !strings.Contains(rest.String(), "got-INT") {
			t.Errorf("the remote command did not see SIGINT: %q", rest.String())
		}
	}()
	cancel()
	select {
	case err := <-res:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("run after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

func TestHostKeyRefusals(t *testing.T) {
	fx := newFixture(t, 1)
	// Unknown: nothing pinned.
	_, err := client.Dial(context.Background(), fx.cfg(0))
	var ue *hostauth.UnknownError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), hostauth.Fingerprint(fx.host.PublicKey())) {
		t.Fatalf("unknown host: %v", err)
	}
	// Mismatch: another key pinned for the address.
	other, _ := hostauth.LoadOrCreateKey(filepath.Join(t.TempDir(), "other"))
	fx.kh.Add("127.0.0.1", fx.addr.Port, other.PublicKey())
	_, err = client.Dial(context.Background(), fx.cfg(0))
	var me *hostauth.MismatchError
	if !errors.As(err, &me) || me.Want != hostauth.Fingerprint(other.PublicKey()) || me.Got != hostauth.Fingerprint(fx.host.PublicKey()) {
		t.Fatalf("mismatch: %v", err)
	}
}

func TestUnknownClientRefused(t *testing.T) {
	fx := newFixture(t, 1)
	fx.pin(t)
	stranger, _ := hostauth.LoadOrCreateKey(filepath.Join(t.TempDir(), "stranger"))
	cfg := fx.cfg(0)
	cfg.Key = stranger
	_, err := client.Dial(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("stranger: %v", err)
	}
	if !strings.Contains(fx.log.String(), "refusing unknown client key "+hostauth.Fingerprint(stranger.PublicKey())) {
		t.Fatalf("host log: %s", fx.log)
	}
	// Probe still learns the host key (for trust) and says it is not authorized.
	key, authorized, err := client.Probe(context.Background(), cfg, func(ssh.PublicKey) error { return nil })
	if err != nil || authorized || key == nil {
		t.Fatalf("probe: %v %v %v", key, authorized, err)
	}
}

func TestNoShellPtyOrForwarding(t *testing.T) {
	fx := newFixture(t, 1)
	cfg := &ssh.ClientConfig{User: "x", Auth: []ssh.AuthMethod{ssh.PublicKeys(fx.clients[0])},
		HostKeyCallback: ssh.FixedHostKey(fx.host.PublicKey())}
	c, err := ssh.Dial("tcp", fx.addr.String(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, _ := c.NewSession()
	if err := s.Shell(); err == nil {
		t.Error("shell accepted")
	}
	s.Close()
	s, _ = c.NewSession()
	if err := s.RequestPty("xterm", 24, 80, nil); err == nil {
		t.Error("pty accepted")
	}
	s.Close()
	if _, err := c.Dial("tcp", fx.addr.String()); err == nil {
		t.Error("direct-tcpip accepted")
	}
	if _, err := c.Listen("tcp", "127.0.0.1:0"); err == nil {
		t.Error("tcpip-forward accepted")
	}
}

func TestConcurrentRunsFromTwoClients(t *testing.T) {
	fx := newFixture(t, 2)
	fx.pin(t)
	conns := []*client.Conn{fx.dial(t, 0), fx.dial(t, 1)}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out bytes.Buffer
			var errb bytes.Buffer
			if err := conns[i%2].Run(context.Background(), []string{"ucode", strconv.Itoa(i)}, nil, &out, &errb); err != nil {
				errs <- fmt.Errorf("run %d: %v", i, err)
				return
			}
			if out.String() != "["+strconv.Itoa(i)+"]\n" {
				errs <- fmt.Errorf("run %d: output %q stderr %q", i, out.String(), errb.String())
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// The link dies under a running command: the client gets a clear error
// within a few keepalive periods, not a hang.
func TestLinkCutMidCommand(t *testing.T) {
	fx := newFixture(t, 1)
	fx.pin(t)
	// A relay the test can cut without closing sockets politely: it stops
	// forwarding (as a downed veth does).
	relay, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	cut := make(chan struct{})
	go func() {
		in, err := relay.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", fx.addr.String())
		if err != nil {
			return
		}
		pump := func(dst, src net.Conn) {
			buf := make([]byte, 32<<10)
			for {
				n, err := src.Read(buf)
				select {
				case <-cut:
					<-time.After(time.Minute) // black hole
					return
				default:
				}
				if err != nil {
					return
				}
				dst.Write(buf[:n])
			}
		}
		go pump(in, out)
		pump(out, in)
	}()
	cfg := fx.cfg(0)
	// Short keepalives so the cut is noticed quickly; the other tests keep
	// the fixture's 2 s (three unanswered 200 ms ones were a false "link
	// down" under -race with 100 concurrent runs on a loaded machine).
	cfg.KeepAlive = 200 * time.Millisecond
	cfg.Port = relay.Addr().(*net.TCPAddr).Port
	fx.kh.Add("127.0.0.1", cfg.Port, fx.host.PublicKey())
	cfg.HostKey = client.Pinned(fx.kh, "127.0.0.1", cfg.Port)
	c, err := client.Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res := make(chan error, 1)
	go func() {
		res <- c.Run(context.Background(), []string{"ucode", "wait"}, nil, &bytes.Buffer{}, &bytes.Buffer{})
	}()
	time.Sleep(300 * time.Millisecond)
	close(cut)
	select {
	case err := <-res:
		if !errors.Is(err, client.ErrLinkLost) {
			t.Fatalf("cut link: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run hung after the link was cut")
	}
}

// The stock OpenSSH client against our server, with the host key pinned in
// an OpenSSH known_hosts file written by us.
func TestOpenSSHClient(t *testing.T) {
	sshBin := testenv.Tool(t, "ssh")
	fx := newFixture(t, 1)
	dir := t.TempDir()
	// Our key file is OpenSSH's own private key format.
	keyFile := fx.keyFile[0]
	kh := hostauth.KnownHosts{File: filepath.Join(dir, "known_hosts")}
	kh.Add("127.0.0.1", fx.addr.Port, fx.host.PublicKey())
	args := func(extra ...string) []string {
		return append([]string{"-F", "none", "-i", keyFile, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
			"-o", "UserKnownHostsFile=" + kh.File, "-o", "StrictHostKeyChecking=yes", "-o", "GlobalKnownHostsFile=/dev/null",
			"-p", strconv.Itoa(fx.addr.Port), "udos@127.0.0.1"}, extra...)
	}
	out, err := exec.Command(sshBin, args("ucode", "'x y'", "z")...).CombinedOutput()
	if err != nil || string(out) != "[x y][z]\n" {
		t.Fatalf("ssh ucode: %v %q", err, out)
	}
	err = exec.Command(sshBin, args("ucode", "fail", "3")...).Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("exit status over ssh: %v", err)
	}
	// Remote forwarding is refused: with ExitOnForwardFailure ssh gives up.
	fwd := exec.Command(sshBin, append([]string{"-o", "ExitOnForwardFailure=yes", "-N", "-R", "0:127.0.0.1:1"}, args()...)...)
	out, err = fwd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "forwarding failed") {
		t.Fatalf("ssh -R: %v %q", err, out)
	}
	// No shell either.
	out, err = exec.Command(sshBin, args()...).CombinedOutput()
	if err == nil {
		t.Fatalf("ssh without a command got a shell: %q", out)
	}
	out, err = exec.Command(sshBin, args("cat", "/etc/passwd")...).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "not allowed") {
		t.Fatalf("ssh cat: %v %q", err, out)
	}
	// A changed host key is refused by OpenSSH itself with our file.
	other, _ := hostauth.LoadOrCreateKey(filepath.Join(dir, "other"))
	os.Remove(kh.File)
	kh.Add("127.0.0.1", fx.addr.Port, other.PublicKey())
	out, err = exec.Command(sshBin, args("ucode")...).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "REMOTE HOST IDENTIFICATION HAS CHANGED") {
		t.Fatalf("ssh with a wrong pin: %v %q", err, out)
	}
}
