package ghreplica

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-github/v89/github"
)

// TestGoGitHubClient drives the replica with the real go-github client, as
// every udos-dist action does, through both URL layouts it supports.
func TestGoGitHubClient(t *testing.T) {
	t.Parallel()
	for _, layout := range []string{"enterprise", "root"} {
		t.Run(layout, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, Config{ContentCreationPerMinute: -1})
			ctx := context.Background()
			var opts []github.ClientOptionsFunc
			if layout == "enterprise" {
				opts = append(opts, github.WithEnterpriseURLs(f.srv.URL, f.srv.URL))
			} else {
				base, up := f.srv.URL+"/", f.srv.URL+"/api/uploads/"
				opts = append(opts, github.WithURLs(&base, &up))
			}
			gh, err := github.NewClient(append(opts, github.WithAuthToken(pushToken), github.WithHTTPClient(f.srv.Client()))...)
			if err != nil {
				t.Fatal(err)
			}
			anon, err := github.NewClient(append(opts, github.WithHTTPClient(f.srv.Client()))...)
			if err != nil {
				t.Fatal(err)
			}

			rel, _, err := gh.Repositories.CreateRelease(ctx, "fredbook", "uDOS", github.CreateReleaseRequest{
				TagName: "v1.4.6", Name: github.Ptr("uDOS 1.4.6"), Draft: github.Ptr(true)})
			if err != nil {
				t.Fatal(err)
			}
			if !rel.Draft || rel.UploadURL == "" || rel.Author.GetLogin() != "maintainer" {
				t.Fatalf("created: %+v", rel)
			}

			// Upload from an *os.File and from a reader via upload_url.
			dir := t.TempDir()
			file := filepath.Join(dir, "core-slim.tar.gz")
			data := bytes.Repeat([]byte("udos"), 5000)
			if err := os.WriteFile(file, data, 0o644); err != nil {
				t.Fatal(err)
			}
			fh, _ := os.Open(file)
			defer fh.Close()
			a1, _, err := gh.Repositories.UploadReleaseAsset(ctx, "fredbook", "uDOS", rel.ID, &github.UploadOptions{Name: "core-slim.tar.gz", Label: "Core"}, fh)
			if err != nil {
				t.Fatalf("UploadReleaseAsset: %v", err)
			}
			sum := sha256.Sum256(data)
			if a1.GetDigest() != "sha256:"+hex.EncodeToString(sum[:]) || a1.GetState() != "uploaded" || a1.GetSize() != len(data) {
				t.Errorf("asset: %v", a1)
			}
			sig := []byte("-----BEGIN PGP SIGNATURE-----\n")
			if _, _, err := gh.Repositories.UploadReleaseAssetFromRelease(ctx, rel, &github.UploadOptions{Name: "core-slim.tar.gz.asc"}, bytes.NewReader(sig), int64(len(sig))); err != nil {
				t.Fatalf("UploadReleaseAssetFromRelease: %v", err)
			}
			_, _, err = gh.Repositories.UploadReleaseAssetFromRelease(ctx, rel, &github.UploadOptions{Name: "core-slim.tar.gz.asc"}, bytes.NewReader(sig), int64(len(sig)))
			var er *github.ErrorResponse
			if !errors.As(err, &er) || er.Response.StatusCode != 422 || len(er.Errors) != 1 || er.Errors[0].Code != "already_exists" || er.Errors[0].Resource != "ReleaseAsset" {
				t.Errorf("duplicate upload error: %v", err)
			}

			// Drafts: invisible anonymously and by tag.
			if _, _, err := gh.Repositories.GetReleaseByTag(ctx, "fredbook", "uDOS", "v1.4.6"); err == nil {
				t.Error("draft found by tag")
			}
			if list, _, err := anon.Repositories.ListReleases(ctx, "fredbook", "uDOS", nil); err != nil || len(list) != 0 {
				t.Errorf("anonymous list: %d %v", len(list), err)
			}

			rel, _, err = gh.Repositories.UpdateRelease(ctx, "fredbook", "uDOS", rel.ID, github.UpdateReleaseRequest{Draft: github.Ptr(false)})
			if err != nil || rel.Draft || rel.PublishedAt == nil {
				t.Fatalf("publish: %v %+v", err, rel)
			}
			byTag, _, err := anon.Repositories.GetReleaseByTag(ctx, "fredbook", "uDOS", "v1.4.6")
			if err != nil || len(byTag.Assets) != 2 {
				t.Fatalf("by tag: %v", err)
			}
			latest, _, err := anon.Repositories.GetLatestRelease(ctx, "fredbook", "uDOS")
			if err != nil || latest.ID != rel.ID {
				t.Errorf("latest: %v", err)
			}

			rc, redirect, err := anon.Repositories.DownloadReleaseAsset(ctx, "fredbook", "uDOS", a1.GetID(), f.srv.Client())
			if err != nil || redirect != "" {
				t.Fatalf("download: %v %q", err, redirect)
			}
			got, _ := io.ReadAll(rc)
			rc.Close()
			if !bytes.Equal(got, data) {
				t.Errorf("downloaded %d bytes", len(got))
			}

			assets, _, err := anon.Repositories.ListReleaseAssets(ctx, "fredbook", "uDOS", rel.ID, &github.ListOptions{PerPage: 1})
			if err != nil || len(assets) != 1 {
				t.Errorf("list assets: %v", err)
			}
			if _, err := gh.Repositories.DeleteReleaseAsset(ctx, "fredbook", "uDOS", a1.GetID()); err != nil {
				t.Errorf("delete asset: %v", err)
			}

			payload := json.RawMessage(`{"tag":"v1.4.6"}`)
			if _, _, err := gh.Repositories.Dispatch(ctx, "fredbook", "uDOS", github.DispatchRequestOptions{EventType: "udos-release", ClientPayload: &payload}); err != nil {
				t.Errorf("dispatch: %v", err)
			}
			if d := f.r.Dispatches(); len(d) != 1 || d[0].EventType != "udos-release" || string(d[0].ClientPayload) != `{"tag":"v1.4.6"}` {
				t.Errorf("dispatches: %+v", d)
			}

			repos, resp, err := anon.Repositories.ListByOrg(ctx, "fredbook", &github.RepositoryListByOrgOptions{ListOptions: github.ListOptions{PerPage: 100}})
			if err != nil || len(repos) != 1 || repos[0].GetFullName() != "fredbook/uDOS" || resp.Rate.Limit != 60 {
				t.Errorf("ListByOrg: %v %v", err, resp)
			}

			if _, err := gh.Repositories.DeleteRelease(ctx, "fredbook", "uDOS", rel.ID); err != nil {
				t.Errorf("delete release: %v", err)
			}
		})
	}
}

// TestGoGitHubRateLimitErrors checks go-github classifies the replica's
// rate-limit answers as GitHub's.
func TestGoGitHubRateLimitErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Now: time.Now})
	gh, err := github.NewClient(github.WithEnterpriseURLs(f.srv.URL, f.srv.URL), github.WithHTTPClient(f.srv.Client()), github.WithAuthToken(pushToken))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	f.r.Inject(Fault{Kind: Status429, RetryAfter: 2 * time.Second})
	_, _, err = gh.Repositories.Get(ctx, "fredbook", "uDOS")
	var abuse *github.AbuseRateLimitError
	if !errors.As(err, &abuse) || abuse.GetRetryAfter() != 2*time.Second {
		t.Errorf("secondary: %v", err)
	}
	// go-github now refuses calls locally until Retry-After passes; use a
	// fresh client for the primary limit.
	gh2, _ := github.NewClient(github.WithEnterpriseURLs(f.srv.URL, f.srv.URL), github.WithHTTPClient(f.srv.Client()), github.WithAuthToken(pushToken))
	f.r.Inject(Fault{Kind: PrimaryRateLimit, RetryAfter: time.Minute})
	_, _, err = gh2.Repositories.Get(ctx, "fredbook", "uDOS")
	var rl *github.RateLimitError
	if !errors.As(err, &rl) || rl.Rate.Remaining != 0 || time.Until(rl.Rate.Reset.Time) < 30*time.Second {
		t.Errorf("primary: %v", err)
	}
}
