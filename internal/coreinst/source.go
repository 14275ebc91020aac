package coreinst

import (
	"context"
	"fmt"
	"github.com/fredbook/udos-dist/internal/fetch"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/google/go-github/v89/github"

	"github.com/fredbook/udos-dist/internal/assetname"
	"github.com/fredbook/udos-dist/internal/ghrelease"
	"github.com/fredbook/udos-dist/internal/regref"
)

// DefaultRepository is the SOURCE when none is given: the uDOS repository's
// GitHub Releases.
const DefaultRepository = "fredbook/uDOS"

// Source is where releases come from: a GitHub repository's releases, an
// http(s) URL prefix or a local folder, each holding per release
// v<version>-manifest.json, its .asc and the assets under the names the
// manifest gives.
type Source interface {
	// String is how the user named the source (recorded in the prefix).
	String() string
	// Versions lists the releases the source offers ("1.4.6"), any order.
	Versions(ctx context.Context) ([]string, error)
	// Locate returns the URL or local path of one file of a release.
	Locate(ctx context.Context, version, name string) (string, error)
}

// Getter reads a small file (an index page) from a URL or path; the
// library fetcher is one.
type Getter interface {
	Get(ctx context.Context, loc string, cond fetch.Validators, max int64) (fetch.Result, error)
}

// ParseSource reads SOURCE: "OWNER/NAME" (GitHub, through gh), an http(s)
// URL prefix, or a local folder (a path that exists, or one starting with
// "/", "." or "~"). gh may be nil when no GitHub source is wanted; it is
// called only for a GitHub source.
func ParseSource(s string, get Getter, gh func() (*ghrelease.Client, error)) (Source, error) {
	switch {
	case s == "":
		s = DefaultRepository
	case regref.IsRemote(s):
		if _, err := url.Parse(s); err != nil {
			return nil, fmt.Errorf("source %q: %w", s, err)
		}
		return &urlSource{prefix: strings.TrimSuffix(s, "/"), get: get}, nil
	case strings.HasPrefix(s, "file://"):
		return &folderSource{dir: strings.TrimPrefix(s, "file://")}, nil
	}
	if fi, err := os.Stat(s); err == nil && fi.IsDir() || strings.HasPrefix(s, "/") || strings.HasPrefix(s, ".") {
		abs, err := filepath.Abs(s)
		if err != nil {
			return nil, fmt.Errorf("source %q: %w", s, err)
		}
		return &folderSource{dir: abs}, nil
	}
	repo, err := ghrelease.ParseRepo(s)
	if err != nil {
		return nil, fmt.Errorf("source %q is neither a folder, an http(s) URL nor a GitHub OWNER/NAME: %w", s, err)
	}
	if gh == nil {
		return nil, fmt.Errorf("source %q: GitHub sources are not available here", s)
	}
	c, err := gh()
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", s, err)
	}
	return &githubSource{repo: repo, gh: c, releases: map[string]*github.RepositoryRelease{}}, nil
}

// versionsOf keeps the names that are release manifests.
func versionsOf(names []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range names {
		if v, ok := assetname.ParseReleaseManifest(n); ok && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

type folderSource struct{ dir string }

func (s *folderSource) String() string { return s.dir }

func (s *folderSource) Versions(context.Context) ([]string, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("listing releases in %s: %w", s.dir, err)
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return versionsOf(names), nil
}

func (s *folderSource) Locate(_ context.Context, _ string, name string) (string, error) {
	if err := plainName(name); err != nil {
		return "", err
	}
	return filepath.Join(s.dir, name), nil
}

// plainName refuses a manifest's file name that would leave the source.
func plainName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\") {
		return fmt.Errorf("file name %q is not a plain file name", name)
	}
	return nil
}

// urlSource is a flat URL prefix (a mirror, GitHub Pages, any static
// server). Its releases are listed the way pip's --find-links reads a
// folder: the links of the index page at the prefix.
type urlSource struct {
	prefix string
	get    Getter
}

func (s *urlSource) String() string { return s.prefix }

var hrefRe = regexp.MustCompile(`(?i)href\s*=\s*["']?([^"' >]+)`)

func (s *urlSource) Versions(ctx context.Context) ([]string, error) {
	res, err := s.get.Get(ctx, s.prefix+"/", fetch.Validators{}, 4<<20)
	if err != nil {
		return nil, fmt.Errorf("listing releases at %s (the prefix must serve an index page; or name the version): %w", s.prefix, err)
	}
	var names []string
	for _, m := range hrefRe.FindAllStringSubmatch(string(res.Body), -1) {
		ref := m[1]
		if u, err := url.Parse(ref); err == nil {
			ref = u.Path
		}
		if un, err := url.PathUnescape(ref); err == nil {
			ref = un
		}
		names = append(names, ref[strings.LastIndex(ref, "/")+1:])
	}
	return versionsOf(names), nil
}

func (s *urlSource) Locate(_ context.Context, _ string, name string) (string, error) {
	if err := plainName(name); err != nil {
		return "", err
	}
	return s.prefix + "/" + url.PathEscape(name), nil
}

// githubSource reads a repository's published releases (tag v<version>)
// through ghrelease; assets are downloaded from their browser_download_url
// so that Range requests resume them.
type githubSource struct {
	repo     ghrelease.Repo
	gh       *ghrelease.Client
	mu       sync.Mutex
	releases map[string]*github.RepositoryRelease
}

func (s *githubSource) String() string { return s.repo.String() }

func (s *githubSource) Versions(ctx context.Context) ([]string, error) {
	rels, err := s.gh.ListReleases(ctx, s.repo.Owner, s.repo.Name)
	if err != nil {
		return nil, fmt.Errorf("listing the releases of %s: %w", s.repo, err)
	}
	var out []string
	for _, r := range rels {
		if r.GetDraft() || r.GetPrerelease() {
			continue
		}
		tag := r.GetTagName()
		if !strings.HasPrefix(tag, "v") || !versionRe.MatchString(tag[1:]) {
			continue
		}
		has := false
		for _, a := range r.Assets {
			if a.GetName() == assetname.ReleaseManifest(tag[1:]) {
				has = true
			}
		}
		if has {
			out = append(out, tag[1:])
		}
	}
	return out, nil
}

func (s *githubSource) Locate(ctx context.Context, version, name string) (string, error) {
	if err := plainName(name); err != nil {
		return "", err
	}
	s.mu.Lock()
	rel := s.releases[version]
	s.mu.Unlock()
	if rel == nil {
		r, err := s.gh.FindRelease(ctx, s.repo.Owner, s.repo.Name, "v"+version)
		if err != nil {
			return "", fmt.Errorf("release v%s of %s: %w", version, s.repo, err)
		}
		if r == nil || r.GetDraft() {
			return "", fmt.Errorf("%s has no published release v%s", s.repo, version)
		}
		s.mu.Lock()
		s.releases[version], rel = r, r
		s.mu.Unlock()
	}
	for _, a := range rel.Assets {
		if a.GetName() == name {
			if u := a.GetBrowserDownloadURL(); u != "" {
				return u, nil
			}
		}
	}
	return "", fmt.Errorf("release v%s of %s has no asset %q", version, s.repo, name)
}

var versionRe = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$`)
