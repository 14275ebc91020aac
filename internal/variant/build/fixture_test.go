package build

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fredbook/udos-dist/internal/fixturetest"
	"github.com/fredbook/udos-dist/internal/homebrew"
	"github.com/fredbook/udos-dist/internal/sbom"
	"github.com/fredbook/udos-dist/internal/tarball"
	"github.com/fredbook/udos-dist/internal/testenv"
)

// The real layouts (the fixtures shaped like uDOS v1.4 and v1.5) build
// all three variants with no udos-variants.json; each archive, extracted,
// starts; the SBOMs list the lock's packages; nothing ignored or secret
// ships.
func TestBuildFixtures(t *testing.T) {
	t.Parallel()
	python := testenv.Tool(t, "python3")
	fixturetest.Each(t, func(t *testing.T, fx, src, version string) {
		out := t.TempDir()
		for _, v := range []string{"core-slim", "wizard-full", "dev-complete"} {
			cfg := buildCfg(t, v, src, out)
			cfg.Version = "v" + version
			res, err := Build(context.Background(), cfg)
			if err != nil {
				t.Fatalf("%s: %v", v, err)
			}
			f, err := os.Open(res.Archive.Path)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			names, err := tarball.Extract(f, dir, tarball.Limits{})
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			root := filepath.Join(dir, res.Layout.Root)
			listing := "\n" + strings.Join(names, "\n") + "\n"
			for _, p := range append(append([]string{"tests/", "docs/.obsidian/", ".git/"}, fixturetest.IgnoredPaths...), fixturetest.SecretPaths...) {
				if strings.Contains(listing, "/"+p) {
					t.Errorf("%s: %s shipped", v, p)
				}
			}
			doc, err := os.ReadFile(res.SBOM.Path)
			if err != nil {
				t.Fatal(err)
			}
			pk, err := sbom.Packages(doc)
			if err != nil {
				t.Fatal(err)
			}
			have := map[string]string{}
			for _, p := range pk {
				have[p.Name] = p.Version
			}
			for name, ver := range map[string]string{"certifi": "2024.8.30", "markdown-it-py": "3.0.0", "mdurl": "0.1.2", "pygments": "2.18.0", "requests": "2.32.3", "rich": "13.9.4"} {
				if have[name] != ver {
					t.Errorf("%s: the SBOM lists %s %q, want the lock's %s", v, name, have[name], ver)
				}
			}
			if !bytes.Contains(doc, []byte(`"alg": "SHA-256"`)) || !bytes.Contains(doc, []byte("439594978a49a09530cff7ebc4b5c7103ef57baf48d5ea3184f21d9a2befa098")) {
				t.Errorf("%s: the SBOM lacks the lock's hashes", v)
			}
			if out, err := exec.Command(python, "-m", "venv", "--without-pip", filepath.Join(root, ".venv")).CombinedOutput(); err != nil {
				t.Fatalf("venv: %v\n%s", err, out)
			}
			want := map[string]string{"udos-v1.5": "uDOS v1.5.0 launcher: tui", "udos-v1.4": "uCODE v1.4.0 ready"}[fx]
			if got := fixturetest.FirstLine(t, root, nil, python, "uDOS.py"); !strings.HasPrefix(got, want) {
				t.Errorf("%s: python3 uDOS.py printed %q first, want %q…", v, got, want)
			}
			if v == "core-slim" && fx == "udos-v1.5" {
				brewInstall(t, python, res.Homebrew, root, want)
			}
		}
	})
}

// brewInstall carries out the formula's install steps, as brew would, in a
// temporary prefix: the tree into libexec, the venv where bin/udos looks,
// pip (offline, from a local wheelhouse standing in for PyPI), the env
// scripts into bin; then the installed command must start.
func brewInstall(t *testing.T, python string, f homebrew.Formula, tree, want string) {
	t.Helper()
	prefix := t.TempDir()
	libexec, bin := filepath.Join(prefix, "libexec"), filepath.Join(prefix, "bin")
	venv := ""
	wheels := wheelhouse(t, f.Packages)
	for _, st := range f.Steps() {
		switch st.Op {
		case "install-tree":
			if err := os.MkdirAll(libexec, 0o755); err != nil {
				t.Fatal(err)
			}
			entries, _ := os.ReadDir(tree)
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), ".") { // Dir["*"] leaves dotfiles out
					continue
				}
				if out, err := exec.Command("cp", "-a", filepath.Join(tree, e.Name()), libexec).CombinedOutput(); err != nil {
					t.Fatalf("cp: %v\n%s", err, out)
				}
			}
		case "venv":
			venv = filepath.Join(libexec, st.Path)
			if out, err := exec.Command(python, "-m", "venv", venv).CombinedOutput(); err != nil {
				t.Fatalf("venv: %v\n%s", err, out)
			}
		case "pip":
			args := append([]string{"-m", "pip", "install", "--no-cache-dir", "--no-index", "--find-links", wheels, "--disable-pip-version-check"}, st.Args...)
			if st.Args[0] == "-r" {
				args[len(args)-1] = filepath.Join(libexec, st.Args[1])
			}
			if out, err := exec.Command(filepath.Join(venv, "bin", "python"), args...).CombinedOutput(); err != nil {
				t.Fatalf("pip install %v: %v\n%s", st.Args, err, out)
			}
		case "env-script":
			// what Homebrew's write_env_script writes
			script := fmt.Sprintf("#!/bin/bash\nexport PATH=\"%s/bin:$PATH\"\nexport UDOS_ROOT=\"%s\"\nexec \"%s\" \"$@\"\n", venv, libexec, filepath.Join(libexec, st.Path))
			if err := os.MkdirAll(bin, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(bin, st.Name), []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("unknown install step %q", st.Op)
		}
	}
	if venv != filepath.Join(libexec, ".venv") {
		t.Errorf("the formula's venv is %s, where bin/udos does not look", venv)
	}
	for _, cmd := range []string{"udos", "ucode", "ucli"} {
		// PATH without uv: the command must find the formula's venv
		got := fixturetest.FirstLine(t, t.TempDir(), []string{"PATH=/usr/bin:/bin"}, filepath.Join(bin, cmd), "tui")
		if !strings.HasPrefix(got, want) {
			t.Errorf("installed %s printed %q first, want %q…", cmd, got, want)
		}
	}
	out, err := exec.Command(filepath.Join(venv, "bin", "python"), "-m", "pip", "list", "--format=freeze", "--disable-pip-version-check").Output()
	if err != nil {
		t.Fatal(err)
	}
	installed := map[string]bool{}
	for _, l := range strings.Split(string(out), "\n") {
		if n, _, ok := strings.Cut(l, "=="); ok {
			installed[sbom.Normalize(n)] = true
		}
	}
	for _, p := range f.Packages {
		if name := regexp.MustCompile(`^[A-Za-z0-9._-]+`).FindString(p); !installed[sbom.Normalize(name)] {
			t.Errorf("%s not installed in the venv:\n%s", name, out)
		}
	}
	if len(f.Packages) == 0 {
		t.Error("the formula installs none of pyproject.udos.toml's dependencies")
	}
}

// wheelhouse writes a minimal, valid pure-Python wheel for each requirement,
// so that pip installs offline what the formula asks PyPI for.
func wheelhouse(t *testing.T, reqs []string) string {
	t.Helper()
	dir := t.TempDir()
	for _, r := range reqs {
		name := regexp.MustCompile(`^[A-Za-z0-9._-]+`).FindString(r)
		dist := regexp.MustCompile(`[-_.]+`).ReplaceAllString(name, "_")
		ver := "99.0.0"
		info := dist + "-" + ver + ".dist-info/"
		files := map[string]string{
			"udos_wheel_" + strings.ToLower(dist) + ".py": "",
			info + "METADATA": "Metadata-Version: 2.1\nName: " + name + "\nVersion: " + ver + "\n",
			info + "WHEEL":    "Wheel-Version: 1.0\nGenerator: udos-dist-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
		}
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		var record strings.Builder
		for _, n := range []string{"udos_wheel_" + strings.ToLower(dist) + ".py", info + "METADATA", info + "WHEEL"} {
			w, err := zw.Create(n)
			if err != nil {
				t.Fatal(err)
			}
			w.Write([]byte(files[n]))
			sum := sha256.Sum256([]byte(files[n]))
			fmt.Fprintf(&record, "%s,sha256=%s,%d\n", n, base64.RawURLEncoding.EncodeToString(sum[:]), len(files[n]))
		}
		record.WriteString(info + "RECORD,,\n")
		w, _ := zw.Create(info + "RECORD")
		w.Write([]byte(record.String()))
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dist+"-"+ver+"-py3-none-any.whl"), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
