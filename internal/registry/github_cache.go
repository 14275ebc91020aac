package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/fredbook/udos-dist/internal/canonjson"
	"github.com/fredbook/udos-dist/internal/ghrelease"
)

// CacheFileName is the GitHub mode's cache, kept next to the catalog in the
// output folder: the ETags (and bodies) of the last listings, so an
// unchanged repository costs one 304, and what was learnt about every
// package asset, so a known package is never downloaded again.
const CacheFileName = ".registry-cache.json"

// cacheVersion 2 added the READMEs: a version-1 cache is read afresh, so
// every package is fetched once more and its README learnt.
const cacheVersion = 2

// GitHubCache is the content of CacheFileName. It implements
// ghrelease.ETagStore; only entries used during a run are written back, so
// a repository that left the config does not keep its listing forever.
type GitHubCache struct {
	mu sync.Mutex

	old      cacheFile
	etags    map[string]ghrelease.CachedResponse
	packages map[string]cachedPackage
}

type cacheFile struct {
	Version int                                 `json:"version"`
	ETags   map[string]ghrelease.CachedResponse `json:"etags"`
	// Packages is keyed by the package asset's browser_download_url.
	Packages map[string]cachedPackage `json:"packages"`
}

// cachedPackage is what a verified package asset taught us. It is reused
// only while GitHub lists the same identities (digests, see assetIdentity)
// for the three assets.
type cachedPackage struct {
	PackageDigest   string          `json:"package_digest"`
	SignatureDigest string          `json:"signature_digest"`
	ManifestDigest  string          `json:"manifest_digest"`
	Size            int64           `json:"size"`
	SHA256          string          `json:"sha256"`
	SHA512          string          `json:"sha512"`
	Manifest        json.RawMessage `json:"manifest"`
	Signer          string          `json:"signer,omitempty"`
	// Readme is the package's docs/README.md, for the site.
	Readme    string `json:"readme,omitempty"`
	HasReadme bool   `json:"has_readme,omitempty"`
	// Problem is why these assets were left out; they are not fetched
	// again until one of them changes.
	Problem string `json:"problem,omitempty"`
}

func (p *cachedPackage) readme() []byte {
	if !p.HasReadme {
		return nil
	}
	return []byte(p.Readme)
}

// assetIDs are the identities (see assetIdentity) of a version's package,
// signature and manifest assets.
type assetIDs struct{ pa, sa, ma string }

func (p *cachedPackage) identities() assetIDs {
	return assetIDs{pa: p.PackageDigest, sa: p.SignatureDigest, ma: p.ManifestDigest}
}

func (p *cachedPackage) setIdentities(ids assetIDs) {
	p.PackageDigest, p.SignatureDigest, p.ManifestDigest = ids.pa, ids.sa, ids.ma
}

// OpenGitHubCache opens the cache of outDir, to be given to the client as
// its ghrelease.Config.ETags and to the GitHubSource; the assembler saves
// it back into outDir. A missing cache, or one that does not parse, starts
// empty (it only costs requests).
func OpenGitHubCache(outDir string) (*GitHubCache, error) {
	path := filepath.Join(outDir, CacheFileName)
	c := &GitHubCache{etags: map[string]ghrelease.CachedResponse{}, packages: map[string]cachedPackage{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading registry cache: %w", err)
	}
	// A cache that cannot be read only costs requests: start afresh.
	if json.Unmarshal(data, &c.old) != nil || c.old.Version != cacheVersion {
		c.old = cacheFile{}
	}
	return c, nil
}

// Get implements ghrelease.ETagStore.
func (c *GitHubCache) Get(key string) (ghrelease.CachedResponse, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.etags[key]; ok {
		return r, true
	}
	r, ok := c.old.ETags[key]
	if ok {
		// Carried forward: a 304 replays it, so it is still current.
		c.etags[key] = r
	}
	return r, ok
}

// Put implements ghrelease.ETagStore.
func (c *GitHubCache) Put(key string, r ghrelease.CachedResponse) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.etags[key] = r
	return nil
}

func (c *GitHubCache) pkg(url string) (cachedPackage, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.old.Packages[url]
	return p, ok
}

func (c *GitHubCache) keep(url string, p cachedPackage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.packages[url] = p
}

func (c *GitHubCache) marshal() ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := cacheFile{Version: cacheVersion, ETags: c.etags, Packages: c.packages}
	return canonjson.Marshal(f)
}
