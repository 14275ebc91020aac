package tarball

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// rawEntry is a tar header plus body, written as given (no checks), so
// tests can build archives our writer refuses to make.
type rawEntry struct {
	hdr  tar.Header
	body []byte
}

func file(name, body string) rawEntry {
	return rawEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))}, body: []byte(body)}
}

func dir(name string) rawEntry {
	return rawEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755}}
}

func rawArchive(t testing.TB, entries ...rawEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := e.hdr
		h.ModTime = time.Unix(0, 0)
		h.Format = tar.FormatGNU
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

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
		{"traversal", rawArchive(t, dir("a/"), file("a/ok.txt", "ok"), file("a/../../evil.txt", "x")), Limits{}, ErrUnsafePath},
		{"traversal at start", rawArchive(t, file("../evil.txt", "x")), Limits{}, ErrUnsafePath},
		{"absolute", rawArchive(t, file("/tmp/evil.txt", "x")), Limits{}, ErrUnsafePath},
		{"windows drive", rawArchive(t, file("C:/evil.txt", "x")), Limits{}, ErrUnsafePath},
		{"backslash", rawArchive(t, file(`a\..\..\evil.txt`, "x")), Limits{}, ErrUnsafePath},
		{"unclean", rawArchive(t, file("a//b.txt", "x")), Limits{}, ErrUnsafePath},
		{"dot slash", rawArchive(t, file("./a.txt", "x")), Limits{}, ErrUnsafePath},
		{"empty name", rawArchive(t, file("", "x")), Limits{}, ErrUnsafePath},
		{"long component", rawArchive(t, file(strings.Repeat("a", 256), "x")), Limits{}, ErrUnsafePath},
		{"long name", rawArchive(t, file(strings.Repeat("abcdefgh/", 120)+"x", "x")), Limits{}, ErrUnsafePath},
		{"symlink", rawArchive(t, file("a.txt", "x"), rawEntry{hdr: tar.Header{Name: "link", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}}), Limits{}, ErrLink},
		{"hardlink", rawArchive(t, file("a.txt", "x"), rawEntry{hdr: tar.Header{Name: "link", Typeflag: tar.TypeLink, Linkname: "a.txt"}}), Limits{}, ErrLink},
		{"char device", rawArchive(t, rawEntry{hdr: tar.Header{Name: "null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}}), Limits{}, ErrSpecialFile},
		{"block device", rawArchive(t, rawEntry{hdr: tar.Header{Name: "sda", Typeflag: tar.TypeBlock, Devmajor: 8}}), Limits{}, ErrSpecialFile},
		{"fifo", rawArchive(t, rawEntry{hdr: tar.Header{Name: "pipe", Typeflag: tar.TypeFifo}}), Limits{}, ErrSpecialFile},
		{"duplicate", rawArchive(t, file("a.txt", "x"), file("b.txt", "y"), file("a.txt", "z")), Limits{}, ErrDuplicate},
		{"duplicate dir", rawArchive(t, dir("a/"), dir("a/")), Limits{}, ErrDuplicate},
		{"file as parent", rawArchive(t, file("a", "x"), file("a/b.txt", "y")), Limits{}, ErrDuplicate},
		{"case collision", rawArchive(t, file("README.md", "x"), file("readme.md", "y")), Limits{}, ErrCaseCollision},
		{"oversized entry", rawArchive(t, file("big.bin", zeros(2<<10))), small, ErrTooLarge},
		{"total too large", rawArchive(t, file("a.bin", zeros(1<<10)), file("b.bin", zeros(1<<10)), file("c.bin", "x")), small, ErrBomb},
		{"gzip bomb (ratio)", rawArchive(t, file("zeros.bin", zeros(8<<20))), Limits{MaxFileSize: 64 << 20, MaxTotal: 64 << 20}, ErrBomb},
		{"too many entries", rawArchive(t, file("1", ""), file("2", ""), file("3", ""), file("4", ""), file("5", ""), file("6", "")), small, ErrTooMany},
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
			if _, err := Scan(bytes.NewReader(tt.archive), tt.lim); !errors.Is(err, tt.want) {
				t.Errorf("Scan: err = %v, want %v", err, tt.want)
			}
			parent := t.TempDir()
			dst := filepath.Join(parent, "dst")
			names, err := Extract(bytes.NewReader(tt.archive), dst, tt.lim)
			if !errors.Is(err, tt.want) {
				t.Errorf("Extract: err = %v, want %v", err, tt.want)
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
	arc := rawArchive(t, dir("new/"), file("new/a.txt", "a"), file("b.txt", "b"), rawEntry{hdr: tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "keep.txt"}})
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
	arc := rawArchive(t, file("a/escape.txt", "x"))
	if _, err := Extract(bytes.NewReader(arc), dst, Limits{}); err == nil {
		t.Fatal("extracting through a symlink inside dst succeeded")
	}
	if _, err := os.Lstat(filepath.Join(outside, "escape.txt")); err == nil {
		t.Error("a file was written outside dst through a symlink")
	}
}

func FuzzWalk(f *testing.F) {
	f.Add(goodArchive(f))
	f.Add(rawArchive(f, file("../x", "y")))
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
