package sonic_test

import (
	"context"
	"io"
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

// start runs udos-lib in the background with stdin in; stderr is readable
// while it runs.
func start(ctx context.Context, rootDir string, in io.Reader, args ...string) (errb *nettest.Buffer, res <-chan result) {
	out, errb := &nettest.Buffer{}, &nettest.Buffer{}
	ch := make(chan result, 1)
	go func() {
		f := factory.New(&iostreams.IOStreams{In: in, Out: out, ErrOut: errb})
		f.Ctx = ctx
		f.Getenv = func(k string) string {
			if k == "UDOS_BRIDGE_KEEPALIVE" {
				return "200ms"
			}
			return os.Getenv(k)
		}
		code := root.Run(f, append([]string{"--root", rootDir}, args...))
		ch <- result{code, out.String(), errb.String()}
	}()
	return errb, ch
}

var codeRE = regexp.MustCompile(`pairing code: (\d{6})`)

// waitFor polls b until re matches (bounded), returning the first group.
func waitFor(t *testing.T, b *nettest.Buffer, re *regexp.Regexp) string {
	t.Helper()
	for i := 0; i < 1000; i++ {
		if m := re.FindStringSubmatch(b.String()); m != nil {
			return m[len(m)-1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no %s in %s", re, b)
	return ""
}

// pairOnce opens a window on the host, pairs the Sonic with `sonic pair`,
// and has the operator answer answer(code) once both screens show the code.
func pairOnce(t *testing.T, wiz, sonic, addr string, answer func(code string) string) (host, son result) {
	t.Helper()
	return pairWith(t, wiz, sonic, answer, "sonic", "pair", addr, "--comment", "lab sonic")
}

// pairWith is pairOnce with the Sonic's command line given.
func pairWith(t *testing.T, wiz, sonic string, answer func(code string) string, sonicArgs ...string) (host, son result) {
	t.Helper()
	ctx := context.Background()
	pr, pw := io.Pipe()
	defer pw.Close()
	hostErr, hostRes := start(ctx, wiz, pr, "bridge", "pair", "--timeout", "1m")
	waitFor(t, hostErr, regexp.MustCompile(`(pairing window open)`))
	sonErr, sonRes := start(ctx, sonic, strings.NewReader(""), sonicArgs...)
	sonCode := waitFor(t, sonErr, codeRE)
	hostCode := waitFor(t, hostErr, codeRE)
	if sonCode != hostCode {
		t.Fatalf("the Sonic shows %s, the host %s", sonCode, hostCode)
	}
	if _, err := io.WriteString(pw, answer(hostCode)+"\n"); err != nil {
		t.Fatal(err)
	}
	return <-hostRes, <-sonRes
}

func TestPairCommands(t *testing.T) {
	wiz, addr, fp, _ := serveLog(t)
	sonic := t.TempDir()
	ctx := context.Background()
	authorized := func() string {
		b, _ := os.ReadFile(filepath.Join(wiz, "bridge", "authorized_keys"))
		return string(b)
	}

	// Not trusted yet: nothing is offered.
	if r := udosLib(ctx, sonic, "", "sonic", "pair", addr); r.code != 1 || !strings.Contains(r.stderr, "trusted first") || !strings.Contains(r.stderr, "sonic trust") {
		t.Fatalf("pair before trust: %+v", r)
	}
	if r := udosLib(ctx, sonic, "", "sonic", "trust", addr, "--fingerprint", fp); r.code != 0 || !strings.Contains(r.stderr, "udos-lib bridge pair") {
		t.Fatalf("trust: %+v", r)
	}
	// No window open: refused, told how to open one.
	if r := udosLib(ctx, sonic, "", "sonic", "pair", addr); r.code != 1 || !strings.Contains(r.stderr, "no pairing window is open") {
		t.Fatalf("pair without a window: %+v", r)
	}
	// A window nobody uses closes by itself.
	if r := udosLib(ctx, wiz, "", "bridge", "pair", "--timeout", "200ms"); r.code != 1 || !strings.Contains(r.stderr, "window closed") {
		t.Fatalf("idle window: %+v", r)
	}

	// The operator types a code other than the one shown: declined on both
	// screens, nothing authorized.
	host, son := pairOnce(t, wiz, sonic, addr, func(code string) string {
		return code[:5] + string('0'+(code[5]-'0'+1)%10)
	})
	if host.code != 1 || !strings.Contains(host.stderr, "declined") || son.code != 1 || !strings.Contains(son.stderr, "declined") {
		t.Fatalf("wrong code:\nhost %+v\nsonic %+v", host, son)
	}
	if authorized() != "" {
		t.Fatalf("a declined pairing authorized: %s", authorized())
	}
	if r := udosLib(ctx, sonic, "", "sonic", "run", addr, "--", "ucode", "x"); r.code != 1 || !strings.Contains(r.stderr, "unable to authenticate") {
		t.Fatalf("run after a declined pairing: %+v", r)
	}

	// The right code (as a script reading the Sonic's screen would type it).
	host, son = pairOnce(t, wiz, sonic, addr, func(code string) string { return code[:3] + " " + code[3:] })
	if host.code != 0 || son.code != 0 || !strings.Contains(son.stderr, "paired: this Sonic") || !strings.HasSuffix(host.out, "\tlab sonic\n") {
		t.Fatalf("pairing:\nhost %+v\nsonic %+v", host, son)
	}
	if a := authorized(); strings.Count(a, "\n") != 1 || !strings.HasSuffix(a, " lab sonic\n") {
		t.Fatalf("authorized_keys: %q", a)
	}
	if r := udosLib(ctx, sonic, "", "sonic", "run", addr, "--", "ucode", "paired"); r.code != 0 || r.out != "ucode paired\n" {
		t.Fatalf("run after pairing: %+v", r)
	}
	if r := udosLib(ctx, sonic, "", "sonic", "pair", addr); r.code != 0 || !strings.Contains(r.stderr, "already authorized") {
		t.Fatalf("pairing again: %+v", r)
	}
	if r := udosLib(ctx, wiz, "", "bridge", "clients"); r.code != 0 || !strings.Contains(r.out, "lab sonic") {
		t.Fatalf("clients: %+v", r)
	}
}

// sonic trust --pair pins the host and pairs in one go.
func TestTrustAndPair(t *testing.T) {
	wiz, addr, fp, _ := serveLog(t)
	sonic := t.TempDir()
	host, son := pairWith(t, wiz, sonic, func(code string) string { return "y" }, "sonic", "trust", addr, "--fingerprint", fp, "--pair", "--comment", "one go")
	if host.code != 0 || son.code != 0 || !strings.Contains(son.stderr, "pinned") || !strings.Contains(son.stderr, "paired: this Sonic") {
		t.Fatalf("trust --pair:\nhost %+v\nsonic %+v", host, son)
	}
	if r := udosLib(context.Background(), sonic, "", "sonic", "run", addr, "--", "ucode", "ok"); r.code != 0 || r.out != "ucode ok\n" {
		t.Fatalf("run: %+v", r)
	}
}
