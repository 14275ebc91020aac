package tartest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"time"
)

// Entry is one header and body for Archive, which writes them as given.
type Entry struct {
	Header tar.Header
	Body   []byte
	// Short ends the stream after Body although the header declares more,
	// as a truncated or hand-made archive would.
	Short bool
}

// File is a regular file entry, mode 0644.
func File(name, body string) Entry {
	return Entry{Header: tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))}, Body: []byte(body)}
}

// Dir is a directory entry, mode 0755.
func Dir(name string) Entry {
	return Entry{Header: tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755}}
}

// Archive writes entries through archive/tar as a gzipped GNU tar with every
// time at the epoch, so the same entries always make the same bytes (golden
// corpora depend on it). It takes whatever archive/tar can write: unsafe
// names, links, devices, duplicates. It panics on what archive/tar refuses,
// which is a mistake in the test, not a case of the reader under test.
func Archive(entries ...Entry) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := e.Header
		h.ModTime = time.Unix(0, 0)
		h.Format = tar.FormatGNU
		if err := tw.WriteHeader(&h); err != nil {
			panic(err)
		}
		if _, err := tw.Write(e.Body); err != nil {
			panic(err)
		}
		if e.Short {
			if err := zw.Close(); err != nil {
				panic(err)
			}
			return buf.Bytes()
		}
	}
	if err := tw.Close(); err != nil {
		panic(err)
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}
