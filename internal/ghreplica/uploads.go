package ghreplica

import "net/http"

// Asset uploads, which GitHub takes only on its upload host
// (uploads.github.com; /api/uploads on GitHub Enterprise Server, and here).

const docUploadAsset = docsBase + "/releases/assets#upload-a-release-asset"

// uploadAsset answers POST /repos/{owner}/{repo}/releases/{id}/assets?name=N&label=L
// on the upload host.
func (r *Replica) uploadAsset(c *call) reply {
	rp := r.visibleRepo(c, c.req.PathValue("owner"), c.req.PathValue("repo"))
	if rp == nil {
		return notFound()
	}
	if rep, ok := c.needPush(rp); !ok {
		return rep
	}
	rel := r.releaseByID(c, rp, c.req.PathValue("id"))
	if rel == nil {
		return notFound()
	}
	q := c.req.URL.Query()
	name := NormalizeAssetName(q.Get("name"))
	if name == "" {
		return validation("ReleaseAsset", "missing_field", "name", docUploadAsset)
	}
	ct := c.req.Header.Get("Content-Type")
	if ct == "" {
		return validation("ReleaseAsset", "missing_field", "content_type", docUploadAsset)
	}
	if rel.immutable {
		return fail(http.StatusUnprocessableEntity, "Cannot upload assets to an immutable release.", docUploadAsset)
	}
	for _, o := range rel.assets {
		if o.name == name {
			return validation("ReleaseAsset", "already_exists", "name", docUploadAsset)
		}
	}
	a := &asset{rel: rel, id: r.newID(), name: name, label: q.Get("label"), contentType: ct,
		state: "uploaded", data: c.body, uploader: c.login, created: c.now, updated: c.now}
	rel.assets = append(rel.assets, a)
	r.assets[a.id] = a
	if c.fault != nil && c.fault.Kind == HalfUpload502 {
		// The connection broke mid-upload: GitHub keeps a "starter" asset.
		a.state = "starter"
		status := c.fault.Status
		if status == 0 {
			status = http.StatusBadGateway
		}
		return fail(status, "Server Error", docsBase)
	}
	if c.truncated || (int64(len(c.body)) != c.req.ContentLength && c.req.ContentLength >= 0) {
		a.state = "starter"
		return fail(http.StatusBadRequest, "Upload incomplete", docUploadAsset)
	}
	a.digest = digestOf(c.body)
	return reply{status: http.StatusCreated, body: assetJSON(c, a)}
}
