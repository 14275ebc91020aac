package coreinst

import (
	"context"
	"errors"
	"fmt"
	"github.com/fredbook/udos-dist/internal/fetch"
	"io"
	"os"
	"path/filepath"
)

// Fetcher is what the installer needs of the project's fetch code: small
// whole files, and downloads resumed with Range.
type Fetcher interface {
	Get(ctx context.Context, loc string, cond fetch.Validators, max int64) (fetch.Result, error)
	Resume(ctx context.Context, loc string, offset int64, w io.Writer, restart func() error) (int64, error)
}

// ProgressSink counts the bytes of one download (a progress bar).
type ProgressSink interface {
	io.Writer
	// Reset restarts the count (the download starts over).
	Reset()
	Done()
}

// download fetches an asset into downloads/<version>/<file>, resuming a
// .part left by an earlier, interrupted run. It returns the path of the
// complete file; the caller verifies it before use.
func (in *Installer) download(ctx context.Context, src Source, version string, a Asset) (string, error) {
	if err := plainName(a.Filename); err != nil {
		return "", untrusted("release %s, variant %s: %v", version, a.Variant, err)
	}
	dir := filepath.Join(in.Paths.Downloads(), version)
	final := filepath.Join(dir, a.Filename)
	if fi, err := os.Stat(final); err == nil && fi.Size() == a.Size {
		return final, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("downloading %s: %w", a.Filename, err)
	}
	loc, err := src.Locate(ctx, version, a.Filename)
	if err != nil {
		return "", err
	}
	part := final + ".part"
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return "", fmt.Errorf("downloading %s: %w", a.Filename, err)
	}
	defer f.Close()
	held, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return "", fmt.Errorf("downloading %s: %w", a.Filename, err)
	}
	restart := func() error {
		if err := f.Truncate(0); err != nil {
			return err
		}
		_, err := f.Seek(0, io.SeekStart)
		return err
	}
	if held > a.Size {
		if err := restart(); err != nil {
			return "", fmt.Errorf("downloading %s: %w", a.Filename, err)
		}
		held = 0
	}
	var w io.Writer = f
	var bar ProgressSink
	if in.Progress != nil && held < a.Size {
		label := a.Filename
		if held > 0 {
			label += " (resumed)"
		}
		bar = in.Progress(label, a.Size-held)
	}
	if bar != nil {
		w = io.MultiWriter(f, bar)
	}
	if held > 0 {
		in.info(fmt.Sprintf("resuming %s at %d of %d bytes", a.Filename, held, a.Size))
	}
	if held < a.Size {
		reset := func() error {
			if bar != nil {
				bar.Reset()
			}
			return restart()
		}
		// The hook lets a test kill the process with part of the file written.
		hw := &hookWriter{w: w, after: a.Size / 2, hook: func() { in.hook("download-half") }}
		if held >= hw.after {
			hw.fired = true
		}
		hw.n = held
		if _, err := in.Fetcher.Resume(ctx, loc, held, hw, reset); err != nil {
			if bar != nil {
				bar.Done()
			}
			return "", fmt.Errorf("downloading %s (run the command again to resume): %w", a.Filename, err)
		}
	}
	if bar != nil {
		bar.Done()
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("downloading %s: %w", a.Filename, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("downloading %s: %w", a.Filename, err)
	}
	if err := os.Rename(part, final); err != nil {
		return "", fmt.Errorf("downloading %s: %w", a.Filename, err)
	}
	return final, nil
}

// discard removes a download that failed verification, so that the next
// run fetches it again instead of resuming bad bytes.
func discard(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing the refused download: %w", err)
	}
	return nil
}

// hookWriter calls hook once, after the first `after` bytes have been
// written through it.
type hookWriter struct {
	w     io.Writer
	n     int64
	after int64
	fired bool
	hook  func()
}

func (h *hookWriter) Write(p []byte) (int, error) {
	if !h.fired && h.n+int64(len(p)) > h.after {
		k := h.after - h.n
		if k > 0 {
			if _, err := h.w.Write(p[:k]); err != nil {
				return 0, err
			}
		}
		h.n += k
		h.fired = true
		h.hook()
		n, err := h.w.Write(p[k:])
		h.n += int64(n)
		return int(k) + n, err
	}
	n, err := h.w.Write(p)
	h.n += int64(n)
	return n, err
}
