package library

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/catalog"
	"github.com/fredbook/udos-dist/internal/fetch"
	"github.com/fredbook/udos-dist/internal/store"
	"github.com/fredbook/udos-dist/internal/tarball"
	"github.com/fredbook/udos-dist/internal/udospkg"
)

// hostilePackage builds a package with a valid manifest followed by extra.
func hostilePackage(t *testing.T, extra func(tw *tar.Writer)) []byte {
	t.Helper()
	code := []byte("print('x')\n")
	sum := sha256.Sum256(code)
	files := map[string]string{"lib/x.py": hex.EncodeToString(sum[:])}
	m := &udospkg.Manifest{ManifestVersion: 1, ID: "lib-evil", Namespace: "@uDOS/evil", Name: "Evil", Version: "1.0.0",
		Author: "x", License: "MIT", EntryPoint: "lib/x.py", InstallPath: "library/evil",
		Dependencies: map[string]string{}, Files: files, Checksums: udospkg.Checksums{SHA256: udospkg.PayloadDigest(files)}}
	mj, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	add := func(h *tar.Header, body []byte) {
		h.Size = int64(len(body))
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
	}
	add(&tar.Header{Name: "manifest.json", Mode: 0o644, Typeflag: tar.TypeReg}, mj)
	add(&tar.Header{Name: "lib/", Mode: 0o755, Typeflag: tar.TypeDir}, nil)
	add(&tar.Header{Name: "lib/x.py", Mode: 0o644, Typeflag: tar.TypeReg}, code)
	extra(tw)
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

// localRegistry writes a one-package registry folder (unsigned catalog).
func localRegistry(t *testing.T, pkg []byte) string {
	t.Helper()
	return localRegistryWith(t, pkg, nil)
}

// localRegistryWith is localRegistry with the version's catalog entry
// changed by edit before the catalog is written.
func localRegistryWith(t *testing.T, pkg []byte, edit func(v *catalog.Version)) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "packages"), 0o755); err != nil {
		t.Fatal(err)
	}
	name := "packages/lib-evil-v1.0.0.udos-package"
	if err := os.WriteFile(filepath.Join(dir, name), pkg, 0o644); err != nil {
		t.Fatal(err)
	}
	s256, s512 := sha256.Sum256(pkg), sha512.Sum512(pkg)
	now := time.Now().UTC().Truncate(time.Second)
	v := catalog.Version{Version: "1.0.0", Archive: catalog.Archive{URL: name, Size: int64(len(pkg)), SHA256: hex.EncodeToString(s256[:]),
		SHA512: hex.EncodeToString(s512[:])}, Dependencies: map[string]string{}, PublishedAt: now}
	if edit != nil {
		edit(&v)
	}
	cat := &catalog.Catalog{CatalogVersion: catalog.FormatVersion, Serial: 1, LastUpdated: now, Expires: now.Add(time.Hour),
		Libraries: []catalog.Library{{ID: "lib-evil", Namespace: "@uDOS/evil", Name: "Evil", Version: "1.0.0", Author: "x", License: "MIT",
			EntryPoint: "lib/x.py", InstallPath: "library/evil", Dependencies: map[string]string{},
			Archive: catalog.Archive{URL: v.URL, Size: v.Size, SHA256: v.SHA256, SHA512: v.SHA512}, PublishedAt: now, Versions: []catalog.Version{v}}}}
	b, err := cat.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "catalog.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestHostileArchivesRefused: archives whose digest matches the catalog but
// that carry links, devices or escaping paths are refused and leave nothing.
func TestHostileArchivesRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		extra func(tw *tar.Writer)
		want  error
	}{
		{"symlink", func(tw *tar.Writer) {
			tw.WriteHeader(&tar.Header{Name: "lib/link", Linkname: "/etc/passwd", Typeflag: tar.TypeSymlink, Mode: 0o777})
		}, tarball.ErrLink},
		{"hardlink", func(tw *tar.Writer) {
			tw.WriteHeader(&tar.Header{Name: "lib/hard", Linkname: "lib/x.py", Typeflag: tar.TypeLink, Mode: 0o644})
		}, tarball.ErrLink},
		{"device", func(tw *tar.Writer) {
			tw.WriteHeader(&tar.Header{Name: "lib/null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3, Mode: 0o666})
		}, tarball.ErrSpecialFile},
		{"parent path", func(tw *tar.Writer) {
			tw.WriteHeader(&tar.Header{Name: "lib/../../evil", Typeflag: tar.TypeReg, Mode: 0o644})
		}, tarball.ErrUnsafePath},
		{"absolute path", func(tw *tar.Writer) {
			tw.WriteHeader(&tar.Header{Name: "/tmp/evil", Typeflag: tar.TypeReg, Mode: 0o644})
		}, tarball.ErrUnsafePath},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := localRegistry(t, hostilePackage(t, tc.extra))
			root := t.TempDir()
			if err := os.WriteFile(filepath.Join(root, "version.json"), []byte(`{"version":"1.5.0"}`), 0o644); err != nil {
				t.Fatal(err)
			}
			c := &Client{Paths: store.Paths{Root: root}, Registry: reg, Fetcher: fetch.New(nil)}
			if err := c.Begin(context.Background()); err != nil {
				t.Fatal(err)
			}
			defer c.End()
			_, err := c.Install(context.Background(), []Spec{{ID: "lib-evil"}})
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			for _, p := range []string{"library/evil", "library/lock.json", "library/.udos-lib/store/lib-evil/1.0.0"} {
				if _, err := os.Lstat(filepath.Join(root, p)); !os.IsNotExist(err) {
					t.Errorf("%s exists after a refused install", p)
				}
			}
		})
	}
}
