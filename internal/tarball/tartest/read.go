package tartest

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"os"
	"testing"
)

// Walk reads the tar stream r and calls fn with each entry's header and
// body, in archive order, until the end or until fn returns false. A
// stream that does not read to its end fails t.
func Walk(t testing.TB, r io.Reader, fn func(h *tar.Header, body []byte) bool) {
	t.Helper()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("reading the tar stream: %v", err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("reading %s from the tar stream: %v", h.Name, err)
		}
		if !fn(h, body) {
			return
		}
	}
}

// WalkFile is Walk over the gzipped tar at path.
func WalkFile(t testing.TB, path string, fn func(h *tar.Header, body []byte) bool) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	Walk(t, zr, fn)
}
