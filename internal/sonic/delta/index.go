// Package delta is the Sonic image's delta update, after zsync: the release
// carries a signed block index of the ISO (block size, per block a weak
// rolling checksum and a strong SHA-256, the whole file's SHA-256; format
// in docs/FORMATS.md); a client finds the blocks it already has in any
// local image by rolling the weak checksum over every offset and confirming
// with the strong one (Plan), then fetches only the missing ranges with
// HTTP Range requests, reassembles the image in a temp file beside the
// destination, verifies every fetched block, the whole file and the
// caller's signature check, and only then renames it into place (Apply).
package delta

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// Magic opens an index file (8 bytes: format name and version).
const Magic = "UDOSBIX1"

// DefaultBlockSize suits ISO images: two ISO 9660 sectors, so a file that
// moves by whole sectors still matches block by block, and 36 bytes of
// index per 4 KiB (0.9 %).
const DefaultBlockSize = 4096

// Limits an index must respect; a hostile index cannot make the client
// allocate more than MaxBlocks entries.
const (
	MinBlockSize = 512
	MaxBlockSize = 16 << 20
	MaxBlocks    = 1 << 24 // 64 GiB at 4 KiB
	headerSize   = 8 + 4 + 8 + 32
	entrySize    = 4 + 32
)

// ErrBadIndex wraps every refusal of an index.
var ErrBadIndex = errors.New("bad block index")

// Index describes one image, block by block.
type Index struct {
	BlockSize int
	Size      int64
	SHA256    [32]byte // of the whole image
	Weak      []uint32
	Strong    [][32]byte
}

// Blocks is the number of blocks, the last one possibly short.
func (ix *Index) Blocks() int { return len(ix.Weak) }

// blockLen is the length of block i.
func (ix *Index) blockLen(i int) int {
	if i == len(ix.Weak)-1 {
		if r := int(ix.Size % int64(ix.BlockSize)); r != 0 {
			return r
		}
	}
	return ix.BlockSize
}

// SHA256Hex is the whole image's digest as the release manifest writes it.
func (ix *Index) SHA256Hex() string { return hex.EncodeToString(ix.SHA256[:]) }

// weak is rsync's rolling checksum of a window: a = Σ x_i, b = Σ (L−i)·x_i,
// both mod 2^16, packed b<<16 | a.
func weak(p []byte) (a, b uint32) {
	l := uint32(len(p))
	for i, x := range p {
		a += uint32(x)
		b += (l - uint32(i)) * uint32(x)
	}
	return a & 0xffff, b & 0xffff
}

// MakeIndex reads an image and indexes it in blocks of blockSize (0 means
// DefaultBlockSize).
func MakeIndex(r io.Reader, blockSize int) (*Index, error) {
	if blockSize == 0 {
		blockSize = DefaultBlockSize
	}
	if blockSize < MinBlockSize || blockSize > MaxBlockSize {
		return nil, fmt.Errorf("block size %d is outside %d..%d", blockSize, MinBlockSize, MaxBlockSize)
	}
	ix := &Index{BlockSize: blockSize}
	whole := sha256.New()
	buf := make([]byte, blockSize)
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			if len(ix.Weak) == MaxBlocks {
				return nil, fmt.Errorf("image is larger than %d blocks of %d bytes", MaxBlocks, blockSize)
			}
			p := buf[:n]
			whole.Write(p)
			a, b := weak(p)
			ix.Weak = append(ix.Weak, b<<16|a)
			ix.Strong = append(ix.Strong, sha256.Sum256(p))
			ix.Size += int64(n)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("indexing: %w", err)
		}
	}
	copy(ix.SHA256[:], whole.Sum(nil))
	return ix, nil
}

// MarshalBinary writes the index in the format of docs/FORMATS.md.
func (ix *Index) MarshalBinary() ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(headerSize + entrySize*len(ix.Weak))
	buf.WriteString(Magic)
	binary.Write(&buf, binary.BigEndian, uint32(ix.BlockSize))
	binary.Write(&buf, binary.BigEndian, uint64(ix.Size))
	buf.Write(ix.SHA256[:])
	for i := range ix.Weak {
		binary.Write(&buf, binary.BigEndian, ix.Weak[i])
		buf.Write(ix.Strong[i][:])
	}
	return buf.Bytes(), nil
}

// ParseIndex reads an index, refusing anything that is not exactly one:
// a wrong magic, a block size outside the limits, a size needing more than
// MaxBlocks blocks, and a length that is not the header plus one entry per
// block (blocks have no offsets of their own: block i is bytes
// [i·size, (i+1)·size), so entries can neither overlap nor leave gaps).
func ParseIndex(b []byte) (*Index, error) {
	if len(b) < headerSize || string(b[:8]) != Magic {
		return nil, fmt.Errorf("%w: not a %s index", ErrBadIndex, Magic)
	}
	bs := binary.BigEndian.Uint32(b[8:12])
	size := binary.BigEndian.Uint64(b[12:20])
	if bs < MinBlockSize || bs > MaxBlockSize {
		return nil, fmt.Errorf("%w: block size %d is outside %d..%d", ErrBadIndex, bs, MinBlockSize, MaxBlockSize)
	}
	if size == 0 || size > uint64(MaxBlocks)*uint64(bs) {
		return nil, fmt.Errorf("%w: image size %d needs more than %d blocks of %d bytes (or is zero)", ErrBadIndex, size, MaxBlocks, bs)
	}
	n := (size + uint64(bs) - 1) / uint64(bs)
	if want := uint64(headerSize) + n*entrySize; uint64(len(b)) != want {
		return nil, fmt.Errorf("%w: %d bytes for a %d-byte image in %d blocks, which takes %d", ErrBadIndex, len(b), size, n, want)
	}
	ix := &Index{BlockSize: int(bs), Size: int64(size), Weak: make([]uint32, n), Strong: make([][32]byte, n)}
	copy(ix.SHA256[:], b[20:52])
	p := b[headerSize:]
	for i := range ix.Weak {
		ix.Weak[i] = binary.BigEndian.Uint32(p)
		copy(ix.Strong[i][:], p[4:36])
		p = p[entrySize:]
	}
	return ix, nil
}
