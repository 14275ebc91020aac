package ghreplica

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

const docsBase = "https://docs.github.com/rest"

// reply is a handler's answer before the common headers (rate limit, ETag)
// are added.
type reply struct {
	status int
	body   any    // JSON-encoded when non-nil
	raw    []byte // sent as is when body is nil
	header http.Header
}

// call carries what every handler needs about one request.
type call struct {
	req    *http.Request
	login  string
	token  *Token
	host   string // scheme://host
	base   string // API base: host or host/api/v3
	body   []byte
	upload bool
	fault  *Fault
	rep    *Replica
	// truncated marks an upload body that broke off before its end.
	truncated bool
}

func (c *call) replica() *Replica { return c.rep }

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (r *Replica) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if strings.HasPrefix(req.URL.Path, adminPrefix) {
		r.serveAdmin(w, req)
		return
	}
	rec := &statusRecorder{ResponseWriter: w}
	entry := LoggedRequest{Method: req.Method, Path: req.URL.Path, Query: req.URL.RawQuery,
		Upload: strings.HasPrefix(req.URL.Path, "/api/uploads/")}
	r.mu.Lock()
	entry.Time = r.now()
	fault := r.takeFault(req)
	r.mu.Unlock()
	defer func() {
		entry.Status = rec.status
		r.mu.Lock()
		r.log = append(r.log, entry)
		r.mu.Unlock()
	}()

	if fault != nil {
		entry.Fault = fault.Kind
		switch fault.Kind {
		case DropConnection:
			dropConnection(w)
			return
		case Stall:
			d := fault.Delay
			if d <= 0 {
				d = 30 * time.Second
			}
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-req.Context().Done():
				t.Stop()
				dropConnection(w)
				return
			}
			fault = nil
		case Status5xx:
			r.writeFault(rec, req, fault, http.StatusInternalServerError)
			return
		case Status429:
			r.writeFault(rec, req, fault, http.StatusTooManyRequests)
			return
		case PrimaryRateLimit:
			r.writeFault(rec, req, fault, http.StatusForbidden)
			return
		case HalfUpload502:
			if !entry.Upload || req.Method != http.MethodPost {
				r.writeFault(rec, req, fault, http.StatusBadGateway)
				return
			}
		}
	}

	p := req.URL.Path
	switch {
	case strings.HasPrefix(p, "/_objects/"):
		r.serveObject(rec, req)
		return
	case !entry.Upload && !strings.HasPrefix(p, "/api/v3/") && isBrowserDownload(p):
		r.serveBrowserDownload(rec, req)
		return
	}
	if fault != nil && fault.Kind == LostResponse {
		// Do the work, throw the answer away, break the connection.
		discard := &statusRecorder{ResponseWriter: &discardWriter{h: http.Header{}}}
		r.serveAPI(discard, req, &entry, nil)
		dropConnection(w) // the log records status 0: no answer arrived

		return
	}
	r.serveAPI(rec, req, &entry, fault)
}

// discardWriter is a ResponseWriter that keeps nothing.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

func dropConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

func isBrowserDownload(p string) bool {
	seg := strings.Split(strings.TrimPrefix(p, "/"), "/")
	return len(seg) == 6 && seg[2] == "releases" && seg[3] == "download"
}

func schemeHost(req *http.Request) string {
	scheme := "http"
	if req.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + req.Host
}

func (r *Replica) writeFault(w http.ResponseWriter, req *http.Request, f *Fault, def int) {
	status := f.Status
	if status == 0 {
		status = def
	}
	wait := f.RetryAfter
	if wait <= 0 {
		wait = time.Second
	}
	r.mu.Lock()
	now := r.now()
	login := r.loginFor(req)
	limit := r.limitFor(login)
	win := r.windowLocked(identity(login), now)
	used := win.used
	reset := win.reset
	r.mu.Unlock()
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	var body map[string]string
	switch f.Kind {
	case Status429:
		setRateHeaders(h, limit, used, reset)
		h.Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
		body = map[string]string{"message": secondaryMessage, "documentation_url": docsBase + "/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}
	case PrimaryRateLimit:
		setRateHeaders(h, limit, limit, now.Add(wait))
		body = map[string]string{"message": primaryMessage(login), "documentation_url": docsBase + "/overview/rate-limits-for-the-rest-api#about-primary-rate-limits"}
	default:
		body = map[string]string{"message": http.StatusText(status)}
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

const secondaryMessage = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."

func primaryMessage(login string) string {
	if login == "" {
		return "API rate limit exceeded for 127.0.0.1. (But here's the good news: Authenticated requests get a higher rate limit. Check out the documentation for more details.)"
	}
	return "API rate limit exceeded for user " + login + "."
}

func setRateHeaders(h http.Header, limit, used int, reset time.Time) {
	remaining := limit - used
	if remaining < 0 {
		remaining = 0
	}
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Used", strconv.Itoa(used))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
}

// loginFor resolves the request's token; unknown tokens resolve to "".
// Callers hold r.mu.
func (r *Replica) loginFor(req *http.Request) string {
	if tok, ok := r.tokens[bearer(req)]; ok {
		return tok.Login
	}
	return ""
}

func bearer(req *http.Request) string {
	a := req.Header.Get("Authorization")
	for _, p := range []string{"Bearer ", "bearer ", "token ", "Token "} {
		if strings.HasPrefix(a, p) {
			return strings.TrimSpace(a[len(p):])
		}
	}
	return ""
}

func (r *Replica) limitFor(login string) int {
	if login == "" {
		return r.cfg.AnonymousRateLimit
	}
	return r.cfg.RateLimit
}

func (r *Replica) windowLocked(id string, now time.Time) *rateWindow {
	w := r.windows[id]
	if w == nil || !now.Before(w.reset) {
		w = &rateWindow{reset: now.Add(time.Hour)}
		r.windows[id] = w
	}
	return w
}

func isWrite(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

func (r *Replica) serveAPI(w *statusRecorder, req *http.Request, entry *LoggedRequest, fault *Fault) {
	c := &call{req: req, host: schemeHost(req), upload: entry.Upload, fault: fault, rep: r}
	c.base = c.host
	if strings.HasPrefix(req.URL.Path, "/api/v3/") {
		c.base = c.host + "/api/v3"
	}
	tokenText := bearer(req)
	r.mu.Lock()
	if tokenText != "" {
		if tok, ok := r.tokens[tokenText]; ok {
			c.token = &tok
			c.login = tok.Login
		}
	}
	r.mu.Unlock()
	entry.Login = c.login
	if req.Header.Get("Authorization") != "" && c.token == nil {
		writeJSON(w, http.StatusUnauthorized, nil, errBody("Bad credentials", docsBase))
		return
	}

	// Read the body outside the lock; a HalfUpload502 reads only half of it.
	if req.Body != nil {
		if fault != nil && fault.Kind == HalfUpload502 {
			n := req.ContentLength / 2
			if n < 0 {
				n = 0
			}
			c.body, _ = io.ReadAll(io.LimitReader(req.Body, n))
		} else {
			var err error
			c.body, err = io.ReadAll(req.Body)
			if err != nil && !c.upload {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			// An upload whose client went away mid-body still leaves a
			// "starter" asset behind, as on GitHub.
			c.truncated = err != nil
		}
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	id := identity(c.login)
	limit := r.limitFor(c.login)
	win := r.windowLocked(id, now)
	if win.used >= limit {
		win.used++ // GitHub keeps counting rejected requests in x-ratelimit-used
		h := w.Header()
		setRateHeaders(h, limit, win.used, win.reset)
		writeJSON(w, r.cfg.RateLimitStatus, nil, errBody(primaryMessage(c.login), docsBase+"/overview/rate-limits-for-the-rest-api#about-primary-rate-limits"))
		return
	}
	if isWrite(req.Method) && r.cfg.ContentCreationPerMinute > 0 {
		recent := r.creations[id][:0]
		for _, t := range r.creations[id] {
			if now.Sub(t) < time.Minute {
				recent = append(recent, t)
			}
		}
		r.creations[id] = recent
		if len(recent) >= r.cfg.ContentCreationPerMinute {
			win.used++
			h := w.Header()
			setRateHeaders(h, limit, win.used, win.reset)
			h.Set("Retry-After", strconv.Itoa(int((r.cfg.SecondaryRetryAfter+time.Second-1)/time.Second)))
			writeJSON(w, r.cfg.RateLimitStatus, nil, errBody(secondaryMessage, docsBase+"/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"))
			return
		}
		r.creations[id] = append(r.creations[id], now)
	}

	rep := r.route(c, now)
	h := w.Header()
	for k, v := range rep.header {
		h[k] = v
	}
	var payload []byte
	if rep.body != nil {
		payload = marshal(rep.body)
		h.Set("Content-Type", "application/json; charset=utf-8")
	} else {
		payload = rep.raw
	}
	if req.Method == http.MethodGet && rep.status == http.StatusOK {
		sum := sha256.Sum256(payload)
		etag := `W/"` + hex.EncodeToString(sum[:]) + `"`
		h.Set("ETag", etag)
		if etagMatch(req.Header.Get("If-None-Match"), etag) {
			// A 304 does not count against the rate limit.
			entry.NotModified = true
			setRateHeaders(h, limit, win.used, win.reset)
			h.Del("Content-Type")
			h.Del("Link")
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	win.used++
	setRateHeaders(h, limit, win.used, win.reset)
	h.Set("X-GitHub-Media-Type", "github.v3; format=json")
	h.Set("Vary", "Accept, Authorization, Cookie, X-GitHub-OTP")
	h.Set("X-GitHub-Request-Id", fmt.Sprintf("REPLICA:%d", len(r.log)+1))
	if len(payload) > 0 {
		h.Set("Content-Length", strconv.Itoa(len(payload)))
	}
	w.WriteHeader(rep.status)
	if len(payload) > 0 && req.Method != http.MethodHead {
		_, _ = w.Write(payload)
	}
}

func etagMatch(header, etag string) bool {
	if header == "" {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for _, part := range strings.Split(header, ",") {
		part = strings.TrimSpace(part)
		if part == "*" || strings.TrimPrefix(part, "W/") == want {
			return true
		}
	}
	return false
}

func marshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return bytes.TrimRight(buf.Bytes(), "\n")
}

func writeJSON(w http.ResponseWriter, status int, h http.Header, body any) {
	for k, v := range h {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(marshal(body))
}

// errorBody is GitHub's error document; field order matches GitHub's.
type errorBody struct {
	Message          string       `json:"message"`
	Errors           []fieldError `json:"errors,omitempty"`
	DocumentationURL string       `json:"documentation_url"`
}

type fieldError struct {
	Resource string `json:"resource"`
	Code     string `json:"code"`
	Field    string `json:"field"`
}

func errBody(msg, doc string) errorBody { return errorBody{Message: msg, DocumentationURL: doc} }

func fail(status int, msg, doc string) reply {
	return reply{status: status, body: errBody(msg, doc)}
}

func notFound() reply {
	return fail(http.StatusNotFound, "Not Found", docsBase)
}

func validation(resource, code, field, doc string) reply {
	return reply{status: http.StatusUnprocessableEntity, body: errorBody{
		Message: "Validation Failed", Errors: []fieldError{{Resource: resource, Code: code, Field: field}}, DocumentationURL: doc}}
}

const (
	docCreateRelease = docsBase + "/releases/releases#create-a-release"
	docUpdateRelease = docsBase + "/releases/releases#update-a-release"
	docUploadAsset   = docsBase + "/releases/assets#upload-a-release-asset"
	docAsset         = docsBase + "/releases/assets"
	docDispatch      = docsBase + "/repos/repos#create-a-repository-dispatch-event"
)

// canPush reports whether the caller's token may write to rp. Callers hold r.mu.
func (c *call) canPush(rp *repo) bool {
	if c.token == nil {
		return false
	}
	full := strings.ToLower(rp.owner.login + "/" + rp.name)
	for _, p := range c.token.Push {
		p = strings.ToLower(p)
		if p == "*" || p == full || p == strings.ToLower(rp.owner.login)+"/*" {
			return true
		}
	}
	return false
}

// needPush answers like GitHub when a write lacks rights: 401 without a
// token, 404 for a token that cannot see the repository's write side.
func (c *call) needPush(rp *repo) (reply, bool) {
	if c.token == nil {
		return fail(http.StatusUnauthorized, "Requires authentication", docsBase), false
	}
	if !c.canPush(rp) {
		return notFound(), false
	}
	return reply{}, true
}

func (r *Replica) route(c *call, now time.Time) reply {
	p := apiPath(c.req.URL.Path)
	seg := strings.Split(strings.Trim(p, "/"), "/")
	m := c.req.Method
	if m == http.MethodHead {
		m = http.MethodGet
	}
	if c.upload {
		// The upload host serves only asset uploads.
		if len(seg) == 6 && seg[0] == "repos" && seg[3] == "releases" && seg[5] == "assets" && m == http.MethodPost {
			rp := r.visibleRepo(c, seg[1], seg[2])
			if rp == nil {
				return notFound()
			}
			return r.uploadAsset(c, rp, seg[4], now)
		}
		return notFound()
	}
	switch {
	case len(seg) == 1 && seg[0] == "rate_limit" && m == http.MethodGet:
		return r.rateLimitDoc(c, now)
	case len(seg) == 3 && (seg[0] == "users" || seg[0] == "orgs") && seg[2] == "repos" && m == http.MethodGet:
		return r.listOwnerRepos(c, seg[0] == "orgs", seg[1])
	case len(seg) >= 3 && seg[0] == "repos":
	default:
		return notFound()
	}
	rp := r.visibleRepo(c, seg[1], seg[2])
	if rp == nil {
		if c.token == nil && isWrite(m) {
			return fail(http.StatusUnauthorized, "Requires authentication", docsBase)
		}
		return notFound()
	}
	rest := seg[3:]
	switch {
	case len(rest) == 0 && m == http.MethodGet:
		return reply{status: http.StatusOK, body: repoJSON(c, rp)}
	case len(rest) == 1 && rest[0] == "dispatches" && m == http.MethodPost:
		return r.dispatch(c, rp, now)
	case len(rest) == 0 || rest[0] != "releases":
		return notFound()
	}
	rest = rest[1:]
	switch {
	case len(rest) == 0 && m == http.MethodGet:
		return r.listReleases(c, rp)
	case len(rest) == 0 && m == http.MethodPost:
		return r.createRelease(c, rp, now)
	case len(rest) == 1 && rest[0] == "latest" && m == http.MethodGet:
		return r.latestRelease(c, rp)
	case len(rest) == 2 && rest[0] == "tags" && m == http.MethodGet:
		tag, _ := url.PathUnescape(rest[1])
		for _, rel := range rp.releases {
			if rel.tag == tag && !rel.draft {
				return reply{status: http.StatusOK, body: releaseJSON(c, rel)}
			}
		}
		return notFound()
	case len(rest) == 2 && rest[0] == "assets":
		return r.assetByID(c, rp, rest[1], m, now)
	case len(rest) == 1 || (len(rest) == 2 && rest[1] == "assets"):
		rel := r.releaseByID(c, rp, rest[0])
		if rel == nil {
			if c.token == nil && isWrite(m) {
				return fail(http.StatusUnauthorized, "Requires authentication", docsBase)
			}
			return notFound()
		}
		if len(rest) == 2 {
			if m == http.MethodPost {
				// Uploads go to the upload host, as on GitHub.
				return notFound()
			}
			if m != http.MethodGet {
				return notFound()
			}
			list := make([]any, 0, len(rel.assets))
			for _, a := range rel.assets {
				list = append(list, assetJSON(c, a))
			}
			return paginate(c, list)
		}
		switch m {
		case http.MethodGet:
			return reply{status: http.StatusOK, body: releaseJSON(c, rel)}
		case http.MethodPatch:
			return r.updateRelease(c, rel, now)
		case http.MethodDelete:
			if rep, ok := c.needPush(rp); !ok {
				return rep
			}
			r.deleteRelease(rel)
			return reply{status: http.StatusNoContent}
		}
	}
	return notFound()
}

// visibleRepo finds a repository the caller may see. Callers hold r.mu.
func (r *Replica) visibleRepo(c *call, o, n string) *repo {
	rp := r.repos[strings.ToLower(o+"/"+n)]
	if rp == nil || (rp.spec.Private && !c.canPush(rp)) {
		return nil
	}
	return rp
}

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

func (r *Replica) latestRelease(c *call, rp *repo) reply {
	var best *release
	for _, rel := range rp.releases {
		if rel.draft || rel.prerelease {
			continue
		}
		if best == nil || rel.published.After(best.published) || (rel.published.Equal(best.published) && rel.id > best.id) {
			best = rel
		}
	}
	if best == nil {
		return notFound()
	}
	return reply{status: http.StatusOK, body: releaseJSON(c, best)}
}

type releaseInput struct {
	TagName         *string `json:"tag_name"`
	TargetCommitish *string `json:"target_commitish"`
	Name            *string `json:"name"`
	Body            *string `json:"body"`
	Draft           *bool   `json:"draft"`
	Prerelease      *bool   `json:"prerelease"`
}

func (r *Replica) createRelease(c *call, rp *repo, now time.Time) reply {
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
	if rp.publishedTag(*in.TagName, nil) != nil {
		return validation("Release", "already_exists", "tag_name", docCreateRelease)
	}
	rel := &release{repo: rp, id: r.newID(), tag: *in.TagName, target: rp.spec.DefaultBranch,
		author: c.login, created: now, updated: now, untagged: r.untaggedSlug()}
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
	rel.draft = in.Draft != nil && *in.Draft
	if !rel.draft {
		rel.published = now
		rel.immutable = r.immutableRepo(rp)
	}
	rp.releases = append(rp.releases, rel)
	r.releases[rel.id] = rel
	body := releaseJSON(c, rel)
	return reply{status: http.StatusCreated, body: body, header: http.Header{"Location": {body.URL}}}
}

func (r *Replica) updateRelease(c *call, rel *release, now time.Time) reply {
	if rep, ok := c.needPush(rel.repo); !ok {
		return rep
	}
	var in releaseInput
	if err := json.Unmarshal(c.body, &in); err != nil {
		return fail(http.StatusBadRequest, "Problems parsing JSON", docUpdateRelease)
	}
	// Validate everything before changing anything.
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
	if in.Draft != nil {
		switch {
		case rel.draft && !*in.Draft:
			rel.draft = false
			rel.published = now
			rel.immutable = r.immutableRepo(rel.repo)
		case !rel.draft && *in.Draft:
			rel.draft = true
			rel.published = time.Time{}
		}
	}
	rel.updated = now
	return reply{status: http.StatusOK, body: releaseJSON(c, rel)}
}

func (r *Replica) deleteRelease(rel *release) {
	rp := rel.repo
	for i, x := range rp.releases {
		if x == rel {
			rp.releases = append(rp.releases[:i:i], rp.releases[i+1:]...)
			break
		}
	}
	for _, a := range rel.assets {
		delete(r.assets, a.id)
	}
	delete(r.releases, rel.id)
}

func (r *Replica) assetByID(c *call, rp *repo, idText string, m string, now time.Time) reply {
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil {
		return notFound()
	}
	a := r.assets[id]
	if a == nil || a.rel.repo != rp || (a.rel.draft && !c.canPush(rp)) {
		if c.token == nil && isWrite(m) {
			return fail(http.StatusUnauthorized, "Requires authentication", docsBase)
		}
		return notFound()
	}
	switch m {
	case http.MethodGet:
		if strings.Contains(c.req.Header.Get("Accept"), "application/octet-stream") {
			if a.state != "uploaded" {
				return notFound()
			}
			// GitHub redirects to a signed storage URL.
			return reply{status: http.StatusFound, header: http.Header{"Location": {r.objectURL(c, a)}}}
		}
		return reply{status: http.StatusOK, body: assetJSON(c, a)}
	case http.MethodPatch:
		if rep, ok := c.needPush(rp); !ok {
			return rep
		}
		if a.rel.immutable {
			return fail(http.StatusUnprocessableEntity, "Cannot modify an asset of an immutable release.", docAsset)
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
		a.updated = now
		return reply{status: http.StatusOK, body: assetJSON(c, a)}
	case http.MethodDelete:
		if rep, ok := c.needPush(rp); !ok {
			return rep
		}
		if a.rel.immutable {
			return fail(http.StatusUnprocessableEntity, "Cannot delete an asset of an immutable release.", docAsset)
		}
		rel := a.rel
		for i, x := range rel.assets {
			if x == a {
				rel.assets = append(rel.assets[:i:i], rel.assets[i+1:]...)
				break
			}
		}
		delete(r.assets, a.id)
		return reply{status: http.StatusNoContent}
	}
	return notFound()
}

func (r *Replica) uploadAsset(c *call, rp *repo, idText string, now time.Time) reply {
	if rep, ok := c.needPush(rp); !ok {
		return rep
	}
	rel := r.releaseByID(c, rp, idText)
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
		state: "uploaded", data: c.body, uploader: c.login, created: now, updated: now}
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

func (r *Replica) dispatch(c *call, rp *repo, now time.Time) reply {
	if rep, ok := c.needPush(rp); !ok {
		return rep
	}
	var in struct {
		EventType     *string         `json:"event_type"`
		ClientPayload json.RawMessage `json:"client_payload"`
	}
	if err := json.Unmarshal(c.body, &in); err != nil {
		return fail(http.StatusBadRequest, "Problems parsing JSON", docDispatch)
	}
	if in.EventType == nil || *in.EventType == "" || len(*in.EventType) > 100 {
		return validation("Repository", "invalid", "event_type", docDispatch)
	}
	if len(in.ClientPayload) > 0 && string(in.ClientPayload) != "null" {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(in.ClientPayload, &obj); err != nil || len(obj) > 10 {
			return validation("Repository", "invalid", "client_payload", docDispatch)
		}
	}
	r.dispatches = append(r.dispatches, Dispatch{Owner: rp.owner.login, Repo: rp.name, EventType: *in.EventType,
		ClientPayload: append(json.RawMessage(nil), in.ClientPayload...), Token: c.login, Time: now})
	return reply{status: http.StatusNoContent}
}

func (r *Replica) listOwnerRepos(c *call, org bool, login string) reply {
	o := r.owners[strings.ToLower(login)]
	if o == nil || (org && !o.org) {
		return notFound()
	}
	var repos []*repo
	for _, rp := range r.repos {
		if rp.owner == o && (!rp.spec.Private || c.canPush(rp)) {
			repos = append(repos, rp)
		}
	}
	sort.Slice(repos, func(i, j int) bool {
		if org { // /orgs/{org}/repos sorts by creation by default
			if !repos[i].created.Equal(repos[j].created) {
				return repos[i].created.Before(repos[j].created)
			}
			return repos[i].id < repos[j].id
		}
		return strings.ToLower(repos[i].name) < strings.ToLower(repos[j].name)
	})
	list := make([]any, 0, len(repos))
	for _, rp := range repos {
		list = append(list, repoJSON(c, rp))
	}
	return paginate(c, list)
}

func (r *Replica) rateLimitDoc(c *call, now time.Time) reply {
	limit := r.limitFor(c.login)
	win := r.windowLocked(identity(c.login), now)
	// /rate_limit itself is free: undo the increment serveAPI will add.
	win.used--
	core := map[string]any{"limit": limit, "used": win.used + 1, "remaining": max(limit-win.used-1, 0),
		"reset": win.reset.Unix(), "resource": "core"}
	return reply{status: http.StatusOK, body: map[string]any{"resources": map[string]any{"core": core}, "rate": core}}
}

// paginate answers one page of list with GitHub's per_page/page rules and
// Link header (rel prev, next, last, first).
func paginate(c *call, list []any) reply {
	q := c.req.URL.Query()
	perPage := 30
	if v, err := strconv.Atoi(q.Get("per_page")); err == nil && v > 0 {
		perPage = min(v, 100)
	}
	page := 1
	if v, err := strconv.Atoi(q.Get("page")); err == nil && v > 0 {
		page = v
	}
	last := (len(list) + perPage - 1) / perPage
	if last < 1 {
		last = 1
	}
	start := min((page-1)*perPage, len(list))
	end := min(start+perPage, len(list))
	out := list[start:end]
	if out == nil {
		out = []any{}
	}
	rep := reply{status: http.StatusOK, body: out, header: http.Header{}}
	link := func(n int, rel string) string {
		qq := c.req.URL.Query()
		qq.Set("page", strconv.Itoa(n))
		if qq.Get("per_page") != "" {
			qq.Set("per_page", strconv.Itoa(perPage))
		}
		return fmt.Sprintf(`<%s%s?%s>; rel="%s"`, c.host, c.req.URL.Path, qq.Encode(), rel)
	}
	var links []string
	if page > 1 {
		links = append(links, link(min(page-1, last), "prev"))
	}
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"))
	}
	if len(links) > 0 {
		rep.header.Set("Link", strings.Join(links, ", "))
	}
	return rep
}

func (r *Replica) objectURL(c *call, a *asset) string {
	return fmt.Sprintf("%s/_objects/%d?sig=%s", c.host, a.id, r.objectSig(a.id))
}

// serveObject plays the signed storage host GitHub redirects downloads to.
func (r *Replica) serveObject(w http.ResponseWriter, req *http.Request) {
	id, err := strconv.ParseInt(strings.TrimPrefix(req.URL.Path, "/_objects/"), 10, 64)
	r.mu.Lock()
	var a *asset
	if err == nil && hmacEqual(req.URL.Query().Get("sig"), r.objectSig(id)) {
		a = r.assets[id]
	}
	if a == nil || a.state != "uploaded" {
		r.mu.Unlock()
		http.Error(w, "Not Found", http.StatusNotFound)
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

// serveBrowserDownload answers github.com/O/R/releases/download/TAG/NAME
// with a redirect to storage. Drafts are reachable only with push access.
func (r *Replica) serveBrowserDownload(w http.ResponseWriter, req *http.Request) {
	seg := strings.Split(strings.TrimPrefix(req.URL.Path, "/"), "/")
	c := &call{req: req, host: schemeHost(req), rep: r}
	r.mu.Lock()
	if tok, ok := r.tokens[bearer(req)]; ok {
		c.token, c.login = &tok, tok.Login
	}
	rp := r.visibleRepo(c, seg[0], seg[1])
	var target string
	if rp != nil {
		tag, _ := url.PathUnescape(seg[4])
		name, _ := url.PathUnescape(seg[5])
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
		http.Error(w, "Not Found", http.StatusNotFound)
		return
	}
	http.Redirect(w, req, target, http.StatusFound)
}
