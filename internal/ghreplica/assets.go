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
		if r.cfg.DirectDownloads {
			countDownload(c.req, a)
			return reply{status: http.StatusOK, raw: a.data, header: downloadHeader(a.name)}
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
	r.sendAssetLocked(w, req, a)
}

// sendAssetLocked serves an asset's bytes (with Range and conditional
// requests), counting the download. It is called with r.mu held and
// releases it before sending.
func (r *Replica) sendAssetLocked(w http.ResponseWriter, req *http.Request, a *asset) {
	countDownload(req, a)
	data, name, mod := a.data, a.name, a.updated
	r.mu.Unlock()
	for k, v := range downloadHeader(name) {
		w.Header()[k] = v
	}
	http.ServeContent(w, req, "", mod, bytes.NewReader(data))
}

// countDownload counts a whole download, as download_count does (a Range
// request resumes one).
func countDownload(req *http.Request, a *asset) {
	if req.Method == http.MethodGet && req.Header.Get("Range") == "" {
		a.downloads++
	}
}

func downloadHeader(name string) http.Header {
	return http.Header{"Content-Type": {"application/octet-stream"}, "Content-Disposition": {"attachment; filename=" + name}}
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
// /{owner}/{repo}/releases/download/{tag...}/{name} with a redirect to
// storage (or, with Config.DirectDownloads, the bytes). A tag may hold
// slashes, as such or escaped. Drafts are reachable (by their untagged-…
// name) only with push access.
func (r *Replica) serveBrowserDownload(w http.ResponseWriter, req *http.Request) {
	c := &call{req: req, host: schemeHost(req), rep: r}
	tag, name, ok := cutLast(req.PathValue("path"), "/")
	if !ok {
		textNotFound(w, req)
		return
	}
	r.mu.Lock()
	if tok, ok := r.tokens[bearer(req)]; ok {
		c.token, c.login = &tok, tok.Login
	}
	rp := r.visibleRepo(c, req.PathValue("owner"), req.PathValue("repo"))
	var found *asset
	if rp != nil {
		for _, rel := range rp.releases {
			if (!rel.draft && rel.tag == tag) || (rel.draft && rel.untagged == tag && c.canPush(rp)) {
				for _, a := range rel.assets {
					if a.name == name && a.state == "uploaded" {
						found = a
					}
				}
			}
		}
	}
	switch {
	case found == nil:
		r.mu.Unlock()
		textNotFound(w, req)
	case r.cfg.DirectDownloads:
		r.sendAssetLocked(w, req, found)
	default:
		target := r.objectURL(c, found)
		r.mu.Unlock()
		http.Redirect(w, req, target, http.StatusFound)
	}
}

// cutLast splits s around its last sep.
func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return "", s, false
	}
	return s[:i], s[i+len(sep):], true
}
