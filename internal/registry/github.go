package registry

// The GitHub mode's source: the packages are release assets published by
// the publish-library action, three per version (assetname.Package, its
// assetname.Signature and assetname.PackageManifest).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v89/github"

	"github.com/fredbook/udos-dist/internal/assetname"
	"github.com/fredbook/udos-dist/internal/canonjson"
	"github.com/fredbook/udos-dist/internal/catalog"
	"github.com/fredbook/udos-dist/internal/ghrelease"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/udospkg"
)

// GitHubSource is the GitHub mode: the packages are release assets of the
// repositories Config names. Package URLs in the catalog are the assets'
// browser_download_url: the packages stay on GitHub Releases.
type GitHubSource struct {
	// Config names the repositories and owners to read.
	Config *GitHubConfig
	// Client reads GitHub; it should use Cache as its ETag store
	// (ghrelease.Config.ETags), so unchanged listings cost a 304.
	Client GitHubClient
	// Cache is the previous run's knowledge, opened from the output folder
	// with OpenGitHubCache; Collect hands it back as State to be saved.
	Cache *GitHubCache
	// Keyring holds the publishers' public keys: every package's .asc must
	// verify against it. Required.
	Keyring *pgpsign.Keyring
	// Workers bounds concurrent repositories (default 4).
	Workers int

	report GitHubReport
}

// GitHubReport is what a GitHubSource did, for summaries.
type GitHubReport struct {
	Repositories []string        `json:"repositories"`
	Releases     int             `json:"releases"`
	Downloaded   int             `json:"downloaded"` // package assets fetched and verified this run
	Cached       int             `json:"cached"`     // package assets known from the cache
	Stats        ghrelease.Stats `json:"stats"`
}

// Report returns what the last Collect did.
func (s *GitHubSource) Report() GitHubReport { return s.report }

// GitHubClient is what the GitHub mode needs of a ghrelease.Client.
type GitHubClient interface {
	ListReleases(ctx context.Context, owner, repo string) ([]*github.RepositoryRelease, error)
	ListOwnerRepos(ctx context.Context, owner string) ([]*github.Repository, error)
	DownloadAsset(ctx context.Context, asset *github.ReleaseAsset, w io.Writer) (ghrelease.DownloadResult, error)
	Stats() ghrelease.Stats
}

// contentError is a problem with what a release holds (as opposed to
// GitHub being unreachable): the version is left out and reported.
type contentError struct{ msg string }

func (e *contentError) Error() string { return e.msg }

func contentErr(format string, args ...any) error {
	return &contentError{msg: fmt.Sprintf(format, args...)}
}

// Collect reads the releases of every configured repository as they are
// now. Package assets already verified (same digests) are not downloaded
// again. A failure to reach GitHub fails the run (a catalog missing a
// repository would delete its libraries); a release whose assets are
// incomplete or do not verify is reported in Problems and left out.
func (s *GitHubSource) Collect(ctx context.Context) (*Collection, error) {
	if s.Config == nil || s.Client == nil || s.Cache == nil {
		return nil, errors.New("the GitHub mode needs a registry config, a client and the cache of the output folder")
	}
	if s.Keyring == nil {
		return nil, errors.New("the GitHub mode needs the publishers' keyring to verify package signatures")
	}
	repos := append([]string(nil), s.Config.Repositories...)
	for _, owner := range s.Config.Owners {
		list, err := s.Client.ListOwnerRepos(ctx, owner)
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
	repos = dedupRepos(repos, s.Config.Exclude)
	s.report = GitHubReport{Repositories: repos}

	// Repositories are read concurrently; results are merged in config
	// order so the outcome does not depend on timing.
	type repoOut struct {
		found    []Candidate
		problems []Problem
		releases int
		down     int
		cached   int
		err      error
	}
	outs := make([]repoOut, len(repos))
	workers := s.Workers
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
			repo, err := ghrelease.ParseRepo(full)
			if err != nil {
				o.err = err
				return
			}
			rels, err := s.Client.ListReleases(rctx, repo.Owner, repo.Name)
			if err != nil {
				o.err = err
				return
			}
			for _, rel := range rels {
				if rel.GetDraft() {
					continue
				}
				o.releases++
				f, probs, down, cached, err := s.readRelease(rctx, full, rel)
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
	col := &Collection{ReportConflicts: true, SourceDates: true, Problems: []Problem{}}
	for _, o := range outs {
		col.Candidates = append(col.Candidates, o.found...)
		col.Problems = append(col.Problems, o.problems...)
		s.report.Releases += o.releases
		s.report.Downloaded += o.down
		s.report.Cached += o.cached
	}
	cacheJSON, err := s.Cache.marshal()
	if err != nil {
		return nil, fmt.Errorf("encoding registry cache: %w", err)
	}
	col.State = map[string][]byte{CacheFileName: cacheJSON}
	s.report.Stats = s.Client.Stats()
	return col, nil
}

func yankedRelease(rel *github.RepositoryRelease) bool {
	return strings.Contains(strings.ToLower(rel.GetName()), "[yanked]")
}

// readRelease takes every package of one published release with its
// signature and manifest assets. err is only for GitHub being unreachable.
func (s *GitHubSource) readRelease(ctx context.Context, repo string, rel *github.RepositoryRelease) (out []Candidate, probs []Problem, downloaded, cached int, err error) {
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
		probs = append(probs, Problem{Repository: repo, Tag: tag, Asset: asset, Message: fmt.Sprintf(format, args...)})
	}
	published := rel.GetPublishedAt().Time.UTC().Truncate(time.Second)
	if published.IsZero() {
		published = rel.GetCreatedAt().Time.UTC().Truncate(time.Second)
	}
	for _, name := range names {
		id, version, isPkg := assetname.ParsePackage(name)
		if !isPkg {
			continue
		}
		if starter[name] {
			problem(name, "the package upload did not complete (asset state starter); left out")
			continue
		}
		sigName, manName := assetname.Signature(name), assetname.PackageManifest(id, version)
		pa, sa, ma := assets[name], assets[sigName], assets[manName]
		switch {
		case sa == nil:
			problem(name, "half-published: no signature asset %s; left out", sigName)
			continue
		case ma == nil:
			problem(name, "half-published: no manifest asset %s; left out", manName)
			continue
		}
		key := pa.GetBrowserDownloadURL()
		c := Candidate{Where: repo + "@" + tag, Repository: repo, Tag: tag, Signed: true, Verified: true, Version: catalog.Version{
			Archive:     catalog.Archive{URL: key, SignatureURL: sa.GetBrowserDownloadURL(), ManifestURL: ma.GetBrowserDownloadURL()},
			PublishedAt: published,
			Yanked:      yankedRelease(rel),
			// GitHub counts every download of the asset.
			Downloads: int64(pa.GetDownloadCount()),
		}}
		ids := assetIDs{pa: assetIdentity(pa), sa: assetIdentity(sa), ma: assetIdentity(ma)}
		cp, hit := s.Cache.pkg(key)
		if hit && cp.PackageDigest != "" && cp.identities() == ids {
			if cp.Problem != "" {
				problem(name, "%s; left out", cp.Problem)
				s.Cache.keep(key, cp)
				continue
			}
			if m, perr := udospkg.ParseManifest(cp.Manifest); perr == nil {
				out = append(out, c.withPackage(m, cp, repo))
				s.Cache.keep(key, cp)
				cached++
				continue
			}
		}
		cp, derr := s.fetchPackage(ctx, pa, sa, ma, id, version)
		var ce *contentError
		if errors.As(derr, &ce) {
			problem(name, "%v; left out", derr)
			// Remember the verdict: the same assets are not fetched again.
			cache := cachedPackage{Problem: ce.msg}
			cache.setIdentities(ids)
			s.Cache.keep(key, cache)
			continue
		}
		if derr != nil {
			return nil, nil, 0, 0, fmt.Errorf("%s@%s: %w", repo, tag, derr)
		}
		downloaded++
		m, _ := udospkg.ParseManifest(cp.Manifest) // checked by fetchPackage
		out = append(out, c.withPackage(m, cp, repo))
		s.Cache.keep(key, cp)
	}
	return out, probs, downloaded, cached, nil
}

// withPackage completes c from its verified package, whether fetched now
// or remembered by the cache: the manifest, digests, size and readme.
func (c Candidate) withPackage(m *udospkg.Manifest, cp cachedPackage, repo string) Candidate {
	c.Manifest = m
	c.Version.Size, c.Version.SHA256, c.Version.SHA512 = cp.Size, cp.SHA256, cp.SHA512
	c.Readme = cp.readme()
	fillRepository(m, repo)
	return c
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
func (s *GitHubSource) fetchPackage(ctx context.Context, pa, sa, ma *github.ReleaseAsset, id, version string) (cachedPackage, error) {
	get := func(a *github.ReleaseAsset, limit int64) ([]byte, error) {
		if int64(a.GetSize()) > limit {
			return nil, contentErr("%s is %d bytes, more than %d", a.GetName(), a.GetSize(), limit)
		}
		var buf bytes.Buffer
		if _, err := s.Client.DownloadAsset(ctx, a, &buf); err != nil {
			if mismatch := (*ghrelease.AssetMismatchError)(nil); errors.As(err, &mismatch) {
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
	who, err := s.Keyring.VerifyDetached(bytes.NewReader(data), bytes.NewReader(sig))
	if err != nil {
		return cachedPackage{}, contentErr("signature: %v", err)
	}
	if pkg.Manifest.ID != id || pkg.Manifest.Version != version {
		return cachedPackage{}, contentErr("the package holds %s %s, its name says %s %s", pkg.Manifest.ID, pkg.Manifest.Version, id, version)
	}
	if !sameJSON(manJSON, pkg.ManifestJSON) {
		return cachedPackage{}, contentErr("the manifest asset differs from the package's manifest.json")
	}
	cp := cachedPackage{
		Size: pkg.Size, SHA256: pkg.SHA256, SHA512: pkg.SHA512,
		Manifest: json.RawMessage(pkg.ManifestJSON), Signer: who.Fingerprint,
	}
	md, err := readme(pkg)
	if err != nil {
		return cachedPackage{}, contentErr("%v", err)
	}
	if md != nil {
		cp.Readme = string(md)
		cp.HasReadme = true
	}
	cp.setIdentities(assetIDs{pa: assetIdentity(pa), sa: assetIdentity(sa), ma: assetIdentity(ma)})
	return cp, nil
}

// sameJSON reports whether a and b are the same JSON document, whatever
// their formatting.
func sameJSON(a, b []byte) bool {
	x, errA := canonjson.Reformat(a)
	y, errB := canonjson.Reformat(b)
	return errA == nil && errB == nil && bytes.Equal(x, y)
}
