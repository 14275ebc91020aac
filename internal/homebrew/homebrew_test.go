package homebrew

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fredbook/udos-dist/internal/goldentest"
)

func coreSlim() Formula {
	return Formula{
		Name:          "udos-core-slim",
		Description:   "uDOS core: command line, grid and terminal themes",
		URL:           "https://github.com/fredbook/uDOS/releases/download/v1.4.6/udos-core-slim-v1.4.6.tar.gz",
		SHA256:        strings.Repeat("ab", 32),
		Version:       "1.4.6",
		MinimumPython: "3.9",
		EntryPoints:   []string{"bin/udos", "bin/uDOS.py", "bin/ucode"},
		Requirements:  []string{"requirements.txt"},
	}
}

func TestRenderGolden(t *testing.T) {
	t.Parallel()
	got, err := Render(coreSlim())
	if err != nil {
		t.Fatal(err)
	}
	goldentest.Compare(t, filepath.Join("testdata", "udos-core-slim.rb.golden"), got)
	rubySyntax(t, got)
}

func TestRenderValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		mod  func(*Formula)
		want string
	}{
		{"bad sha", func(f *Formula) { f.SHA256 = "abc" }, "sha256"},
		{"relative url", func(f *Formula) { f.URL = "udos.tar.gz" }, "must be absolute"},
		{"bad version", func(f *Formula) { f.Version = "v1.4" }, "not X.Y.Z"},
		{"escaping entry point", func(f *Formula) { f.EntryPoints = []string{"../../etc/x"} }, "plain relative"},
		{"bad python", func(f *Formula) { f.MinimumPython = "2.7" }, "minimum python"},
		{"bad name", func(f *Formula) { f.Name = "Udos Core" }, "formula name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := coreSlim()
			tt.mod(&f)
			if _, err := Render(f); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestQuotingAndNames(t *testing.T) {
	t.Parallel()
	f := coreSlim()
	f.Description = `say "#{system('x')}"`
	got, err := Render(f)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), `desc "say \"\#{system('x')}\""`) {
		t.Errorf("description not escaped:\n%s", got)
	}
	rubySyntax(t, got)
	for in, want := range map[string]string{"udos-core-slim": "UdosCoreSlim", "python@3.12": "PythonAT312", "udos-wizard-full": "UdosWizardFull"} {
		if got := ClassName(in); got != want {
			t.Errorf("ClassName(%s) = %s, want %s", in, got, want)
		}
	}
	for in, want := range map[string]string{"": "python@3.12", "3.9": "python@3.12", "3.13": "python@3.13"} {
		if got, _ := PythonFormula(in); got != want {
			t.Errorf("PythonFormula(%q) = %s, want %s", in, got, want)
		}
	}
}

// rubySyntax checks the formula parses as Ruby (`ruby -c`).
func rubySyntax(t *testing.T, src []byte) {
	t.Helper()
	ruby, err := exec.LookPath("ruby")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("ruby not on PATH")
		}
		t.Skip("ruby not on PATH")
	}
	p := filepath.Join(t.TempDir(), "f.rb")
	if err := os.WriteFile(p, src, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(ruby, "-c", p).CombinedOutput(); err != nil {
		t.Fatalf("ruby -c: %v\n%s", err, out)
	}
}
