package ghrelease

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-github/v89/github"
)

// AssetFile is a local file to attach to a release.
type AssetFile struct {
	Path string
	// Name is the asset name (default: the file's base name). GitHub
	// renames unusual characters; Publish applies the same rule first.
	Name        string
	Label       string
	ContentType string // default: from the extension, else application/octet-stream
}

// PublishRequest describes a release to bring into existence.
type PublishRequest struct {
	Owner, Repo string
	Tag         string
	Name        string
	Body        string
	Prerelease  bool
	// TargetCommitish is used only when the tag does not exist yet.
	TargetCommitish string
	Assets          []AssetFile
	// Immutable says the repository uses immutable releases: a published
	// release can then gain no assets, so every asset must be in place
	// before the publish step.
	Immutable bool
	// KeepDraft uploads and verifies the assets but leaves the release a
	// draft. Parallel jobs (one per variant) use it, and a final job runs
	// Publish without KeepDraft (its Assets may be empty or the full set)
	// so that an immutable release is published only once it is complete.
	KeepDraft bool
}

// Asset actions reported in AssetResult.Action.
const (
	ActionUploaded  = "uploaded"  // it was missing
	ActionReplaced  = "replaced"  // a broken (starter) or different draft asset was replaced
	ActionUnchanged = "unchanged" // already there with the same digest
)

// AssetResult describes one asset after Publish.
type AssetResult struct {
	Name               string
	ID                 int64
	Size               int64
	SHA256             string // hex
	URL                string // API URL
	BrowserDownloadURL string
	Action             string
}

// PublishResult describes the published release.
type PublishResult struct {
	ReleaseID int64
	Tag       string
	HTMLURL   string
	APIURL    string
	// Created is true when this run created the draft; Published when this
	// run performed the publish step.
	Created, Published bool
	Assets             []AssetResult
}

type localAsset struct {
	AssetFile
	size   int64
	sha256 string
}

// NormalizeAssetName applies GitHub's renaming of asset file names: every
// character outside letters, digits and "._-+" becomes "." and leading or
// trailing dots go.
func NormalizeAssetName(name string) string {
	var b strings.Builder
	for _, c := range name {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.ContainsRune("._-+", c):
			b.WriteRune(c)
		default:
			b.WriteByte('.')
		}
	}
	return strings.Trim(b.String(), ".")
}

func hashFile(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, "", err
	}
	if !st.Mode().IsRegular() {
		return 0, "", fmt.Errorf("%q is not a regular file", path)
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

func (req PublishRequest) prepare() ([]localAsset, error) {
	if req.Owner == "" || req.Repo == "" || req.Tag == "" {
		return nil, fmt.Errorf("publishing: owner, repo and tag are required (got %q/%q tag %q)", req.Owner, req.Repo, req.Tag)
	}
	seen := map[string]string{}
	var out []localAsset
	for _, a := range req.Assets {
		if a.Path == "" {
			return nil, fmt.Errorf("publishing %s: an asset has no path", req.Tag)
		}
		name := a.Name
		if name == "" {
			name = filepath.Base(a.Path)
		}
		a.Name = NormalizeAssetName(name)
		if a.Name == "" {
			return nil, fmt.Errorf("publishing %s: asset name %q is empty after GitHub's renaming", req.Tag, name)
		}
		if prev, dup := seen[a.Name]; dup {
			return nil, fmt.Errorf("publishing %s: %q and %q would both be named %q on GitHub", req.Tag, prev, a.Path, a.Name)
		}
		seen[a.Name] = a.Path
		if a.ContentType == "" {
			a.ContentType = mime.TypeByExtension(filepath.Ext(a.Name))
			if a.ContentType == "" {
				a.ContentType = "application/octet-stream"
			}
		}
		size, sum, err := hashFile(a.Path)
		if err != nil {
			return nil, fmt.Errorf("publishing %s: reading asset %q: %w", req.Tag, a.Path, err)
		}
		out = append(out, localAsset{AssetFile: a, size: size, sha256: sum})
	}
	return out, nil
}

// Publish brings the release for req.Tag into its final state and is safe
// to re-run after an interruption at any point: it finds or creates the
// DRAFT release for the tag, uploads each asset (skipping one already
// there with the same sha256, replacing a broken "starter" upload or a
// different asset on a draft), checks GitHub's digest of every upload
// against the local file, and publishes (draft=false) as the last step. A
// published release is never changed: an asset that differs from the
// local file fails the run.
func (c *Client) Publish(ctx context.Context, req PublishRequest) (*PublishResult, error) {
	locals, err := req.prepare()
	if err != nil {
		return nil, err
	}
	rel, created, err := c.findOrCreateDraft(ctx, req)
	if err != nil {
		return nil, err
	}
	res := &PublishResult{ReleaseID: rel.ID, Tag: req.Tag, Created: created}
	published := !rel.Draft
	if published {
		c.logf("github: release %s of %s/%s is already published; checking its assets", req.Tag, req.Owner, req.Repo)
	}
	remote, err := c.listAssets(ctx, req, rel.ID)
	if err != nil {
		return nil, err
	}
	for _, la := range locals {
		ar, err := c.ensureAsset(ctx, req, rel, la, published, remote)
		if err != nil {
			return nil, err
		}
		res.Assets = append(res.Assets, ar)
	}
	// Verify the whole set before the irreversible step (the listing taken
	// above already proves it when nothing had to be uploaded).
	changed := false
	for _, ar := range res.Assets {
		changed = changed || ar.Action != ActionUnchanged
	}
	if changed {
		if remote, err = c.listAssets(ctx, req, rel.ID); err != nil {
			return nil, err
		}
	}
	for _, la := range locals {
		a := remote[la.Name]
		legacyOK := a != nil && a.GetDigest() == "" && int64(a.GetSize()) == la.size // checked by download in ensureAsset
		if a == nil || a.GetState() != "uploaded" || !(digestMatches(a, la.sha256) || legacyOK) {
			return nil, fmt.Errorf("publishing %s: asset %q is missing or incomplete on GitHub after upload", req.Tag, la.Name)
		}
	}
	if !published && !req.KeepDraft {
		upd := github.UpdateReleaseRequest{Draft: github.Ptr(false), Prerelease: github.Ptr(req.Prerelease)}
		if req.Name != "" {
			upd.Name = github.Ptr(req.Name)
		}
		if req.Body != "" {
			upd.Body = github.Ptr(req.Body)
		}
		// Setting draft=false is idempotent, so a lost answer may be retried.
		rel, _, err = c.gh.Repositories.UpdateRelease(withIdempotent(ctx), req.Owner, req.Repo, rel.ID, upd)
		if err != nil {
			return nil, fmt.Errorf("publishing release %s of %s/%s: %w", req.Tag, req.Owner, req.Repo, err)
		}
		res.Published = true
	}
	res.HTMLURL, res.APIURL = rel.HTMLURL, rel.URL
	// Asset URLs of a draft change on publication (untagged-… → tag).
	if res.Published {
		final := map[string]*github.ReleaseAsset{}
		for _, a := range rel.Assets {
			final[a.GetName()] = a
		}
		for i := range res.Assets {
			if a := final[res.Assets[i].Name]; a != nil {
				res.Assets[i].URL, res.Assets[i].BrowserDownloadURL = a.GetURL(), a.GetBrowserDownloadURL()
			}
		}
	}
	return res, nil
}

func digestMatches(a *github.ReleaseAsset, sha string) bool {
	return strings.EqualFold(a.GetDigest(), "sha256:"+sha)
}

// findOrCreateDraft returns the release for the tag, creating a draft if
// none exists. A create whose answer was lost is found on the next pass.
func (c *Client) findOrCreateDraft(ctx context.Context, req PublishRequest) (*github.RepositoryRelease, bool, error) {
	for n := 0; ; n++ {
		rel, err := c.FindRelease(ctx, req.Owner, req.Repo, req.Tag)
		if err != nil {
			return nil, false, fmt.Errorf("publishing %s: %w", req.Tag, err)
		}
		if rel != nil {
			return rel, false, nil
		}
		create := github.CreateReleaseRequest{TagName: req.Tag, Draft: github.Ptr(true), Prerelease: github.Ptr(req.Prerelease)}
		if req.Name != "" {
			create.Name = github.Ptr(req.Name)
		}
		if req.Body != "" {
			create.Body = github.Ptr(req.Body)
		}
		if req.TargetCommitish != "" {
			create.TargetCommitish = github.Ptr(req.TargetCommitish)
		}
		rel, _, err = c.gh.Repositories.CreateRelease(ctx, req.Owner, req.Repo, create)
		if err == nil {
			c.logf("github: created draft release %s of %s/%s", req.Tag, req.Owner, req.Repo)
			return c.converge(ctx, req, rel)
		}
		retry := errRetryable(err) || isValidation(err, "already_exists", "tag_name")
		if !retry || n >= c.cfg.MaxRetries {
			if isValidation(err, "already_exists", "tag_name") {
				return nil, false, fmt.Errorf("creating draft release %s of %s/%s: GitHub reports a release for that tag, but it is not visible to this token (does it have contents:write?): %w", req.Tag, req.Owner, req.Repo, err)
			}
			return nil, false, fmt.Errorf("creating draft release %s of %s/%s: %w", req.Tag, req.Owner, req.Repo, err)
		}
		if err := c.pause(ctx, n, fmt.Sprintf("creating release %s: %v", req.Tag, err)); err != nil {
			return nil, false, err
		}
	}
}

// converge handles parallel jobs that each created a draft for the same tag
// (GitHub can accept several drafts for one tag): every job settles on the
// one FindRelease picks (published, else the oldest draft) and a job whose
// own draft lost deletes it.
func (c *Client) converge(ctx context.Context, req PublishRequest, mine *github.RepositoryRelease) (*github.RepositoryRelease, bool, error) {
	chosen, err := c.FindRelease(ctx, req.Owner, req.Repo, req.Tag)
	if err != nil {
		return nil, false, fmt.Errorf("publishing %s: %w", req.Tag, err)
	}
	if chosen == nil || chosen.ID == mine.ID {
		return mine, true, nil
	}
	c.logf("github: another job created release %s (id %d) at the same time; using it and deleting draft %d", req.Tag, chosen.ID, mine.ID)
	if _, err := c.gh.Repositories.DeleteRelease(ctx, req.Owner, req.Repo, mine.ID); err != nil && !IsNotFound(err) {
		return nil, false, fmt.Errorf("deleting duplicate draft %d of release %s: %w", mine.ID, req.Tag, err)
	}
	return chosen, false, nil
}

func (c *Client) pause(ctx context.Context, n int, why string) error {
	d := c.tr.backoff.Delay(n)
	c.logf("github: %s; retry %d/%d in %s", why, n+1, c.cfg.MaxRetries, d)
	return c.tr.sleep(ctx, d)
}

// listAssets returns the release's assets by name (all pages).
func (c *Client) listAssets(ctx context.Context, req PublishRequest, id int64) (map[string]*github.ReleaseAsset, error) {
	return c.ListAssets(ctx, req.Owner, req.Repo, req.Tag, id)
}

// ListAssets returns the assets of release id (tag names it in errors) by
// name, following every page.
func (c *Client) ListAssets(ctx context.Context, owner, repo, tag string, id int64) (map[string]*github.ReleaseAsset, error) {
	all, _, err := allPages(func(opts *github.ListOptions) ([]*github.ReleaseAsset, *github.Response, error) {
		return c.gh.Repositories.ListReleaseAssets(ctx, owner, repo, id, opts)
	})
	if err != nil {
		return nil, fmt.Errorf("listing assets of release %s of %s/%s: %w", tag, owner, repo, err)
	}
	out := map[string]*github.ReleaseAsset{}
	for _, a := range all {
		out[a.GetName()] = a
	}
	return out, nil
}

func (c *Client) deleteAsset(ctx context.Context, req PublishRequest, a *github.ReleaseAsset) error {
	_, err := c.gh.Repositories.DeleteReleaseAsset(ctx, req.Owner, req.Repo, a.GetID())
	if err != nil && !IsNotFound(err) {
		return fmt.Errorf("deleting asset %q (id %d) of release %s: %w", a.GetName(), a.GetID(), req.Tag, err)
	}
	return nil
}

func result(a *github.ReleaseAsset, la localAsset, action string) AssetResult {
	return AssetResult{Name: la.Name, ID: a.GetID(), Size: la.size, SHA256: la.sha256, URL: a.GetURL(),
		BrowserDownloadURL: a.GetBrowserDownloadURL(), Action: action}
}

// ensureAsset makes one asset match the local file. Uploads are not
// idempotent on GitHub (a repeated name is a 422), so each retry first
// looks at what the failed attempt left behind.
func (c *Client) ensureAsset(ctx context.Context, req PublishRequest, rel *github.RepositoryRelease, la localAsset, published bool, remote map[string]*github.ReleaseAsset) (AssetResult, error) {
	action := ActionUploaded
	locked := published && (req.Immutable || rel.GetImmutable())
	for n := 0; ; n++ {
		if n > 0 {
			var err error
			if remote, err = c.listAssets(ctx, req, rel.ID); err != nil {
				return AssetResult{}, err
			}
		}
		if ex := remote[la.Name]; ex != nil {
			same, err := c.sameAsset(ctx, ex, la)
			if err != nil {
				return AssetResult{}, err
			}
			switch {
			case same:
				if n == 0 {
					action = ActionUnchanged
				}
				return result(ex, la, action), nil
			case ex.GetState() != "uploaded":
				if locked {
					return AssetResult{}, fmt.Errorf("asset %s on release %s is a broken upload, and the release is published and immutable", la.Name, req.Tag)
				}
				c.logf("github: asset %s on release %s is a broken upload (state %q); replacing it", la.Name, req.Tag, ex.GetState())
			case published:
				return AssetResult{}, fmt.Errorf("asset %s on release %s differs from the local file (sha256 %s vs %s); published releases are not changed",
					la.Name, req.Tag, strings.TrimPrefix(ex.GetDigest(), "sha256:"), la.sha256)
			default:
				c.logf("github: asset %s on draft %s differs from the local file (sha256 %s vs %s); replacing it",
					la.Name, req.Tag, strings.TrimPrefix(ex.GetDigest(), "sha256:"), la.sha256)
			}
			if err := c.deleteAsset(ctx, req, ex); err != nil {
				return AssetResult{}, err
			}
			if action == ActionUploaded && n == 0 {
				action = ActionReplaced
			}
		} else if locked {
			return AssetResult{}, fmt.Errorf("asset %s is missing on release %s, which is published and immutable: it cannot be added", la.Name, req.Tag)
		}

		a, err := c.upload(ctx, rel, la)
		if err == nil {
			if a.GetState() == "uploaded" && digestMatches(a, la.sha256) {
				c.logf("github: uploaded %s to release %s (%d bytes)", la.Name, req.Tag, la.size)
				return result(a, la, action), nil
			}
			if a.GetDigest() == "" && a.GetState() == "uploaded" && int64(a.GetSize()) == la.size {
				// A server without digests: confirm by downloading it back.
				if same, verr := c.sameAsset(ctx, a, la); verr == nil && same {
					return result(a, la, action), nil
				}
			}
			err = fmt.Errorf("GitHub's digest %s (state %q) does not match the local sha256 %s", a.GetDigest(), a.GetState(), la.sha256)
		} else if !errRetryable(err) && !isValidation(err, "already_exists", "name") {
			return AssetResult{}, fmt.Errorf("uploading %q to release %s: %w", la.Name, req.Tag, err)
		}
		if n >= c.cfg.MaxRetries {
			return AssetResult{}, fmt.Errorf("uploading %q to release %s: %w", la.Name, req.Tag, err)
		}
		if err := c.pause(ctx, n, fmt.Sprintf("uploading %s to release %s: %v", la.Name, req.Tag, err)); err != nil {
			return AssetResult{}, err
		}
	}
}

// sameAsset reports whether a remote asset holds exactly the local bytes.
// Assets uploaded before GitHub computed digests are downloaded and hashed.
func (c *Client) sameAsset(ctx context.Context, a *github.ReleaseAsset, la localAsset) (bool, error) {
	if a.GetState() != "uploaded" {
		return false, nil
	}
	if a.GetDigest() != "" {
		return digestMatches(a, la.sha256), nil
	}
	if int64(a.GetSize()) != la.size {
		return false, nil
	}
	got, err := c.DownloadAsset(ctx, a, io.Discard)
	if err != nil {
		return false, fmt.Errorf("checking existing asset %q: %w", a.GetName(), err)
	}
	return got.SHA256 == la.sha256, nil
}

func (c *Client) upload(ctx context.Context, rel *github.RepositoryRelease, la localAsset) (*github.ReleaseAsset, error) {
	f, err := os.Open(la.Path)
	if err != nil {
		return nil, localError{fmt.Errorf("opening %q: %w", la.Path, err)}
	}
	defer f.Close()
	a, _, err := c.gh.Repositories.UploadReleaseAssetFromRelease(ctx, rel,
		&github.UploadOptions{Name: la.Name, Label: la.Label, MediaType: la.ContentType}, f, la.size)
	if err != nil {
		return nil, err
	}
	if a == nil {
		return nil, errors.New("GitHub answered the upload without an asset")
	}
	return a, nil
}

// localError marks a failure on this machine, which no retry fixes.
type localError struct{ err error }

func (e localError) Error() string { return e.err.Error() }
func (e localError) Unwrap() error { return e.err }
