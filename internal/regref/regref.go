// Package regref decides where a registry's catalog, and a lockfile made
// from it, may send the client (docs/FORMATS.md, "Where references may
// point"). A reference is a package's or a signature's url: relative to
// the catalog, or an absolute http(s) URL. A remote catalog may point only
// at http(s) URLs; a folder registry only at files inside its folder. Every
// other form — file:// and other schemes, absolute paths, ../ escapes,
// backslashes — is refused before anything is opened.
package regref

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/fredbook/udos-dist/internal/clip"
)

// ErrRefused is wrapped by every refusal.
var ErrRefused = errors.New("reference refused")

// IsRemote reports whether loc is an http(s) URL rather than a local path.
func IsRemote(loc string) bool {
	return strings.HasPrefix(loc, "http://") || strings.HasPrefix(loc, "https://")
}

// Base is where one registry's references resolve from.
type Base struct {
	url *url.URL // the catalog's URL; nil for a folder registry
	dir string   // the folder holding catalog.json (absolute); "" for a URL
}

// NewBase returns the base of the catalog at loc: an http(s) URL of
// catalog.json, or the absolute path of a local catalog.json.
func NewBase(loc string) (Base, error) {
	if IsRemote(loc) {
		u, err := url.Parse(loc)
		if err != nil || u.Host == "" {
			return Base{}, fmt.Errorf("registry URL %s is not a valid http(s) URL", clip.Quote(loc))
		}
		return Base{url: u}, nil
	}
	if !filepath.IsAbs(loc) {
		return Base{}, fmt.Errorf("catalog path %s is not absolute", clip.Quote(loc))
	}
	return Base{dir: filepath.Dir(loc)}, nil
}

// Remote reports whether the registry is served over http(s).
func (b Base) Remote() bool { return b.url != nil }

// String is the registry's location: the catalog URL or the folder.
func (b Base) String() string {
	if b.url != nil {
		return b.url.String()
	}
	return b.dir
}

// Resolve turns ref into what to fetch: an http(s) URL for a remote
// registry, a path inside the folder for a folder registry. Anything else
// is an error wrapping ErrRefused.
func (b Base) Resolve(ref string) (string, error) {
	if b.url == nil && b.dir == "" {
		return "", fmt.Errorf("%w: %s: no registry to resolve it against", ErrRefused, clip.Quote(ref))
	}
	if b.url != nil {
		r, err := url.Parse(ref)
		if err != nil {
			return "", fmt.Errorf("%w: %s is not a URL: %v", ErrRefused, clip.Quote(ref), err)
		}
		if r.Scheme != "" && r.Scheme != "http" && r.Scheme != "https" {
			return "", fmt.Errorf("%w: %s: a remote catalog may point only at http(s) URLs", ErrRefused, clip.Quote(ref))
		}
		u := b.url.ResolveReference(r)
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "", fmt.Errorf("%w: %s: a remote catalog may point only at http(s) URLs", ErrRefused, clip.Quote(ref))
		}
		return u.String(), nil
	}
	rel, err := insidePath(ref)
	if err != nil {
		return "", fmt.Errorf("%w: %s: a folder registry may point only at files inside %s (%v)", ErrRefused, clip.Quote(ref), b.dir, err)
	}
	full := filepath.Join(b.dir, filepath.FromSlash(rel))
	// A symlink inside the folder must not lead out of it either.
	if real, err := filepath.EvalSymlinks(full); err == nil {
		dir, derr := filepath.EvalSymlinks(b.dir)
		if derr != nil {
			dir = b.dir
		}
		if r, err := filepath.Rel(dir, real); err != nil || r == ".." || strings.HasPrefix(r, ".."+string(os.PathSeparator)) {
			return "", fmt.Errorf("%w: %s: a folder registry may point only at files inside %s (it is a link to %s)", ErrRefused, clip.Quote(ref), b.dir, real)
		}
	}
	return full, nil
}

// insidePath checks that ref is a relative slash path that stays inside its
// base and returns it cleaned.
func insidePath(ref string) (string, error) {
	switch {
	case ref == "":
		return "", errors.New("empty")
	case strings.ContainsAny(ref, "\\\x00"):
		return "", errors.New("backslash or NUL in a path")
	case strings.HasPrefix(ref, "/"):
		return "", errors.New("absolute path")
	}
	if i := strings.IndexAny(ref, ":/"); i > 0 && ref[i] == ':' {
		return "", fmt.Errorf("%s: URL", ref[:i])
	}
	clean := path.Clean(ref)
	if clean == "." || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", errors.New("leaves the registry")
	}
	return clean, nil
}

// Check reports whether ref may be recorded in a lockfile: a relative path
// inside the registry or an absolute http(s) URL.
func Check(ref string) error {
	if IsRemote(ref) {
		u, err := url.Parse(ref)
		if err != nil || u.Host == "" {
			return fmt.Errorf("%w: %s is not a valid http(s) URL", ErrRefused, clip.Quote(ref))
		}
		return nil
	}
	if _, err := insidePath(ref); err != nil {
		return fmt.Errorf("%w: %s is neither a path inside the registry nor an http(s) URL (%v)", ErrRefused, clip.Quote(ref), err)
	}
	return nil
}

// Relative is what a lockfile records for loc, a location Resolve
// returned: the path relative to the registry when loc is inside it (so the
// lockfile works with the same registry at another URL or folder), loc
// itself otherwise (a package hosted elsewhere, such as a GitHub release
// asset).
func (b Base) Relative(loc string) string {
	if b.url != nil {
		u, err := url.Parse(loc)
		if err != nil || u.Scheme != b.url.Scheme || u.Host != b.url.Host || u.RawQuery != "" || u.Fragment != "" {
			return loc
		}
		dir := b.url.Path[:strings.LastIndex(b.url.Path, "/")+1]
		if rel, ok := strings.CutPrefix(u.Path, dir); ok && rel != "" {
			if _, err := insidePath(rel); err == nil {
				return (&url.URL{Path: rel}).String()
			}
		}
		return loc
	}
	if b.dir == "" || !filepath.IsAbs(loc) {
		return loc
	}
	rel, err := filepath.Rel(b.dir, loc)
	if err != nil {
		return loc
	}
	rel = filepath.ToSlash(rel)
	if _, err := insidePath(rel); err != nil {
		return loc
	}
	return rel
}
