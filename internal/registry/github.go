package registry

// This file is the GitHub mode: the packages are release assets of the
// repositories a registry config names, published by the publish-library
// action as <id>-v<version>.udos-package, its .asc and
// <id>-v<version>.manifest.json. Layout of the output folder:
//
//	OUT/catalog.json, OUT/catalog.json.asc
//	OUT/index/<id>.json
//	OUT/.registry-cache.json   (ETags and verified packages; the next run's cache)
//	OUT/site/                  (the Jekyll source GitHub Pages builds)
//
// Package URLs in the catalog are the assets' browser_download_url: the
// packages stay on GitHub Releases.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/google/go-github/v89/github"

	"github.com/fredbook/udos-dist/internal/catalog"
	"github.com/fredbook/udos-dist/internal/ghrelease"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/site"
	"github.com/fredbook/udos-dist/internal/udospkg"
)

// SiteDir is the folder of the Jekyll source inside the output folder.
const SiteDir = "site"

// GitHubOptions drive GenerateFromGitHub.
type GitHubOptions struct {
	// Config names the repositories and owners to read.
	Config *GitHubConfig
	// OutDir receives the registry. Its catalog.json and
	// .registry-cache.json from the previous run are the cache.
	OutDir string
	// Keyring holds the publishers' public keys: every package's .asc must
	// verify against it. Required.
	Keyring *pgpsign.Keyring
	// Signer signs catalog.json (and nothing else); nil leaves it unsigned.
	Signer *pgpsign.Signer
	// Expires overrides the config's lifetime (0: config, then DefaultExpires).
	Expires time.Duration
	// Now is the generation time (zero: time.Now()).
	Now time.Time
	// Site writes OUT/site (the Jekyll source) when true.
	Site bool
	// Log receives progress and problems, one line each (nil discards).
	Log io.Writer
	// Workers bounds concurrent repositories (default 4).
	Workers int
}

// GitHubProblem is a release or asset left out of the catalog, and why.
type GitHubProblem struct {
	Repository string `json:"repository"`
	Tag        string `json:"tag,omitempty"`
	Asset      string `json:"asset,omitempty"`
	Message    string `json:"message"`
}

func (p GitHubProblem) String() string {
	where := p.Repository
	if p.Tag != "" {
		where += "@" + p.Tag
	}
	if p.Asset != "" {
		where += " " + p.Asset
	}
	return where + ": " + p.Message
}

// GitHubResult summarises a GitHub-mode generation.
type GitHubResult struct {
	Result
	Repositories []string        `json:"repositories"`
	Releases     int             `json:"releases"`
	Downloaded   int             `json:"downloaded"` // package assets fetched and verified this run
	Cached       int             `json:"cached"`     // package assets known from the cache
	Problems     []GitHubProblem `json:"problems"`
	Site         string          `json:"site,omitempty"`
	Stats        ghrelease.Stats `json:"stats"`
}

// GitHubClient is what the GitHub mode needs of a ghrelease.Client.
type GitHubClient interface {
	ListReleases(ctx context.Context, owner, repo string) ([]*github.RepositoryRelease, error)
	ListOwnerRepos(ctx context.Context, owner string) ([]*github.Repository, error)
	DownloadAsset(ctx context.Context, asset *github.ReleaseAsset, w io.Writer) (ghrelease.DownloadResult, error)
	Stats() ghrelease.Stats
}

// NewGitHubCache opens the cache of outDir as an ETag store, to be passed
// as ghrelease.Config.ETags before GenerateFromGitHub (which saves it).
func NewGitHubCache(outDir string) (ghrelease.ETagStore, error) {
	return loadCache(filepath.Join(outDir, CacheFileName))
}

// contentError is a problem with what a release holds (as opposed to
// GitHub being unreachable): the version is left out and reported.
type contentError struct{ msg string }

func (e *contentError) Error() string { return e.msg }

func contentErr(format string, args ...any) error {
	return &contentError{msg: fmt.Sprintf(format, args...)}
}

type found struct {
	repo    string
	release *github.RepositoryRelease
	man     *udospkg.Manifest
	version catalog.Version
}

// GenerateFromGitHub rebuilds the whole catalog from the releases of the
// configured repositories. cache must be the store returned by
// NewGitHubCache for opts.OutDir and also given to gh (ghrelease.Config.ETags),
// so listings are conditional; package assets already verified (same
// digests) are not downloaded again. A failure to reach GitHub fails the
// run (a catalog missing a repository would delete its libraries); a
// release whose assets are incomplete or do not verify is reported in
// Problems and left out.
func GenerateFromGitHub(ctx context.Context, gh GitHubClient, cache ghrelease.ETagStore, opts GitHubOptions) (*GitHubResult, error) {
	if opts.Config == nil || opts.OutDir == "" {
		return nil, errors.New("the GitHub mode needs a registry config and an output folder")
	}
	if opts.Keyring == nil {
		return nil, errors.New("the GitHub mode needs the publishers' keyring to verify package signatures")
	}
	gc, ok := cache.(*ghCache)
	if !ok || gc == nil {
		return nil, errors.New("the cache must come from NewGitHubCache")
	}
	logf := func(format string, args ...any) {
		if opts.Log != nil {
			fmt.Fprintf(opts.Log, format+"\n", args...)
		}
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC().Truncate(time.Second)
	expires := opts.Expires
	if expires == 0 {
		expires = opts.Config.ExpiresIn(DefaultExpires)
	}
	if expires < 0 {
		return nil, fmt.Errorf("catalog lifetime %s must be positive", expires)
	}
	prev, err := readPrevious(filepath.Join(opts.OutDir, catalog.FileName))
	if err != nil {
		return nil, err
	}

	repos := append([]string(nil), opts.Config.Repositories...)
	for _, owner := range opts.Config.Owners {
		list, err := gh.ListOwnerRepos(ctx, owner)
		if err != nil {
			return nil, err
		}
		for _, r := range list {
			if r.GetArchived() {
				continue
			}
			repos = append(repos, r.GetFullName())
		}
	}
	repos = dedupRepos(repos, opts.Config.Exclude)
	res := &GitHubResult{Repositories: repos, Problems: []GitHubProblem{}}
	res.Warnings = []string{}

	// Repositories are read concurrently; results are merged in config
	// order so the outcome does not depend on timing.
	type repoOut struct {
		found    []found
		problems []GitHubProblem
		releases int
		down     int
		cached   int
		err      error
	}
	outs := make([]repoOut, len(repos))
	workers := opts.Workers
	if workers <= 0 {
		workers = 4
	}
	// The first failure stops the other repositories' work: the run fails
	// anyway.
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for i, full := range repos {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			o := &outs[i]
			defer func() {
				if o.err != nil {
					cancel()
				}
			}()
			if rctx.Err() != nil {
				o.err = rctx.Err()
				return
			}
			owner, name, _ := strings.Cut(full, "/")
			rels, err := gh.ListReleases(rctx, owner, name)
			if err != nil {
				o.err = err
				return
			}
			for _, rel := range rels {
				if rel.GetDraft() {
					continue
				}
				o.releases++
				f, probs, down, cached, err := readRelease(rctx, gh, gc, opts.Keyring, full, rel)
				if err != nil {
					o.err = err
					return
				}
				o.found = append(o.found, f...)
				o.problems = append(o.problems, probs...)
				o.down += down
				o.cached += cached
			}
		}()
	}
	wg.Wait()
	var firstErr error
	for _, o := range outs {
		if o.err != nil && (firstErr == nil || errors.Is(firstErr, context.Canceled)) {
			firstErr = o.err
		}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	var all []found
	for _, o := range outs {
		all = append(all, o.found...)
		res.Problems = append(res.Problems, o.problems...)
		res.Releases += o.releases
		res.Downloaded += o.down
		res.Cached += o.cached
	}

	// The serial is the previous one plus one, and at least the Unix time:
	// a runner that lost the previous catalog (a cold cache) still never
	// hands clients a serial they would refuse as a rollback.
	cat := &catalog.Catalog{CatalogVersion: catalog.FormatVersion, LastUpdated: now, Expires: now.Add(expires), Serial: now.Unix()}
	if prev != nil && prev.Serial >= cat.Serial {
		cat.Serial = prev.Serial + 1
	}
	// Versions are gathered one library at a time (AddVersion re-sorts the
	// whole catalog it is given), then the libraries are joined.
	perLib := map[string]*catalog.Catalog{}
	seen := map[string]found{}
	for _, f := range all {
		key := f.man.ID + "@" + f.man.Version
		if first, dup := seen[key]; dup {
			res.Problems = append(res.Problems, GitHubProblem{Repository: f.repo, Tag: f.release.GetTagName(), Asset: udospkg.FileName(f.man.ID, f.man.Version),
				Message: fmt.Sprintf("%s %s is also published by %s@%s; left out", f.man.ID, f.man.Version, first.repo, first.release.GetTagName())})
			continue
		}
		if prev != nil {
			if pl, ok := prev.Find(f.man.ID); ok {
				if pv, ok := pl.FindVersion(f.man.Version); ok && pv.SHA256 != f.version.SHA256 {
					res.Problems = append(res.Problems, GitHubProblem{Repository: f.repo, Tag: f.release.GetTagName(), Asset: udospkg.FileName(f.man.ID, f.man.Version),
						Message: fmt.Errorf("%w: %s %s was in the catalog with sha256 %s, the release now has %s; left out (publish a new version instead)",
							ErrChangedVersion, f.man.ID, f.man.Version, pv.SHA256, f.version.SHA256).Error()})
					continue
				}
			}
		}
		seen[key] = f
		lc := perLib[f.man.ID]
		if lc == nil {
			lc = &catalog.Catalog{}
			perLib[f.man.ID] = lc
		}
		if err := lc.AddVersion(f.man, f.version); err != nil {
			res.Problems = append(res.Problems, GitHubProblem{Repository: f.repo, Tag: f.release.GetTagName(), Message: err.Error()})
			delete(seen, key)
			continue
		}
		res.Packages = append(res.Packages, Package{File: udospkg.FileName(f.man.ID, f.man.Version), ID: f.man.ID, Version: f.man.Version,
			Size: f.version.Size, SHA256: f.version.SHA256, Signed: true, SignatureVerified: true, New: prev == nil || !inCatalog(prev, f.man.ID, f.man.Version)})
		res.Versions++
	}
	sort.Slice(res.Packages, func(i, j int) bool { return res.Packages[i].File < res.Packages[j].File })
	sort.SliceStable(res.Problems, func(i, j int) bool { return res.Problems[i].String() < res.Problems[j].String() })
	for _, p := range res.Problems {
		logf("registry-gen: left out: %s", p)
	}
	ids := make([]string, 0, len(perLib))
	for id := range perLib {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		cat.Libraries = append(cat.Libraries, perLib[id].Libraries...)
	}
	res.Libraries = len(cat.Libraries)

	catJSON, err := cat.Marshal()
	if err != nil {
		return nil, fmt.Errorf("encoding catalog: %w", err)
	}
	if _, err := catalog.Parse(catJSON); err != nil {
		return nil, fmt.Errorf("generated catalog does not validate: %w", err)
	}
	var catSig []byte
	if opts.Signer != nil {
		if catSig, err = opts.Signer.SignDetached(bytes.NewReader(catJSON)); err != nil {
			return nil, fmt.Errorf("signing catalog: %w", err)
		}
		res.Signer = opts.Signer.Fingerprint()
	} else {
		res.Warnings = append(res.Warnings, "the catalog is not signed: clients will refuse it")
	}
	indexes, err := site.LibraryIndexes(catJSON)
	if err != nil {
		return nil, err
	}

	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating output folder: %w", err)
	}
	cacheJSON, err := gc.marshal()
	if err != nil {
		return nil, fmt.Errorf("encoding registry cache: %w", err)
	}
	if err := writeFile(filepath.Join(opts.OutDir, CacheFileName), cacheJSON); err != nil {
		return nil, err
	}
	if err := writeIndexes(filepath.Join(opts.OutDir, IndexDir), indexes); err != nil {
		return nil, err
	}
	if opts.Site {
		files := map[string][]byte{}
		for k, v := range indexes {
			files[k] = v
		}
		if catSig != nil {
			files[catalog.SignatureName] = catSig
		}
		res.Site = filepath.Join(opts.OutDir, SiteDir)
		if err := site.Write(res.Site, catJSON, site.Options{Files: files}); err != nil {
			return nil, err
		}
	}
	catPath, sigPath, err := writeCatalog(opts.OutDir, catJSON, catSig)
	if err != nil {
		return nil, err
	}
	res.Signature = sigPath
	res.Catalog, res.Serial, res.Expires = catPath, cat.Serial, cat.Expires
	res.Stats = gh.Stats()
	return res, nil
}

func inCatalog(c *catalog.Catalog, id, version string) bool {
	l, ok := c.Find(id)
	if !ok {
		return false
	}
	_, ok = l.FindVersion(version)
	return ok
}

// writeIndexes replaces the index folder's *.json with files (keys
// "index/<id>.json").
func writeIndexes(dir string, files map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %q: %w", dir, err)
	}
	old, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	keep := map[string]bool{}
	for name, data := range files {
		p := filepath.Join(dir, filepath.Base(name))
		keep[p] = true
		if old, err := os.ReadFile(p); err == nil && bytes.Equal(old, data) {
			continue // unchanged: no rewrite (and no fsync)
		}
		if err := writeFile(p, data); err != nil {
			return err
		}
	}
	for _, p := range old {
		if !keep[p] {
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("removing stale index %q: %w", p, err)
			}
		}
	}
	return nil
}

// splitPackageName parses "<id>-v<version>.udos-package". The version is
// the first "-v" split whose remainder is a valid semantic version, so both
// "lib-x-v1.0.0-vendor" and "lib-dev-v2-v1.0.0" split right.
func splitPackageName(name string) (id, version string, ok bool) {
	base, isPkg := strings.CutSuffix(name, udospkg.Extension)
	if !isPkg {
		return "", "", false
	}
	for i := 0; i+2 < len(base); i++ {
		if i == 0 || base[i] != '-' || base[i+1] != 'v' {
			continue
		}
		if _, err := semver.StrictNewVersion(base[i+2:]); err == nil {
			return base[:i], base[i+2:], true
		}
	}
	return "", "", false
}

func yankedRelease(rel *github.RepositoryRelease) bool {
	return strings.Contains(strings.ToLower(rel.GetName()), "[yanked]")
}

// readRelease takes every package of one published release with its
// signature and manifest assets. err is only for GitHub being unreachable.
func readRelease(ctx context.Context, gh GitHubClient, cache *ghCache, kr *pgpsign.Keyring, repo string, rel *github.RepositoryRelease) (out []found, probs []GitHubProblem, downloaded, cached int, err error) {
	tag := rel.GetTagName()
	assets := map[string]*github.ReleaseAsset{}
	starter := map[string]bool{}
	for _, a := range rel.Assets {
		if a.GetState() != "" && a.GetState() != "uploaded" {
			starter[a.GetName()] = true
			continue
		}
		assets[a.GetName()] = a
	}
	names := make([]string, 0, len(assets)+len(starter))
	for n := range assets {
		names = append(names, n)
	}
	for n := range starter {
		names = append(names, n)
	}
	sort.Strings(names)
	problem := func(asset, format string, args ...any) {
		probs = append(probs, GitHubProblem{Repository: repo, Tag: tag, Asset: asset, Message: fmt.Sprintf(format, args...)})
	}
	published := rel.GetPublishedAt().Time.UTC().Truncate(time.Second)
	if published.IsZero() {
		published = rel.GetCreatedAt().Time.UTC().Truncate(time.Second)
	}
	for _, name := range names {
		id, version, isPkg := splitPackageName(name)
		if !isPkg {
			continue
		}
		if starter[name] {
			problem(name, "the package upload did not complete (asset state starter); left out")
			continue
		}
		pa := assets[name]
		sa := assets[name+".asc"]
		ma := assets[id+"-v"+version+".manifest.json"]
		switch {
		case sa == nil:
			problem(name, "half-published: no signature asset %s.asc; left out", name)
			continue
		case ma == nil:
			problem(name, "half-published: no manifest asset %s-v%s.manifest.json; left out", id, version)
			continue
		}
		key := pa.GetBrowserDownloadURL()
		v := catalog.Version{
			URL:          key,
			SignatureURL: sa.GetBrowserDownloadURL(),
			ManifestURL:  ma.GetBrowserDownloadURL(),
			PublishedAt:  published,
			Yanked:       yankedRelease(rel),
		}
		cp, hit := cache.pkg(key)
		if hit && cp.PackageDigest != "" && cp.PackageDigest == assetIdentity(pa) && cp.SignatureDigest == assetIdentity(sa) && cp.ManifestDigest == assetIdentity(ma) {
			if cp.Problem != "" {
				problem(name, "%s; left out", cp.Problem)
				cache.keep(key, cp)
				continue
			}
			m, perr := udospkg.ParseManifest(cp.Manifest)
			if perr == nil {
				v.Size, v.SHA256, v.SHA512 = cp.Size, cp.SHA256, cp.SHA512
				fillRepository(m, repo)
				out = append(out, found{repo: repo, release: rel, man: m, version: v})
				cache.keep(key, cp)
				cached++
				continue
			}
		}
		cp, derr := fetchPackage(ctx, gh, kr, pa, sa, ma, id, version)
		var ce *contentError
		if errors.As(derr, &ce) {
			problem(name, "%v; left out", derr)
			// Remember the verdict: the same assets are not fetched again.
			cache.keep(key, cachedPackage{PackageDigest: assetIdentity(pa), SignatureDigest: assetIdentity(sa), ManifestDigest: assetIdentity(ma), Problem: ce.msg})
			continue
		}
		if derr != nil {
			return nil, nil, 0, 0, fmt.Errorf("%s@%s: %w", repo, tag, derr)
		}
		downloaded++
		m, _ := udospkg.ParseManifest(cp.Manifest) // checked by fetchPackage
		v.Size, v.SHA256, v.SHA512 = cp.Size, cp.SHA256, cp.SHA512
		fillRepository(m, repo)
		out = append(out, found{repo: repo, release: rel, man: m, version: v})
		cache.keep(key, cp)
	}
	return out, probs, downloaded, cached, nil
}

// assetIdentity is what says an asset has not changed: GitHub's digest
// ("sha256:…"), or, for assets uploaded before GitHub computed digests, its
// id, size and update time (a replaced asset gets a new id).
func assetIdentity(a *github.ReleaseAsset) string {
	if d := a.GetDigest(); d != "" {
		return d
	}
	return fmt.Sprintf("id:%d size:%d updated:%s", a.GetID(), a.GetSize(), a.GetUpdatedAt().UTC().Format(time.RFC3339))
}

// fillRepository names the repository the release came from when the
// manifest does not say.
func fillRepository(m *udospkg.Manifest, repo string) {
	if m.Repository == "" {
		m.Repository = repo
	}
}

// fetchPackage downloads and verifies one package with its signature and
// manifest. A *contentError is about the assets themselves.
func fetchPackage(ctx context.Context, gh GitHubClient, kr *pgpsign.Keyring, pa, sa, ma *github.ReleaseAsset, id, version string) (cachedPackage, error) {
	get := func(a *github.ReleaseAsset, limit int64) ([]byte, error) {
		if int64(a.GetSize()) > limit {
			return nil, contentErr("%s is %d bytes, more than %d", a.GetName(), a.GetSize(), limit)
		}
		var buf bytes.Buffer
		if _, err := gh.DownloadAsset(ctx, a, &buf); err != nil {
			if strings.Contains(err.Error(), "does not match GitHub's digest") || strings.Contains(err.Error(), "GitHub lists") {
				return nil, contentErr("%v", err)
			}
			return nil, err
		}
		return buf.Bytes(), nil
	}
	data, err := get(pa, udospkg.MaxPackageSize)
	if err != nil {
		return cachedPackage{}, err
	}
	sig, err := get(sa, 1<<20)
	if err != nil {
		return cachedPackage{}, err
	}
	manJSON, err := get(ma, 4<<20)
	if err != nil {
		return cachedPackage{}, err
	}
	pkg, err := udospkg.Read(bytes.NewReader(data))
	if err != nil {
		return cachedPackage{}, contentErr("%v", err)
	}
	if err := pkg.Verify(); err != nil {
		return cachedPackage{}, contentErr("%v", err)
	}
	who, err := kr.VerifyDetached(bytes.NewReader(data), bytes.NewReader(sig))
	if err != nil {
		return cachedPackage{}, contentErr("signature: %v", err)
	}
	if pkg.Manifest.ID != id || pkg.Manifest.Version != version {
		return cachedPackage{}, contentErr("the package holds %s %s, its name says %s %s", pkg.Manifest.ID, pkg.Manifest.Version, id, version)
	}
	if !sameJSON(manJSON, pkg.ManifestJSON) {
		return cachedPackage{}, contentErr("the manifest asset differs from the package's manifest.json")
	}
	return cachedPackage{
		PackageDigest: assetIdentity(pa), SignatureDigest: assetIdentity(sa), ManifestDigest: assetIdentity(ma),
		Size: pkg.Size, SHA256: pkg.SHA256, SHA512: pkg.SHA512,
		Manifest: json.RawMessage(pkg.ManifestJSON), Signer: who.Fingerprint,
	}, nil
}

func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}
