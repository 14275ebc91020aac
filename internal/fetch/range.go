package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"

	"github.com/fredbook/udos-dist/internal/regref"
)

// ErrNoRange is returned by Range when the server answers a Range request
// with the whole file (200): it does not serve ranges, and the caller
// should download the file instead.
var ErrNoRange = errors.New("the server does not serve Range requests (it answered with the whole file)")

// Range writes bytes [start, start+n) of loc to w with an HTTP Range
// request. Retries after a dropped connection ask only for the bytes not yet
// received. A server that sends the whole file (200) gets ErrNoRange with
// nothing written; one that sends another range than asked is refused. A
// local path is read at the offset.
func (f *Fetcher) Range(ctx context.Context, loc string, start, n int64, w io.Writer) error {
	if start < 0 || n <= 0 {
		return fmt.Errorf("range of %s: bad range %d+%d", loc, start, n)
	}
	if !regref.IsRemote(loc) {
		in, err := os.Open(loc)
		if err != nil {
			return fmt.Errorf("reading %s: %w", loc, err)
		}
		defer in.Close()
		m, err := io.Copy(w, io.NewSectionReader(in, start, n))
		if err != nil {
			return fmt.Errorf("reading %s: %w", loc, err)
		}
		if m != n {
			return fmt.Errorf("reading %s: %w (bytes %d-%d: got %d)", loc, io.ErrUnexpectedEOF, start, start+n-1, m)
		}
		return nil
	}
	var held int64
	prep := func(req *http.Request) {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(start+held, 10)+"-"+strconv.FormatInt(start+n-1, 10))
	}
	body := func(resp *http.Response) error {
		if resp.StatusCode != http.StatusPartialContent {
			return &finalError{fmt.Errorf("GET %s: %w", loc, ErrNoRange)}
		}
		if s, ok := rangeStart(resp.Header.Get("Content-Range")); !ok || s != start+held {
			return &finalError{fmt.Errorf("GET %s: asked for bytes from %d, the server sent Content-Range %q", loc, start+held, resp.Header.Get("Content-Range"))}
		}
		want := n - held
		m, err := io.Copy(w, io.LimitReader(resp.Body, want))
		held += m
		if err != nil {
			return err
		}
		if m != want {
			return fmt.Errorf("GET %s: %w (got %d of %d bytes of the range)", loc, io.ErrUnexpectedEOF, m, want)
		}
		return nil
	}
	return f.do(ctx, loc, Validators{}, prep, body)
}
