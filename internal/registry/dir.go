package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/fredbook/udos-dist/internal/assetname"
	"github.com/fredbook/udos-dist/internal/catalog"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/site"
	"github.com/fredbook/udos-dist/internal/udospkg"
)

// DirSource is the local mode: the packages are the *.udos-package files
// directly in Dir, each with its optional .asc beside it. They are copied
// into OUT/packages (with their manifests) and listed under URLs relative
// to the catalog, or absolute under BaseURL.
type DirSource struct {
	Dir string
	// BaseURL, when set, makes every URL in the catalog absolute
	// (BaseURL + "/packages/..."); otherwise URLs are relative to the catalog.
	BaseURL string
	// Keyring, when set, is the package signing policy: every package must
	// have a .asc that verifies against it.
	Keyring *pgpsign.Keyring
	// RequireSignatures refuses packages without a .asc even without a Keyring.
	RequireSignatures bool
}

// Collect reads and fully verifies every package of the folder. The folder
// is the maintainer's: any bad package, signature or name fails the run.
func (s *DirSource) Collect(ctx context.Context) (*Collection, error) {
	entries, err := os.ReadDir(s.Dir)
	if err != nil {
		return nil, fmt.Errorf("reading packages: %w", err)
	}
	var paths []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), assetname.PackageExt) {
			paths = append(paths, filepath.Join(s.Dir, e.Name()))
		}
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("%w in %q", ErrNoPackages, s.Dir)
	}
	sort.Strings(paths)
	col := &Collection{Published: map[string][]byte{}}
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := s.read(p, col); err != nil {
			return nil, err
		}
	}
	return col, nil
}

func (s *DirSource) read(p string, col *Collection) error {
	pkg, err := udospkg.Open(p)
	if err != nil {
		return err
	}
	if err := pkg.Verify(); err != nil {
		return fmt.Errorf("package %q: %w", p, err)
	}
	m := pkg.Manifest
	file := assetname.Package(m.ID, m.Version)
	if filepath.Base(p) != file {
		return fmt.Errorf("package %q holds %s %s and must be named %q", p, m.ID, m.Version, file)
	}
	manifest := assetname.PackageManifest(m.ID, m.Version)
	c := Candidate{Manifest: m, Where: p, Version: catalog.Version{Archive: catalog.Archive{
		URL:         s.url(PackagesDir + "/" + file),
		Size:        pkg.Size,
		SHA256:      pkg.SHA256,
		SHA512:      pkg.SHA512,
		ManifestURL: s.url(PackagesDir + "/" + manifest),
	}}}
	if c.Readme, err = readme(pkg); err != nil {
		return fmt.Errorf("package %q: %w", p, err)
	}
	if len(c.Readme) > site.MaxReadmeSize {
		col.Warnings = append(col.Warnings, fmt.Sprintf("%s: %s is larger than %d KiB: the site does not show it", file, site.ReadmeName, site.MaxReadmeSize>>10))
	}
	col.Published[PackagesDir+"/"+file] = pkg.Bytes()
	col.Published[PackagesDir+"/"+manifest] = pkg.ManifestJSON
	sigName := assetname.Signature(file)
	sig, err := os.ReadFile(assetname.Signature(p))
	switch {
	case err == nil:
		if s.Keyring != nil {
			if _, err := s.Keyring.VerifyDetached(bytes.NewReader(pkg.Bytes()), bytes.NewReader(sig)); err != nil {
				return fmt.Errorf("package %q: signature %q: %w", p, assetname.Signature(p), err)
			}
			c.Verified = true
		}
		c.Signed = true
		c.Version.SignatureURL = s.url(PackagesDir + "/" + sigName)
		col.Published[PackagesDir+"/"+sigName] = sig
	case errors.Is(err, fs.ErrNotExist):
		if s.Keyring != nil || s.RequireSignatures {
			return fmt.Errorf("package %q has no signature %q, and signatures are required", p, sigName)
		}
		col.Warnings = append(col.Warnings, fmt.Sprintf("%s has no signature (%s): listed unsigned", file, sigName))
	default:
		return fmt.Errorf("reading signature of %q: %w", p, err)
	}
	col.Candidates = append(col.Candidates, c)
	return nil
}

func (s *DirSource) url(rel string) string {
	if s.BaseURL == "" {
		return rel
	}
	return strings.TrimSuffix(s.BaseURL, "/") + "/" + rel
}

// readme is the package's README for the site (nil when it has none). One
// too large to show is cut just past site.MaxReadmeSize, so that the site
// says so (and caches keep no more of it).
func readme(pkg *udospkg.Package) ([]byte, error) {
	md, err := pkg.File(site.ReadmeName, udospkg.MaxPackageSize)
	if len(md) > site.MaxReadmeSize {
		md = md[:site.MaxReadmeSize+1]
	}
	return md, err
}
