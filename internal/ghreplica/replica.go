// Package ghreplica is an in-memory replica of the parts of GitHub's REST API
// that udos-dist uses: repositories, releases, release assets (uploaded on a
// separate upload path, as on uploads.github.com), repository_dispatch,
// conditional requests, rate limits and immutable releases.
//
// GitHub cannot be reached from tests, so every client path is exercised
// against this replica instead. It is an http.Handler: serve it with
// httptest.NewServer or http.Serve on any listener. URLs in JSON answers are
// built from the request's Host, so the same replica works behind any
// address. The API is served both at the root ("/repos/...", like
// api.github.com) and under "/api/v3/" (like GitHub Enterprise Server);
// uploads are accepted only under "/api/uploads/", so a client that sends
// uploads to the API host fails here as it would on GitHub. go-github's
// WithEnterpriseURLs(base, base) works unchanged.
//
// Faults (5xx, 429, dropped connections, stalls, an upload that dies half way
// and leaves a "starter" asset) are injected with Inject; every request is
// logged (Requests) so tests and benchmarks can count calls and 304 hits.
//
// Less common answers GitHub gives are there too, so the clients' paths for
// them run: archived (read-only) repositories, installation tokens without
// write permission (403 "Resource not accessible by integration"), assets
// still being uploaded (state "open"), downloads answered directly instead
// of redirected (Config.DirectDownloads), tags with slashes, and the
// latest release as make_latest chooses it.
package ghreplica

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Config tunes a Replica. The zero value gives GitHub's defaults.
type Config struct {
	// Now is the replica's clock (default time.Now). Rate-limit windows,
	// timestamps and secondary limits all follow it.
	Now func() time.Time
	// RateLimit is the primary limit per hour for a token (default 5000).
	RateLimit int
	// AnonymousRateLimit is the primary limit per hour without a token
	// (default 60).
	AnonymousRateLimit int
	// RateLimitStatus is the status of a primary or secondary rate-limit
	// answer: 403 (default, what GitHub mostly sends) or 429.
	RateLimitStatus int
	// ContentCreationPerMinute is the secondary limit on content-creating
	// requests (POST, PATCH, PUT, DELETE) per token and minute (default 80;
	// negative disables it).
	ContentCreationPerMinute int
	// SecondaryRetryAfter is the Retry-After sent with a secondary-limit
	// answer (default 60s).
	SecondaryRetryAfter time.Duration
	// OmitDigests answers "digest": null for every asset, as GitHub
	// Enterprise Server versions and assets from before digests did.
	OmitDigests bool
	// ImmutableReleases makes releases of every repository immutable once
	// published (RepoSpec can override per repository).
	ImmutableReleases bool
	// DirectDownloads answers asset downloads (the API URL with Accept:
	// application/octet-stream, and browser_download_url) with the bytes,
	// 200, instead of GitHub's 302 to a storage host, as some GitHub
	// Enterprise Server setups and proxies do.
	DirectDownloads bool
}

// Token describes an access token the replica accepts.
type Token struct {
	// Login is the user the token belongs to (shown as author/uploader).
	Login string
	// Push lists the repositories the token may write to and whose drafts
	// and private contents it may see: "owner/repo", "owner/*" or "*".
	Push []string
	// Integration marks an installation token, such as a workflow's
	// GITHUB_TOKEN: a write to a repository outside Push answers 403
	// "Resource not accessible by integration" (a workflow without
	// `permissions: contents: write`) where a user's token gets 404.
	Integration bool
}

// RepoSpec describes a repository to create with AddRepo.
type RepoSpec struct {
	Description   string
	Private       bool
	DefaultBranch string // default "main"
	Topics        []string
	// Immutable overrides Config.ImmutableReleases for this repository.
	Immutable *bool
	// Archived makes the repository read-only: listed with "archived":
	// true, and every write answers 403 "Repository was archived so is
	// read-only."
	Archived  bool
	CreatedAt time.Time // default: the replica's clock
}

// ReleaseSpec describes a release to seed with AddRelease.
type ReleaseSpec struct {
	Tag             string
	Name            string
	Body            string
	TargetCommitish string // default: the repository's default branch
	Draft           bool
	Prerelease      bool
	Author          string    // login; default "octocat"
	CreatedAt       time.Time // default: the replica's clock
	PublishedAt     time.Time // default: CreatedAt (ignored for drafts)
	// MakeLatest is GitHub's make_latest: "true" makes this (published,
	// non-prerelease) release the repository's latest, "legacy" lets
	// GitHub's legacy rule (newest created_at, then higher version) pick
	// it, "false" or "" leave the choice as it is.
	MakeLatest string
	Assets     []AssetSpec
}

// AssetSpec describes a release asset to seed.
type AssetSpec struct {
	Name        string
	Label       string
	ContentType string // default application/octet-stream
	Data        []byte
	// Starter seeds a broken upload: state "starter", no digest.
	Starter bool
	// State seeds the asset in this state: "uploaded" (the default),
	// "starter" (as Starter) or "open", an upload still in progress, with
	// no digest and no download until CompleteUpload.
	State string
}

// Release is a snapshot of a release for assertions.
type Release struct {
	ID              int64     `json:"id"`
	Owner           string    `json:"owner"`
	Repo            string    `json:"repo"`
	Tag             string    `json:"tag"`
	Name            string    `json:"name"`
	Body            string    `json:"body"`
	TargetCommitish string    `json:"target_commitish"`
	Draft           bool      `json:"draft"`
	Prerelease      bool      `json:"prerelease"`
	Immutable       bool      `json:"immutable"`
	CreatedAt       time.Time `json:"created_at"`
	Published       time.Time `json:"published_at"`
	Assets          []Asset   `json:"assets"`
}

// Asset is a snapshot of a release asset for assertions.
type Asset struct {
	ID            int64  `json:"id"`
	Name          string `json:"name"`
	Label         string `json:"label"`
	ContentType   string `json:"content_type"`
	State         string `json:"state"` // "uploaded", "open" or "starter"
	Size          int    `json:"size"`
	Digest        string `json:"digest"` // "sha256:<hex>", empty for starter assets
	DownloadCount int    `json:"download_count"`
	Data          []byte `json:"-"`
}

// Dispatch is a recorded repository_dispatch event.
type Dispatch struct {
	Owner         string          `json:"owner"`
	Repo          string          `json:"repo"`
	EventType     string          `json:"event_type"`
	ClientPayload json.RawMessage `json:"client_payload,omitempty"`
	Token         string          `json:"login"` // login of the sender
	Time          time.Time       `json:"time"`
}

// LoggedRequest is one entry of the request log.
type LoggedRequest struct {
	Method string `json:"method"`
	// Path is the request path as sent (with any /api/v3 or /api/uploads prefix).
	Path        string    `json:"path"`
	Query       string    `json:"query,omitempty"`
	Status      int       `json:"status"`
	Upload      bool      `json:"upload,omitempty"`       // served on the upload path
	NotModified bool      `json:"not_modified,omitempty"` // a conditional request answered 304
	Fault       FaultKind `json:"fault,omitempty"`        // the injected fault that answered, or NoFault
	Login       string    `json:"login,omitempty"`        // token owner, empty when anonymous
	Time        time.Time `json:"time"`
}

type owner struct {
	login string
	id    int64
	org   bool
}

type repo struct {
	owner    *owner
	name     string
	id       int64
	spec     RepoSpec
	created  time.Time
	releases []*release
	// latest is the release make_latest chose; nil leaves the choice to
	// the legacy rule.
	latest *release
}

type release struct {
	repo       *repo
	id         int64
	tag        string
	name       string
	body       string
	target     string
	draft      bool
	prerelease bool
	immutable  bool
	author     string
	created    time.Time
	updated    time.Time
	published  time.Time
	untagged   string // slug used for a draft's URLs, like GitHub's untagged-<hex>
	makeLatest string // make_latest given while a draft, applied on publication
	assets     []*asset
}

type asset struct {
	rel         *release
	id          int64
	name        string
	label       string
	contentType string
	state       string
	data        []byte
	digest      string
	downloads   int
	uploader    string
	created     time.Time
	updated     time.Time
}

type rateWindow struct {
	used  int
	reset time.Time
}

// Replica is the in-memory GitHub. It is safe for concurrent use.
type Replica struct {
	mu sync.Mutex
	// logMu guards log alone: a request is logged as its answer starts,
	// which can be while a handler holds mu (taken after mu, never before).
	logMu      sync.Mutex
	cfg        Config
	owners     map[string]*owner
	repos      map[string]*repo
	tokens     map[string]Token
	releases   map[int64]*release
	assets     map[int64]*asset
	nextID     int64
	faults     []*faultState
	log        []LoggedRequest
	windows    map[string]*rateWindow
	creations  map[string][]time.Time
	dispatches []Dispatch
	sigKey     []byte
	hosts      hosts
}

// New returns an empty replica.
func New(cfg Config) *Replica {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = 5000
	}
	if cfg.AnonymousRateLimit == 0 {
		cfg.AnonymousRateLimit = 60
	}
	if cfg.RateLimitStatus == 0 {
		cfg.RateLimitStatus = http.StatusForbidden
	}
	if cfg.ContentCreationPerMinute == 0 {
		cfg.ContentCreationPerMinute = 80
	}
	if cfg.SecondaryRetryAfter == 0 {
		cfg.SecondaryRetryAfter = 60 * time.Second
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	r := &Replica{
		cfg:       cfg,
		owners:    map[string]*owner{},
		repos:     map[string]*repo{},
		tokens:    map[string]Token{},
		releases:  map[int64]*release{},
		assets:    map[int64]*asset{},
		nextID:    1000,
		windows:   map[string]*rateWindow{},
		creations: map[string][]time.Time{},
		sigKey:    key,
	}
	r.hosts = r.buildHosts()
	return r
}

func (r *Replica) now() time.Time { return r.cfg.Now().UTC().Truncate(time.Second) }

func (r *Replica) newID() int64 {
	r.nextID++
	return r.nextID
}

// AddToken registers an access token.
func (r *Replica) AddToken(token string, t Token) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tokens[token] = t
	r.ownerLocked(t.Login, false)
}

// AddOwner creates a user (org=false) or an organization. Owners are also
// created on demand by AddRepo and AddToken (as users).
func (r *Replica) AddOwner(login string, org bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o := r.ownerLocked(login, org)
	o.org = org
}

func (r *Replica) ownerLocked(login string, org bool) *owner {
	key := strings.ToLower(login)
	if o, ok := r.owners[key]; ok {
		return o
	}
	o := &owner{login: login, id: r.newID(), org: org}
	r.owners[key] = o
	return o
}

// AddRepo creates a repository (and its owner, as a user, if unknown).
func (r *Replica) AddRepo(ownerLogin, name string, spec RepoSpec) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := strings.ToLower(ownerLogin + "/" + name)
	if _, ok := r.repos[key]; ok {
		return fmt.Errorf("repository %s/%s already exists", ownerLogin, name)
	}
	if ownerLogin == "" || name == "" || strings.ContainsAny(ownerLogin+name, "/ ") {
		return fmt.Errorf("invalid repository name %q/%q", ownerLogin, name)
	}
	if spec.DefaultBranch == "" {
		spec.DefaultBranch = "main"
	}
	created := spec.CreatedAt
	if created.IsZero() {
		created = r.now()
	}
	r.repos[key] = &repo{owner: r.ownerLocked(ownerLogin, false), name: name, id: r.newID(), spec: spec, created: created.UTC()}
	return nil
}

// AddRelease seeds a release (and its assets) directly, bypassing the API,
// its rate limits and faults. The repository must exist.
func (r *Replica) AddRelease(ownerLogin, repoName string, spec ReleaseSpec) (Release, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rp := r.repos[strings.ToLower(ownerLogin+"/"+repoName)]
	if rp == nil {
		return Release{}, fmt.Errorf("seeding release %q: repository %s/%s does not exist", spec.Tag, ownerLogin, repoName)
	}
	if spec.Tag == "" {
		return Release{}, fmt.Errorf("seeding release in %s/%s: empty tag", ownerLogin, repoName)
	}
	if !validMakeLatest(spec.MakeLatest) {
		return Release{}, fmt.Errorf("seeding release %q: make_latest %q: want true, false or legacy", spec.Tag, spec.MakeLatest)
	}
	if !spec.Draft && rp.publishedTag(spec.Tag, nil) != nil {
		return Release{}, fmt.Errorf("seeding release %q in %s/%s: a published release for that tag exists", spec.Tag, ownerLogin, repoName)
	}
	created := spec.CreatedAt
	if created.IsZero() {
		created = r.now()
	}
	author := spec.Author
	if author == "" {
		author = "octocat"
	}
	r.ownerLocked(author, false)
	rel := &release{
		repo: rp, id: r.newID(), tag: spec.Tag, name: spec.Name, body: spec.Body,
		target: spec.TargetCommitish, draft: spec.Draft, prerelease: spec.Prerelease,
		author: author, created: created.UTC(), updated: created.UTC(), untagged: r.untaggedSlug(),
	}
	if rel.target == "" {
		rel.target = rp.spec.DefaultBranch
	}
	if !spec.Draft {
		rel.published = spec.PublishedAt.UTC()
		if spec.PublishedAt.IsZero() {
			rel.published = rel.created
		}
		rel.immutable = r.immutableRepo(rp)
	}
	seen := map[string]bool{}
	for _, as := range spec.Assets {
		state := as.State
		if state == "" {
			state = "uploaded"
			if as.Starter {
				state = "starter"
			}
		}
		if (state != "uploaded" && state != "open" && state != "starter") || (as.Starter && state != "starter") {
			return Release{}, fmt.Errorf("seeding release %q: asset %q: state %q (starter %v): want uploaded, open or starter", spec.Tag, as.Name, as.State, as.Starter)
		}
		name := NormalizeAssetName(as.Name)
		if name == "" || seen[name] {
			return Release{}, fmt.Errorf("seeding release %q: invalid or duplicate asset name %q", spec.Tag, as.Name)
		}
		seen[name] = true
		a := &asset{rel: rel, id: r.newID(), name: name, label: as.Label, contentType: as.ContentType,
			state: "uploaded", data: append([]byte(nil), as.Data...), uploader: author, created: rel.created, updated: rel.created}
		if a.contentType == "" {
			a.contentType = "application/octet-stream"
		}
		a.state = state
		if state == "uploaded" {
			a.digest = digestOf(a.data)
		}
		rel.assets = append(rel.assets, a)
		r.assets[a.id] = a
	}
	rp.releases = append(rp.releases, rel)
	r.releases[rel.id] = rel
	if rel.draft {
		rel.makeLatest = spec.MakeLatest
	} else {
		rp.makeLatest(rel, spec.MakeLatest)
	}
	return rel.snapshot(), nil
}

// CompleteUpload finishes the upload of an asset seeded in state "open":
// it becomes "uploaded", with its digest, as when GitHub receives the last
// byte.
func (r *Replica) CompleteUpload(assetID int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	a := r.assets[assetID]
	if a == nil {
		return fmt.Errorf("completing upload of asset %d: no such asset", assetID)
	}
	if a.state != "open" {
		return fmt.Errorf("completing upload of asset %d (%s): its state is %q, not open", assetID, a.name, a.state)
	}
	a.state, a.digest, a.updated = "uploaded", digestOf(a.data), r.now()
	return nil
}

func (r *Replica) untaggedSlug() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return "untagged-" + hex.EncodeToString(b)
}

func (r *Replica) immutableRepo(rp *repo) bool {
	if rp.spec.Immutable != nil {
		return *rp.spec.Immutable
	}
	return r.cfg.ImmutableReleases
}

// findTag returns the published release for tag, else its oldest draft.
func (rp *repo) findTag(tag string) *release {
	if rel := rp.publishedTag(tag, nil); rel != nil {
		return rel
	}
	for _, rel := range rp.releases {
		if rel.tag == tag {
			return rel
		}
	}
	return nil
}

// publishedTag returns the published release for tag other than except.
// GitHub keeps one published release per tag but does not de-duplicate
// drafts: parallel jobs can each create a draft for the same tag.
func (rp *repo) publishedTag(tag string, except *release) *release {
	for _, rel := range rp.releases {
		if rel.tag == tag && !rel.draft && rel != except {
			return rel
		}
	}
	return nil
}

func (rel *release) snapshot() Release {
	s := Release{ID: rel.id, Owner: rel.repo.owner.login, Repo: rel.repo.name, Tag: rel.tag, Name: rel.name,
		Body: rel.body, TargetCommitish: rel.target, Draft: rel.draft, Prerelease: rel.prerelease,
		Immutable: rel.immutable, CreatedAt: rel.created, Published: rel.published}
	for _, a := range rel.assets {
		s.Assets = append(s.Assets, a.snapshot())
	}
	return s
}

func (a *asset) snapshot() Asset {
	return Asset{ID: a.id, Name: a.name, Label: a.label, ContentType: a.contentType, State: a.state,
		Size: len(a.data), Digest: a.digest, DownloadCount: a.downloads, Data: append([]byte(nil), a.data...)}
}

// Releases returns snapshots of every release of a repository (drafts
// included), newest first as the API lists them.
func (r *Replica) Releases(ownerLogin, repoName string) []Release {
	r.mu.Lock()
	defer r.mu.Unlock()
	rp := r.repos[strings.ToLower(ownerLogin+"/"+repoName)]
	if rp == nil {
		return nil
	}
	var out []Release
	for _, rel := range sortedReleases(rp.releases) {
		out = append(out, rel.snapshot())
	}
	return out
}

// ReleaseByTag returns a snapshot of the release for tag: the published one,
// else the oldest draft.
func (r *Replica) ReleaseByTag(ownerLogin, repoName, tag string) (Release, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rp := r.repos[strings.ToLower(ownerLogin+"/"+repoName)]
	if rp == nil {
		return Release{}, false
	}
	rel := rp.findTag(tag)
	if rel == nil {
		return Release{}, false
	}
	return rel.snapshot(), true
}

// Dispatches returns the repository_dispatch events received so far.
func (r *Replica) Dispatches() []Dispatch {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Dispatch(nil), r.dispatches...)
}

// Requests returns a copy of the request log.
func (r *Replica) Requests() []LoggedRequest {
	r.logMu.Lock()
	defer r.logMu.Unlock()
	return append([]LoggedRequest(nil), r.log...)
}

// logLen is how many requests are logged.
func (r *Replica) logLen() int {
	r.logMu.Lock()
	defer r.logMu.Unlock()
	return len(r.log)
}

// ResetLog empties the request log.
func (r *Replica) ResetLog() {
	r.logMu.Lock()
	defer r.logMu.Unlock()
	r.log = nil
}

// Count returns how many logged requests match method ("" for any) and
// whose path (without /api/v3 or /api/uploads) starts with pathPrefix.
func (r *Replica) Count(method, pathPrefix string) int {
	r.logMu.Lock()
	defer r.logMu.Unlock()
	n := 0
	for _, l := range r.log {
		if (method == "" || l.Method == method) && strings.HasPrefix(apiPath(l.Path), pathPrefix) {
			n++
		}
	}
	return n
}

// RateUsed reports the primary rate-limit use of the token's owner ("" for
// anonymous) in the current window.
func (r *Replica) RateUsed(login string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if w := r.windows[identity(login)]; w != nil && r.now().Before(w.reset) {
		return w.used
	}
	return 0
}

// NormalizeAssetName renames an asset file name the way GitHub does: every
// character outside letters, digits and "._-+" becomes ".", and leading or
// trailing dots are dropped.
//
// ghrelease applies the same rule before uploading; the replica keeps its
// own copy on purpose, as GitHub's stand-in: were both to share one
// function, a wrong rule would agree with itself and no test could see it.
func NormalizeAssetName(name string) string {
	return strings.Trim(notAssetChar.ReplaceAllString(name, "."), ".")
}

// notAssetChar is one character (rune) GitHub replaces in an asset name.
var notAssetChar = regexp.MustCompile(`[^A-Za-z0-9._+-]`)

func digestOf(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func (r *Replica) objectSig(id int64) string {
	m := hmac.New(sha256.New, r.sigKey)
	fmt.Fprintf(m, "%d", id)
	return hex.EncodeToString(m.Sum(nil))[:32]
}

func identity(login string) string {
	if login == "" {
		return "anonymous"
	}
	return "user:" + strings.ToLower(login)
}

// apiPath strips the GHES API or upload prefix from a request path.
func apiPath(p string) string {
	for _, prefix := range []string{"/api/v3", "/api/uploads"} {
		if p == prefix {
			return "/"
		}
		if strings.HasPrefix(p, prefix+"/") {
			return p[len(prefix):]
		}
	}
	return p
}
