package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/fredbook/udos-dist/internal/regref"
)

// Resume continues a download of loc whose first offset bytes the caller
// already holds: it asks for the rest with a Range request and appends to
// w. A server that ignores Range (200) or no longer has that range (416)
// sends the whole file again; restart is called first so the caller can
// truncate what it holds. Retries after a dropped connection resume from
// what has arrived so far. It returns the number of bytes the caller holds
// at the end (the file's size when err is nil).
//
// A local path is copied from offset the same way.
func (f *Fetcher) Resume(ctx context.Context, loc string, offset int64, w io.Writer, restart func() error) (int64, error) {
	if !regref.IsRemote(loc) {
		in, err := os.Open(loc)
		if err != nil {
			return offset, fmt.Errorf("reading %s: %w", loc, err)
		}
		defer in.Close()
		if fi, err := in.Stat(); err == nil && fi.Size() < offset {
			if err := restart(); err != nil {
				return offset, err
			}
			offset = 0
		}
		if _, err := in.Seek(offset, io.SeekStart); err != nil {
			return offset, fmt.Errorf("reading %s: %w", loc, err)
		}
		n, err := io.Copy(w, in)
		if err != nil {
			return offset + n, fmt.Errorf("reading %s: %w", loc, err)
		}
		return offset + n, nil
	}
	held := offset
	prep := func(req *http.Request) {
		if held > 0 {
			req.Header.Set("Range", "bytes="+strconv.FormatInt(held, 10)+"-")
		}
	}
	body := func(resp *http.Response) error {
		want := resp.ContentLength
		switch {
		case resp.StatusCode == http.StatusPartialContent:
			start, ok := rangeStart(resp.Header.Get("Content-Range"))
			if !ok || start != held {
				return &finalError{fmt.Errorf("GET %s: asked for bytes from %d, the server sent Content-Range %q", loc, held, resp.Header.Get("Content-Range"))}
			}
		case held > 0:
			// The whole file again: start over.
			if err := restart(); err != nil {
				return &finalError{err}
			}
			held = 0
		}
		n, err := io.Copy(w, resp.Body)
		held += n
		if err != nil {
			return err
		}
		if want >= 0 && n != want {
			return fmt.Errorf("GET %s: %w (got %d of %d bytes)", loc, io.ErrUnexpectedEOF, n, want)
		}
		return nil
	}
	err := f.do(ctx, loc, Validators{}, prep, body)
	var he *HTTPError
	if errors.As(err, &he) && he.Status == http.StatusRequestedRangeNotSatisfiable && held > 0 {
		// What the caller holds is longer than the file: start over.
		if err := restart(); err != nil {
			return held, err
		}
		held = 0
		err = f.do(ctx, loc, Validators{}, prep, body)
	}
	return held, err
}

// rangeStart reads the first byte position of "bytes START-END/TOTAL".
func rangeStart(cr string) (int64, bool) {
	rest, ok := strings.CutPrefix(cr, "bytes ")
	if !ok {
		return 0, false
	}
	first, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(first, 10, 64)
	return n, err == nil
}
