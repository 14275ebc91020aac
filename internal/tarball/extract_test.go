package tarball

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/tarball/tartest"
)

func goodArchive(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	entries := []Entry{
		Dir("a/"), Bytes("a/one.txt", 0o644, []byte("one\n")), Bytes("a/run.sh", 0o755, []byte("#!/bin/sh\necho hi\n")),
		Dir("b/"), Dir("b/c/"), Bytes("b/c/two.txt", 0o644, []byte("two\n")),
	}
	if err := Write(&buf, entries, Options{MTime: time.Unix(1700000000, 0)}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestExtractGood(t *testing.T) {
	t.Parallel()
	dst := filepath.Join(t.TempDir(), "out")
	names, err := Extract(bytes.NewReader(goodArchive(t)), dst, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := "a/ a/one.txt a/run.sh b/ b/c/ b/c/two.txt"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("names = %q, want %q", got, want)
	}
	b, err := os.ReadFile(filepath.Join(dst, "b", "c", "two.txt"))
	if err != nil || string(b) != "two\n" {
		t.Errorf("two.txt = %q, %v", b, err)
	}
	fi, err := os.Stat(filepath.Join(dst, "a", "run.sh"))
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("run.sh mode = %v, %v; want 0755", fi.Mode(), err)
	}
	fi, err = os.Stat(filepath.Join(dst, "a", "one.txt"))
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("one.txt mode = %v, %v; want 0644", fi.Mode(), err)
	}
	// A second extraction must not overwrite anything.
	if _, err := Extract(bytes.NewReader(goodArchive(t)), dst, Limits{}); !errors.Is(err, ErrExists) {
		t.Errorf("second Extract: err = %v, want ErrExists", err)
	}
	b, _ = os.ReadFile(filepath.Join(dst, "a", "one.txt"))
	if string(b) != "one\n" {
		t.Errorf("one.txt changed to %q", b)
	}
}

func TestScanRoundTrip(t *testing.T) {
	t.Parallel()
	hs, err := Scan(bytes.NewReader(goodArchive(t)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 6 || hs[2].Name != "a/run.sh" || hs[2].Mode != 0o755 || hs[2].Size != 18 || !hs[3].IsDir {
		t.Errorf("Scan = %+v", hs)
	}
}

func TestWalkSkipRest(t *testing.T) {
	t.Parallel()
	n := 0
	err := Walk(bytes.NewReader(goodArchive(t)), Limits{}, func(h Header, r io.Reader) error {
		n++
		return SkipRest
	})
	if err != nil || n != 1 {
		t.Errorf("Walk with SkipRest: n=%d err=%v", n, err)
	}
	boom := errors.New("boom")
	err = Walk(bytes.NewReader(goodArchive(t)), Limits{}, func(h Header, r io.Reader) error { return boom })
	if !errors.Is(err, boom) {
		t.Errorf("callback error lost: %v", err)
	}
}

func zeros(n int) string { return string(make([]byte, n)) }

func TestRefused(t *testing.T) {
	t.Parallel()
	good := goodArchive(t)
	small := Limits{MaxFiles: 5, MaxFileSize: 1 << 10, MaxTotal: 2 << 10}
	tests := []struct {
		name    string
		archive []byte
		lim     Limits
		want    error
	}{
		{"traversal", tartest.Archive(tartest.Dir("a/"), tartest.File("a/ok.txt", "ok"), tartest.File("a/../../evil.txt", "x")), Limits{}, ErrUnsafePath},
		{"traversal at start", tartest.Archive(tartest.File("../evil.txt", "x")), Limits{}, ErrUnsafePath},
		{"absolute", tartest.Archive(tartest.File("/tmp/evil.txt", "x")), Limits{}, ErrUnsafePath},
		{"windows drive", tartest.Archive(tartest.File("C:/evil.txt", "x")), Limits{}, ErrUnsafePath},
		{"backslash", tartest.Archive(tartest.File(`a\..\..\evil.txt`, "x")), Limits{}, ErrUnsafePath},
		{"unclean", tartest.Archive(tartest.File("a//b.txt", "x")), Limits{}, ErrUnsafePath},
		{"dot slash", tartest.Archive(tartest.File("./a.txt", "x")), Limits{}, ErrUnsafePath},
		{"empty name", tartest.Archive(tartest.File("", "x")), Limits{}, ErrUnsafePath},
		{"long component", tartest.Archive(tartest.File(strings.Repeat("a", 256), "x")), Limits{}, ErrUnsafePath},
		{"long name", tartest.Archive(tartest.File(strings.Repeat("abcdefgh/", 120)+"x", "x")), Limits{}, ErrUnsafePath},
		{"symlink", tartest.Archive(tartest.File("a.txt", "x"), tartest.Entry{Header: tar.Header{Name: "link", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}}), Limits{}, ErrLink},
		{"hardlink", tartest.Archive(tartest.File("a.txt", "x"), tartest.Entry{Header: tar.Header{Name: "link", Typeflag: tar.TypeLink, Linkname: "a.txt"}}), Limits{}, ErrLink},
		{"char device", tartest.Archive(tartest.Entry{Header: tar.Header{Name: "null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}}), Limits{}, ErrSpecialFile},
		{"block device", tartest.Archive(tartest.Entry{Header: tar.Header{Name: "sda", Typeflag: tar.TypeBlock, Devmajor: 8}}), Limits{}, ErrSpecialFile},
		{"fifo", tartest.Archive(tartest.Entry{Header: tar.Header{Name: "pipe", Typeflag: tar.TypeFifo}}), Limits{}, ErrSpecialFile},
		{"duplicate", tartest.Archive(tartest.File("a.txt", "x"), tartest.File("b.txt", "y"), tartest.File("a.txt", "z")), Limits{}, ErrDuplicate},
		{"duplicate dir", tartest.Archive(tartest.Dir("a/"), tartest.Dir("a/")), Limits{}, ErrDuplicate},
		{"file as parent", tartest.Archive(tartest.File("a", "x"), tartest.File("a/b.txt", "y")), Limits{}, ErrDuplicate},
		{"case collision", tartest.Archive(tartest.File("README.md", "x"), tartest.File("readme.md", "y")), Limits{}, ErrCaseCollision},
		{"oversized entry", tartest.Archive(tartest.File("big.bin", zeros(2<<10))), small, ErrTooLarge},
		{"total too large", tartest.Archive(tartest.File("a.bin", zeros(1<<10)), tartest.File("b.bin", zeros(1<<10)), tartest.File("c.bin", "x")), small, ErrBomb},
		{"gzip bomb (ratio)", tartest.Archive(tartest.File("zeros.bin", zeros(8<<20))), Limits{MaxFileSize: 64 << 20, MaxTotal: 64 << 20}, ErrBomb},
		{"too many entries", tartest.Archive(tartest.File("1", ""), tartest.File("2", ""), tartest.File("3", ""), tartest.File("4", ""), tartest.File("5", ""), tartest.File("6", "")), small, ErrTooMany},
		{"truncated", good[:len(good)/2], Limits{}, ErrCorrupt},
		{"truncated trailer", good[:len(good)-4], Limits{}, ErrCorrupt},
		{"bad crc", func() []byte { b := bytes.Clone(good); b[len(b)-6] ^= 0xff; return b }(), Limits{}, ErrCorrupt},
		{"not gzip", []byte("PK\x03\x04 this is a zip"), Limits{}, ErrCorrupt},
		{"empty input", nil, Limits{}, ErrCorrupt},
		{"trailing garbage", append(bytes.Clone(good), "garbage"...), Limits{}, ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkRefusedWithin(t, tt.archive, tt.lim, tt.want)
		})
	}
}

func TestExtractKeepsExistingFiles(t *testing.T) {
	t.Parallel()
	dst := t.TempDir()
	if err := os.WriteFile(filepath.Join(dst, "keep.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Good entries first, then a bad one: the good ones must be removed
	// again, and the file that was already there kept.
	arc := tartest.Archive(tartest.Dir("new/"), tartest.File("new/a.txt", "a"), tartest.File("b.txt", "b"), tartest.Entry{Header: tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "keep.txt"}})
	if _, err := Extract(bytes.NewReader(arc), dst, Limits{}); !errors.Is(err, ErrLink) {
		t.Fatalf("err = %v, want ErrLink", err)
	}
	entries, _ := os.ReadDir(dst)
	if len(entries) != 1 || entries[0].Name() != "keep.txt" {
		t.Errorf("dst holds %v, want only keep.txt", entries)
	}
}

func TestExtractRefusesSymlinkedParentInDst(t *testing.T) {
	t.Parallel()
	dst, outside := t.TempDir(), t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dst, "a")); err != nil {
		t.Skip("no symlinks here:", err)
	}
	arc := tartest.Archive(tartest.File("a/escape.txt", "x"))
	if _, err := Extract(bytes.NewReader(arc), dst, Limits{}); err == nil {
		t.Fatal("extracting through a symlink inside dst succeeded")
	}
	if _, err := os.Lstat(filepath.Join(outside, "escape.txt")); err == nil {
		t.Error("a file was written outside dst through a symlink")
	}
}

func FuzzWalk(f *testing.F) {
	f.Add(goodArchive(f))
	f.Add(tartest.Archive(tartest.File("../x", "y")))
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := Limits{MaxFiles: 100, MaxFileSize: 1 << 20, MaxTotal: 4 << 20}
		hs, err := Scan(bytes.NewReader(data), lim)
		if err != nil {
			return
		}
		for _, h := range hs {
			if _, err := checkName(strings.TrimSuffix(h.Name, "/")); err != nil {
				t.Fatalf("accepted unsafe name %q", h.Name)
			}
		}
	})
}
