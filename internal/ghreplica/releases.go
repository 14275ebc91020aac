package ghreplica

import (
	"cmp"
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/Masterminds/semver/v3"
)

// Releases: list, latest, by tag, by id, create, update (publish) and
// delete.

const (
	docCreateRelease = docsBase + "/releases/releases#create-a-release"
	docUpdateRelease = docsBase + "/releases/releases#update-a-release"
)

func (r *Replica) releaseByID(c *call, rp *repo, idText string) *release {
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil {
		return nil
	}
	rel := r.releases[id]
	if rel == nil || rel.repo != rp || (rel.draft && !c.canPush(rp)) {
		return nil
	}
	return rel
}

// withRelease resolves /repos/{owner}/{repo}/releases/{id}.
func (r *Replica) withRelease(e func(c *call, rel *release) reply) endpoint {
	return r.inRepo(func(c *call, rp *repo) reply {
		rel := r.releaseByID(c, rp, c.req.PathValue("id"))
		if rel == nil {
			return hidden(c)
		}
		return e(c, rel)
	})
}

func sortedReleases(in []*release) []*release {
	out := append([]*release(nil), in...)
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].created.Equal(out[j].created) {
			return out[i].created.After(out[j].created)
		}
		return out[i].id > out[j].id
	})
	return out
}

// listReleases answers GET /repos/{owner}/{repo}/releases.
func (r *Replica) listReleases(c *call, rp *repo) reply {
	var list []any
	push := c.canPush(rp)
	for _, rel := range sortedReleases(rp.releases) {
		if rel.draft && !push {
			continue
		}
		list = append(list, releaseJSON(c, rel))
	}
	return paginate(c, list)
}

// latestRelease answers GET /repos/{owner}/{repo}/releases/latest: the
// release make_latest chose while it is still a published full release,
// else GitHub's legacy rule.
func (r *Replica) latestRelease(c *call, rp *repo) reply {
	best := rp.latest
	if best == nil || best.draft || best.prerelease {
		best = rp.legacyLatest()
	}
	if best == nil {
		return notFound()
	}
	return reply{status: http.StatusOK, body: releaseJSON(c, best)}
}

// legacyLatest is GitHub's rule from before make_latest: the newest
// non-draft, non-prerelease release by created_at, then the higher
// semantic version.
func (rp *repo) legacyLatest() *release {
	var best *release
	for _, rel := range rp.releases {
		if rel.draft || rel.prerelease {
			continue
		}
		if best == nil || rel.created.After(best.created) || (rel.created.Equal(best.created) && laterVersion(rel, best)) {
			best = rel
		}
	}
	return best
}

// laterVersion orders two releases created in the same second: by
// version when both tags are versions, else by id.
func laterVersion(a, b *release) bool {
	va, errA := semver.NewVersion(a.tag)
	vb, errB := semver.NewVersion(b.tag)
	if errA == nil && errB == nil && !va.Equal(vb) {
		return va.GreaterThan(vb)
	}
	return a.id > b.id
}

func validMakeLatest(v string) bool {
	switch v {
	case "", "true", "false", "legacy":
		return true
	}
	return false
}

// makeLatest applies make_latest to a release that is published.
// "true" (GitHub's default) makes a full release the latest; prereleases
// cannot be.
func (rp *repo) makeLatest(rel *release, v string) {
	switch v {
	case "true":
		if !rel.draft && !rel.prerelease {
			rp.latest = rel
		}
	case "legacy":
		rp.latest = nil
	}
}

// releaseByTag answers GET /repos/{owner}/{repo}/releases/tags/{tag}; it
// never finds drafts.
func (r *Replica) releaseByTag(c *call, rp *repo) reply {
	tag := c.req.PathValue("tag")
	for _, rel := range rp.releases {
		if rel.tag == tag && !rel.draft {
			return reply{status: http.StatusOK, body: releaseJSON(c, rel)}
		}
	}
	return notFound()
}

// getRelease answers GET /repos/{owner}/{repo}/releases/{id}.
func (r *Replica) getRelease(c *call, rel *release) reply {
	return reply{status: http.StatusOK, body: releaseJSON(c, rel)}
}

type releaseInput struct {
	TagName         *string `json:"tag_name"`
	TargetCommitish *string `json:"target_commitish"`
	Name            *string `json:"name"`
	Body            *string `json:"body"`
	Draft           *bool   `json:"draft"`
	Prerelease      *bool   `json:"prerelease"`
	MakeLatest      *string `json:"make_latest"`
}

// makeLatestOr returns the request's make_latest, else def.
func (in releaseInput) makeLatestOr(def string) string {
	if in.MakeLatest != nil {
		return *in.MakeLatest
	}
	return def
}

// apply sets the fields that create and update treat alike.
func (in releaseInput) apply(rel *release) {
	if in.TargetCommitish != nil && *in.TargetCommitish != "" {
		rel.target = *in.TargetCommitish
	}
	if in.Name != nil {
		rel.name = *in.Name
	}
	if in.Body != nil {
		rel.body = *in.Body
	}
	if in.Prerelease != nil {
		rel.prerelease = *in.Prerelease
	}
}

// createRelease answers POST /repos/{owner}/{repo}/releases.
func (r *Replica) createRelease(c *call, rp *repo) reply {
	if rep, ok := c.needPush(rp); !ok {
		return rep
	}
	var in releaseInput
	if err := json.Unmarshal(c.body, &in); err != nil {
		return fail(http.StatusBadRequest, "Problems parsing JSON", docCreateRelease)
	}
	if in.TagName == nil || *in.TagName == "" {
		return validation("Release", "missing_field", "tag_name", docCreateRelease)
	}
	if in.MakeLatest != nil && (*in.MakeLatest == "" || !validMakeLatest(*in.MakeLatest)) {
		return validation("Release", "invalid", "make_latest", docCreateRelease)
	}
	if rp.publishedTag(*in.TagName, nil) != nil {
		return validation("Release", "already_exists", "tag_name", docCreateRelease)
	}
	now := c.now
	rel := &release{repo: rp, id: r.newID(), tag: *in.TagName, target: rp.spec.DefaultBranch,
		author: c.login, created: now, updated: now, untagged: r.untaggedSlug()}
	in.apply(rel)
	rel.draft = in.Draft != nil && *in.Draft
	if !rel.draft {
		rel.published = now
		rel.immutable = r.immutableRepo(rp)
	}
	rp.releases = append(rp.releases, rel)
	r.releases[rel.id] = rel
	if rel.draft {
		rel.makeLatest = in.makeLatestOr("")
	} else {
		rp.makeLatest(rel, in.makeLatestOr("true"))
	}
	body := releaseJSON(c, rel)
	return reply{status: http.StatusCreated, body: body, header: http.Header{"Location": {body.URL}}}
}

// updateRelease answers PATCH /repos/{owner}/{repo}/releases/{id}.
func (r *Replica) updateRelease(c *call, rel *release) reply {
	if rep, ok := c.needPush(rel.repo); !ok {
		return rep
	}
	var in releaseInput
	if err := json.Unmarshal(c.body, &in); err != nil {
		return fail(http.StatusBadRequest, "Problems parsing JSON", docUpdateRelease)
	}
	// Validate everything before changing anything.
	if in.MakeLatest != nil && (*in.MakeLatest == "" || !validMakeLatest(*in.MakeLatest)) {
		return validation("Release", "invalid", "make_latest", docUpdateRelease)
	}
	tag := rel.tag
	if in.TagName != nil && *in.TagName != rel.tag {
		if *in.TagName == "" {
			return validation("Release", "missing_field", "tag_name", docUpdateRelease)
		}
		if rel.immutable {
			return fail(http.StatusUnprocessableEntity, "Cannot change the tag of an immutable release.", docUpdateRelease)
		}
		tag = *in.TagName
	}
	willBePublished := !rel.draft || (in.Draft != nil && !*in.Draft)
	if in.Draft != nil && *in.Draft {
		willBePublished = false
	}
	if willBePublished && rel.repo.publishedTag(tag, rel) != nil {
		return validation("Release", "already_exists", "tag_name", docUpdateRelease)
	}
	if in.Draft != nil && *in.Draft && !rel.draft && rel.immutable {
		return fail(http.StatusUnprocessableEntity, "Cannot convert an immutable release back to a draft.", docUpdateRelease)
	}
	rel.tag = tag
	in.apply(rel)
	wasDraft := rel.draft
	if in.Draft != nil {
		switch {
		case rel.draft && !*in.Draft:
			rel.draft = false
			rel.published = c.now
			rel.immutable = r.immutableRepo(rel.repo)
		case !rel.draft && *in.Draft:
			rel.draft = true
			rel.published = time.Time{}
		}
	}
	switch {
	case rel.draft:
		rel.makeLatest = in.makeLatestOr(rel.makeLatest)
	case wasDraft: // published now: make_latest defaults to true
		rel.repo.makeLatest(rel, in.makeLatestOr(cmp.Or(rel.makeLatest, "true")))
	case in.MakeLatest != nil:
		rel.repo.makeLatest(rel, *in.MakeLatest)
	}
	rel.updated = c.now
	return reply{status: http.StatusOK, body: releaseJSON(c, rel)}
}

// deleteRelease answers DELETE /repos/{owner}/{repo}/releases/{id}.
func (r *Replica) deleteRelease(c *call, rel *release) reply {
	if rep, ok := c.needPush(rel.repo); !ok {
		return rep
	}
	rel.repo.releases = without(rel.repo.releases, rel)
	if rel.repo.latest == rel {
		rel.repo.latest = nil
	}
	for _, a := range rel.assets {
		delete(r.assets, a.id)
	}
	delete(r.releases, rel.id)
	return reply{status: http.StatusNoContent}
}

// without returns list less x, in a new array: slices handed out earlier
// keep their contents.
func without[T comparable](list []T, x T) []T {
	i := slices.Index(list, x)
	if i < 0 {
		return list
	}
	return append(list[:i:i], list[i+1:]...)
}
