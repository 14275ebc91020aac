package ghreplica

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// The JSON documents below keep GitHub's field order and always carry every
// field (null where GitHub sends null), so field-set tests are meaningful.

type userDoc struct {
	Login             string `json:"login"`
	ID                int64  `json:"id"`
	NodeID            string `json:"node_id"`
	AvatarURL         string `json:"avatar_url"`
	GravatarID        string `json:"gravatar_id"`
	URL               string `json:"url"`
	HTMLURL           string `json:"html_url"`
	FollowersURL      string `json:"followers_url"`
	FollowingURL      string `json:"following_url"`
	GistsURL          string `json:"gists_url"`
	StarredURL        string `json:"starred_url"`
	SubscriptionsURL  string `json:"subscriptions_url"`
	OrganizationsURL  string `json:"organizations_url"`
	ReposURL          string `json:"repos_url"`
	EventsURL         string `json:"events_url"`
	ReceivedEventsURL string `json:"received_events_url"`
	Type              string `json:"type"`
	UserViewType      string `json:"user_view_type"`
	SiteAdmin         bool   `json:"site_admin"`
}

type repoDoc struct {
	ID            int64    `json:"id"`
	NodeID        string   `json:"node_id"`
	Name          string   `json:"name"`
	FullName      string   `json:"full_name"`
	Private       bool     `json:"private"`
	Owner         userDoc  `json:"owner"`
	HTMLURL       string   `json:"html_url"`
	Description   *string  `json:"description"`
	Fork          bool     `json:"fork"`
	URL           string   `json:"url"`
	ReleasesURL   string   `json:"releases_url"`
	TagsURL       string   `json:"tags_url"`
	CreatedAt     string   `json:"created_at"`
	UpdatedAt     string   `json:"updated_at"`
	PushedAt      string   `json:"pushed_at"`
	CloneURL      string   `json:"clone_url"`
	Archived      bool     `json:"archived"`
	Disabled      bool     `json:"disabled"`
	Visibility    string   `json:"visibility"`
	Topics        []string `json:"topics"`
	DefaultBranch string   `json:"default_branch"`
}

type releaseDoc struct {
	URL             string     `json:"url"`
	AssetsURL       string     `json:"assets_url"`
	UploadURL       string     `json:"upload_url"`
	HTMLURL         string     `json:"html_url"`
	ID              int64      `json:"id"`
	Author          userDoc    `json:"author"`
	NodeID          string     `json:"node_id"`
	TagName         string     `json:"tag_name"`
	TargetCommitish string     `json:"target_commitish"`
	Name            *string    `json:"name"`
	Draft           bool       `json:"draft"`
	Immutable       bool       `json:"immutable"`
	Prerelease      bool       `json:"prerelease"`
	CreatedAt       string     `json:"created_at"`
	UpdatedAt       string     `json:"updated_at"`
	PublishedAt     *string    `json:"published_at"`
	Assets          []assetDoc `json:"assets"`
	TarballURL      *string    `json:"tarball_url"`
	ZipballURL      *string    `json:"zipball_url"`
	Body            *string    `json:"body"`
}

type assetDoc struct {
	URL                string  `json:"url"`
	ID                 int64   `json:"id"`
	NodeID             string  `json:"node_id"`
	Name               string  `json:"name"`
	Label              string  `json:"label"`
	Uploader           userDoc `json:"uploader"`
	ContentType        string  `json:"content_type"`
	State              string  `json:"state"`
	Size               int     `json:"size"`
	Digest             *string `json:"digest"`
	DownloadCount      int     `json:"download_count"`
	CreatedAt          string  `json:"created_at"`
	UpdatedAt          string  `json:"updated_at"`
	BrowserDownloadURL string  `json:"browser_download_url"`
}

func ts(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func nodeID(kind string, id int64) string {
	return kind + "_" + base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("replica:%s:%d", kind, id)))
}

func strPtr(s string) *string { return &s }

// userJSON renders a user known by login. Callers hold r.mu.
func userJSON(c *call, login string, id int64, org bool) userDoc {
	u := c.base + "/users/" + login
	typ := "User"
	if org {
		typ = "Organization"
	}
	return userDoc{
		Login: login, ID: id, NodeID: nodeID("U", id),
		AvatarURL: fmt.Sprintf("%s/avatars/u/%d?v=4", c.host, id), GravatarID: "",
		URL: u, HTMLURL: c.host + "/" + login,
		FollowersURL: u + "/followers", FollowingURL: u + "/following{/other_user}",
		GistsURL: u + "/gists{/gist_id}", StarredURL: u + "/starred{/owner}{/repo}",
		SubscriptionsURL: u + "/subscriptions", OrganizationsURL: u + "/orgs",
		ReposURL: u + "/repos", EventsURL: u + "/events{/privacy}",
		ReceivedEventsURL: u + "/received_events", Type: typ, UserViewType: "public",
	}
}

func (c *call) user(r *Replica, login string) userDoc {
	o := r.owners[strings.ToLower(login)]
	if o == nil {
		o = r.ownerLocked(login, false)
	}
	return userJSON(c, o.login, o.id, o.org)
}

func repoJSON(c *call, rp *repo) repoDoc {
	full := rp.owner.login + "/" + rp.name
	api := c.base + "/repos/" + full
	var desc *string
	if rp.spec.Description != "" {
		desc = strPtr(rp.spec.Description)
	}
	vis := "public"
	if rp.spec.Private {
		vis = "private"
	}
	topics := append([]string{}, rp.spec.Topics...)
	return repoDoc{
		ID: rp.id, NodeID: nodeID("R", rp.id), Name: rp.name, FullName: full, Private: rp.spec.Private,
		Owner:   userJSON(c, rp.owner.login, rp.owner.id, rp.owner.org),
		HTMLURL: c.host + "/" + full, Description: desc, URL: api,
		ReleasesURL: api + "/releases{/id}", TagsURL: api + "/tags",
		CreatedAt: ts(rp.created), UpdatedAt: ts(rp.created), PushedAt: ts(rp.created),
		CloneURL: c.host + "/" + full + ".git", Archived: rp.spec.Archived, Visibility: vis, Topics: topics,
		DefaultBranch: rp.spec.DefaultBranch,
	}
}

// escapeTag escapes a tag for a URL path as GitHub does: each part, the
// slashes between them kept ("release/v1" stays two segments).
func escapeTag(tag string) string {
	parts := strings.Split(tag, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// tagRef is the tag a release's web URLs use: drafts have no tag yet.
func (rel *release) tagRef() string {
	if rel.draft {
		return rel.untagged
	}
	return rel.tag
}

func releaseJSON(c *call, rel *release) releaseDoc {
	rp := rel.repo
	full := rp.owner.login + "/" + rp.name
	api := fmt.Sprintf("%s/repos/%s/releases/%d", c.base, full, rel.id)
	d := releaseDoc{
		URL: api, AssetsURL: api + "/assets",
		UploadURL: fmt.Sprintf("%s/api/uploads/repos/%s/releases/%d/assets{?name,label}", c.host, full, rel.id),
		HTMLURL:   c.host + "/" + full + "/releases/tag/" + escapeTag(rel.tagRef()),
		ID:        rel.id, NodeID: nodeID("RE", rel.id), TagName: rel.tag, TargetCommitish: rel.target,
		Draft: rel.draft, Immutable: rel.immutable, Prerelease: rel.prerelease,
		CreatedAt: ts(rel.created), UpdatedAt: ts(rel.updated), Assets: []assetDoc{},
	}
	if r := c.replica(); r != nil {
		d.Author = c.user(r, rel.author)
	}
	if rel.name != "" {
		d.Name = strPtr(rel.name)
	}
	if rel.body != "" {
		d.Body = strPtr(rel.body)
	}
	if !rel.draft {
		d.PublishedAt = strPtr(ts(rel.published))
		d.TarballURL = strPtr(c.base + "/repos/" + full + "/tarball/" + escapeTag(rel.tag))
		d.ZipballURL = strPtr(c.base + "/repos/" + full + "/zipball/" + escapeTag(rel.tag))
	}
	for _, a := range rel.assets {
		d.Assets = append(d.Assets, assetJSON(c, a))
	}
	return d
}

func assetJSON(c *call, a *asset) assetDoc {
	rel := a.rel
	full := rel.repo.owner.login + "/" + rel.repo.name
	d := assetDoc{
		URL: fmt.Sprintf("%s/repos/%s/releases/assets/%d", c.base, full, a.id),
		ID:  a.id, NodeID: nodeID("RA", a.id), Name: a.name, Label: a.label,
		ContentType: a.contentType, State: a.state, Size: len(a.data), DownloadCount: a.downloads,
		CreatedAt: ts(a.created), UpdatedAt: ts(a.updated),
		BrowserDownloadURL: c.host + "/" + full + "/releases/download/" + escapeTag(rel.tagRef()) + "/" + url.PathEscape(a.name),
	}
	if r := c.replica(); r != nil {
		d.Uploader = c.user(r, a.uploader)
	}
	if a.state == "starter" {
		d.Size = 0
	}
	// An open upload has its declared size and no digest yet; a starter
	// never gets one.
	if a.digest != "" && !c.rep.cfg.OmitDigests {
		d.Digest = strPtr(a.digest)
	}
	return d
}
