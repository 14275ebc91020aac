package fetch

import (
	"context"
	"errors"
	"fmt"
	"github.com/fredbook/udos-dist/internal/retry"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// noWait is a clock whose Sleep returns at once.
type noWait struct{}

func (noWait) Now() time.Time                                   { return time.Now() }
func (noWait) Sleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

func TestFetcherRetries(t *testing.T) {
	t.Parallel()
	body := strings.Repeat("x", 1000)
	tests := []struct {
		name      string
		handler   func(n int, w http.ResponseWriter)
		wantErr   string
		wantCalls int
	}{
		{"ok first time", func(n int, w http.ResponseWriter) { io.WriteString(w, body) }, "", 1},
		{"two 503 then ok", func(n int, w http.ResponseWriter) {
			if n <= 2 {
				w.WriteHeader(503)
				return
			}
			io.WriteString(w, body)
		}, "", 3},
		{"always 500 gives up", func(n int, w http.ResponseWriter) { w.WriteHeader(500) }, "HTTP 500 Internal Server Error (gave up after 3 attempts)", 3},
		{"404 is final", func(n int, w http.ResponseWriter) { w.WriteHeader(404) }, "HTTP 404 Not Found", 1},
		{"truncated then ok", func(n int, w http.ResponseWriter) {
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			if n == 1 {
				io.WriteString(w, body[:10])
				return
			}
			io.WriteString(w, body)
		}, "", 2},
		{"always truncated", func(n int, w http.ResponseWriter) {
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			io.WriteString(w, body[:10])
		}, "unexpected EOF", 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tc.handler(int(calls.Add(1)), w)
			}))
			defer srv.Close()
			f := &Fetcher{Client: srv.Client(), Attempts: 3, Timeout: 5 * time.Second, Clock: noWait{}}
			var got strings.Builder
			err := f.Download(context.Background(), srv.URL+"/p", &got, 1<<20, func() error { got.Reset(); return nil })
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got.String() != body {
					t.Fatalf("body of %d bytes, want %d", got.Len(), len(body))
				}
			} else if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			if int(calls.Load()) != tc.wantCalls {
				t.Fatalf("%d requests, want %d", calls.Load(), tc.wantCalls)
			}
		})
	}
}

func TestFetcherStallTimesOut(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	f := &Fetcher{Client: srv.Client(), Attempts: 2, Timeout: 100 * time.Millisecond, Clock: noWait{}}
	start := time.Now()
	_, err := f.Get(context.Background(), srv.URL+"/c", Validators{}, 0)
	if err == nil || !strings.Contains(err.Error(), "timed out after 100ms") {
		t.Fatalf("error %v, want a timeout", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("took %s", d)
	}
}

func TestFetcherConditional(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(304)
			return
		}
		io.WriteString(w, "catalog")
	}))
	defer srv.Close()
	f := &Fetcher{Client: srv.Client(), Attempts: 1, Timeout: time.Second}
	r, err := f.Get(context.Background(), srv.URL, Validators{}, 0)
	if err != nil || string(r.Body) != "catalog" || r.ETag != `"v1"` {
		t.Fatalf("first: %+v %v", r, err)
	}
	r, err = f.Get(context.Background(), srv.URL, Validators{ETag: r.ETag}, 0)
	if err != nil || !r.NotModified || len(r.Body) != 0 {
		t.Fatalf("second: %+v %v", r, err)
	}
	if calls.Load() != 2 || f.Requests != 2 {
		t.Fatalf("%d calls, %d counted", calls.Load(), f.Requests)
	}
}

func TestFetcherContextCancelled(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f := &Fetcher{Client: srv.Client(), Attempts: 5, Backoff: retry.Backoff{Base: time.Hour}}
	_, err := f.Get(ctx, srv.URL, Validators{}, 0)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}
