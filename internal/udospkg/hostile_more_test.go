package udospkg

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fredbook/udos-dist/internal/tarball"
	"github.com/fredbook/udos-dist/internal/tarball/tartest"
)

// More hostile packages, made here in Go rather than kept as files: each
// is a package whose manifest matches its contents (so only the archive's
// shape is wrong), and each must fail Verify and ExtractTo alike — what
// verifies must extract, on every file system.

// sparseSize is what the sparse entry expands to: within every limit, so
// only the refusal of sparse files stops it.
const sparseSize = 40 << 20

func zeroDigest(n int64) string {
	h := sha256.New()
	io.CopyN(h, zeroReader{}, n)
	return hex.EncodeToString(h.Sum(nil))
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// sparsePackage is a ~1 KiB package holding lib/demo/hole.bin, which a tar
// reader expands to sparseSize bytes (its first 4 bytes are zeros too, so
// the manifest's digest is that of the expanded file).
func sparsePackage(enc tartest.Sparse, digest string) []byte {
	files := map[string]string{entryPy: "print('hi')\n"}
	m := manifestFor(files)
	mm, err := ParseManifest(m.Body)
	if err != nil {
		panic(err)
	}
	mm.Files["lib/demo/hole.bin"] = digest
	mm.Checksums.SHA256 = PayloadDigest(mm.Files)
	var body []byte
	body, err = mm.Marshal()
	if err != nil {
		panic(err)
	}
	var b tartest.Builder
	b.File(ManifestName, body)
	b.File(entryPy, []byte(files[entryPy]))
	b.SparseFile(enc, "lib/demo/hole.bin", sparseSize, make([]byte, 4))
	b.End()
	return tartest.Gzip(b.Bytes())
}

// tarPackage is a package made with tartest from entries (path, body).
func tarPackage(trailer func(b *tartest.Builder), entries ...[2]string) []byte {
	files := map[string]string{}
	for _, e := range entries {
		files[e[0]] = e[1]
	}
	var b tartest.Builder
	b.File(ManifestName, manifestFor(files).Body)
	for _, e := range entries {
		b.File(e[0], []byte(e[1]))
	}
	b.End()
	if trailer != nil {
		trailer(&b)
	}
	return tartest.Gzip(b.Bytes())
}

func TestHostileMore(t *testing.T) {
	t.Parallel()
	digest := zeroDigest(sparseSize)
	ok := [2]string{entryPy, "print('hi')\n"}
	hidden := func(b *tartest.Builder) {
		b.File("lib/demo/evil.py", []byte("import os\n"))
		b.End()
	}
	tests := []struct {
		name    string
		archive []byte
		want    error
	}{
		{"sparse PAX 0.0", sparsePackage(tartest.PAX00, digest), tarball.ErrSpecialFile},
		{"sparse PAX 0.1", sparsePackage(tartest.PAX01, digest), tarball.ErrSpecialFile},
		{"sparse PAX 1.0", sparsePackage(tartest.PAX10, digest), tarball.ErrSpecialFile},
		{"file after its implied directory", tarPackage(nil, ok, [2]string{"lib/h/i/x.py", "x"}, [2]string{"lib/h/i", "y"}), tarball.ErrDuplicate},
		// The manifest lists σ.py only: one listing both is refused as it
		// is read (TestManifestDuplicateKeys).
		{"sigma and final sigma", func() []byte {
			var b tartest.Builder
			b.File(ManifestName, manifestFor(map[string]string{ok[0]: ok[1], "lib/demo/σ.py": "1"}).Body)
			b.File(ok[0], []byte(ok[1]))
			b.File("lib/demo/σ.py", []byte("1"))
			b.File("lib/demo/ς.py", []byte("2"))
			b.End()
			return tartest.Gzip(b.Bytes())
		}(), tarball.ErrCaseCollision},
		{"file A and folder a", tarPackage(nil, ok, [2]string{"lib/demo/A", "1"}, [2]string{"lib/demo/a/x.py", "2"}), tarball.ErrCaseCollision},
		{"entry after the end-of-archive marker", tarPackage(hidden, ok), tarball.ErrTrailingData},
		{"second gzip member", append(tarPackage(nil, ok), tartest.Gzip(func() []byte {
			var b tartest.Builder
			hidden(&b)
			return b.Bytes()
		}())...), tarball.ErrTrailingData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if len(tt.archive) > 4<<10 {
				t.Fatalf("the crafted package is %d bytes, meant to be small", len(tt.archive))
			}
			p, err := Read(bytes.NewReader(tt.archive))
			if err != nil {
				t.Fatalf("Read: %v (the manifest comes first and is valid: Read should accept it)", err)
			}
			if err := p.Verify(); !errors.Is(err, tt.want) {
				t.Errorf("Verify: err = %v, want %v", err, tt.want)
			}
			parent := t.TempDir()
			if _, err := p.ExtractTo(filepath.Join(parent, "library", "demo")); !errors.Is(err, tt.want) {
				t.Errorf("ExtractTo: err = %v, want %v", err, tt.want)
			}
			if entries, _ := os.ReadDir(parent); len(entries) != 0 {
				t.Errorf("written after refusal: %v", entries)
			}
		})
	}
}

// The crafted packages differ from a good one only in the hostile part:
// the same construction without it verifies and extracts.
func TestHostileMoreControl(t *testing.T) {
	t.Parallel()
	good := tarPackage(nil, [2]string{entryPy, "print('hi')\n"}, [2]string{"lib/h/i/x.py", "x"}, [2]string{"lib/demo/σ.py", "1"})
	p, err := Read(bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.ExtractTo(filepath.Join(t.TempDir(), "demo")); err != nil {
		t.Fatalf("the control package does not install: %v", err)
	}
}

// A hostile manifest or archive must not turn an error into a wall of
// text: operands are shortened, long lists cut.
func TestLongOperandsShortened(t *testing.T) {
	t.Parallel()
	long := "1.0.0-" + strings.Repeat("x", 10<<10)
	m := manifestFor(map[string]string{entryPy: "print('hi')\n"})
	body := bytes.Replace(m.Body, []byte(`"1.0.0"`), []byte(`"`+long+`"`), 1)
	_, err := ParseManifest(body)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("ParseManifest of a 10 KB version: err = %v, want a *ValidationError", err)
	}
	if len(err.Error()) > 300 || !strings.Contains(err.Error(), `"1.0.0-xxxx`) || !strings.Contains(err.Error(), "…") {
		t.Errorf("a %d-byte error for a 10 KB version: %.400s", len(err.Error()), err)
	}

	entries := [][2]string{{entryPy, "print('hi')\n"}}
	var b tartest.Builder
	b.File(ManifestName, manifestFor(map[string]string{entryPy: entries[0][1]}).Body)
	b.File(entryPy, []byte(entries[0][1]))
	for i := range 200 {
		b.File(fmt.Sprintf("lib/demo/%s%03d.py", strings.Repeat("n", 80), i), []byte("x"))
	}
	b.End()
	p, err := Read(bytes.NewReader(tartest.Gzip(b.Bytes())))
	if err != nil {
		t.Fatal(err)
	}
	err = p.Verify()
	if !errors.Is(err, ErrContentMismatch) {
		t.Fatalf("Verify: err = %v, want ErrContentMismatch", err)
	}
	if len(err.Error()) > 800 || !strings.Contains(err.Error(), "and 195 more") {
		t.Errorf("a %d-byte error for 200 unlisted files: %.900s", len(err.Error()), err)
	}
}

// encoding/json keeps the last of two equal keys (and folds case onto one
// struct field): a manifest read that way by us and the other way by
// another tool would describe two packages. Refused, naming the key.
func TestManifestDuplicateKeys(t *testing.T) {
	t.Parallel()
	good := manifestFor(map[string]string{entryPy: "print('hi')\n"}).Body
	if _, err := ParseManifest(good); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, from, to, want string }{
		{"version twice", `"version": "1.0.0"`, `"version": "1.0.0", "version": "6.6.6"`, "duplicate key at version"},
		{"Version in another case", `"version": "1.0.0"`, `"version": "1.0.0", "Version": "6.6.6"`, `duplicate key at Version (the same key as "version"`},
		{"digest twice", `"files": {`, `"files": {"lib/demo/__init__.py": "00", `, `duplicate key at files["lib/demo/__init__.py"]`},
		{"paths that fold together", `"files": {`, `"files": {"lib/demo/σ.py": "00", "lib/demo/ς.py": "00", `, `duplicate key at files["lib/demo/ς.py"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc := bytes.Replace(good, []byte(tt.from), []byte(tt.to), 1)
			if bytes.Equal(doc, good) {
				t.Fatalf("%q is not in the manifest", tt.from)
			}
			_, err := ParseManifest(doc)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want a *ValidationError", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}
