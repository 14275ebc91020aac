package sonic_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/bridge/nettest"
	"github.com/fredbook/udos-dist/internal/cmd/factory"
	"github.com/fredbook/udos-dist/internal/cmd/root"
	"github.com/fredbook/udos-dist/internal/iostreams"
)

const ucode = `#!/bin/sh
case "$1" in
  fail) echo "failing" >&2; exit "$2" ;;
  wait) trap 'exit 7' INT; echo waiting; while :; do sleep 0.05; done ;;
esac
echo "ucode $*"
`

type result struct {
	code        int
	out, stderr string
}

func udosLib(ctx context.Context, rootDir, stdin string, args ...string) result {
	_, res := start(ctx, rootDir, strings.NewReader(stdin), args...)
	return <-res
}

// serve starts `bridge serve` on a loopback port and returns its address
// and host-key fingerprint.
func serve(t *testing.T, extra ...string) (wizardRoot, addr, fp string) {
	t.Helper()
	wizardRoot, addr, fp, _ = serveLog(t, extra...)
	return
}

// serveLog is serve that also returns the host's log.
func serveLog(t *testing.T, extra ...string) (wizardRoot, addr, fp string, log *nettest.Buffer) {
	t.Helper()
	wizardRoot = t.TempDir()
	os.MkdirAll(filepath.Join(wizardRoot, "bin"), 0o755)
	os.WriteFile(filepath.Join(wizardRoot, "bin", "ucode"), []byte(ucode), 0o755)
	ctx, cancel := context.WithCancel(context.Background())
	errb := &nettest.Buffer{}
	done := make(chan int, 1)
	go func() {
		f := factory.New(&iostreams.IOStreams{In: strings.NewReader(""), Out: &nettest.Buffer{}, ErrOut: errb})
		f.Ctx = ctx
		done <- root.Run(f, append([]string{"--root", wizardRoot, "bridge", "serve", "--listen", "127.0.0.1:0", "--no-announce", "--keepalive", "1s"}, extra...))
	}()
	t.Cleanup(func() {
		cancel()
		if c := <-done; c != 0 {
			t.Errorf("bridge serve exited %d: %s", c, errb)
		}
	})
	re := regexp.MustCompile(`listening on (\S+)`)
	fre := regexp.MustCompile(`host key (SHA256:\S+)`)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(errb.String()); m != nil {
			return wizardRoot, m[1], fre.FindStringSubmatch(errb.String())[1], errb
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("bridge serve did not start: %s", errb)
	return
}

func TestTrustAuthorizeRun(t *testing.T) {
	wiz, addr, fp := serve(t)
	sonic := t.TempDir()
	ctx := context.Background()

	// Not trusted yet: run is refused, showing the fingerprint.
	r := udosLib(ctx, sonic, "", "sonic", "run", addr, "--", "ucode", "x")
	if r.code != 1 || !strings.Contains(r.stderr, "is not trusted") || !strings.Contains(r.stderr, fp) {
		t.Fatalf("untrusted run: %+v", r)
	}
	// A wrong fingerprint pins nothing.
	r = udosLib(ctx, sonic, "", "sonic", "trust", addr, "--fingerprint", "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	if r.code != 1 || !strings.Contains(r.stderr, "not the SHA256:AAAA") {
		t.Fatalf("wrong fingerprint: %+v", r)
	}
	if b, _ := os.ReadFile(filepath.Join(sonic, "bridge", "known_hosts")); len(b) != 0 {
		t.Fatalf("a refused trust pinned: %s", b)
	}
	// Declining the prompt pins nothing either.
	r = udosLib(ctx, sonic, "n\n", "sonic", "trust", addr)
	if r.code != 1 || !strings.Contains(r.stderr, fp) || !strings.Contains(r.stderr, "not trusted") {
		t.Fatalf("declined: %+v", r)
	}
	r = udosLib(ctx, sonic, "y\n", "sonic", "trust", addr)
	if r.code != 0 || !strings.Contains(r.stderr, "pinned") || !strings.Contains(r.stderr, "not yet authorized") {
		t.Fatalf("trust: %+v", r)
	}
	for p, want := range map[string]os.FileMode{"bridge": 0o700, "bridge/known_hosts": 0o600, "bridge/client_ed25519_key": 0o600} {
		fi, err := os.Stat(filepath.Join(sonic, p))
		if err != nil || fi.Mode().Perm() != want {
			t.Fatalf("%s: %v %v", p, fi, err)
		}
	}
	// Unknown client refused.
	r = udosLib(ctx, sonic, "", "sonic", "run", addr, "--", "ucode", "x")
	if r.code != 1 || !strings.Contains(r.stderr, "unable to authenticate") {
		t.Fatalf("unauthorized run: %+v", r)
	}
	key := regexp.MustCompile(`authorize '([^']+)'`).FindStringSubmatch(r.stderr + udosLib(ctx, sonic, "", "sonic", "trust", addr).stderr)
	if key == nil {
		t.Fatal("trust did not print the client key")
	}
	if r := udosLib(ctx, wiz, "", "bridge", "authorize", key[1]); r.code != 0 {
		t.Fatalf("authorize: %+v", r)
	}
	r = udosLib(ctx, sonic, "", "sonic", "run", addr, "--", "ucode", "hello", "--json", "a b")
	if r.code != 0 || r.out != "ucode hello --json a b\n" {
		t.Fatalf("run: %+v", r)
	}
	r = udosLib(ctx, sonic, "", "sonic", "run", addr, "--", "ucode", "fail", "5")
	if r.code != 5 || !strings.Contains(r.stderr, "failing") {
		t.Fatalf("exit code: %+v", r)
	}
	r = udosLib(ctx, wiz, "", "bridge", "clients", "--json")
	var cl struct {
		Clients []struct {
			Fingerprint string     `json:"fingerprint"`
			LastSeen    *time.Time `json:"last_seen"`
		} `json:"clients"`
	}
	if err := json.Unmarshal([]byte(r.out), &cl); err != nil || len(cl.Clients) != 1 || cl.Clients[0].LastSeen == nil {
		t.Fatalf("clients: %+v %v", r, err)
	}
	r = udosLib(ctx, sonic, "", "sonic", "status", "--json")
	if r.code != 0 || !strings.Contains(r.out, fp) {
		t.Fatalf("status: %+v", r)
	}

	// Ctrl-C: the remote command is signalled, we exit 130.
	cctx, cancel := context.WithCancel(ctx)
	res := make(chan result, 1)
	go func() { res <- udosLib(cctx, sonic, "", "sonic", "run", addr, "--", "ucode", "wait") }()
	time.Sleep(500 * time.Millisecond)
	cancel()
	select {
	case r = <-res:
		if r.code != 130 || !strings.Contains(r.stderr, "interrupted") {
			t.Fatalf("interrupted run: %+v", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop after Ctrl-C")
	}
}

// A malformed --fingerprint is a usage error refused before the Sonic's
// bridge folder and key are created.
func TestTrustRefusesMalformedFingerprint(t *testing.T) {
	sonic := t.TempDir()
	r := udosLib(context.Background(), sonic, "", "sonic", "trust", "127.0.0.1:7622", "--fingerprint", "MD5:00")
	if r.code != 2 || !strings.Contains(r.stderr, "--fingerprint must look like SHA256:") {
		t.Fatalf("malformed fingerprint: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(sonic, "bridge")); !os.IsNotExist(err) {
		t.Fatalf("the refused trust created the bridge folder: %v", err)
	}
}

func TestChangedHostKeyRefused(t *testing.T) {
	_, addr, fp := serve(t)
	sonic := t.TempDir()
	kh := filepath.Join(sonic, "bridge", "known_hosts")
	os.MkdirAll(filepath.Dir(kh), 0o700)
	// A pin of another key for the same address.
	host, port, _ := strings.Cut(addr, ":")
	os.WriteFile(kh, []byte("["+host+"]:"+port+" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBZ5mEiE4a7lXFSv0Ld5y8Z6h7mLmWn0c8G0Jt8fm9rG\n"), 0o600)
	for _, args := range [][]string{{"sonic", "run", addr, "--", "ucode"}, {"sonic", "trust", addr, "--fingerprint", fp}} {
		r := udosLib(context.Background(), sonic, "y\n", args...)
		if r.code != 1 || !strings.Contains(r.stderr, "REMOTE HOST IDENTIFICATION HAS CHANGED") || !strings.Contains(r.stderr, fp) {
			t.Fatalf("%v: %+v", args, r)
		}
	}
}

// pair trusts the host by fingerprint and authorizes this Sonic on it.
func pair(t *testing.T, wiz, sonic, addr, fp string) {
	t.Helper()
	ctx := context.Background()
	r := udosLib(ctx, sonic, "", "sonic", "trust", addr, "--fingerprint", fp)
	key := regexp.MustCompile(`authorize '([^']+)'`).FindStringSubmatch(r.stderr)
	if r.code != 0 || key == nil {
		t.Fatalf("trust: %+v", r)
	}
	if r := udosLib(ctx, wiz, "", "bridge", "authorize", key[1]); r.code != 0 {
		t.Fatalf("authorize: %+v", r)
	}
}

func TestSyncAndStatus(t *testing.T) {
	wiz, addr, fp, hostLog := serveLog(t, "--keep", "2")
	sonic := t.TempDir()
	pair(t, wiz, sonic, addr, fp)
	ctx := context.Background()
	mem := filepath.Join(sonic, "memory")
	os.MkdirAll(filepath.Join(mem, "logs"), 0o755)
	os.WriteFile(filepath.Join(mem, "user.json"), []byte(`{"name":"sonic"}`), 0o644)
	os.WriteFile(filepath.Join(mem, "logs", "today.log"), bytes.Repeat([]byte("log line\n"), 300000), 0o644)

	r := udosLib(ctx, sonic, "", "sonic", "sync", addr, "--json")
	var res struct {
		Version int `json:"version"`
		Sent    int `json:"chunks_sent"`
		Files   int `json:"files"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.out), &res) != nil || res.Version != 1 || res.Files != 2 || res.Sent != 4 {
		t.Fatalf("first sync: %+v", r)
	}
	stateDirs, _ := filepath.Glob(filepath.Join(wiz, "bridge", "state", "*", "current"))
	if len(stateDirs) != 1 {
		t.Fatalf("host state: %v", stateDirs)
	}
	if b, _ := os.ReadFile(filepath.Join(stateDirs[0], "user.json")); string(b) != `{"name":"sonic"}` {
		t.Fatalf("host copy: %q", b)
	}
	r = udosLib(ctx, sonic, "", "sonic", "status", "--json")
	if r.code != 0 || !strings.Contains(r.out, `"synced_version": 1`) || !strings.Contains(r.out, `"changed_since_sync": false`) {
		t.Fatalf("status after sync: %+v", r)
	}
	os.WriteFile(filepath.Join(mem, "user.json"), []byte(`{"name":"sonic 2"}`), 0o644)
	if r = udosLib(ctx, sonic, "", "sonic", "status", "--json"); !strings.Contains(r.out, `"changed_since_sync": true`) {
		t.Fatalf("status after a change: %+v", r)
	}
	r = udosLib(ctx, sonic, "", "sonic", "sync", addr, "--json")
	if r.code != 0 || json.Unmarshal([]byte(r.out), &res) != nil || res.Version != 2 || res.Sent != 1 {
		t.Fatalf("incremental sync: %+v", r)
	}
	// A Sonic restored without its journal is based on nothing: its sync is
	// kept beside the host's version 2, reported on both sides.
	os.Remove(filepath.Join(sonic, "bridge", "sync-journal.json"))
	os.WriteFile(filepath.Join(mem, "user.json"), []byte(`{"name":"restored"}`), 0o644)
	r = udosLib(ctx, sonic, "", "sonic", "sync", addr)
	if r.code != 1 || !strings.Contains(r.stderr, "newer version") || !strings.Contains(r.stderr, "conflicts/") {
		t.Fatalf("conflicting sync: %+v", r)
	}
	if b, _ := os.ReadFile(filepath.Join(stateDirs[0], "user.json")); string(b) != `{"name":"sonic 2"}` {
		t.Fatalf("the conflict overwrote the host's latest: %q", b)
	}
	if !strings.Contains(hostLog.String(), "was based on version 0, not the latest 2: kept beside it") {
		t.Fatalf("the host did not report the conflict: %s", hostLog)
	}
	if r = udosLib(ctx, sonic, "", "sonic", "status", "--json"); !strings.Contains(r.out, `"conflict": "conflicts/`) {
		t.Fatalf("status after a conflict: %+v", r)
	}
	// A missing state folder is a clear error.
	r = udosLib(ctx, sonic, "", "sonic", "sync", addr, "--state", filepath.Join(sonic, "nope"))
	if r.code != 1 || !strings.Contains(r.stderr, "not a folder") {
		t.Fatalf("missing state: %+v", r)
	}
}

func TestServeRefusesBadSetup(t *testing.T) {
	ctx := context.Background()
	empty := t.TempDir()
	r := udosLib(ctx, empty, "", "bridge", "serve", "--listen", "127.0.0.1:0", "--no-announce")
	if r.code != 1 || !strings.Contains(r.stderr, "bin/ucode") || !strings.Contains(r.stderr, "--allow") {
		t.Fatalf("no ucode: %+v", r)
	}
	if r := udosLib(ctx, empty, "", "bridge", "serve", "--keep", "0"); r.code != 2 {
		t.Fatalf("--keep 0: %+v", r)
	}
	if r := udosLib(ctx, empty, "", "sonic", "run", "host", "ucode"); r.code != 2 {
		t.Fatalf("run without --: %+v", r)
	}
	if r := udosLib(ctx, empty, "", "bridge", "authorize", "not a key"); r.code != 1 || !strings.Contains(r.stderr, "not an OpenSSH public key") {
		t.Fatalf("bad key: %+v", r)
	}
}
