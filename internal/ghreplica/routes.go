package ghreplica

import (
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
)

// Routing. GitHub answers on several hosts: the REST API (api.github.com,
// or /api/v3 on GitHub Enterprise Server), the upload host
// (uploads.github.com, /api/uploads on GHES), github.com (release download
// URLs) and a storage host those redirect to. The replica serves all of
// them on one address and tells them apart by path; each host has its own
// http.ServeMux with GitHub's method+path patterns.
//
// To add an endpoint: declare its pattern in apiRoutes (or uploadRoutes)
// and write its handler, an endpoint, in the file of its resource.

const (
	uploadPrefix = "/api/uploads/"
	ghesPrefix   = "/api/v3"
	objectPrefix = "/_objects/"
)

// hosts are the replica's muxes, built once by New.
type hosts struct {
	admin   *http.ServeMux
	storage *http.ServeMux
	uploads *http.ServeMux
	ghes    *http.ServeMux // the API under /api/v3
	web     *http.ServeMux // github.com's download URLs, then the API at the root
	rootAPI *http.ServeMux
}

func (r *Replica) buildHosts() hosts {
	h := hosts{
		admin:   r.adminRoutes(),
		uploads: r.uploadRoutes(),
		ghes:    r.apiRoutes(ghesPrefix),
		rootAPI: r.apiRoutes(""),
		storage: http.NewServeMux(),
		web:     http.NewServeMux(),
	}
	h.storage.HandleFunc(objectPrefix+"{id}", r.serveObject)
	h.storage.HandleFunc("/", textNotFound)
	h.web.HandleFunc("/{owner}/{repo}/releases/download/{path...}", r.serveBrowserDownload) // {tag...}/{name}
	h.web.Handle("/", r.apiHost(h.rootAPI))
	return h
}

// apiRoutes declares the REST API under prefix ("" or "/api/v3").
func (r *Replica) apiRoutes(prefix string) *http.ServeMux {
	mux := http.NewServeMux()
	handle := func(method, pattern string, e endpoint) {
		mux.Handle(method+" "+prefix+pattern, r.api(e))
	}
	handle("GET", "/rate_limit", r.rateLimitDoc)
	handle("GET", "/users/{owner}/repos", r.listOwnerRepos(false))
	handle("GET", "/orgs/{owner}/repos", r.listOwnerRepos(true))

	handle("GET", "/repos/{owner}/{repo}", r.inRepo(r.getRepo))
	handle("POST", "/repos/{owner}/{repo}/dispatches", r.inRepo(r.dispatch))

	handle("GET", "/repos/{owner}/{repo}/releases", r.inRepo(r.listReleases))
	handle("POST", "/repos/{owner}/{repo}/releases", r.inRepo(r.createRelease))
	handle("GET", "/repos/{owner}/{repo}/releases/latest", r.inRepo(r.latestRelease))
	handle("GET", "/repos/{owner}/{repo}/releases/tags/{tag...}", r.inRepo(r.releaseByTag))
	handle("GET", "/repos/{owner}/{repo}/releases/{id}", r.withRelease(r.getRelease))
	handle("PATCH", "/repos/{owner}/{repo}/releases/{id}", r.withRelease(r.updateRelease))
	handle("DELETE", "/repos/{owner}/{repo}/releases/{id}", r.withRelease(r.deleteRelease))

	handle("GET", "/repos/{owner}/{repo}/releases/assets/{id}", r.withAsset(r.getAsset))
	handle("PATCH", "/repos/{owner}/{repo}/releases/assets/{id}", r.withAsset(r.updateAsset))
	handle("DELETE", "/repos/{owner}/{repo}/releases/assets/{id}", r.withAsset(r.deleteAsset))

	// GitHub's release ids are numbers, so …/releases/tags/… and
	// …/releases/assets/… never name a release. ServeMux wildcards are
	// untyped: …/releases/{id}/assets would overlap both, and ServeMux
	// refuses overlapping patterns. It lives in a mux of its own that is
	// asked only when no route above matched.
	byID := http.NewServeMux()
	byID.Handle("GET "+prefix+"/repos/{owner}/{repo}/releases/{id}/assets", r.api(r.withRelease(r.listReleaseAssets)))
	// Every other method and path: GitHub's 404 (or 401), never ServeMux's
	// 405 or its text 404.
	byID.Handle("/", r.api(r.unrouted))
	mux.Handle("/", byID)
	return mux
}

// uploadRoutes declares the upload host.
func (r *Replica) uploadRoutes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("POST "+uploadPrefix+"repos/{owner}/{repo}/releases/{id}/assets", r.api(r.uploadAsset))
	mux.Handle("/", r.api(r.unrouted))
	return mux
}

// route hands a request to the host GitHub would serve it on.
func (r *Replica) route(w http.ResponseWriter, req *http.Request) {
	p := req.URL.Path
	switch {
	case strings.HasPrefix(p, objectPrefix):
		if !isClean(p) {
			textNotFound(w, req)
			return
		}
		r.hosts.storage.ServeHTTP(w, req)
	case strings.HasPrefix(p, uploadPrefix):
		r.apiHost(r.hosts.uploads).ServeHTTP(w, req)
	case strings.HasPrefix(p, ghesPrefix+"/"):
		exchangeOf(req).apiPrefix = ghesPrefix
		r.apiHost(r.hosts.ghes).ServeHTTP(w, req)
	case isClean(p):
		r.hosts.web.ServeHTTP(w, req)
	default:
		r.apiHost(r.hosts.rootAPI).ServeHTTP(w, req)
	}
}

// isClean reports whether ServeMux would take p as it is: it answers any
// other path with a redirect to the cleaned one, which GitHub never sends.
func isClean(p string) bool { return path.Clean(p) == p }

// apiHost serves an API host's mux. GitHub's API ignores trailing (and
// repeated leading) slashes, so they go before the mux sees the path; a
// path that is still not clean (an empty, "." or ".." segment) names no
// resource and gets the not-found answer.
func (r *Replica) apiHost(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		escaped := req.URL.EscapedPath()
		trimmed := "/" + strings.Trim(escaped, "/")
		if !isClean(trimmed) {
			r.api(r.unrouted).ServeHTTP(w, req)
			return
		}
		if trimmed != escaped {
			decoded, err := url.PathUnescape(trimmed)
			if err != nil {
				r.api(r.unrouted).ServeHTTP(w, req)
				return
			}
			r2 := new(http.Request)
			*r2 = *req
			u := *req.URL
			u.Path, u.RawPath = decoded, trimmed
			r2.URL = &u
			req = r2
		}
		mux.ServeHTTP(w, req)
	})
}

// unrouted answers what no route matched: on the upload host and outside
// /repos/ plainly 404; under a repository, release or asset the caller
// cannot see, 401 for an anonymous write (as GitHub asks for a token
// first) and 404 otherwise.
func (r *Replica) unrouted(c *call) reply {
	seg := strings.Split(strings.Trim(apiPath(c.path), "/"), "/")
	if c.upload || len(seg) < 3 || seg[0] != "repos" {
		return notFound()
	}
	rp := r.visibleRepo(c, seg[1], seg[2])
	if rp == nil {
		return hidden(c)
	}
	rest := seg[3:]
	if len(rest) < 2 || rest[0] != "releases" {
		return notFound()
	}
	rest = rest[1:]
	switch {
	case len(rest) == 2 && rest[0] == "assets":
		id, err := strconv.ParseInt(rest[1], 10, 64)
		if err != nil {
			return notFound()
		}
		if a := r.assets[id]; a == nil || a.rel.repo != rp || (a.rel.draft && !c.canPush(rp)) {
			return hidden(c)
		}
	case len(rest) == 1 || (len(rest) == 2 && rest[1] == "assets"):
		if r.releaseByID(c, rp, rest[0]) == nil {
			return hidden(c)
		}
	}
	return notFound()
}
