package delta

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
)

// Source says where a block of the new image comes from: Seed is the
// index in Plan.Seeds of the local file holding it at Offset; -1 means it
// must be fetched.
type Source struct {
	Seed   int
	Offset int64
}

// Range is a run of missing bytes [Start, End) of the new image: adjacent
// missing blocks coalesced into one request.
type Range struct{ Start, End int64 }

// Plan is what an update needs: per block its source, and the ranges to
// fetch.
type Plan struct {
	Index   *Index
	Seeds   []string
	Blocks  []Source
	Missing []Range
}

// LocalBytes is how much of the image the seeds hold.
func (p *Plan) LocalBytes() int64 { return p.Index.Size - p.MissingBytes() }

// MissingBytes is how much must be fetched.
func (p *Plan) MissingBytes() int64 {
	var n int64
	for _, r := range p.Missing {
		n += r.End - r.Start
	}
	return n
}

// MakePlan finds the blocks of ix the seeds already hold. A seed that does
// not exist is skipped (a first update has no partial download). The first
// seed given as aligned (the partial file of an interrupted update) is only
// checked block by block in place; the others are scanned at every offset.
func MakePlan(ctx context.Context, ix *Index, aligned string, seeds ...string) (*Plan, error) {
	p := &Plan{Index: ix, Blocks: make([]Source, ix.Blocks())}
	for i := range p.Blocks {
		p.Blocks[i].Seed = -1
	}
	if aligned != "" {
		if err := p.alignedSeed(ctx, aligned); err != nil {
			return nil, err
		}
	}
	m := newMatcher(ix)
	for _, s := range seeds {
		if err := p.scanSeed(ctx, m, s); err != nil {
			return nil, err
		}
	}
	for i, b := range p.Blocks {
		if b.Seed >= 0 {
			continue
		}
		start := int64(i) * int64(ix.BlockSize)
		end := start + int64(ix.blockLen(i))
		if n := len(p.Missing); n > 0 && p.Missing[n-1].End == start {
			p.Missing[n-1].End = end
		} else {
			p.Missing = append(p.Missing, Range{start, end})
		}
	}
	return p, nil
}

// addSeed opens a seed and gives it its number; nil without error when
// the file does not exist.
func (p *Plan) addSeed(path string) (*os.File, int, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("reading %s: %w", path, err)
	}
	p.Seeds = append(p.Seeds, path)
	return f, len(p.Seeds) - 1, nil
}

func (p *Plan) alignedSeed(ctx context.Context, path string) error {
	f, seed, err := p.addSeed(path)
	if f == nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, p.Index.BlockSize)
	for i := range p.Blocks {
		if i%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		off := int64(i) * int64(p.Index.BlockSize)
		b := buf[:p.Index.blockLen(i)]
		if _, err := f.ReadAt(b, off); err != nil {
			break // shorter than the image: the rest is missing
		}
		if sha256.Sum256(b) == p.Index.Strong[i] {
			p.Blocks[i] = Source{Seed: seed, Offset: off}
		}
	}
	return nil
}

// matcher looks weak checksums up: a bit filter first (most offsets match
// nothing), then the blocks with that weak sum.
type matcher struct {
	ix     *Index
	filter []uint64
	blocks map[uint32][]int32
}

const filterBits = 1 << 22

func filterKey(w uint32) uint32 { return (w ^ w>>13) & (filterBits - 1) }

func newMatcher(ix *Index) *matcher {
	m := &matcher{ix: ix, filter: make([]uint64, filterBits/64), blocks: map[uint32][]int32{}}
	for i, w := range ix.Weak {
		if ix.blockLen(i) != ix.BlockSize {
			continue // the short last block is found in place or fetched
		}
		k := filterKey(w)
		m.filter[k/64] |= 1 << (k % 64)
		m.blocks[w] = append(m.blocks[w], int32(i))
	}
	return m
}

func (p *Plan) scanSeed(ctx context.Context, m *matcher, path string) error {
	f, seed, err := p.addSeed(path)
	if f == nil {
		return err
	}
	defer f.Close()
	bs := m.ix.BlockSize
	buf := make([]byte, 0, 4<<20+bs)
	var base int64 // file offset of buf[0]
	pos := 0
	eof := false
	// fill keeps buf[pos:] and reads more behind it.
	fill := func() error {
		n := copy(buf[:cap(buf)], buf[pos:])
		base += int64(pos)
		pos = 0
		buf = buf[:n]
		for !eof && len(buf) < cap(buf) {
			k, err := f.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+k]
			if err == io.EOF {
				eof = true
			} else if err != nil {
				return fmt.Errorf("reading %s: %w", path, err)
			}
		}
		return ctx.Err()
	}
	var a, b uint32
	rolling := false
	L := uint32(bs)
	for {
		if len(buf)-pos <= bs {
			if eof && len(buf)-pos < bs {
				return nil
			}
			if !eof {
				if err := fill(); err != nil {
					return err
				}
				continue
			}
		}
		win := buf[pos : pos+bs]
		if !rolling {
			a, b = weak(win)
			rolling = true
		}
		w := b<<16 | a
		if k := filterKey(w); m.filter[k/64]&(1<<(k%64)) != 0 {
			if cands := m.blocks[w]; len(cands) > 0 {
				strong := sha256.Sum256(win)
				hit := false
				for _, c := range cands {
					if m.ix.Strong[c] == strong {
						hit = true
						if p.Blocks[c].Seed < 0 {
							p.Blocks[c] = Source{Seed: seed, Offset: base + int64(pos)}
						}
					}
				}
				if hit {
					pos += bs
					rolling = false
					continue
				}
			}
		}
		if pos+bs >= len(buf) {
			if eof {
				return nil
			}
			if err := fill(); err != nil {
				return err
			}
			continue
		}
		out, in := uint32(buf[pos]), uint32(buf[pos+bs])
		a = (a - out + in) & 0xffff
		b = (b - L*out + a) & 0xffff
		pos++
	}
}
