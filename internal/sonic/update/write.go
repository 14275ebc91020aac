package update

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrBootDevice is the refusal to overwrite the medium Sonic runs from.
var ErrBootDevice = errors.New("is the device this Sonic booted from")

// Write copies the verified image to dev (a USB stick's device node, or
// any existing file), syncs it and reads it back to compare digests. It
// refuses dev when it is one of booted (the medium Sonic runs from) unless
// confirmed. progress, when set, counts the bytes written.
func Write(ctx context.Context, image, dev string, booted []string, confirmed bool, progress func(int64)) error {
	di, err := os.Stat(dev)
	if err != nil {
		return fmt.Errorf("--write %s: %w (the device must exist)", dev, err)
	}
	if di.IsDir() {
		return fmt.Errorf("--write %s: is a directory, not a device", dev)
	}
	for _, b := range booted {
		if bi, err := os.Stat(b); err == nil && os.SameFile(di, bi) && !confirmed {
			return fmt.Errorf("--write %s: %w: overwriting it would destroy the running system (add --yes to do it anyway)", dev, ErrBootDevice)
		}
	}
	src, err := os.Open(image)
	if err != nil {
		return err
	}
	defer src.Close()
	out, err := os.OpenFile(dev, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("opening %s for writing: %w", dev, err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), &ctxReader{ctx: ctx, r: src, n: progress})
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s to %s: %w", image, dev, err)
	}
	// Read back what the device holds: a stick that lies about writes is
	// caught here, not at the next boot.
	back, err := os.Open(dev)
	if err != nil {
		return err
	}
	defer back.Close()
	h2 := sha256.New()
	if _, err := io.Copy(h2, io.LimitReader(back, n)); err != nil {
		return fmt.Errorf("reading %s back: %w", dev, err)
	}
	if string(h.Sum(nil)) != string(h2.Sum(nil)) {
		return fmt.Errorf("%s: what was read back differs from the image written (a failing device?)", dev)
	}
	return nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
	n   func(int64)
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	if c.n != nil {
		c.n(int64(n))
	}
	return n, err
}
