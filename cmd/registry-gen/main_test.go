package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/scripttest"
	"github.com/fredbook/udos-dist/internal/testenv"
	"github.com/fredbook/udos-dist/internal/udospkg"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"registry-gen": main})
}

var examples, _ = filepath.Abs(filepath.Join("..", "..", "examples"))

// TestScripts runs testdata/script/*.txtar against the real binary.
// Extra commands:
//
//	pack DIR [LIB...]          pack example libraries (all, or the named folders) into DIR
//	genkey PRIV PUB [PASS]     make an OpenPGP key pair (private key encrypted with PASS)
//	sign KEY FILE [PASS]       write FILE.asc, signed with KEY
func TestScripts(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("testdata", "script"),
		Setup: func(env *testscript.Env) error {
			env.Setenv("EXAMPLES", examples)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"pack":   cmdPack,
			"genkey": cmdGenkey,
			"sign":   scripttest.Sign,
		},
	})
}

func cmdPack(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: pack DIR [LIB...]")
	}
	out := ts.MkAbs(args[0])
	if err := os.MkdirAll(out, 0o755); err != nil {
		ts.Fatalf("%v", err)
	}
	libs := args[1:]
	if len(libs) == 0 {
		ms, _ := filepath.Glob(filepath.Join(examples, "libraries", "*", udospkg.ManifestName))
		for _, m := range ms {
			libs = append(libs, filepath.Base(filepath.Dir(m)))
		}
	}
	for _, lib := range libs {
		res, err := udospkg.PackFile(filepath.Join(examples, "libraries", lib), out, udospkg.PackOptions{MTime: time.Unix(1764000000, 0)})
		if err != nil {
			ts.Fatalf("packing %s: %v", lib, err)
		}
		ts.Logf("packed %s", res.FileName)
	}
}

func cmdGenkey(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 || len(args) > 3 {
		ts.Fatalf("usage: genkey PRIV PUB [PASSPHRASE]")
	}
	var pass []byte
	if len(args) == 3 {
		pass = []byte(args[2])
	}
	priv, pub, err := pgpsign.GenerateTestKey("Script Registry", "script@example.org", pass)
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), priv, 0o600))
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), pub, 0o644))
}

// TestExitCodes checks the documented exit statuses of the local mode.
func TestExitCodes(t *testing.T) {
	t.Parallel()
	in := t.TempDir()
	if _, err := udospkg.PackFile(filepath.Join(examples, "libraries", "grid-math"), in, udospkg.PackOptions{}); err != nil {
		t.Fatal(err)
	}
	noenv := func(string) string { return "" }
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"ok", []string{"--from-dir", in, "--out", t.TempDir(), "--time", "2026-11-25T12:00:00Z"}, 0, "serial 1795608000, 1 libraries, 1 versions"},
		{"help", []string{"--help"}, 0, "-from-dir"},
		{"no flags", nil, 2, "--from-dir is required"},
		{"no out", []string{"--from-dir", in}, 2, "--out is required"},
		{"unknown flag", []string{"--frm-dir", in}, 2, "flag provided but not defined: -frm-dir"},
		{"extra argument", []string{"--from-dir", in, "--out", "x", "y"}, 2, `unexpected argument "y"`},
		{"bad expires", []string{"--from-dir", in, "--out", "x", "--expires", "-1h"}, 2, "must be positive"},
		{"zero expires", []string{"--from-dir", in, "--out", "x", "--expires", "0s"}, 2, "--expires 0s must be positive"},
		{"bad time", []string{"--from-dir", in, "--out", "x", "--time", "yesterday"}, 2, "--time"},
		{"missing key", []string{"--from-dir", in, "--out", t.TempDir(), "--sign-key", "/nonexistent.asc"}, 1, "loading signing key"},
		{"empty input", []string{"--from-dir", t.TempDir(), "--out", t.TempDir()}, 1, "no .udos-package files found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr, noenv)
			if code != tt.code || !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d and %q", code, stderr.String(), tt.code, tt.stderr)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout without --json: %q", stdout.String())
			}
		})
	}
}

// TestHelpNamesBothModes: one flag set, one usage text for both modes.
func TestHelpNamesBothModes(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, &stdout, &stderr, func(string) string { return "" }); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"registry-gen --from-dir DIR --out OUT", "registry-gen --github --config registry.json --out OUT", "-from-dir", "-config", "-no-site", "-build-site"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("--help lacks %q:\n%s", want, stderr.String())
		}
	}
}

// TestLocalModeSite: the local mode writes the site by default, builds it
// with the real Jekyll on request, and leaves it out with --no-site.
func TestLocalModeSite(t *testing.T) {
	t.Parallel()
	jekyll := testenv.Tool(t, "jekyll")
	in := t.TempDir()
	if _, err := udospkg.PackFile(filepath.Join(examples, "libraries", "grid-math"), in, udospkg.PackOptions{}); err != nil {
		t.Fatal(err)
	}
	noenv := func(string) string { return "" }
	out, built := filepath.Join(t.TempDir(), "out"), filepath.Join(t.TempDir(), "built")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"--from-dir", in, "--out", out, "--build-site", built, "--baseurl", "/reg", "--jekyll", jekyll}, &stdout, &stderr, noenv); code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr.String())
	}
	for _, f := range []string{"index.html", "libraries/lib-grid-math/index.html", "catalog.json", "index/lib-grid-math.json", "packages/lib-grid-math-v1.1.1.udos-package", "packages/lib-grid-math-v1.1.1.manifest.json"} {
		if _, err := os.Stat(filepath.Join(built, f)); err != nil {
			t.Errorf("built site: %v", err)
		}
	}
	page, _ := os.ReadFile(filepath.Join(built, "libraries", "lib-grid-math", "index.html"))
	if !strings.Contains(string(page), `href="/reg/packages/lib-grid-math-v1.1.1.udos-package"`) {
		t.Errorf("library page does not link the package under the base URL:\n%s", page)
	}
	out2 := filepath.Join(t.TempDir(), "out")
	if code := run(context.Background(), []string{"--from-dir", in, "--out", out2, "--no-site"}, &stdout, &stderr, noenv); code != 0 {
		t.Fatalf("--no-site: exit %d", code)
	}
	if _, err := os.Stat(filepath.Join(out2, "site")); !os.IsNotExist(err) {
		t.Errorf("--no-site wrote the site: %v", err)
	}
}
