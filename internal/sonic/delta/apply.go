package delta

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/fredbook/udos-dist/internal/fetch"
)

// PartialExt ends the temp file an update assembles beside its destination;
// an interrupted update leaves it, and the next one resumes from it.
const PartialExt = ".partial"

// ErrVerify wraps every refusal of downloaded bytes (a block, the whole
// image, its signature).
var ErrVerify = errors.New("refused")

// Ranger fetches byte ranges and whole files; *fetch.Fetcher is one.
type Ranger interface {
	Range(ctx context.Context, loc string, start, n int64, w io.Writer) error
	Resume(ctx context.Context, loc string, offset int64, w io.Writer, restart func() error) (int64, error)
}

// Options of Apply.
type Options struct {
	// URL is the new image's location (an http(s) URL or a local path).
	URL string
	// Dest is where the verified image goes; Dest+PartialExt is the temp.
	Dest string
	// Verify checks the assembled file (the OpenPGP signature) after its
	// SHA-256 matched the index; nil skips it (tests of this package only).
	Verify func(path string) error
	// Progress is told of bytes placed so far, of the image's size.
	Progress func(done, total int64)
	// Log gets the human notes (a full download for lack of Range).
	Log io.Writer
}

// Stats say what an update cost.
type Stats struct {
	Size         int64         `json:"size_bytes"`
	BlockSize    int           `json:"block_size"`
	Blocks       int           `json:"blocks"`
	LocalBytes   int64         `json:"local_bytes"`   // taken from the seeds (and a partial file)
	FetchedBytes int64         `json:"fetched_bytes"` // downloaded
	Requests     int           `json:"requests"`
	Full         bool          `json:"full_download"` // the server ignored Range
	Elapsed      time.Duration `json:"elapsed_ns"`
}

// Apply assembles the plan's image in Dest+PartialExt: the seeds' blocks
// copied, the missing ranges fetched and checked block by block against the
// index; then the whole file's SHA-256 and opts.Verify, and only then the
// rename onto Dest. A refusal removes the partial file and leaves Dest as
// it was; any other failure (a dropped network) keeps it for the next run
// to resume from.
func Apply(ctx context.Context, p *Plan, get Ranger, o Options) (st Stats, err error) {
	t0 := time.Now()
	ix := p.Index
	st = Stats{Size: ix.Size, BlockSize: ix.BlockSize, Blocks: ix.Blocks()}
	defer func() { st.Elapsed = time.Since(t0) }()
	tmp := o.Dest + PartialExt
	if err := os.MkdirAll(filepath.Dir(o.Dest), 0o755); err != nil {
		return st, err
	}
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return st, fmt.Errorf("creating %s: %w", tmp, err)
	}
	defer func() {
		f.Close()
		if errors.Is(err, ErrVerify) {
			os.Remove(tmp)
		}
	}()
	if err := f.Truncate(ix.Size); err != nil {
		return st, fmt.Errorf("sizing %s: %w", tmp, err)
	}
	var done int64
	progress := func(n int64) {
		done += n
		if o.Progress != nil {
			o.Progress(done, ix.Size)
		}
	}
	if err := p.copySeeds(ctx, f, tmp, progress); err != nil {
		return st, err
	}
	st.LocalBytes = p.LocalBytes()
	for _, r := range p.Missing {
		w := &progressWriter{w: io.NewOffsetWriter(f, r.Start), n: progress}
		st.Requests++
		err := get.Range(ctx, o.URL, r.Start, r.End-r.Start, w)
		if errors.Is(err, fetch.ErrNoRange) {
			if o.Log != nil {
				fmt.Fprintf(o.Log, "note: %s does not serve Range requests: downloading the whole image (%d bytes) instead of %d\n", o.URL, ix.Size, p.MissingBytes())
			}
			st.Full = true
			done = 0
			st.FetchedBytes, st.Requests, err = fullDownload(ctx, get, o.URL, f, ix.Size, progress)
			if err != nil {
				return st, err
			}
			break
		}
		if err != nil {
			return st, err
		}
		st.FetchedBytes += r.End - r.Start
		if err := checkBlocks(f, ix, r); err != nil {
			return st, fmt.Errorf("%w: %s: %v", ErrVerify, o.URL, err)
		}
	}
	if err := f.Sync(); err != nil {
		return st, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return st, err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return st, fmt.Errorf("reading %s: %w", tmp, err)
	}
	if got := h.Sum(nil); string(got) != string(ix.SHA256[:]) {
		return st, fmt.Errorf("%w: the assembled image's sha256 %x is not the index's %s", ErrVerify, got, ix.SHA256Hex())
	}
	if o.Verify != nil {
		if err := o.Verify(tmp); err != nil {
			return st, fmt.Errorf("%w: %v", ErrVerify, err)
		}
	}
	if err := f.Close(); err != nil {
		return st, err
	}
	if err := os.Rename(tmp, o.Dest); err != nil {
		return st, fmt.Errorf("moving the image into place: %w", err)
	}
	return st, nil
}

func (p *Plan) copySeeds(ctx context.Context, f *os.File, tmp string, progress func(int64)) error {
	files := make([]*os.File, len(p.Seeds))
	defer func() {
		for _, s := range files {
			if s != nil {
				s.Close()
			}
		}
	}()
	buf := make([]byte, p.Index.BlockSize)
	for i, b := range p.Blocks {
		if b.Seed < 0 {
			continue
		}
		n := p.Index.blockLen(i)
		off := int64(i) * int64(p.Index.BlockSize)
		if p.Seeds[b.Seed] == tmp && b.Offset == off {
			progress(int64(n)) // already in place (a resumed update)
			continue
		}
		if i%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if files[b.Seed] == nil {
			s, err := os.Open(p.Seeds[b.Seed])
			if err != nil {
				return fmt.Errorf("reading %s: %w", p.Seeds[b.Seed], err)
			}
			files[b.Seed] = s
		}
		blk := buf[:n]
		if _, err := files[b.Seed].ReadAt(blk, b.Offset); err != nil {
			return fmt.Errorf("reading %s: %w", p.Seeds[b.Seed], err)
		}
		// The seed may have changed since the plan: check again.
		if sha256.Sum256(blk) != p.Index.Strong[i] {
			return fmt.Errorf("%s changed while updating (block %d no longer matches): run the update again", p.Seeds[b.Seed], i)
		}
		if _, err := f.WriteAt(blk, off); err != nil {
			return fmt.Errorf("writing %s: %w", tmp, err)
		}
		progress(int64(n))
	}
	return nil
}

// checkBlocks verifies the blocks of a fetched range against the index.
func checkBlocks(f *os.File, ix *Index, r Range) error {
	buf := make([]byte, ix.BlockSize)
	for i := int(r.Start / int64(ix.BlockSize)); int64(i)*int64(ix.BlockSize) < r.End; i++ {
		b := buf[:ix.blockLen(i)]
		if _, err := f.ReadAt(b, int64(i)*int64(ix.BlockSize)); err != nil {
			return err
		}
		if sha256.Sum256(b) != ix.Strong[i] {
			return fmt.Errorf("block %d (bytes %d-%d) does not match the signed index", i, int64(i)*int64(ix.BlockSize), int64(i)*int64(ix.BlockSize)+int64(len(b))-1)
		}
	}
	return nil
}

// fullDownload replaces the temp file's content with the whole image.
func fullDownload(ctx context.Context, get Ranger, url string, f *os.File, size int64, progress func(int64)) (int64, int, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, 0, err
	}
	cw := &capWriter{w: f, left: size}
	restart := func() error {
		cw.left = size
		_, err := f.Seek(0, io.SeekStart)
		return err
	}
	w := &progressWriter{w: cw, n: progress}
	n, err := get.Resume(ctx, url, 0, w, restart)
	if err != nil {
		return n, 1, err
	}
	if n != size {
		return n, 1, fmt.Errorf("%w: %s is %d bytes, the index says %d", ErrVerify, url, n, size)
	}
	return n, 1, nil
}

type progressWriter struct {
	w io.Writer
	n func(int64)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.n(int64(n))
	return n, err
}

// capWriter refuses more than left bytes: a server sending a larger file
// than the index describes cannot fill the disk.
type capWriter struct {
	w    io.Writer
	left int64
}

func (c *capWriter) Write(b []byte) (int, error) {
	if int64(len(b)) > c.left {
		return 0, fmt.Errorf("%w: the image is larger than the index says", ErrVerify)
	}
	c.left -= int64(len(b))
	return c.w.Write(b)
}
