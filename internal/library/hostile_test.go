package library

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/catalog"
	"github.com/fredbook/udos-dist/internal/fetch"
	"github.com/fredbook/udos-dist/internal/regref"
	"github.com/fredbook/udos-dist/internal/store"
)

func newTestRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "version.json"), []byte(`{"version":"1.5.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// installEvil installs lib-evil from registry into a fresh root and returns
// the error and the root.
func installEvil(t *testing.T, registry string) (error, string) {
	t.Helper()
	root := newTestRoot(t)
	f := fetch.New(nil)
	f.Attempts, f.Timeout = 2, 10*time.Second
	c := &Client{Paths: store.Paths{Root: root}, Registry: registry, Fetcher: f}
	if err := c.Begin(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer c.End()
	_, err := c.Install(context.Background(), []Spec{{ID: "lib-evil"}})
	return err, root
}

func nothingInstalled(t *testing.T, root string) {
	t.Helper()
	for _, p := range []string{"library/evil", "library/lock.json", "library/.udos-lib/store/lib-evil"} {
		if _, err := os.Lstat(filepath.Join(root, p)); !os.IsNotExist(err) {
			t.Errorf("%s exists after a refused install", p)
		}
	}
}

// serveDir serves a registry folder; overrides answer some paths instead.
func serveDir(t *testing.T, dir string, overrides map[string]http.Handler) string {
	t.Helper()
	fs := http.FileServer(http.Dir(dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, ok := overrides[r.URL.Path]; ok {
			h.ServeHTTP(w, r)
			return
		}
		fs.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// zeros answers n zero bytes (n < 0: without end), without a Content-Length.
func zeros(n int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 64<<10)
		for sent := int64(0); (n < 0 || sent < n) && r.Context().Err() == nil; sent += int64(len(buf)) {
			if _, err := w.Write(buf); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	})
}

func passwdDigest(t *testing.T) string {
	b, err := os.ReadFile("/etc/passwd")
	if err != nil {
		t.Skip("no /etc/passwd to point at")
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestWhereACatalogMaySend: references that would make the client read local
// files, leave a folder registry or use another scheme are refused before
// anything is opened (and nothing of the target, not its digest, is shown).
func TestWhereACatalogMaySend(t *testing.T) {
	t.Parallel()
	pkg := hostilePackage(t, func(*tar.Writer) {})
	passwd := passwdDigest(t)
	outside := filepath.Join(t.TempDir(), "lib-evil-v1.0.0.udos-package")
	if err := os.WriteFile(outside, pkg, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		remote bool
		url    string
		sig    string
	}{
		{"remote file URL", true, "file:///etc/passwd", ""},
		{"remote signature file URL", true, "packages/lib-evil-v1.0.0.udos-package", "file:///etc/passwd"},
		{"remote other scheme", true, "ftp://127.0.0.1/x.udos-package", ""},
		{"folder absolute path", false, "/etc/passwd", ""},
		{"folder file URL", false, "file:///etc/passwd", ""},
		{"folder parent escape", false, "ESCAPE", ""},
		{"folder http URL", false, "http://127.0.0.1:9/x.udos-package", ""},
		{"folder other scheme", false, "gopher:lib-evil-v1.0.0.udos-package", ""},
		{"folder signature device", false, "packages/lib-evil-v1.0.0.udos-package", "/dev/zero"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := localRegistryWith(t, pkg, func(v *catalog.Version) { v.URL, v.SignatureURL = tc.url, tc.sig })
			if tc.url == "ESCAPE" {
				// "../…" from the registry to a real, valid package outside it.
				rel, err := filepath.Rel(dir, outside)
				if err != nil || !strings.HasPrefix(rel, "../") {
					t.Fatalf("no escaping path from %s to %s", dir, outside)
				}
				dir = localRegistryWith(t, pkg, func(v *catalog.Version) { v.URL = filepath.ToSlash(rel) })
				if rel2, _ := filepath.Rel(dir, outside); rel2 != rel {
					t.Fatalf("the second registry is elsewhere: %s", rel2)
				}
			}
			reg := dir
			if tc.remote {
				reg = serveDir(t, dir, nil)
			}
			err, root := installEvil(t, reg)
			if !errors.Is(err, regref.ErrRefused) {
				t.Fatalf("error %v, want a refusal", err)
			}
			if strings.Contains(err.Error(), passwd) || strings.Contains(err.Error(), "sha256 is") {
				t.Errorf("the refusal shows a digest of what it pointed at: %v", err)
			}
			nothingInstalled(t, root)
		})
	}
}

// TestUnboundedDownloads: a package the catalog declares as a few hundred
// bytes, served as a gigabyte (or without end), stops at the declared size;
// a signature or a catalog without end stops at its hard cap.
func TestUnboundedDownloads(t *testing.T) {
	t.Parallel()
	pkg := hostilePackage(t, func(*tar.Writer) {})
	dir := localRegistry(t, pkg)
	name := "/packages/lib-evil-v1.0.0.udos-package"
	tests := []struct {
		name      string
		overrides map[string]http.Handler
		want      string
	}{
		{"package served as 1 GiB", map[string]http.Handler{name: zeros(1 << 30)}, "the catalog declares"},
		{"package without end", map[string]http.Handler{name: zeros(-1)}, "the catalog declares"},
		{"signature without end", map[string]http.Handler{name + ".asc": zeros(-1)}, "signature"},
		{"catalog without end", map[string]http.Handler{"/catalog.json": zeros(-1)}, "fetching catalog"},
		{"catalog signature without end", map[string]http.Handler{"/catalog.json.asc": zeros(-1)}, "catalog signature"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			err, root := installEvil(t, serveDir(t, dir, tc.overrides))
			if !errors.Is(err, fetch.ErrTooLarge) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrTooLarge and %q", err, tc.want)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("took %s", d)
			}
			nothingInstalled(t, root)
		})
	}
}

// TestLocalCatalogCap: a folder registry's catalog has the same hard cap as
// a remote one (a 1,000,000-library catalog is refused, not parsed).
func TestLocalCatalogCap(t *testing.T) {
	t.Parallel()
	dir := localRegistry(t, hostilePackage(t, func(*tar.Writer) {}))
	// A sparse file: the size without the disk.
	if err := os.Truncate(filepath.Join(dir, "catalog.json"), maxCatalogSize+1); err != nil {
		t.Fatal(err)
	}
	err, root := installEvil(t, dir)
	if !errors.Is(err, fetch.ErrTooLarge) {
		t.Fatalf("error %v, want ErrTooLarge", err)
	}
	nothingInstalled(t, root)
}
