package udospkg

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/fredbook/udos-dist/internal/goldentest"
	"github.com/fredbook/udos-dist/internal/tarball"
	"github.com/fredbook/udos-dist/internal/tarball/tartest"
)

// The hostile corpus lives in testdata/hostile/*.udos-package. Each file is
// made by hostileCorpus below; TestHostileCorpus checks that the files on
// disk are exactly what the generator makes (go test -update rewrites
// them), then feeds each to Read, Verify and ExtractTo.

const entryPy = "lib/demo/__init__.py"

// manifestFor makes a valid manifest.json listing files (path -> contents).
func manifestFor(files map[string]string) tartest.Entry {
	digests := map[string]string{}
	for p, body := range files {
		s := sha256.Sum256([]byte(body))
		digests[p] = hex.EncodeToString(s[:])
	}
	m := &Manifest{
		ManifestVersion: 1, ID: "lib-demo", Namespace: "@uDOS/demo", Name: "Demo", Version: "1.0.0",
		Author: "mallory", License: "MIT", EntryPoint: entryPy, InstallPath: "library/demo",
		Dependencies: map[string]string{}, Files: digests, Checksums: Checksums{SHA256: PayloadDigest(digests)},
	}
	b, err := m.Marshal()
	if err != nil {
		panic(err)
	}
	return tartest.File(ManifestName, string(b))
}

type hostileCase struct {
	archive []byte
	want    error // nil: want a *ValidationError
}

func hostileCorpus() map[string]hostileCase {
	ok := map[string]string{entryPy: "print('hi')\n"}
	okEntry := tartest.File(entryPy, ok[entryPy])
	good := tartest.Archive(manifestFor(ok), okEntry)
	zeros := string(make([]byte, 20<<20))

	bigHdr := tartest.Entry{Header: tar.Header{Name: "lib/demo/big.bin", Typeflag: tar.TypeReg, Mode: 0o644, Size: 100 << 20}, Body: []byte("x"), Short: true}
	badVersion := manifestFor(ok)
	badVersion.Body = bytes.Replace(badVersion.Body, []byte(`"1.0.0"`), []byte(`"1.0"`), 1)
	badVersion.Header.Size = int64(len(badVersion.Body))

	return map[string]hostileCase{
		"traversal":          {tartest.Archive(manifestFor(ok), okEntry, tartest.File("lib/../../evil.py", "x")), tarball.ErrUnsafePath},
		"absolute-path":      {tartest.Archive(manifestFor(ok), okEntry, tartest.File("/tmp/evil.py", "x")), tarball.ErrUnsafePath},
		"symlink":            {tartest.Archive(manifestFor(ok), okEntry, tartest.Entry{Header: tar.Header{Name: "lib/demo/passwd", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}}), tarball.ErrLink},
		"hardlink":           {tartest.Archive(manifestFor(ok), okEntry, tartest.Entry{Header: tar.Header{Name: "lib/demo/passwd", Typeflag: tar.TypeLink, Linkname: "/etc/passwd"}}), tarball.ErrLink},
		"device-file":        {tartest.Archive(manifestFor(ok), okEntry, tartest.Entry{Header: tar.Header{Name: "lib/demo/null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}}), tarball.ErrSpecialFile},
		"fifo":               {tartest.Archive(manifestFor(ok), okEntry, tartest.Entry{Header: tar.Header{Name: "lib/demo/pipe", Typeflag: tar.TypeFifo}}), tarball.ErrSpecialFile},
		"duplicate-entry":    {tartest.Archive(manifestFor(ok), okEntry, tartest.File(entryPy, "import os; os.system('rm -rf ~')\n")), tarball.ErrDuplicate},
		"case-collision":     {tartest.Archive(manifestFor(ok), okEntry, tartest.File("lib/demo/__INIT__.py", "x")), tarball.ErrCaseCollision},
		"oversized-entry":    {tartest.Archive(manifestFor(ok), okEntry, bigHdr), tarball.ErrTooLarge},
		"gzip-bomb":          {tartest.Archive(manifestFor(map[string]string{entryPy: ok[entryPy], "lib/demo/zeros.bin": zeros}), okEntry, tartest.File("lib/demo/zeros.bin", zeros)), tarball.ErrBomb},
		"manifest-not-first": {tartest.Archive(okEntry, manifestFor(ok)), ErrNoManifest},
		"no-manifest":        {tartest.Archive(okEntry), ErrNoManifest},
		"empty-archive":      {tartest.Archive(), ErrNoManifest},
		"digest-mismatch":    {tartest.Archive(manifestFor(ok), tartest.File(entryPy, "print('pwned')\n")), ErrContentMismatch},
		"extra-file":         {tartest.Archive(manifestFor(ok), okEntry, tartest.File("lib/demo/extra.py", "x")), ErrContentMismatch},
		"missing-file":       {tartest.Archive(manifestFor(map[string]string{entryPy: ok[entryPy], "lib/demo/gone.py": "x"}), okEntry), ErrContentMismatch},
		"outside-payload":    {tartest.Archive(manifestFor(ok), okEntry, tartest.File("setup.py", "x")), ErrContentMismatch},
		"invalid-manifest":   {tartest.Archive(badVersion, okEntry), nil},
		"truncated":          {good[:len(good)*2/3], tarball.ErrCorrupt},
		"bad-gzip-crc":       {func() []byte { b := bytes.Clone(good); b[len(b)-8] ^= 0xff; return b }(), tarball.ErrCorrupt},
		"not-gzip":           {[]byte("this is not a package\n"), tarball.ErrCorrupt},
	}
}

func TestHostileCorpus(t *testing.T) {
	t.Parallel()
	corpus := hostileCorpus()
	dir := filepath.Join("testdata", "hostile")
	if goldentest.Update() {
		os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, c := range corpus {
			if err := os.WriteFile(filepath.Join(dir, name+Extension), c.archive, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	onDisk, _ := filepath.Glob(filepath.Join(dir, "*"+Extension))
	if len(onDisk) != len(corpus) {
		t.Fatalf("testdata/hostile holds %d files, the generator makes %d (run go test -update)", len(onDisk), len(corpus))
	}
	names := slices.Sorted(maps.Keys(corpus))
	for _, name := range names {
		c := corpus[name]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(dir, name+Extension)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(data, c.archive) {
				t.Fatalf("%s differs from what the generator makes (run go test -update)", path)
			}
			parent := t.TempDir()
			dst := filepath.Join(parent, "library", "demo")
			p, err := Open(path)
			if err == nil {
				err = p.Verify()
				if err == nil {
					t.Fatal("Verify accepted a hostile package")
				}
				if _, xerr := p.ExtractTo(dst); xerr == nil {
					t.Fatal("ExtractTo accepted a hostile package")
				}
			}
			if c.want == nil {
				var ve *ValidationError
				if !errors.As(err, &ve) {
					t.Errorf("err = %v, want a *ValidationError", err)
				}
			} else if !errors.Is(err, c.want) {
				t.Errorf("err = %v, want %v", err, c.want)
			}
			// Nothing was written: not the destination, not anything beside it.
			entries, _ := os.ReadDir(parent)
			if len(entries) != 0 {
				t.Errorf("written after refusal: %v", entries)
			}
		})
	}
}

func FuzzRead(f *testing.F) {
	for _, c := range hostileCorpus() {
		if len(c.archive) < 64<<10 {
			f.Add(c.archive)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Read(bytes.NewReader(data))
		if err != nil {
			return
		}
		if p.Manifest == nil || p.Manifest.Validate() != nil {
			t.Fatal("Read returned a package without a valid manifest")
		}
		if err := p.Verify(); err != nil {
			return
		}
		// A package that verifies extracts, and only within dst.
		parent := t.TempDir()
		names, err := p.ExtractTo(filepath.Join(parent, "x"))
		if err != nil {
			t.Fatalf("verified package does not extract: %v", err)
		}
		for _, n := range names {
			if n != ManifestName && !IsPayloadPath(n) && !IsPayloadPath(n+"x") && !isPayloadRoot(n[:len(n)-1]) {
				t.Fatalf("extracted %q", n)
			}
		}
		entries, _ := os.ReadDir(parent)
		if len(entries) != 1 {
			t.Fatalf("wrote beside dst: %v", entries)
		}
	})
}
