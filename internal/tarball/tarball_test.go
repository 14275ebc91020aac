package tarball

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/tarball/tartest"
	"github.com/fredbook/udos-dist/internal/testenv"
)

func makeTree(t *testing.T, dir string, mtime time.Time, perm os.FileMode) {
	t.Helper()
	files := map[string]string{
		"core/__init__.py":    "",
		"core/grid.py":        "print('grid')\n",
		"bin/udos":            "#!/bin/sh\necho udos\n",
		"docs/README.md":      "# docs\n",
		"version.json":        `{"version":"1.4.6"}`,
		"themes/genre/a.yaml": "name: a\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := perm
		if strings.HasPrefix(name, "bin/") {
			mode |= 0o111
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		os.Chtimes(p, mtime, mtime)
	}
}

func build(t *testing.T, dir string, parallel bool) []byte {
	t.Helper()
	entries, err := FromDir(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Write(&buf, Prefix("udos-1.4.6", entries), Options{MTime: time.Unix(1700000000, 0), Parallel: parallel}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReproducible(t *testing.T) {
	t.Parallel()
	for _, parallel := range []bool{false, true} {
		a, b := t.TempDir(), t.TempDir()
		makeTree(t, a, time.Unix(1, 0), 0o644)
		makeTree(t, b, time.Now(), 0o600) // other mtimes, a stricter umask
		x, y := build(t, a, parallel), build(t, b, parallel)
		if sha256.Sum256(x) != sha256.Sum256(y) {
			t.Fatalf("parallel=%v: archives differ", parallel)
		}
		// gzip header: no name, no time (like gzip -n).
		zr, err := gzip.NewReader(bytes.NewReader(x))
		if err != nil {
			t.Fatal(err)
		}
		if zr.Name != "" || !zr.ModTime.IsZero() {
			t.Fatalf("gzip header carries name %q / time %v", zr.Name, zr.ModTime)
		}
		var names []string
		tartest.Walk(t, zr, func(h *tar.Header, _ []byte) bool {
			names = append(names, h.Name)
			if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
				t.Errorf("%s: owner %d/%d %q/%q", h.Name, h.Uid, h.Gid, h.Uname, h.Gname)
			}
			if !h.ModTime.Equal(time.Unix(1700000000, 0)) {
				t.Errorf("%s: mtime %v", h.Name, h.ModTime)
			}
			want := int64(0o644)
			if h.Typeflag == tar.TypeDir || strings.HasPrefix(h.Name, "udos-1.4.6/bin/") {
				want = 0o755
			}
			if h.Mode != want {
				t.Errorf("%s: mode %o want %o", h.Name, h.Mode, want)
			}
			return true
		})
		if names[0] != "udos-1.4.6/" || names[1] != "udos-1.4.6/bin/" || names[2] != "udos-1.4.6/bin/udos" {
			t.Errorf("order: %v", names)
		}
	}
}

func TestFromDirRefusesSymlink(t *testing.T) {
	t.Parallel()
	d := t.TempDir()
	os.WriteFile(filepath.Join(d, "a"), []byte("a"), 0o644)
	os.Symlink("/etc/passwd", filepath.Join(d, "link"))
	if _, err := FromDir(d, nil); err == nil || !strings.Contains(err.Error(), "link") {
		t.Fatalf("symlink not refused: %v", err)
	}
}

func TestWriteRefusesBadNames(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"../x", "/abs", "a/../../b", "a//b", ""} {
		err := Write(io.Discard, []Entry{Bytes(name, 0o644, []byte("x"))}, Options{})
		if err == nil {
			t.Errorf("%q accepted", name)
		}
	}
	err := Write(io.Discard, []Entry{Bytes("a", 0o644, nil), Bytes("a", 0o644, nil)}, Options{})
	if err == nil {
		t.Error("duplicate accepted")
	}
}

// GNU tar reads what we write, and lists it in our order.
func TestGNUTarReads(t *testing.T) {
	t.Parallel()
	tar := testenv.Tool(t, "tar")
	d := t.TempDir()
	makeTree(t, d, time.Now(), 0o644)
	out := filepath.Join(t.TempDir(), "a.tar.gz")
	os.WriteFile(out, build(t, d, true), 0o644)
	b, err := exec.Command(tar, "-tzvf", out).CombinedOutput()
	if err != nil {
		t.Fatalf("tar: %v\n%s", err, b)
	}
	if !strings.Contains(string(b), "root/root") && !strings.Contains(string(b), "0/0") {
		t.Errorf("owner not 0/0:\n%s", b)
	}
	if !strings.Contains(string(b), "udos-1.4.6/version.json") {
		t.Errorf("listing:\n%s", b)
	}
}
