package ghreplica

import (
	"bytes"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Release assets: list, get, rename, delete, and the two ways to download
// one (the API URL with Accept: application/octet-stream, and github.com's
// browser_download_url), both redirecting to a signed storage URL.

const docAsset = docsBase + "/releases/assets"

// withAsset resolves /repos/{owner}/{repo}/releases/assets/{id}.
func (r *Replica) withAsset(e func(c *call, a *asset) reply) endpoint {
	return r.inRepo(func(c *call, rp *repo) reply {
		id, err := strconv.ParseInt(c.req.PathValue("id"), 10, 64)
		if err != nil {
			return notFound()
		}
		a := r.assets[id]
		if a == nil || a.rel.repo != rp || (a.rel.draft && !c.canPush(rp)) {
			return hidden(c)
		}
		return e(c, a)
	})
}

// listReleaseAssets answers GET /repos/{owner}/{repo}/releases/{id}/assets.
func (r *Replica) listReleaseAssets(c *call, rel *release) reply {
	list := make([]any, 0, len(rel.assets))
	for _, a := range rel.assets {
		list = append(list, assetJSON(c, a))
	}
	return paginate(c, list)
}

// getAsset answers GET /repos/{owner}/{repo}/releases/assets/{id}: the
// asset document, or its bytes for Accept: application/octet-stream.
func (r *Replica) getAsset(c *call, a *asset) reply {
	if strings.Contains(c.req.Header.Get("Accept"), "application/octet-stream") {
		if a.state != "uploaded" {
			return notFound()
		}
		// GitHub redirects to a signed storage URL.
		return reply{status: http.StatusFound, header: http.Header{"Location": {r.objectURL(c, a)}}}
	}
	return reply{status: http.StatusOK, body: assetJSON(c, a)}
}

// changeAsset checks that the caller may verb ("modify", "delete") a.
func (c *call) changeAsset(a *asset, verb string) (reply, bool) {
	if rep, ok := c.needPush(a.rel.repo); !ok {
		return rep, false
	}
	if a.rel.immutable {
		return fail(http.StatusUnprocessableEntity, "Cannot "+verb+" an asset of an immutable release.", docAsset), false
	}
	return reply{}, true
}

// updateAsset answers PATCH /repos/{owner}/{repo}/releases/assets/{id}.
func (r *Replica) updateAsset(c *call, a *asset) reply {
	if rep, ok := c.changeAsset(a, "modify"); !ok {
		return rep
	}
	var in struct {
		Name  *string `json:"name"`
		Label *string `json:"label"`
	}
	if err := json.Unmarshal(c.body, &in); err != nil {
		return fail(http.StatusBadRequest, "Problems parsing JSON", docAsset)
	}
	if in.Name != nil {
		name := NormalizeAssetName(*in.Name)
		if name == "" {
			return validation("ReleaseAsset", "missing_field", "name", docAsset)
		}
		for _, o := range a.rel.assets {
			if o != a && o.name == name {
				return validation("ReleaseAsset", "already_exists", "name", docAsset)
			}
		}
		a.name = name
	}
	if in.Label != nil {
		a.label = *in.Label
	}
	a.updated = c.now
	return reply{status: http.StatusOK, body: assetJSON(c, a)}
}

// deleteAsset answers DELETE /repos/{owner}/{repo}/releases/assets/{id}.
func (r *Replica) deleteAsset(c *call, a *asset) reply {
	if rep, ok := c.changeAsset(a, "delete"); !ok {
		return rep
	}
	a.rel.assets = without(a.rel.assets, a)
	delete(r.assets, a.id)
	return reply{status: http.StatusNoContent}
}

func (r *Replica) objectURL(c *call, a *asset) string {
	return fmt.Sprintf("%s/_objects/%d?sig=%s", c.host, a.id, r.objectSig(a.id))
}

// serveObject plays the signed storage host GitHub redirects downloads to:
// /_objects/{id}?sig=….
func (r *Replica) serveObject(w http.ResponseWriter, req *http.Request) {
	id, err := strconv.ParseInt(req.PathValue("id"), 10, 64)
	r.mu.Lock()
	var a *asset
	if err == nil && hmacEqual(req.URL.Query().Get("sig"), r.objectSig(id)) {
		a = r.assets[id]
	}
	if a == nil || a.state != "uploaded" {
		r.mu.Unlock()
		textNotFound(w, req)
		return
	}
	if req.Method == http.MethodGet && req.Header.Get("Range") == "" {
		a.downloads++
	}
	data, name, mod := a.data, a.name, a.updated
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", "attachment; filename="+name)
	http.ServeContent(w, req, "", mod, bytes.NewReader(data))
}

func hmacEqual(a, b string) bool {
	return a != "" && hmac.Equal([]byte(a), []byte(b))
}

// textNotFound is the plain 404 of github.com and the storage host, which
// are not the API.
func textNotFound(w http.ResponseWriter, _ *http.Request) {
	http.Error(w, "Not Found", http.StatusNotFound)
}

// serveBrowserDownload answers github.com's
// /{owner}/{repo}/releases/download/{tag}/{name} with a redirect to
// storage. Drafts are reachable (by their untagged-… name) only with push
// access.
func (r *Replica) serveBrowserDownload(w http.ResponseWriter, req *http.Request) {
	c := &call{req: req, host: schemeHost(req), rep: r}
	tag, name := req.PathValue("tag"), req.PathValue("name")
	r.mu.Lock()
	if tok, ok := r.tokens[bearer(req)]; ok {
		c.token, c.login = &tok, tok.Login
	}
	rp := r.visibleRepo(c, req.PathValue("owner"), req.PathValue("repo"))
	var target string
	if rp != nil {
		for _, rel := range rp.releases {
			if (!rel.draft && rel.tag == tag) || (rel.draft && rel.untagged == tag && c.canPush(rp)) {
				for _, a := range rel.assets {
					if a.name == name && a.state == "uploaded" {
						target = r.objectURL(c, a)
					}
				}
			}
		}
	}
	r.mu.Unlock()
	if target == "" {
		textNotFound(w, req)
		return
	}
	http.Redirect(w, req, target, http.StatusFound)
}
