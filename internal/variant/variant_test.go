package variant

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fredbook/udos-dist/internal/fixturetest"
	"github.com/fredbook/udos-dist/internal/goldentest"
)

const fixture = "../../examples/udos"

func listing(l *Layout) []byte {
	var b strings.Builder
	for _, e := range l.Entries {
		mode := int64(0o755)
		if !e.IsDir() && e.Mode&0o111 == 0 {
			mode = 0o644
		}
		fmt.Fprintf(&b, "%04o %s\n", mode, e.Name)
	}
	for _, w := range l.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	fmt.Fprintf(&b, "requirements: %s\n", strings.Join(l.Requirements, ", "))
	return []byte(b.String())
}

func TestBuiltinLayouts(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"core-slim", "wizard-full", "dev-complete"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			v, err := Builtin().Get(name)
			if err != nil {
				t.Fatal(err)
			}
			l, err := v.Layout(fixture, Options{Version: "1.4.6"})
			if err != nil {
				t.Fatal(err)
			}
			goldentest.Compare(t, filepath.Join("testdata", name+".golden"), listing(l))
		})
	}
}

func TestBuiltinSettings(t *testing.T) {
	t.Parallel()
	s := Builtin()
	if got := strings.Join(s.Names(), ","); got != "core-slim,dev-complete,wizard-full" {
		t.Fatalf("Names = %s", got)
	}
	dev, err := s.Get("dev-complete")
	if err != nil {
		t.Fatal(err)
	}
	if !dev.RequiresDocker || dev.MinimumPython != "3.9" || strings.Join(dev.Platforms, ",") != "linux,macos" {
		t.Errorf("dev-complete inherited %+v", dev)
	}
	core, _ := s.Get("core-slim")
	if core.RequiresDocker {
		t.Error("core-slim requires docker")
	}
	if _, err := s.Get("sonic-iso"); err == nil || !strings.Contains(err.Error(), "core-slim, dev-complete, wizard-full") {
		t.Errorf("unknown variant error: %v", err)
	}
}

func TestMissingRequiredPaths(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	copyTree(t, fixture, src)
	for _, p := range []string{"core", "uDOS.py", "docs/INSTALLATION.md"} {
		if err := os.RemoveAll(filepath.Join(src, p)); err != nil {
			t.Fatal(err)
		}
	}
	v, _ := Builtin().Get("core-slim")
	_, err := v.Layout(src, Options{Version: "1.4.6"})
	var me *MissingError
	if !errors.As(err, &me) {
		t.Fatalf("err = %v, want MissingError", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"variant core-slim: 3 required path(s) missing",
		"path core/ is missing (looked for core/)",
		"entry point uDOS.py is missing (looked for uDOS.py, bin/uDOS.py)",
		"path INSTALLATION.md is missing (looked for INSTALLATION.md, docs/INSTALLATION.md)",
		FileName,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}

func TestSpecLayoutPreferred(t *testing.T) {
	t.Parallel()
	// A tree with the spec's bin/ucli and bin/uDOS.py has no warnings for them,
	// and a root INSTALLATION.md wins over docs/.
	src := t.TempDir()
	copyTree(t, fixture, src)
	write(t, src, "bin/ucli", "#!/bin/sh\nexec python3 \"$(dirname \"$0\")/uDOS.py\" \"$@\"\n", 0o644)
	write(t, src, "bin/uDOS.py", "print('spec')\n", 0o644)
	write(t, src, "INSTALLATION.md", "root\n", 0o644)
	v, _ := Builtin().Get("core-slim")
	l, err := v.Layout(src, Options{Version: "1.4.6"})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range l.Missing {
		if m.Path == "bin/ucli" {
			t.Error("bin/ucli reported missing")
		}
	}
	for _, e := range l.Entries {
		if e.Name == l.Root+"/bin/ucli" && e.Mode&0o111 == 0 {
			t.Error("entry point not executable")
		}
	}
	if got := l.Sources["INSTALLATION.md"]; got != filepath.Join(src, "INSTALLATION.md") {
		t.Errorf("INSTALLATION.md from %s", got)
	}
	if got := l.Sources["bin/uDOS.py"]; got != filepath.Join(src, "bin", "uDOS.py") {
		t.Errorf("bin/uDOS.py from %s", got)
	}
}

func TestOverrideFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		file    string
		variant string
		wantErr string
		check   func(t *testing.T, l *Layout)
	}{
		{
			name:    "replace and extend",
			variant: "core-slim",
			file: `{"variants": {"core-slim": {"paths": [{"path": "core/", "required": true}, {"path": "bin/udos", "required": true, "entry_point": true}],
			  "generate": ["version.json"], "exclude": ["*.pyc"], "minimum_python": "3.11"}}}`,
			check: func(t *testing.T, l *Layout) {
				if l.Variant.MinimumPython != "3.11" {
					t.Errorf("minimum_python %s", l.Variant.MinimumPython)
				}
				for _, e := range l.Entries {
					if strings.Contains(e.Name, "docs/") {
						t.Errorf("overridden definition kept %s", e.Name)
					}
				}
			},
		},
		{
			name:    "new variant extending a built-in",
			variant: "tiny",
			file:    `{"variants": {"tiny": {"extends": "core-slim", "paths": [{"path": "sonic/", "required": true}]}}}`,
			check: func(t *testing.T, l *Layout) {
				var sonic, core bool
				for _, e := range l.Entries {
					sonic = sonic || strings.HasPrefix(e.Name, l.Root+"/sonic/")
					core = core || strings.HasPrefix(e.Name, l.Root+"/core/")
				}
				if !sonic || !core {
					t.Errorf("sonic %v core %v", sonic, core)
				}
			},
		},
		{name: "unknown field", variant: "core-slim", file: `{"variants": {"core-slim": {"pathz": []}}}`, wantErr: `unknown field "pathz"`},
		{name: "escaping path", variant: "core-slim", file: `{"variants": {"core-slim": {"paths": [{"path": "../etc/"}]}}}`, wantErr: "not a clean relative"},
		{name: "dir from file", variant: "core-slim", file: `{"variants": {"core-slim": {"paths": [{"path": "core/", "from": ["uDOS.py"]}]}}}`, wantErr: "both be directories"},
		{name: "extends loop", variant: "a", file: `{"variants": {"a": {"extends": "b", "paths": []}, "b": {"extends": "a", "paths": []}}}`, wantErr: "extends loop"},
		{name: "unknown generator", variant: "core-slim", file: `{"variants": {"core-slim": {"paths": [], "generate": ["Makefile"]}}}`, wantErr: `cannot generate "Makefile"`},
		{name: "missing parent", variant: "x", file: `{"variants": {"x": {"extends": "nope", "paths": []}}}`, wantErr: `extends unknown variant "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := filepath.Join(t.TempDir(), FileName)
			write(t, filepath.Dir(p), FileName, tt.file, 0o644)
			s, err := Load(p)
			var v *Variant
			if err == nil {
				v, err = s.Get(tt.variant)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			l, err := v.Layout(fixture, Options{Version: "1.4.6"})
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, l)
		})
	}
	if s, err := Load(filepath.Join(t.TempDir(), "absent.json")); err != nil || len(s.Names()) != 3 {
		t.Errorf("absent variants file: %v", err)
	}
}

func TestSymlinkRefused(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	copyTree(t, fixture, src)
	if err := os.Symlink("/etc/passwd", filepath.Join(src, "core", "passwd")); err != nil {
		t.Fatal(err)
	}
	v, _ := Builtin().Get("core-slim")
	_, err := v.Layout(src, Options{Version: "1.4.6"})
	if err == nil || !strings.Contains(err.Error(), "passwd") || !strings.Contains(err.Error(), "symlink core/passwd -> /etc/passwd") || !strings.Contains(err.Error(), `"exclude": ["core/passwd"]`) {
		t.Fatalf("err = %v", err)
	}
}

func TestReadVersion(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, doc, want, wantErr string }{
		{"nested", `{"version": {"major": 1, "minor": 5, "patch": 0}, "display": "v1.5.0"}`, "1.5.0", ""},
		{"flat", `{"version": "1.4.6", "variant": "core-slim"}`, "1.4.6", ""},
		{"flat with v", `{"version": "v1.4.6"}`, "1.4.6", ""},
		{"no patch", `{"version": {"major": 1, "minor": 5}}`, "", "neither"},
		{"not json", `{`, "", "reading uDOS version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			write(t, dir, "version.json", tt.doc, 0o644)
			got, err := ReadVersion(dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ReadVersion = %q, %v", got, err)
			}
		})
	}
	if err := CheckVersion(fixture, "v1.4.7"); !errors.Is(err, ErrVersionMismatch) {
		t.Errorf("CheckVersion = %v", err)
	}
	for _, ok := range []string{"v1.4.6", "1.4.6-rc.1", "v1.4.6+build.5"} {
		if err := CheckVersion(fixture, ok); err != nil {
			t.Errorf("CheckVersion(%s): %v", ok, err)
		}
	}
	if err := CheckVersion(fixture, "v1.4.60"); !errors.Is(err, ErrVersionMismatch) {
		t.Errorf("CheckVersion(v1.4.60) = %v", err)
	}
}

func TestCompose(t *testing.T) {
	t.Parallel()
	got, err := Compose("1.4.6", ComposeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	goldentest.Compare(t, filepath.Join("testdata", "docker-compose.golden"), got)
	for _, want := range []string{"cap_drop:\n      - ALL", "no-new-privileges:true", "read_only: true", `user: "10001:10001"`,
		":ro", "healthcheck:", "udos-private", "127.0.0.1:9000:9000", "/api/health"} {
		if !strings.Contains(string(got), want) {
			t.Errorf("compose lacks %q", want)
		}
	}
	custom, err := Compose("1.5.0", ComposeOptions{Port: 8765, HealthPath: "/health"})
	if err != nil || !strings.Contains(string(custom), "127.0.0.1:8765/health") {
		t.Errorf("custom compose: %v\n%s", err, custom)
	}
	if _, err := Compose("1.4.6", ComposeOptions{HealthPath: "health'; rm -rf /"}); err == nil {
		t.Error("unsafe health path accepted")
	}
	// docker compose itself, when present, must accept the file.
	if exec.Command("docker", "compose", "version").Run() == nil {
		dir := t.TempDir()
		write(t, dir, "docker-compose.yml", string(got), 0o644)
		cmd := exec.Command("docker", "compose", "-f", filepath.Join(dir, "docker-compose.yml"), "config", "-q")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("docker compose config: %v\n%s", err, out)
		}
	}
}

func write(t *testing.T, dir, rel, content string, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	out, err := exec.Command("cp", "-R", from+"/.", to).CombinedOutput()
	if err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
}

// TestPackageDataLinkRefused: package data the closure would ship is held
// to the symlink rule of every shipped file: a link out of the tree is
// refused, naming the link.
func TestPackageDataLinkRefused(t *testing.T) {
	t.Parallel()
	src := fixturetest.Tree(t, "udos-v1.5")
	schema := filepath.Join(src, "wizard", "services", "schemas", "task_schema.sql")
	if err := os.Remove(schema); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", schema); err != nil {
		t.Fatal(err)
	}
	v, _ := Builtin().Get("core-slim")
	_, err := v.Layout(src, Options{Version: "1.5.0"})
	if err == nil || !strings.Contains(err.Error(), "symlink wizard/services/schemas/task_schema.sql -> /etc/passwd") {
		t.Fatalf("err = %v", err)
	}
}
