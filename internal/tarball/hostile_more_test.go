package tarball

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/tarball/tartest"
	"github.com/fredbook/udos-dist/internal/testenv"
)

// checkRefused asserts that Scan and Extract both refuse archive with want
// (under the default limits) and that Extract leaves nothing behind.
func checkRefused(t *testing.T, archive []byte, want error) {
	t.Helper()
	checkRefusedWithin(t, archive, Limits{}, want)
}

// checkRefusedWithin is checkRefused under lim.
func checkRefusedWithin(t *testing.T, archive []byte, lim Limits, want error) {
	t.Helper()
	if _, err := Scan(bytes.NewReader(archive), lim); !errors.Is(err, want) {
		t.Errorf("Scan: err = %v, want %v", err, want)
	}
	parent := t.TempDir()
	dst := filepath.Join(parent, "dst")
	names, err := Extract(bytes.NewReader(archive), dst, lim)
	if !errors.Is(err, want) {
		t.Errorf("Extract: err = %v, want %v", err, want)
	}
	if names != nil {
		t.Errorf("Extract returned names %q on error", names)
	}
	// Nothing from the archive may remain, inside or outside dst.
	var left []string
	filepath.Walk(parent, func(p string, fi os.FileInfo, err error) error {
		if p != parent && p != dst {
			left = append(left, p)
		}
		return nil
	})
	sort.Strings(left)
	if len(left) > 0 {
		t.Errorf("left behind after a refused archive: %q", left)
	}
	if _, err := os.Lstat(filepath.Join(parent, "..", "evil.txt")); err == nil {
		t.Errorf("traversal wrote outside the test folder")
	}
}

// A sparse entry expands to its real size when read, whatever the archive
// holds: 60 MiB from about 1 KiB here. Every encoding is refused before a
// byte of it is written.
func TestSparseRefused(t *testing.T) {
	t.Parallel()
	for _, enc := range []tartest.Sparse{tartest.PAX00, tartest.PAX01, tartest.PAX10} {
		t.Run(enc.String(), func(t *testing.T) {
			t.Parallel()
			var b tartest.Builder
			b.Dir("lib/")
			b.File("lib/ok.py", []byte("print('ok')\n"))
			b.SparseFile(enc, "lib/hole.bin", 60<<20, []byte("data"))
			b.End()
			archive := tartest.Gzip(b.Bytes())
			if len(archive) > 2<<10 {
				t.Fatalf("the crafted archive is %d bytes, meant to be tiny", len(archive))
			}
			checkRefused(t, archive, ErrSpecialFile)
			_, err := Scan(bytes.NewReader(archive), Limits{})
			if err == nil || !strings.Contains(err.Error(), "sparse file") || !strings.Contains(err.Error(), `"lib/hole.bin"`) {
				t.Errorf("error %v does not name the sparse entry", err)
			}
		})
	}
	// Keys in another case are refused too: a reader that folds them
	// would expand the file.
	t.Run("lower-case key", func(t *testing.T) {
		t.Parallel()
		var b tartest.Builder
		b.PAX(tartest.Record{Key: "gnu.sparse.map", Value: "0,4"})
		b.File("lib/hole.bin", []byte("data"))
		b.End()
		checkRefused(t, tartest.Gzip(b.Bytes()), ErrSpecialFile)
	})
}

// Go's own sparse test archives (GNU 'S' entries and PAX 1.0 files whose
// map is all data or all hole), read from the Go distribution.
func TestSparseGoTestdata(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(runtime.GOROOT(), "src", "archive", "tar", "testdata")
	for _, name := range []string{"pax-nil-sparse-data.tar", "pax-nil-sparse-hole.tar", "gnu-nil-sparse-data.tar", "gnu-nil-sparse-hole.tar", "sparse-formats.tar"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				testenv.Missing(t, "Go's archive/tar testdata is not in GOROOT: "+err.Error())
			}
			checkRefused(t, tartest.Gzip(raw), ErrSpecialFile)
		})
	}
}

// What Walk accepts must extract: a file where an earlier entry's path
// implied a directory would fail every install half-way.
func TestImplicitParentConflicts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		archive []byte
		want    error
	}{
		{"file after implied directory", tartest.Archive(tartest.File("lib/h/i/x.py", "x"), tartest.File("lib/h/i", "y")), ErrDuplicate},
		{"file after implied grandparent", tartest.Archive(tartest.File("lib/h/i/x.py", "x"), tartest.File("lib/h", "y")), ErrDuplicate},
		{"file after explicit directory", tartest.Archive(tartest.Dir("lib/h/"), tartest.File("lib/h", "y")), ErrDuplicate},
		{"directory under a file", tartest.Archive(tartest.File("lib/h", "y"), tartest.Dir("lib/h/i/")), ErrDuplicate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkRefused(t, tt.archive, tt.want)
		})
	}
	// A directory entry after the files it holds is fine: nothing clashes.
	ok := tartest.Archive(tartest.File("lib/h/i/x.py", "x"), tartest.Dir("lib/h/"), tartest.Dir("lib/h/i/"))
	names, err := Extract(bytes.NewReader(ok), filepath.Join(t.TempDir(), "dst"), Limits{})
	if err != nil || len(names) != 3 {
		t.Errorf("directory entries after their files: names %q, err %v", names, err)
	}
}

// Names are compared with Unicode case folding and normalisation, over
// every parent folder too: these pairs are one path on macOS or Windows.
func TestFoldedCollisions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		a, b string
	}{
		{"final sigma", "lib/σ.py", "lib/ς.py"},
		{"capital sigma", "lib/Σ.py", "lib/ς.py"},
		{"file and folder", "lib/A", "lib/a/x.py"},
		{"folders", "lib/Mod/x.py", "lib/mod/y.py"},
		{"top folder", "Lib/x.py", "lib/y.py"},
		{"sharp s", "lib/straße.py", "lib/STRASSE.py"},
		{"kelvin sign", "lib/\u212a.py", "lib/k.py"},
		{"NFC and NFD", "lib/caf\u00e9.py", "lib/cafe\u0301.py"},
		{"NFD folder", "lib/cafe\u0301/x.py", "lib/CAF\u00c9/y.py"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkRefused(t, tartest.Archive(tartest.File(tt.a, "1"), tartest.File(tt.b, "2")), ErrCaseCollision)
			_, err := Scan(bytes.NewReader(tartest.Archive(tartest.File(tt.a, "1"), tartest.File(tt.b, "2"))), Limits{})
			if err == nil || !strings.Contains(err.Error(), "would collide on macOS and Windows") {
				t.Errorf("error %v does not say why", err)
			}
		})
	}
	// The same folder spelled the same way is no collision.
	if _, err := Scan(bytes.NewReader(tartest.Archive(tartest.File("lib/Mod/x.py", "1"), tartest.File("lib/Mod/y.py", "2"))), Limits{}); err != nil {
		t.Errorf("two files in one folder: %v", err)
	}
}

// tar stops reading at the end-of-archive marker, but GNU tar
// (--ignore-zeros) and Python's tarfile go on and list what follows: an
// archive must not hold entries one reader sees and another does not.
func TestTrailingDataRefused(t *testing.T) {
	t.Parallel()
	var hidden tartest.Builder
	hidden.File("lib/ok.py", []byte("ok\n"))
	hidden.End()
	hidden.File("lib/hidden.py", []byte("import os\n"))
	hidden.End()

	var one tartest.Builder
	one.File("lib/ok.py", []byte("ok\n"))
	one.End()
	var two tartest.Builder
	two.File("lib/hidden.py", []byte("import os\n"))
	two.End()

	tests := []struct {
		name    string
		archive []byte
	}{
		{"entry after the end-of-archive marker", tartest.Gzip(hidden.Bytes())},
		{"one stray byte after the marker", tartest.Gzip(append(bytes.Clone(one.Bytes()), 'x'))},
		{"second gzip member", append(tartest.Gzip(one.Bytes()), tartest.Gzip(two.Bytes())...)},
		{"zeros after the gzip stream", append(tartest.Gzip(one.Bytes()), make([]byte, 512)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkRefused(t, tt.archive, ErrTrailingData)
			checkRefused(t, tt.archive, ErrCorrupt)
		})
	}
	// tar's own padding to its 10240-byte record is zeros, and fine.
	padded := append(bytes.Clone(one.Bytes()), make([]byte, 10240-len(one.Bytes()))...)
	if _, err := Scan(bytes.NewReader(tartest.Gzip(padded)), Limits{}); err != nil {
		t.Errorf("a record-padded archive: %v", err)
	}
}

// Both of our writers make one gzip member, which Walk reads back.
func TestOwnArchivesAreOneMember(t *testing.T) {
	t.Parallel()
	entries := []Entry{Dir("a/"), Bytes("a/big.bin", 0o644, bytes.Repeat([]byte("0123456789abcdef"), 1<<17))}
	for _, parallel := range []bool{false, true} {
		var buf bytes.Buffer
		if err := Write(&buf, entries, Options{MTime: time.Unix(1700000000, 0), Parallel: parallel}); err != nil {
			t.Fatal(err)
		}
		if _, err := Scan(&buf, Limits{}); err != nil {
			t.Errorf("Parallel=%v: %v", parallel, err)
		}
	}
}

// A hostile name or link target is quoted shortened in the error.
func TestLongOperandsShortened(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a/", 600) + "x"
	var b tartest.Builder
	b.PAX(tartest.Record{Key: "path", Value: long})
	b.File("placeholder", []byte("x"))
	b.End()
	_, err := Scan(bytes.NewReader(tartest.Gzip(b.Bytes())), Limits{})
	if !errors.Is(err, ErrUnsafePath) {
		t.Fatalf("err = %v, want ErrUnsafePath", err)
	}
	if len(err.Error()) > 300 || !strings.Contains(err.Error(), "…") {
		t.Errorf("a %d-byte error for a %d-byte name: %s", len(err.Error()), len(long), err)
	}
}
