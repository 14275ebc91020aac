package publish

import (
	"context"
	"fmt"
	"strings"

	"github.com/fredbook/udos-dist/internal/ghrelease"
)

// ghClient adapts a ghrelease.Client to GitHub.
type ghClient struct {
	c          *ghrelease.Client
	prerelease func(tag string) bool
}

// NewGitHub returns the GitHub side of publication backed by c: the
// release is brought to its final state by ghrelease's resumable Publish
// (find or create the draft, upload what is missing, compare digests,
// publish last). A version with a semver pre-release part ("1.2.0-rc.1")
// is published as a GitHub pre-release.
func NewGitHub(c *ghrelease.Client) GitHub {
	return &ghClient{c: c, prerelease: func(tag string) bool { return strings.Contains(tag, "-") }}
}

func (g *ghClient) PublishRelease(ctx context.Context, repo, tag string, assets []Asset, name, body string) (PublishedRelease, error) {
	r, err := ghrelease.ParseRepo(repo)
	if err != nil {
		return PublishedRelease{}, fmt.Errorf("%w: %w", ErrInput, err)
	}
	owner, rname := r.Owner, r.Name
	// A published release that already holds this package (same digest)
	// is left alone: the signature of a re-run differs (it carries its
	// creation time), and a published release's assets are final.
	var kept []string
	rel, err := g.c.FindRelease(ctx, owner, rname, tag)
	if err != nil {
		return PublishedRelease{}, err
	}
	if rel != nil && !rel.GetDraft() && len(assets) > 0 {
		existing := map[string]string{}
		for _, a := range rel.Assets {
			if a.GetState() == "uploaded" || a.GetState() == "" {
				existing[a.GetName()] = strings.TrimPrefix(a.GetDigest(), "sha256:")
			}
		}
		pkg := assets[0]
		if have, ok := existing[pkg.Name]; ok {
			if have != pkg.SHA256 {
				return PublishedRelease{}, fmt.Errorf("%w: release %s of %s is published with %s sha256 %s, this build has sha256 %s: a published version is final, publish a new version instead",
					ErrConflict, tag, repo, pkg.Name, have, pkg.SHA256)
			}
			out := PublishedRelease{URL: rel.GetHTMLURL(), AlreadyPublished: true}
			var missing []Asset
			for _, a := range assets {
				if _, ok := existing[a.Name]; ok {
					out.Kept = append(out.Kept, a.Name)
				} else {
					missing = append(missing, a)
				}
			}
			if len(missing) == 0 {
				return out, nil
			}
			kept, assets = out.Kept, missing
		}
	}
	req := ghrelease.PublishRequest{Owner: owner, Repo: rname, Tag: tag, Name: name, Body: body, Prerelease: g.prerelease(tag)}
	for _, a := range assets {
		req.Assets = append(req.Assets, ghrelease.AssetFile{Path: a.Path, Name: a.Name, ContentType: a.ContentType})
	}
	res, err := g.c.Publish(ctx, req)
	if err != nil {
		return PublishedRelease{}, err
	}
	out := PublishedRelease{URL: res.HTMLURL, Kept: kept}
	for _, a := range res.Assets {
		switch a.Action {
		case ghrelease.ActionUnchanged:
			out.Kept = append(out.Kept, a.Name)
		default:
			out.Uploaded = append(out.Uploaded, a.Name)
		}
	}
	out.AlreadyPublished = !res.Created && !res.Published && len(out.Uploaded) == 0 && len(kept) == 0
	return out, nil
}

func (g *ghClient) Dispatch(ctx context.Context, repo, eventType string, payload map[string]any) error {
	r, err := ghrelease.ParseRepo(repo)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInput, err)
	}
	return g.c.Dispatch(ctx, r.Owner, r.Name, eventType, payload)
}
