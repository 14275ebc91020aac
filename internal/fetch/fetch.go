// Package fetch reads registry files over HTTP(S) or from a local folder:
// per-attempt timeouts, retries with internal/retry's backoff and clock on
// 5xx answers, truncated bodies and connection errors (4xx answers are
// final: retrying cannot change them), and conditional requests.
package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
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
	// OnRetry, when set, is told of every retry before its wait: the URL,
	// the attempt about to be made (2 for the first retry), how many there
	// may be, the wait, and what failed.
	OnRetry func(loc string, attempt, attempts int, wait time.Duration, err error)
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

// Validators make a request conditional: the ETag and Last-Modified of the
// copy the caller has. A server answers 304 when that copy is current; one
// that sends no ETag (python's http.server, a plain file server) can still
// answer If-Modified-Since.
type Validators struct {
	ETag         string
	LastModified string
}

func (v Validators) empty() bool { return v.ETag == "" && v.LastModified == "" }

// Result of a conditional fetch.
type Result struct {
	Body []byte
	// ETag and LastModified are the answer's validators (the caller's own
	// when NotModified).
	ETag         string
	LastModified string
	NotModified  bool
}

// ErrTooLarge: a file is larger than its limit (a catalog's declared size,
// or a hard cap); the transfer stopped there.
var ErrTooLarge = errors.New("larger than allowed")

// ReadFile reads a local regular file of at most max bytes. Devices, FIFOs
// and folders are refused (a catalog pointing at /dev/zero must not read
// forever), and a file that grows past max stops there.
func ReadFile(path string, max int64) ([]byte, error) {
	max = limit(max)
	f, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("reading %s: %w (more than %d bytes)", path, ErrTooLarge, max)
	}
	return b, nil
}

// limit is max, or no limit at all for max <= 0 (callers give one).
func limit(max int64) int64 {
	if max <= 0 {
		return math.MaxInt64 - 1
	}
	return max
}

func openRegular(path string) (*os.File, error) {
	// Stat first: opening a FIFO would block until someone writes to it.
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("reading %s: not a regular file (%s)", path, fi.Mode().Type())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return f, nil
}

// Get reads a whole file of at most max bytes (max > 0); cond, when set,
// makes the request conditional.
func (f *Fetcher) Get(ctx context.Context, loc string, cond Validators, max int64) (Result, error) {
	if !regref.IsRemote(loc) {
		b, err := ReadFile(loc, max)
		if err != nil {
			return Result{}, err
		}
		return Result{Body: b}, nil
	}
	var res Result
	err := f.do(ctx, loc, cond, nil, func(resp *http.Response) error {
		if resp.StatusCode == http.StatusNotModified {
			res = Result{NotModified: true, ETag: cond.ETag, LastModified: cond.LastModified}
			if e := resp.Header.Get("ETag"); e != "" {
				res.ETag = e
			}
			return nil
		}
		var buf bytes.Buffer
		if _, err := copyMax(&buf, resp, loc, max); err != nil {
			return err
		}
		res = Result{Body: buf.Bytes(), ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")}
		return nil
	})
	return res, err
}

// Download streams the file at loc into w, at most max bytes (max > 0): a
// server that sends more is cut off at max and the download fails, so a
// package a catalog declares as 536 bytes cannot cost a gigabyte. reset is
// called before every retry so the caller can truncate what it received.
func (f *Fetcher) Download(ctx context.Context, loc string, w io.Writer, max int64, reset func() error) error {
	if !regref.IsRemote(loc) {
		max = limit(max)
		in, err := openRegular(loc)
		if err != nil {
			return err
		}
		defer in.Close()
		n, err := io.Copy(w, io.LimitReader(in, max+1))
		switch {
		case err != nil:
			return fmt.Errorf("reading %s: %w", loc, err)
		case n > max:
			return fmt.Errorf("reading %s: %w (more than %d bytes)", loc, ErrTooLarge, max)
		}
		return nil
	}
	first := true
	return f.do(ctx, loc, Validators{}, nil, func(resp *http.Response) error {
		if !first {
			if err := reset(); err != nil {
				return &finalError{err}
			}
		}
		first = false
		_, err := copyMax(w, resp, loc, max)
		return err
	})
}

// copyMax copies resp's body to w, refusing more than max bytes (a final
// error: the same server will send the same size again) and a body shorter
// than its Content-Length (retried: a dropped connection).
func copyMax(w io.Writer, resp *http.Response, loc string, max int64) (int64, error) {
	if max > 0 && resp.ContentLength > max {
		return 0, &finalError{fmt.Errorf("GET %s: %w: the server announces %d bytes, at most %d are expected", loc, ErrTooLarge, resp.ContentLength, max)}
	}
	r := io.Reader(resp.Body)
	if max > 0 {
		r = io.LimitReader(resp.Body, max+1)
	}
	n, err := io.Copy(w, r)
	if err != nil {
		return n, err
	}
	if max > 0 && n > max {
		return n, &finalError{fmt.Errorf("GET %s: %w: more than the %d bytes expected", loc, ErrTooLarge, max)}
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return n, fmt.Errorf("GET %s: %w (got %d of %d bytes)", loc, io.ErrUnexpectedEOF, n, resp.ContentLength)
	}
	return n, nil
}

// finalError stops the retry loop.
type finalError struct{ err error }

func (e *finalError) Error() string { return e.err.Error() }
func (e *finalError) Unwrap() error { return e.err }

func (f *Fetcher) do(ctx context.Context, loc string, cond Validators, prep func(*http.Request), body func(*http.Response) error) error {
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
			wait := f.Backoff.Delay(i - 1)
			if f.OnRetry != nil {
				f.OnRetry(loc, i+1, attempts, wait, last)
			}
			if err := clock.Sleep(ctx, wait); err != nil {
				return fmt.Errorf("GET %s: %w (last error: %v)", loc, err, last)
			}
		}
		err := f.once(ctx, loc, cond, prep, body)
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

func (f *Fetcher) once(parent context.Context, loc string, cond Validators, prep func(*http.Request), body func(*http.Response) error) error {
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
	if cond.ETag != "" {
		req.Header.Set("If-None-Match", cond.ETag)
	}
	if cond.LastModified != "" {
		req.Header.Set("If-Modified-Since", cond.LastModified)
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
	if resp.StatusCode != http.StatusOK && !partial && !(resp.StatusCode == http.StatusNotModified && !cond.empty()) {
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
