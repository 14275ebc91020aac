package udospkg

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/goldentest"
)

const examples = "../../examples/libraries"

// epoch is the SOURCE_DATE_EPOCH of the golden package.
var epoch = time.Unix(1764000000, 0)

// copyTree copies src to dst giving every file a different mtime and
// restrictive permissions, as a different checkout would.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	i := 0
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(out, b, 0o600); err != nil {
			return err
		}
		i++
		when := time.Now().Add(-time.Duration(i) * time.Hour)
		return os.Chtimes(out, when, when)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestPackGolden(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	res, err := Pack(filepath.Join(examples, "grid-extensions"), &buf, PackOptions{MTime: epoch})
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprintf("%s  %s\n", res.SHA256, res.FileName)
	goldentest.Compare(t, filepath.Join("testdata", "grid-extensions.sha256.golden"), []byte(got))
	if res.Size != int64(buf.Len()) || res.FileName != "lib-grid-extensions-v1.2.3.udos-package" {
		t.Errorf("result %+v does not describe the %d bytes written", res, buf.Len())
	}
}

func TestPackReproducible(t *testing.T) {
	t.Parallel()
	src := filepath.Join(examples, "pathfinding")
	other := t.TempDir()
	copyTree(t, src, other)
	// Litter a working copy collects must not change the package.
	os.MkdirAll(filepath.Join(other, "lib", "pathfinding", "__pycache__"), 0o755)
	os.WriteFile(filepath.Join(other, "lib", "pathfinding", "__pycache__", "bfs.cpython-311.pyc"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(other, "lib", ".DS_Store"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(other, "lib", "pathfinding", "astar.pyc"), []byte("x"), 0o644)

	var a, b bytes.Buffer
	ra, err := Pack(src, &a, PackOptions{MTime: epoch})
	if err != nil {
		t.Fatal(err)
	}
	rb, err := Pack(other, &b, PackOptions{MTime: epoch})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) || ra.SHA256 != rb.SHA256 || ra.SHA512 != rb.SHA512 {
		t.Errorf("same library, different bytes: %s vs %s", ra.SHA256, rb.SHA256)
	}
	var c bytes.Buffer
	rc, err := Pack(src, &c, PackOptions{MTime: epoch.Add(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if rc.SHA256 == ra.SHA256 {
		t.Error("MTime is not part of the package")
	}
}

func TestPackContents(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	res, err := Pack(filepath.Join(examples, "grid-extensions"), &buf, PackOptions{MTime: epoch, Version: "v1.3.0"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Manifest.Version != "1.3.0" || res.FileName != "lib-grid-extensions-v1.3.0.udos-package" {
		t.Errorf("version override: %q %q", res.Manifest.Version, res.FileName)
	}
	p, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Verify(); err != nil {
		t.Fatal(err)
	}
	if p.SHA256 != res.SHA256 || p.SHA512 != res.SHA512 || p.Size != res.Size {
		t.Errorf("Read digests %s/%d differ from Pack's %s/%d", p.SHA256, p.Size, res.SHA256, res.Size)
	}
	if err := p.CheckDigests(res.SHA256, res.SHA512); err != nil {
		t.Error(err)
	}
	if err := p.CheckDigests(strings.Repeat("0", 64), ""); !errors.Is(err, ErrDigestMismatch) {
		t.Errorf("CheckDigests with a wrong sha256: %v", err)
	}
	dst := filepath.Join(t.TempDir(), "grid-extensions")
	names, err := p.ExtractTo(dst)
	if err != nil {
		t.Fatal(err)
	}
	// manifest.json first, then lib/, docs/, examples/ in that order.
	want := "manifest.json lib/ lib/grid_extensions/ lib/grid_extensions/__init__.py lib/grid_extensions/layers.py docs/ docs/README.md examples/ examples/route.py"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("entries:\n got %s\nwant %s", got, want)
	}
	orig, _ := os.ReadFile(filepath.Join(examples, "grid-extensions", "lib", "grid_extensions", "layers.py"))
	out, _ := os.ReadFile(filepath.Join(dst, "lib", "grid_extensions", "layers.py"))
	if !bytes.Equal(orig, out) {
		t.Error("extracted layers.py differs from the source")
	}
}

func TestPackAllExamples(t *testing.T) {
	t.Parallel()
	dirs, err := filepath.Glob(filepath.Join(examples, "*", ManifestName))
	if err != nil || len(dirs) < 7 {
		t.Fatalf("examples: %v %v", dirs, err)
	}
	out := t.TempDir()
	for _, mp := range dirs {
		src := filepath.Dir(mp)
		res, err := PackFile(src, out, PackOptions{MTime: epoch})
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		// A folder named name@version must hold that version.
		if _, v, ok := strings.Cut(filepath.Base(src), "@"); ok && v != res.Manifest.Version {
			t.Errorf("%s holds version %s", src, res.Manifest.Version)
		}
		p, err := Open(filepath.Join(out, res.FileName))
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Verify(); err != nil {
			t.Error(err)
		}
	}
}

func TestPackErrors(t *testing.T) {
	t.Parallel()
	mk := func(t *testing.T, manifest string, files map[string]string) string {
		dir := t.TempDir()
		if manifest != "" {
			os.WriteFile(filepath.Join(dir, ManifestName), []byte(manifest), 0o644)
		}
		for name, body := range files {
			p := filepath.Join(dir, filepath.FromSlash(name))
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, []byte(body), 0o644)
		}
		return dir
	}
	const good = `{"id": "lib-demo", "name": "Demo", "version": "1.0.0", "author": "me", "license": "MIT", "entry_point": "lib/demo/__init__.py"}`
	tests := []struct {
		name     string
		manifest string
		files    map[string]string
		symlink  bool
		want     string
	}{
		{"no manifest", "", map[string]string{"lib/demo/__init__.py": ""}, false, "reading library manifest"},
		{"no lib", good, nil, false, "has no lib/ folder"},
		{"entry point missing", good, map[string]string{"lib/demo/other.py": ""}, false, `field "entry_point": "lib/demo/__init__.py" is not among the package's files`},
		{"bad version", strings.Replace(good, "1.0.0", "1.0", 1), map[string]string{"lib/demo/__init__.py": ""}, false, `field "version": "1.0" is not a semantic version`},
		{"symlink", good, map[string]string{"lib/demo/__init__.py": ""}, true, "only regular files and directories"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := mk(t, tt.manifest, tt.files)
			if tt.symlink {
				if err := os.Symlink("/etc/passwd", filepath.Join(dir, "lib", "demo", "passwd")); err != nil {
					t.Skip(err)
				}
			}
			out := filepath.Join(t.TempDir(), "demo.udos-package")
			_, err := PackFile(dir, out, PackOptions{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			// Atomic: no partial output, no temporary file left behind.
			entries, _ := os.ReadDir(filepath.Dir(out))
			if len(entries) != 0 {
				t.Errorf("left behind: %v", entries)
			}
		})
	}
}
