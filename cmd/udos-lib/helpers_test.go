package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/registry"
	"github.com/fredbook/udos-dist/internal/udospkg"
)

// testKeys are generated once per test process: "test" is trusted by the
// scripts' keyring, "other" is a stranger.
var testKeys = sync.OnceValues(func() (map[string][2][]byte, error) {
	out := map[string][2][]byte{}
	for _, name := range []string{"test", "other"} {
		priv, pub, err := pgpsign.GenerateTestKey("udos-lib "+name, name+"@example.org", nil)
		if err != nil {
			return nil, err
		}
		out[name] = [2][]byte{priv, pub}
	}
	return out, nil
})

func writeKeys(dir string) error {
	keys, err := testKeys()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, k := range keys {
		if err := os.WriteFile(filepath.Join(dir, name+".asc"), k[0], 0o600); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name+".pub.asc"), k[1], 0o644); err != nil {
			return err
		}
	}
	return nil
}

// exampleLibraries is the repository's examples/libraries folder.
func exampleLibraries() string {
	return filepath.Join("..", "..", "examples", "libraries")
}

type regOptions struct {
	unsignedCatalog  bool
	unsignedPackages bool
	expired          bool
	only             map[string]bool // source folder names; nil = all
	from             string          // folder of library sources; "" = the examples
}

// buildRegistry packs the example libraries, signs them with the test key
// and generates a registry folder in out (a second call bumps the serial).
func buildRegistry(out string, o regOptions) error {
	keys, err := testKeys()
	if err != nil {
		return err
	}
	signer, err := pgpsign.LoadSigner(keys["test"][0], nil)
	if err != nil {
		return err
	}
	in, err := os.MkdirTemp("", "udos-lib-pk-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(in)
	from := exampleLibraries()
	if o.from != "" {
		from = o.from
	}
	ents, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !e.IsDir() || (o.only != nil && !o.only[e.Name()]) {
			continue
		}
		res, err := udospkg.PackFile(filepath.Join(from, e.Name()), in, udospkg.PackOptions{})
		if err != nil {
			return fmt.Errorf("packing %s: %w", e.Name(), err)
		}
		if !o.unsignedPackages {
			if _, err := pgpsign.SignFile(signer, filepath.Join(in, res.FileName)); err != nil {
				return err
			}
		}
	}
	opts := registry.Options{OutDir: out}
	if !o.unsignedCatalog {
		opts.Signer = signer
	}
	if o.expired {
		opts.Now = time.Now().Add(-40 * 24 * time.Hour)
	} else {
		// A fixed publication time keeps human output comparable with
		// cmp in the scripts; the catalog stays valid for a century.
		opts.Now = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
		opts.Expires = 100 * 365 * 24 * time.Hour
	}
	_, err = registry.Assemble(context.Background(), &registry.DirSource{Dir: in}, opts)
	return err
}

// faultServer serves a registry folder over loopback HTTP with ETags and
// optional faults, and logs every request.
type faultServer struct {
	dir string
	srv *httptest.Server

	mu       sync.Mutex
	log      []string
	noETag   bool   // like python's http.server: Last-Modified, no ETag
	fail     int    // answer 500 to this many matching requests
	truncate int    // cut this many matching bodies in half
	stall    int    // stall this many matching requests
	only     string // faults apply to paths containing this ("" = all)
	stallFor time.Duration
}

func newFaultServer(dir string) *faultServer {
	s := &faultServer{dir: dir, stallFor: 5 * time.Second}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.handle))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	s.srv.Listener = l
	s.srv.Start()
	return s
}

func (s *faultServer) record(r *http.Request, status, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cond := ""
	if r.Header.Get("If-None-Match") != "" || r.Header.Get("If-Modified-Since") != "" {
		cond = " (conditional)"
	}
	s.log = append(s.log, fmt.Sprintf("%s %s %d %d%s", r.Method, r.URL.Path, status, n, cond))
}

func (s *faultServer) takeFault(path string, counter *int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if *counter > 0 && (s.only == "" || strings.Contains(path, s.only)) {
		*counter--
		return true
	}
	return false
}

func (s *faultServer) handle(w http.ResponseWriter, r *http.Request) {
	clean := filepath.Clean("/" + r.URL.Path)
	if s.takeFault(clean, &s.fail) {
		s.record(r, 500, 0)
		http.Error(w, "injected failure", http.StatusInternalServerError)
		return
	}
	if s.takeFault(clean, &s.stall) {
		select {
		case <-r.Context().Done():
		case <-time.After(s.stallFor):
		}
		s.record(r, 0, 0)
		return
	}
	path := filepath.Join(s.dir, filepath.FromSlash(clean))
	b, err := os.ReadFile(path)
	if err != nil {
		s.record(r, 404, 0)
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	noETag := s.noETag
	s.mu.Unlock()
	if noETag {
		fi, err := os.Stat(path)
		if err != nil {
			s.record(r, 404, 0)
			http.NotFound(w, r)
			return
		}
		mod := fi.ModTime().UTC().Truncate(time.Second)
		w.Header().Set("Last-Modified", mod.Format(http.TimeFormat))
		if t, err := http.ParseTime(r.Header.Get("If-Modified-Since")); err == nil && !mod.After(t) {
			s.record(r, 304, 0)
			w.WriteHeader(http.StatusNotModified)
			return
		}
	} else {
		sum := sha256.Sum256(b)
		etag := `"` + hex.EncodeToString(sum[:8]) + `"`
		w.Header().Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			s.record(r, 304, 0)
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	if s.takeFault(clean, &s.truncate) {
		s.record(r, 200, len(b)/2)
		w.Write(b[:len(b)/2])
		// Returning with fewer bytes than Content-Length makes the server
		// close the connection: the client sees a truncated body.
		return
	}
	s.record(r, 200, len(b))
	w.Write(b)
}

func (s *faultServer) takeLog() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.log
	s.log = nil
	return out
}

func mustNoErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func httpFileServer(dir string) http.Handler { return http.FileServer(http.Dir(dir)) }

// serveForever serves dir on addr with the fault server (no faults),
// printing each request on stderr.
func serveForever(dir, addr string) int {
	s := &faultServer{dir: dir}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "serving %s on http://%s\n", dir, l.Addr())
	go func() {
		for range time.Tick(200 * time.Millisecond) {
			for _, line := range s.takeLog() {
				fmt.Fprintln(os.Stderr, line)
			}
		}
	}()
	return func() int {
		if err := http.Serve(l, http.HandlerFunc(s.handle)); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		return 1
	}()
}
