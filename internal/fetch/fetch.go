// Package fetch reads registry files over HTTP(S) or from a local folder:
// per-attempt timeouts, retries with internal/retry's backoff and clock on
// 5xx answers, truncated bodies and connection errors (4xx answers are
// final: retrying cannot change them), and conditional requests.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/fredbook/udos-dist/internal/regref"
	"github.com/fredbook/udos-dist/internal/retry"
)

// Fetcher reads registry files, over HTTP(S) or from a local directory.
type Fetcher struct {
	Client *http.Client
	// Attempts is the number of tries for one file (>= 1).
	Attempts int
	// Backoff is the wait before each retry.
	Backoff retry.Backoff
	// Clock waits between attempts (tests give one that does not); nil is
	// the system clock.
	Clock retry.Clock
	// Timeout bounds one attempt, body included.
	Timeout time.Duration
	// Requests counts HTTP requests sent (figures and tests).
	Requests int
}

// New returns a Fetcher with sensible defaults for end users: 4 attempts,
// 250 ms before the first retry, doubling; a minute per attempt.
func New(client *http.Client) *Fetcher {
	if client == nil {
		client = &http.Client{}
	}
	return &Fetcher{Client: client, Attempts: 4, Backoff: retry.Backoff{Base: 250 * time.Millisecond}, Timeout: 60 * time.Second}
}

// HTTPError is a final non-2xx answer.
type HTTPError struct {
	URL    string
	Status int
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("GET %s: HTTP %d %s", e.URL, e.Status, http.StatusText(e.Status))
}

// Result of a conditional fetch.
type Result struct {
	Body        []byte
	ETag        string
	NotModified bool
}

// Get reads a whole file with the size limit max (0: none); etag, when set,
// makes the request conditional.
func (f *Fetcher) Get(ctx context.Context, loc, etag string, max int64) (Result, error) {
	if !regref.IsRemote(loc) {
		b, err := os.ReadFile(loc)
		if err != nil {
			return Result{}, fmt.Errorf("reading %s: %w", loc, err)
		}
		return Result{Body: b}, nil
	}
	var res Result
	err := f.do(ctx, loc, etag, nil, func(resp *http.Response) error {
		if resp.StatusCode == http.StatusNotModified {
			res = Result{NotModified: true, ETag: etag}
			return nil
		}
		r := io.Reader(resp.Body)
		if max > 0 {
			r = io.LimitReader(resp.Body, max+1)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		if max > 0 && int64(len(b)) > max {
			return &finalError{fmt.Errorf("GET %s: larger than %d bytes", loc, max)}
		}
		if resp.ContentLength >= 0 && int64(len(b)) != resp.ContentLength {
			return fmt.Errorf("GET %s: %w (got %d of %d bytes)", loc, io.ErrUnexpectedEOF, len(b), resp.ContentLength)
		}
		res = Result{Body: b, ETag: resp.Header.Get("ETag")}
		return nil
	})
	return res, err
}

// Download writes the file at loc to w. reset is called before every retry
// so the caller can truncate what it received.
func (f *Fetcher) Download(ctx context.Context, loc string, w io.Writer, reset func() error) error {
	if !regref.IsRemote(loc) {
		in, err := os.Open(loc)
		if err != nil {
			return fmt.Errorf("reading %s: %w", loc, err)
		}
		defer in.Close()
		if _, err := io.Copy(w, in); err != nil {
			return fmt.Errorf("reading %s: %w", loc, err)
		}
		return nil
	}
	first := true
	return f.do(ctx, loc, "", nil, func(resp *http.Response) error {
		if !first {
			if err := reset(); err != nil {
				return &finalError{err}
			}
		}
		first = false
		n, err := io.Copy(w, resp.Body)
		if err != nil {
			return err
		}
		if resp.ContentLength >= 0 && n != resp.ContentLength {
			return fmt.Errorf("GET %s: %w (got %d of %d bytes)", loc, io.ErrUnexpectedEOF, n, resp.ContentLength)
		}
		return nil
	})
}

// finalError stops the retry loop.
type finalError struct{ err error }

func (e *finalError) Error() string { return e.err.Error() }
func (e *finalError) Unwrap() error { return e.err }

func (f *Fetcher) do(ctx context.Context, loc, etag string, prep func(*http.Request), body func(*http.Response) error) error {
	attempts := f.Attempts
	if attempts < 1 {
		attempts = 1
	}
	clock := f.Clock
	if clock == nil {
		clock = retry.SystemClock()
	}
	var last error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			if err := clock.Sleep(ctx, f.Backoff.Delay(i-1)); err != nil {
				return fmt.Errorf("GET %s: %w (last error: %v)", loc, err, last)
			}
		}
		err := f.once(ctx, loc, etag, prep, body)
		if err == nil {
			return nil
		}
		var fe *finalError
		var he *HTTPError
		switch {
		case errors.As(err, &fe):
			return fe.err
		case errors.As(err, &he) && he.Status < 500:
			return err
		case ctx.Err() != nil:
			return fmt.Errorf("GET %s: %w", loc, ctx.Err())
		}
		last = err
	}
	return fmt.Errorf("%w (gave up after %d attempts)", last, attempts)
}

func (f *Fetcher) once(parent context.Context, loc, etag string, prep func(*http.Request), body func(*http.Response) error) error {
	ctx := parent
	if f.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.Timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc, nil)
	if err != nil {
		return &finalError{fmt.Errorf("GET %s: %w", loc, err)}
	}
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	req.Header.Set("User-Agent", "udos-lib")
	if prep != nil {
		prep(req)
	}
	f.Requests++
	resp, err := f.Client.Do(req)
	if err != nil {
		var ne net.Error
		if parent.Err() != nil {
			return fmt.Errorf("GET %s: %w", loc, parent.Err())
		}
		if errors.As(err, &ne) && ne.Timeout() {
			return fmt.Errorf("GET %s: timed out after %s", loc, f.Timeout)
		}
		return fmt.Errorf("GET %s: %w", loc, err)
	}
	defer resp.Body.Close()
	partial := resp.StatusCode == http.StatusPartialContent && req.Header.Get("Range") != ""
	if resp.StatusCode != http.StatusOK && !partial && !(resp.StatusCode == http.StatusNotModified && etag != "") {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		return &HTTPError{URL: loc, Status: resp.StatusCode}
	}
	if err := body(resp); err != nil {
		var fe *finalError
		if errors.As(err, &fe) {
			return err
		}
		if parent.Err() != nil {
			return fmt.Errorf("GET %s: %w", loc, parent.Err())
		}
		if ctx.Err() != nil {
			return fmt.Errorf("GET %s: timed out reading the body after %s", loc, f.Timeout)
		}
		if strings.Contains(err.Error(), loc) {
			return err
		}
		return fmt.Errorf("GET %s: %w", loc, err)
	}
	return nil
}
