package fetch

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// endless serves zeros without end and without a Content-Length: the
// hostile server of a package the catalog declares as a few hundred bytes.
type endless struct{ sent atomic.Int64 }

func (e *endless) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	buf := make([]byte, 32<<10)
	for r.Context().Err() == nil {
		n, err := w.Write(buf)
		e.sent.Add(int64(n))
		if err != nil || e.sent.Load() > 1<<30 {
			return
		}
	}
}

func TestDownloadStopsAtTheDeclaredSize(t *testing.T) {
	t.Parallel()
	h := &endless{}
	srv := httptest.NewServer(h)
	defer srv.Close()
	f := &Fetcher{Client: srv.Client(), Attempts: 3, Timeout: 10 * time.Second, Clock: noWait{}}
	var got bytes.Buffer
	err := f.Download(context.Background(), srv.URL+"/p", &got, 536, func() error { got.Reset(); return nil })
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("error %v, want ErrTooLarge", err)
	}
	if got.Len() > 537 {
		t.Fatalf("%d bytes written for a 536-byte package", got.Len())
	}
	if f.Requests != 1 {
		t.Fatalf("%d requests: a too-large answer is final", f.Requests)
	}
}

func TestDownloadRefusesAnnouncedSize(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1073741824")
		w.WriteHeader(200)
	}))
	defer srv.Close()
	f := &Fetcher{Client: srv.Client(), Attempts: 3, Timeout: 10 * time.Second, Clock: noWait{}}
	err := f.Download(context.Background(), srv.URL+"/p", io.Discard, 536, func() error { return nil })
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "announces 1073741824 bytes") {
		t.Fatalf("error %v", err)
	}
	if _, err := f.Get(context.Background(), srv.URL+"/sig", Validators{}, 1<<20); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Get: error %v, want ErrTooLarge", err)
	}
}

func TestLocalHardCaps(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, 2000), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	f := New(nil)
	tests := []struct {
		name, path string
		want       string
	}{
		{"device", "/dev/zero", "not a regular file"},
		{"fifo", fifo, "not a regular file"},
		{"folder", dir, "not a regular file"},
		{"over the cap", big, "larger than allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := f.Get(context.Background(), tc.path, Validators{}, 1000); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Get: %v, want %q", err, tc.want)
			}
			if err := f.Download(context.Background(), tc.path, io.Discard, 1000, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Download: %v, want %q", err, tc.want)
			}
		})
	}
}

// TestIfModifiedSince: a server without ETags (Go's file server, like
// python's http.server) still answers 304 to If-Modified-Since.
func TestIfModifiedSince(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "catalog.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	var sawIMS atomic.Bool
	fs := http.FileServer(http.Dir(dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-Modified-Since") != "" {
			sawIMS.Store(true)
		}
		fs.ServeHTTP(w, r)
	}))
	defer srv.Close()
	f := &Fetcher{Client: srv.Client(), Attempts: 1, Timeout: time.Second}
	r, err := f.Get(context.Background(), srv.URL+"/catalog.json", Validators{}, 1<<20)
	if err != nil || r.ETag != "" || r.LastModified == "" {
		t.Fatalf("first: %+v %v", r, err)
	}
	r2, err := f.Get(context.Background(), srv.URL+"/catalog.json", Validators{ETag: r.ETag, LastModified: r.LastModified}, 1<<20)
	if err != nil || !r2.NotModified || r2.LastModified != r.LastModified {
		t.Fatalf("second: %+v %v", r2, err)
	}
	if !sawIMS.Load() {
		t.Fatal("If-Modified-Since was not sent")
	}
}

func TestOnRetry(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			w.WriteHeader(503)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	var told []string
	f := &Fetcher{Client: srv.Client(), Attempts: 4, Timeout: time.Second, Clock: noWait{}, Backoff: New(nil).Backoff,
		OnRetry: func(loc string, attempt, attempts int, wait time.Duration, err error) {
			told = append(told, strings.Join([]string{loc, string(rune('0' + attempt)), string(rune('0' + attempts)), wait.String(), err.Error()}, " "))
		}}
	if _, err := f.Get(context.Background(), srv.URL+"/c", Validators{}, 100); err != nil {
		t.Fatal(err)
	}
	want := []string{
		srv.URL + "/c 2 4 250ms GET " + srv.URL + "/c: HTTP 503 Service Unavailable",
		srv.URL + "/c 3 4 500ms GET " + srv.URL + "/c: HTTP 503 Service Unavailable",
	}
	if strings.Join(told, "\n") != strings.Join(want, "\n") {
		t.Fatalf("OnRetry calls:\n%s\nwant:\n%s", strings.Join(told, "\n"), strings.Join(want, "\n"))
	}
}
