package sonic_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/fredbook/udos-dist/internal/bridge/nettest"
	"github.com/fredbook/udos-dist/internal/cmd/root"
)

// The test binary is udos-lib when UDOS_LIB_HELPER=1: the real command
// line, run inside a namespace.
func TestMain(m *testing.M) {
	if os.Getenv("UDOS_LIB_HELPER") == "1" {
		os.Exit(root.Main(os.Args[2:], "0", nil))
	}
	os.Exit(testscript.RunMain(releases.Removing(m), map[string]func() int{"udos-lib": udosLibMain}))
}

func udosLibIn(ctx context.Context, h *nettest.Host, args ...string) *exec.Cmd {
	c := h.Command(ctx, os.Args[0], append([]string{"-test.run=^$"}, args...)...)
	c.Env = append(os.Environ(), "UDOS_LIB_HELPER=1", "UDOS_BRIDGE_KEEPALIVE=300ms")
	return c
}

// Two hosts on a bridge: the Wizard serves and announces, Sonic discovers
// it, trusts it by the fingerprint the host printed, runs a command by its
// instance name; then the link is cut under a running command.
func TestAcrossNamespaces(t *testing.T) {
	t.Parallel()
	lab := nettest.New(t, 2)
	wiz, sonic := lab.Hosts[0], lab.Hosts[1]
	wroot, sroot := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(wroot, "bin"), 0o755)
	os.WriteFile(filepath.Join(wroot, "bin", "ucode"), []byte(ucode), 0o755)
	os.WriteFile(filepath.Join(wroot, "version.json"), []byte(`{"version": "1.5.0", "variant": "wizard-full"}`), 0o644)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srvLog := &nettest.Buffer{}
	srv := udosLibIn(ctx, wiz, "--root", wroot, "bridge", "serve", "--name", "Lab Wizard", "--keepalive", "300ms")
	srv.Stdout, srv.Stderr = srvLog, srvLog
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); srv.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(srvLog.String(), "announced as") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	m := regexp.MustCompile(`host key (SHA256:\S+)`).FindStringSubmatch(srvLog.String())
	if m == nil || !strings.Contains(srvLog.String(), `announced as "Lab Wizard"`) {
		t.Fatalf("bridge serve: %s", srvLog)
	}
	fp := m[1]

	out, err := udosLibIn(ctx, sonic, "--root", sroot, "sonic", "discover", "--json", "--timeout", "2s").Output()
	var d struct {
		Hosts []struct {
			Name, Fingerprint, Version string
			Addresses                  []string
			Port                       int
		} `json:"hosts"`
	}
	if err != nil || json.Unmarshal(out, &d) != nil || len(d.Hosts) != 1 || d.Hosts[0].Name != "Lab Wizard" ||
		d.Hosts[0].Fingerprint != fp || d.Hosts[0].Version != "1.5.0" || d.Hosts[0].Addresses[0] != wiz.IP || d.Hosts[0].Port != 7622 {
		t.Fatalf("discover: %v %s", err, out)
	}
	b, err := udosLibIn(ctx, sonic, "--root", sroot, "sonic", "trust", "Lab Wizard", "--fingerprint", fp).CombinedOutput()
	if err != nil || !strings.Contains(string(b), "pinned [Lab_Wizard]:7622") {
		t.Fatalf("trust: %v %s", err, b)
	}
	// Pair across the namespaces: the operator's window on the Wizard, the
	// Sonic's offer, the code typed in on the host as a script would.
	pairCmd := udosLibIn(ctx, wiz, "--root", wroot, "bridge", "pair", "--timeout", "1m")
	pairIn, _ := pairCmd.StdinPipe()
	pairErr := &nettest.Buffer{}
	pairCmd.Stderr = pairErr
	if err := pairCmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, pairErr, regexp.MustCompile(`(pairing window open)`))
	son := udosLibIn(ctx, sonic, "--root", sroot, "sonic", "pair", "Lab Wizard", "--comment", "lab sonic")
	sonErr := &nettest.Buffer{}
	son.Stderr = sonErr
	if err := son.Start(); err != nil {
		t.Fatal(err)
	}
	code := waitFor(t, sonErr, codeRE)
	if hc := waitFor(t, pairErr, codeRE); hc != code {
		t.Fatalf("the Sonic shows %s, the Wizard %s", code, hc)
	}
	io.WriteString(pairIn, code+"\n")
	if err := pairCmd.Wait(); err != nil {
		t.Fatalf("bridge pair: %v %s", err, pairErr)
	}
	if err := son.Wait(); err != nil || !strings.Contains(sonErr.String(), "paired: this Sonic") {
		t.Fatalf("sonic pair: %v %s", err, sonErr)
	}
	out, err = udosLibIn(ctx, sonic, "--root", sroot, "sonic", "run", "Lab Wizard", "--", "ucode", "STATUS").Output()
	if err != nil || string(out) != "ucode STATUS\n" {
		t.Fatalf("run by name: %v %q", err, out)
	}

	// Cut the link under a running command: a clear error, no hang.
	run := udosLibIn(ctx, sonic, "--root", sroot, "sonic", "run", wiz.IP, "--", "ucode", "wait")
	// Pinned under the instance name only: pin the address too, by fingerprint.
	if b, err := udosLibIn(ctx, sonic, "--root", sroot, "sonic", "trust", wiz.IP, "--fingerprint", fp).CombinedOutput(); err != nil {
		t.Fatalf("trust by address: %v %s", err, b)
	}
	runOut := &nettest.Buffer{}
	run.Stdout, run.Stderr = runOut, runOut
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200 && !strings.Contains(runOut.String(), "waiting"); i++ {
		time.Sleep(25 * time.Millisecond)
	}
	start := time.Now()
	sonic.Cut()
	done := make(chan error, 1)
	go func() { done <- run.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(runOut.String(), "connection to the host was lost") {
			t.Fatalf("run across a cut link: %v %s", err, runOut)
		}
		t.Logf("cut detected after %s", time.Since(start).Round(time.Millisecond))
	case <-time.After(15 * time.Second):
		t.Fatalf("run hung after the link was cut: %s", runOut)
	}
	sonic.Mend()

	// A sync cut mid-transfer: the host keeps its last complete version,
	// the next sync resumes and sends only what is missing.
	mem := filepath.Join(sroot, "memory")
	os.MkdirAll(mem, 0o755)
	os.WriteFile(filepath.Join(mem, "user.json"), []byte("v1"), 0o644)
	if b, err := udosLibIn(ctx, sonic, "--root", sroot, "sonic", "sync", wiz.IP).CombinedOutput(); err != nil {
		t.Fatalf("first sync: %v %s", err, b)
	}
	big := make([]byte, 32<<20)
	rand.Read(big)
	os.WriteFile(filepath.Join(mem, "user.json"), []byte("v2"), 0o644)
	os.WriteFile(filepath.Join(mem, "big.bin"), big, 0o644)
	syncRun := udosLibIn(ctx, sonic, "--root", sroot, "sonic", "sync", wiz.IP)
	syncOut := &nettest.Buffer{}
	syncRun.Stdout, syncRun.Stderr = syncOut, syncOut
	if err := syncRun.Start(); err != nil {
		t.Fatal(err)
	}
	chunks := func() int {
		n, _ := filepath.Glob(filepath.Join(wroot, "bridge", "state", "*", "chunks", "*", "*"))
		return len(n)
	}
	for i := 0; i < 400 && chunks() < 6; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	sonic.Cut()
	go func() { done <- syncRun.Wait() }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(syncOut.String(), "keeps its last complete version") {
			t.Fatalf("sync across a cut link: %v %s", err, syncOut)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("sync hung after the link was cut: %s", syncOut)
	}
	cur, _ := filepath.Glob(filepath.Join(wroot, "bridge", "state", "*", "current", "user.json"))
	if b, _ := os.ReadFile(cur[0]); string(b) != "v1" {
		t.Fatalf("host's current state after a cut sync: %q", b)
	}
	arrived := chunks() - 1
	sonic.Mend()
	out, err = udosLibIn(ctx, sonic, "--root", sroot, "sonic", "sync", wiz.IP, "--json").Output()
	var res struct {
		Version int `json:"version"`
		Sent    int `json:"chunks_sent"`
	}
	if err != nil || json.Unmarshal(out, &res) != nil || res.Version != 2 || res.Sent != 33-arrived {
		t.Fatalf("resumed sync (%d of 33 chunks had arrived): %v %s", arrived, err, out)
	}
	t.Logf("cut after %d of 33 chunks; the resumed sync sent %d", arrived, res.Sent)
	if b, _ := os.ReadFile(cur[0]); string(b) != "v2" {
		t.Fatalf("host's current state after the resumed sync: %q", b)
	}
}
