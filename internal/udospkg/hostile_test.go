package udospkg

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/tarball"
)

// The hostile corpus lives in testdata/hostile/*.udos-package. Each file is
// made by hostileCorpus below; TestHostileCorpus checks that the files on
// disk are exactly what the generator makes (go test -update rewrites
// them), then feeds each to Read, Verify and ExtractTo.

type hEntry struct {
	hdr  tar.Header
	body []byte
	// short: write the header but fewer body bytes than it declares.
	short bool
}

func hFile(name, body string) hEntry {
	return hEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))}, body: []byte(body)}
}

const entryPy = "lib/demo/__init__.py"

// manifestFor makes a valid manifest.json listing files (path -> contents).
func manifestFor(files map[string]string) hEntry {
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
	return hFile(ManifestName, string(b))
}

func hArchive(entries ...hEntry) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := e.hdr
		h.ModTime = time.Unix(0, 0)
		h.Format = tar.FormatGNU
		if err := tw.WriteHeader(&h); err != nil {
			panic(err)
		}
		if _, err := tw.Write(e.body); err != nil {
			panic(err)
		}
		if e.short {
			// The header promised more: end the stream here, as a
			// hand-made archive would.
			zw.Close()
			return buf.Bytes()
		}
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

type hostileCase struct {
	archive []byte
	want    error // nil: want a *ValidationError
}

func hostileCorpus() map[string]hostileCase {
	ok := map[string]string{entryPy: "print('hi')\n"}
	okEntry := hFile(entryPy, ok[entryPy])
	good := hArchive(manifestFor(ok), okEntry)
	zeros := string(make([]byte, 20<<20))

	bigHdr := hEntry{hdr: tar.Header{Name: "lib/demo/big.bin", Typeflag: tar.TypeReg, Mode: 0o644, Size: 100 << 20}, body: []byte("x"), short: true}
	badVersion := manifestFor(ok)
	badVersion.body = bytes.Replace(badVersion.body, []byte(`"1.0.0"`), []byte(`"1.0"`), 1)
	badVersion.hdr.Size = int64(len(badVersion.body))

	return map[string]hostileCase{
		"traversal":          {hArchive(manifestFor(ok), okEntry, hFile("lib/../../evil.py", "x")), tarball.ErrUnsafePath},
		"absolute-path":      {hArchive(manifestFor(ok), okEntry, hFile("/tmp/evil.py", "x")), tarball.ErrUnsafePath},
		"symlink":            {hArchive(manifestFor(ok), okEntry, hEntry{hdr: tar.Header{Name: "lib/demo/passwd", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}}), tarball.ErrLink},
		"hardlink":           {hArchive(manifestFor(ok), okEntry, hEntry{hdr: tar.Header{Name: "lib/demo/passwd", Typeflag: tar.TypeLink, Linkname: "/etc/passwd"}}), tarball.ErrLink},
		"device-file":        {hArchive(manifestFor(ok), okEntry, hEntry{hdr: tar.Header{Name: "lib/demo/null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}}), tarball.ErrSpecialFile},
		"fifo":               {hArchive(manifestFor(ok), okEntry, hEntry{hdr: tar.Header{Name: "lib/demo/pipe", Typeflag: tar.TypeFifo}}), tarball.ErrSpecialFile},
		"duplicate-entry":    {hArchive(manifestFor(ok), okEntry, hFile(entryPy, "import os; os.system('rm -rf ~')\n")), tarball.ErrDuplicate},
		"case-collision":     {hArchive(manifestFor(ok), okEntry, hFile("lib/demo/__INIT__.py", "x")), tarball.ErrCaseCollision},
		"oversized-entry":    {hArchive(manifestFor(ok), okEntry, bigHdr), tarball.ErrTooLarge},
		"gzip-bomb":          {hArchive(manifestFor(map[string]string{entryPy: ok[entryPy], "lib/demo/zeros.bin": zeros}), okEntry, hFile("lib/demo/zeros.bin", zeros)), tarball.ErrBomb},
		"manifest-not-first": {hArchive(okEntry, manifestFor(ok)), ErrNoManifest},
		"no-manifest":        {hArchive(okEntry), ErrNoManifest},
		"empty-archive":      {hArchive(), ErrNoManifest},
		"digest-mismatch":    {hArchive(manifestFor(ok), hFile(entryPy, "print('pwned')\n")), ErrContentMismatch},
		"extra-file":         {hArchive(manifestFor(ok), okEntry, hFile("lib/demo/extra.py", "x")), ErrContentMismatch},
		"missing-file":       {hArchive(manifestFor(map[string]string{entryPy: ok[entryPy], "lib/demo/gone.py": "x"}), okEntry), ErrContentMismatch},
		"outside-payload":    {hArchive(manifestFor(ok), okEntry, hFile("setup.py", "x")), ErrContentMismatch},
		"invalid-manifest":   {hArchive(badVersion, okEntry), nil},
		"truncated":          {good[:len(good)*2/3], tarball.ErrCorrupt},
		"bad-gzip-crc":       {func() []byte { b := bytes.Clone(good); b[len(b)-8] ^= 0xff; return b }(), tarball.ErrCorrupt},
		"not-gzip":           {[]byte("this is not a package\n"), tarball.ErrCorrupt},
	}
}

func TestHostileCorpus(t *testing.T) {
	t.Parallel()
	corpus := hostileCorpus()
	dir := filepath.Join("testdata", "hostile")
	if *update {
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
	names := make([]string, 0, len(corpus))
	for name := range corpus {
		names = append(names, name)
	}
	sort.Strings(names)
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
