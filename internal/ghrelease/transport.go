package ghrelease

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/fredbook/udos-dist/internal/retry"
)

// RateLimitError reports a rate limit whose wait exceeds Config.MaxWait (or
// that persisted through every retry).
type RateLimitError struct {
	Method, URL string
	Status      int
	Secondary   bool          // a secondary (abuse) limit rather than the hourly one
	Wait        time.Duration // how long GitHub asked to wait
	Max         time.Duration // the configured bound
	Reset       time.Time     // when the primary limit resets
}

func (e *RateLimitError) Error() string {
	kind := "primary rate limit exhausted"
	if e.Secondary {
		kind = "secondary rate limit hit"
	}
	msg := fmt.Sprintf("%s %s: GitHub %s (HTTP %d); it asks to wait %s", e.Method, e.URL, kind, e.Status, e.Wait.Round(time.Second))
	if !e.Reset.IsZero() {
		msg += " (reset at " + e.Reset.UTC().Format(time.RFC3339) + ")"
	}
	if e.Wait > e.Max {
		msg += fmt.Sprintf(", longer than the allowed %s", e.Max)
	}
	return msg
}

type idempotentKey struct{}

// withIdempotent marks requests made with ctx as safe to repeat even though
// their method is not (a PATCH that sets absolute values, a dispatch whose
// repetition only regenerates the registry again).
func withIdempotent(ctx context.Context) context.Context {
	return context.WithValue(ctx, idempotentKey{}, true)
}

type transport struct {
	base       http.RoundTripper
	token      string
	authHosts  map[string]bool
	clock      retry.Clock
	maxRetries int
	backoff    retry.Backoff
	maxWait    time.Duration
	timeout    time.Duration
	etags      ETagStore
	logf       func(string, ...any)
	stats      *statsBox
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.token != "" && t.authHosts[req.URL.Host] {
		req = req.Clone(req.Context())
		req.Header.Set("Authorization", "Bearer "+t.token)
	}
	if t.etags != nil && cacheable(req) {
		return t.conditional(req)
	}
	return t.retrying(req)
}

func cacheable(req *http.Request) bool {
	return req.Method == http.MethodGet && req.Header.Get("Range") == "" && req.Header.Get("If-None-Match") == "" &&
		!strings.Contains(req.Header.Get("Accept"), "application/octet-stream")
}

// cacheKey identifies a cached answer. Answers differ with and without a
// token (drafts), so that is part of the key; the token itself is not.
func cacheKey(req *http.Request) string {
	auth := "anonymous"
	if req.Header.Get("Authorization") != "" {
		auth = "token"
	}
	return req.URL.String() + " " + req.Header.Get("Accept") + " " + auth
}

func (t *transport) conditional(req *http.Request) (*http.Response, error) {
	key := cacheKey(req)
	cached, have := t.etags.Get(key)
	if have && cached.ETag != "" {
		req = req.Clone(req.Context())
		req.Header.Set("If-None-Match", cached.ETag)
	}
	resp, err := t.retrying(req)
	if err != nil {
		return nil, err
	}
	switch {
	case resp.StatusCode == http.StatusNotModified && have:
		_ = resp.Body.Close()
		t.stats.add(func(s *Stats) { s.NotModified++ })
		h := resp.Header.Clone()
		h.Set("ETag", cached.ETag)
		if cached.ContentType != "" {
			h.Set("Content-Type", cached.ContentType)
		}
		if cached.Link != "" {
			h.Set("Link", cached.Link)
		}
		h.Del("Content-Length")
		return &http.Response{
			Status: "200 OK", StatusCode: http.StatusOK, Proto: resp.Proto, ProtoMajor: resp.ProtoMajor, ProtoMinor: resp.ProtoMinor,
			Header: h, Body: io.NopCloser(bytes.NewReader(cached.Body)), ContentLength: int64(len(cached.Body)), Request: req,
		}, nil
	case resp.StatusCode == http.StatusOK && resp.Header.Get("ETag") != "":
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", redact(req), err)
		}
		if err := t.etags.Put(key, CachedResponse{ETag: resp.Header.Get("ETag"), ContentType: resp.Header.Get("Content-Type"),
			Link: resp.Header.Get("Link"), Body: body}); err != nil {
			t.logf("github: caching %s: %v", redact(req), err)
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return resp, nil
	}
	return resp, nil
}

func idempotent(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	v, _ := req.Context().Value(idempotentKey{}).(bool)
	return v
}

// redact names a request for logs and errors: method and URL, never headers.
func redact(req *http.Request) string {
	u := *req.URL
	u.User = nil
	return req.Method + " " + u.String()
}

func (t *transport) sleep(ctx context.Context, d time.Duration) error {
	t.stats.add(func(s *Stats) { s.Waited += d })
	return t.clock.Sleep(ctx, d)
}

// timedBody cancels an attempt's timeout once its body is closed.
type timedBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *timedBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

func (t *transport) attempt(req *http.Request) (*http.Response, error) {
	t.stats.add(func(s *Stats) { s.Requests++ })
	isTransfer := strings.Contains(req.Header.Get("Accept"), "application/octet-stream") ||
		(req.Body != nil && !strings.HasPrefix(req.Header.Get("Content-Type"), "application/json"))
	if t.timeout <= 0 || isTransfer {
		return t.base.RoundTrip(req)
	}
	ctx, cancel := context.WithTimeout(req.Context(), t.timeout)
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &timedBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

func (t *transport) retrying(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	canRepeat := idempotent(req)
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	for n := 0; ; n++ {
		r := req
		if n > 0 {
			r = req.Clone(ctx)
			if req.GetBody != nil {
				body, err := req.GetBody()
				if err != nil {
					return nil, fmt.Errorf("%s: rewinding body for retry: %w", redact(req), err)
				}
				r.Body = body
			}
			t.stats.add(func(s *Stats) { s.Retries++ })
		}
		resp, err := t.attempt(r)
		if err != nil {
			if ctx.Err() != nil || !canRepeat || !replayable || n >= t.maxRetries {
				return nil, err
			}
			d := t.backoff.Delay(n)
			t.logf("github: %s: %v; retry %d/%d in %s", redact(req), err, n+1, t.maxRetries, d.Round(time.Millisecond))
			if err := t.sleep(ctx, d); err != nil {
				return nil, err
			}
			continue
		}
		if wait, rl := t.rateLimited(resp); rl != nil {
			rl.Method, rl.URL = req.Method, redact(req)[len(req.Method)+1:]
			if wait > t.maxWait {
				drain(resp)
				return nil, rl
			}
			if !replayable || n >= t.maxRetries {
				return resp, nil // go-github turns it into its rate-limit error
			}
			drain(resp)
			t.stats.add(func(s *Stats) { s.RateLimitWaits++ })
			t.logf("github: %s: rate limited (HTTP %d); waiting %s", redact(req), rl.Status, wait.Round(time.Millisecond))
			if err := t.sleep(ctx, wait); err != nil {
				return nil, err
			}
			continue
		}
		if resp.StatusCode >= 500 && canRepeat && replayable && n < t.maxRetries {
			drain(resp)
			d := t.backoff.Delay(n)
			t.logf("github: %s: HTTP %d; retry %d/%d in %s", redact(req), resp.StatusCode, n+1, t.maxRetries, d.Round(time.Millisecond))
			if err := t.sleep(ctx, d); err != nil {
				return nil, err
			}
			continue
		}
		return resp, nil
	}
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}

// rateLimited recognises GitHub's rate-limit answers and says how long to
// wait: until X-RateLimit-Reset for the primary limit, Retry-After (or a
// minute, as GitHub's docs advise) for secondary limits.
func (t *transport) rateLimited(resp *http.Response) (time.Duration, *RateLimitError) {
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusTooManyRequests {
		return 0, nil
	}
	rl := &RateLimitError{Status: resp.StatusCode, Max: t.maxWait}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		rl.Secondary = resp.Header.Get("X-RateLimit-Remaining") != "0"
		if secs, err := strconv.Atoi(strings.TrimSpace(ra)); err == nil && secs >= 0 {
			rl.Wait = time.Duration(secs) * time.Second
		} else if when, err := http.ParseTime(ra); err == nil {
			rl.Wait = max(when.Sub(t.clock.Now()), 0)
		} else {
			rl.Wait = time.Minute
		}
		return rl.Wait, rl
	}
	if resp.Header.Get("X-RateLimit-Remaining") == "0" {
		if reset, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			rl.Reset = time.Unix(reset, 0)
			// A second of margin: the reset is rounded to whole seconds.
			rl.Wait = max(rl.Reset.Sub(t.clock.Now())+time.Second, time.Second)
		} else {
			rl.Wait = time.Minute
		}
		return rl.Wait, rl
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		rl.Secondary, rl.Wait = true, time.Minute
		return rl.Wait, rl
	}
	// A 403 without headers is a secondary limit only if the body says so.
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err == nil && bytes.Contains(bytes.ToLower(body), []byte("secondary rate limit")) {
		rl.Secondary, rl.Wait = true, time.Minute
		return rl.Wait, rl
	}
	return 0, nil
}

// errRetryable reports whether a failed call may succeed when repeated:
// server errors and broken connections, not client errors or exhausted limits.
func errRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var rl *RateLimitError
	var le localError
	if errors.As(err, &rl) || errors.As(err, &le) {
		return false
	}
	if code := statusOf(err); code != 0 {
		return code >= 500
	}
	return true // transport-level failure: dropped connection, reset, EOF
}
