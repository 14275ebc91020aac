// Package tartest builds tar streams for tests of archive readers: Archive
// writes entries through archive/tar as given (unsafe names, links,
// devices, short bodies); Builder writes byte by byte what archive/tar's
// Writer refuses to make (GNU.sparse.* PAX records, entries after the
// end-of-archive marker), so the tests that must refuse those build them here.
// Walk and WalkFile read a stream back, entry by entry, for tests of
// archive writers.
package tartest

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"strconv"
)

const block = 512

// Builder accumulates an uncompressed tar stream. Entries are written as
// given: no name or size checks.
type Builder struct {
	buf bytes.Buffer
}

// Header writes one ustar header block. name is cut to the field's 100
// bytes: write a PAX "path" record before a longer one.
func (b *Builder) Header(name string, typeflag byte, size int64) {
	h := make([]byte, block)
	copy(h[0:100], name)
	copy(h[100:108], "0000644\x00")
	copy(h[108:116], "0000000\x00")
	copy(h[116:124], "0000000\x00")
	copy(h[124:136], fmt.Sprintf("%011o\x00", size))
	copy(h[136:148], "00000000000\x00")
	h[156] = typeflag
	copy(h[257:263], "ustar\x00")
	copy(h[263:265], "00")
	copy(h[148:156], "        ")
	sum := 0
	for _, c := range h {
		sum += int(c)
	}
	copy(h[148:156], fmt.Sprintf("%06o\x00 ", sum))
	b.buf.Write(h)
}

// Data writes p padded to a whole block.
func (b *Builder) Data(p []byte) {
	b.buf.Write(p)
	if r := len(p) % block; r != 0 {
		b.buf.Write(make([]byte, block-r))
	}
}

// File writes a regular file.
func (b *Builder) File(name string, body []byte) {
	b.Header(name, '0', int64(len(body)))
	b.Data(body)
}

// Dir writes a directory entry; name should end in "/".
func (b *Builder) Dir(name string) { b.Header(name, '5', 0) }

// Record is one PAX extended-header record.
type Record struct{ Key, Value string }

// PAX writes an extended header ('x') whose records apply to the next entry.
func (b *Builder) PAX(records ...Record) {
	var body bytes.Buffer
	for _, r := range records {
		body.WriteString(paxRecord(r.Key, r.Value))
	}
	b.Header("PaxHeaders.0/entry", 'x', int64(body.Len()))
	b.Data(body.Bytes())
}

// paxRecord formats "LEN key=value\n", where LEN counts itself.
func paxRecord(k, v string) string {
	rest := " " + k + "=" + v + "\n"
	n := len(rest) + 1
	for len(strconv.Itoa(n))+len(rest) != n {
		n++
	}
	return strconv.Itoa(n) + rest
}

// Sparse encodings of GNU tar in PAX headers.
type Sparse int

const (
	PAX00 Sparse = iota // GNU.sparse.size, numblocks, offset/numbytes pairs
	PAX01               // GNU.sparse.size, numblocks, map
	PAX10               // GNU.sparse.major/minor/name/realsize, map in the data
)

func (s Sparse) String() string { return [...]string{"PAX 0.0", "PAX 0.1", "PAX 1.0"}[s] }

// SparseFile writes a regular-typeflag entry that a reader expands to
// realSize bytes: data at offset 0, a hole for the rest. The archive holds
// only data (and, for PAX 1.0, one block of map).
func (b *Builder) SparseFile(enc Sparse, name string, realSize int64, data []byte) {
	n := strconv.Itoa(len(data))
	size := strconv.FormatInt(realSize, 10)
	switch enc {
	case PAX00:
		b.PAX(Record{"GNU.sparse.size", size}, Record{"GNU.sparse.numblocks", "1"},
			Record{"GNU.sparse.offset", "0"}, Record{"GNU.sparse.numbytes", n})
		b.File(name, data)
	case PAX01:
		b.PAX(Record{"GNU.sparse.size", size}, Record{"GNU.sparse.numblocks", "1"}, Record{"GNU.sparse.map", "0," + n})
		b.File(name, data)
	case PAX10:
		b.PAX(Record{"GNU.sparse.major", "1"}, Record{"GNU.sparse.minor", "0"},
			Record{"GNU.sparse.name", name}, Record{"GNU.sparse.realsize", size})
		sparseMap := make([]byte, block)
		copy(sparseMap, "1\n0\n"+n+"\n")
		b.Header("GNUSparseFile.0/"+name, '0', int64(block+len(data)))
		b.buf.Write(sparseMap)
		b.Data(data)
	}
}

// End writes the end-of-archive marker: two zero blocks.
func (b *Builder) End() { b.buf.Write(make([]byte, 2*block)) }

// Raw appends p as it is.
func (b *Builder) Raw(p []byte) { b.buf.Write(p) }

// Bytes returns the stream so far.
func (b *Builder) Bytes() []byte { return b.buf.Bytes() }

// Gzip compresses p as one gzip member.
func Gzip(p []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(p)
	zw.Close()
	return buf.Bytes()
}
