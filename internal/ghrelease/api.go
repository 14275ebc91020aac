package ghrelease

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/go-github/v89/github"
)

// statusOf extracts the HTTP status from a go-github error, 0 if none.
func statusOf(err error) int {
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	var rl *github.RateLimitError
	if errors.As(err, &rl) && rl.Response != nil {
		return rl.Response.StatusCode
	}
	var ab *github.AbuseRateLimitError
	if errors.As(err, &ab) && ab.Response != nil {
		return ab.Response.StatusCode
	}
	return 0
}

// allPages returns what list returns on every page, 100 a page, from the
// first page on as long as GitHub names a next one; on an error, page is
// the page list failed on (1 for the first).
func allPages[T any](list func(opts *github.ListOptions) ([]T, *github.Response, error)) (all []T, page int, err error) {
	opts := &github.ListOptions{PerPage: 100}
	for {
		items, resp, err := list(opts)
		if err != nil {
			return nil, max(opts.Page, 1), err
		}
		all = append(all, items...)
		if resp.NextPage == 0 {
			return all, 0, nil
		}
		opts.Page = resp.NextPage
	}
}

// ListReleases returns every release of owner/repo, newest first, following
// all pages (100 a page). Drafts are included when the token can push.
func (c *Client) ListReleases(ctx context.Context, owner, repo string) ([]*github.RepositoryRelease, error) {
	all, page, err := allPages(func(opts *github.ListOptions) ([]*github.RepositoryRelease, *github.Response, error) {
		return c.gh.Repositories.ListReleases(ctx, owner, repo, opts)
	})
	if err != nil {
		return nil, fmt.Errorf("listing releases of %s/%s (page %d): %w", owner, repo, page, err)
	}
	return all, nil
}

// ListOwnerRepos returns every repository of an organization or user (all
// pages). Organizations are asked first so private repositories the token
// can see are included; a user falls back to /users/{owner}/repos.
func (c *Client) ListOwnerRepos(ctx context.Context, owner string) ([]*github.Repository, error) {
	all, page, err := allPages(func(opts *github.ListOptions) ([]*github.Repository, *github.Response, error) {
		return c.gh.Repositories.ListByOrg(ctx, owner, &github.RepositoryListByOrgOptions{ListOptions: *opts})
	})
	if err == nil {
		return all, nil
	}
	if !IsNotFound(err) || page != 1 {
		return nil, fmt.Errorf("listing repositories of organization %s: %w", owner, err)
	}
	// not an organization
	all, _, err = allPages(func(opts *github.ListOptions) ([]*github.Repository, *github.Response, error) {
		return c.gh.Repositories.ListByUser(ctx, owner, &github.RepositoryListByUserOptions{ListOptions: *opts})
	})
	if err != nil {
		return nil, fmt.Errorf("listing repositories of user %s: %w", owner, err)
	}
	return all, nil
}

// FindRelease returns the release for tag: the published one if any, else
// a draft (visible only to a token with push access; GitHub's by-tag lookup
// never finds drafts, so they are searched in the listing). It returns
// (nil, nil) when there is none.
func (c *Client) FindRelease(ctx context.Context, owner, repo, tag string) (*github.RepositoryRelease, error) {
	rel, _, err := c.gh.Repositories.GetReleaseByTag(ctx, owner, repo, tag)
	if err == nil {
		return rel, nil
	}
	if !IsNotFound(err) {
		return nil, fmt.Errorf("looking up release %s of %s/%s: %w", tag, owner, repo, err)
	}
	all, err := c.ListReleases(ctx, owner, repo)
	if err != nil {
		return nil, err
	}
	var found *github.RepositoryRelease
	for _, r := range all {
		if r.TagName != tag {
			continue
		}
		if !r.Draft {
			return r, nil
		}
		// Several drafts can exist for one tag (an older tool, a person):
		// the oldest is the one a previous run of ours started.
		if found == nil || r.ID < found.ID {
			found = r
		}
	}
	return found, nil
}

// AssetMismatchError: the bytes downloaded for an asset are not what GitHub
// lists for it (its size or its sha256 digest). The asset itself is at
// fault, not the connection: a retry would fetch the same bytes.
type AssetMismatchError struct {
	Asset string // the asset's name
	Field string // "size" or "sha256"
	Got   string
	Want  string // what GitHub lists
}

func (e *AssetMismatchError) Error() string {
	if e.Field == "size" {
		return fmt.Sprintf("downloading asset %q: got %s bytes, GitHub lists %s", e.Asset, e.Got, e.Want)
	}
	return fmt.Sprintf("downloading asset %q: sha256 %s does not match GitHub's digest %s", e.Asset, e.Got, e.Want)
}

// DownloadResult describes a downloaded asset.
type DownloadResult struct {
	Size   int64
	SHA256 string // hex
}

// DownloadAsset streams an asset's bytes to w through the API URL (with
// Accept: application/octet-stream, following GitHub's redirect to storage
// without the token), verifying GitHub's digest and size when known. On a
// mismatch (an *AssetMismatchError) the bytes have been written already:
// write to a temporary file and discard it on error.
func (c *Client) DownloadAsset(ctx context.Context, asset *github.ReleaseAsset, w io.Writer) (DownloadResult, error) {
	if asset == nil {
		return DownloadResult{}, errors.New("downloading asset: nil asset")
	}
	name := asset.GetName()
	target := asset.GetURL()
	if target == "" {
		target = asset.GetBrowserDownloadURL()
	}
	if target == "" {
		return DownloadResult{}, fmt.Errorf("downloading asset %q: it has neither url nor browser_download_url", name)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return DownloadResult{}, fmt.Errorf("downloading asset %q: %w", name, err)
	}
	req.Header.Set("Accept", "application/octet-stream")
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	resp, err := c.http.Do(req)
	if err != nil {
		return DownloadResult{}, fmt.Errorf("downloading asset %q: %w", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		if err := github.CheckResponse(resp); err != nil {
			return DownloadResult{}, fmt.Errorf("downloading asset %q: %w", name, err)
		}
		return DownloadResult{}, fmt.Errorf("downloading asset %q: HTTP %d", name, resp.StatusCode)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), resp.Body)
	if err != nil {
		return DownloadResult{}, fmt.Errorf("downloading asset %q: %w", name, err)
	}
	res := DownloadResult{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}
	if want := asset.GetSize(); want > 0 && int64(want) != n {
		return res, &AssetMismatchError{Asset: name, Field: "size", Got: strconv.FormatInt(n, 10), Want: strconv.Itoa(want)}
	}
	if d := asset.GetDigest(); strings.HasPrefix(d, "sha256:") && !strings.EqualFold(d[len("sha256:"):], res.SHA256) {
		return res, &AssetMismatchError{Asset: name, Field: "sha256", Got: res.SHA256, Want: d}
	}
	return res, nil
}

// Dispatch sends a repository_dispatch event (eventType, with payload
// marshalled as client_payload; nil for none). A dropped answer is retried:
// a repeated dispatch only runs the receiving workflow again.
func (c *Client) Dispatch(ctx context.Context, owner, repo, eventType string, payload any) error {
	opts := github.DispatchRequestOptions{EventType: eventType}
	if payload != nil {
		b, err := json.Marshal(payload)
		if err != nil {
			return fmt.Errorf("dispatching %q to %s/%s: encoding payload: %w", eventType, owner, repo, err)
		}
		raw := json.RawMessage(b)
		opts.ClientPayload = &raw
	}
	if _, _, err := c.gh.Repositories.Dispatch(withIdempotent(ctx), owner, repo, opts); err != nil {
		return fmt.Errorf("dispatching %q to %s/%s: %w", eventType, owner, repo, err)
	}
	return nil
}
