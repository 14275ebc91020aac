package ghreplica

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/fredbook/udos-dist/internal/canonjson"
)

// This file is the path every request takes: the request log and injected
// faults (ServeHTTP), then, for the API and upload hosts, authentication,
// rate limits and conditional requests around one endpoint (serveAPI).
// Which endpoint answers is declared in routes.go; the endpoints live in
// the file of their resource.

const docsBase = "https://docs.github.com/rest"

// reply is an endpoint's answer before the common headers (rate limit,
// ETag) are added.
type reply struct {
	status int
	body   any    // JSON-encoded when non-nil
	raw    []byte // sent as is when body is nil
	header http.Header
}

// endpoint answers one API request. It runs with r.mu held.
type endpoint func(c *call) reply

// call carries what every endpoint needs about one request.
type call struct {
	req    *http.Request // as routed: PathValue works
	path   string        // the path as sent, for Link headers
	login  string
	token  *Token
	host   string // scheme://host
	base   string // API base: host or host/api/v3
	body   []byte
	upload bool
	fault  *Fault
	rep    *Replica
	now    time.Time
	// truncated marks an upload body that broke off before its end.
	truncated bool
}

func (c *call) replica() *Replica { return c.rep }

// exchange is what ServeHTTP hands down to the endpoint through the
// request's context: the log entry to fill, the fault it drew, and where
// the routing put it.
type exchange struct {
	entry *LoggedRequest
	fault *Fault
	w     http.ResponseWriter // the connection's own writer, to drop it
	path  string              // the path as sent
	// apiPrefix is "/api/v3" for GitHub Enterprise Server's layout.
	apiPrefix string
}

type exchangeKey struct{}

func exchangeOf(req *http.Request) *exchange {
	x, _ := req.Context().Value(exchangeKey{}).(*exchange)
	return x
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	// answered, when set, is called once with the status before any of
	// the answer goes out: the request is logged then, so a client that
	// has read its answer finds the request in the log (logging after the
	// handler returned let a fast client count one request too few).
	answered func(status int)
}

func (s *statusRecorder) record(code int) {
	if s.status == 0 {
		s.status = code
		if s.answered != nil {
			s.answered(code)
		}
	}
}

func (s *statusRecorder) WriteHeader(code int) {
	s.record(code)
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.record(http.StatusOK)
	return s.ResponseWriter.Write(b)
}

func (r *Replica) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if strings.HasPrefix(req.URL.Path, adminPrefix) {
		r.serveAdmin(w, req)
		return
	}
	rec := &statusRecorder{ResponseWriter: w}
	entry := LoggedRequest{Method: req.Method, Path: req.URL.Path, Query: req.URL.RawQuery,
		Upload: strings.HasPrefix(req.URL.Path, uploadPrefix)}
	r.mu.Lock()
	entry.Time = r.now()
	fault := r.takeFault(req)
	r.mu.Unlock()
	logged := false
	logEntry := func(status int) {
		entry.Status = status
		r.logMu.Lock()
		r.log = append(r.log, entry)
		r.logMu.Unlock()
		logged = true
	}
	rec.answered = logEntry
	// No answer at all (a dropped or lost response): logged with status 0.
	defer func() {
		if !logged {
			logEntry(0)
		}
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
	x := &exchange{entry: &entry, fault: fault, w: w, path: req.URL.Path}
	r.route(rec, req.WithContext(context.WithValue(req.Context(), exchangeKey{}, x)))
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

func schemeHost(req *http.Request) string {
	scheme := "http"
	if req.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + req.Host
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

func isWrite(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// api makes an endpoint a handler of the API or upload host.
func (r *Replica) api(e endpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		x := exchangeOf(req)
		if x.fault != nil && x.fault.Kind == LostResponse {
			// Do the work, throw the answer away, break the connection:
			// the log records status 0, no answer arrived.
			discard := &statusRecorder{ResponseWriter: &discardWriter{h: http.Header{}}}
			r.serveAPI(discard, req, x, nil, e)
			dropConnection(x.w)
			return
		}
		r.serveAPI(w, req, x, x.fault, e)
	})
}

func (r *Replica) serveAPI(w http.ResponseWriter, req *http.Request, x *exchange, fault *Fault, e endpoint) {
	entry := x.entry
	c := &call{req: req, path: x.path, host: schemeHost(req), upload: entry.Upload, fault: fault, rep: r}
	c.base = c.host + x.apiPrefix
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
	c.now = now
	win, limited := r.admit(w, c, now)
	if limited {
		return
	}
	limit := r.limitFor(c.login)

	rep := e(c)
	h := w.Header()
	for k, v := range rep.header {
		h[k] = v
	}
	var payload []byte
	if rep.body != nil {
		var err error
		if payload, err = canonjson.Compact(rep.body); err != nil {
			rep = fail(http.StatusInternalServerError, fmt.Sprintf("encoding the answer: %v", err), docsBase)
			payload, _ = canonjson.Compact(rep.body)
		}
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
	h.Set("X-GitHub-Request-Id", fmt.Sprintf("REPLICA:%d", r.logLen()+1))
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

// writeJSON answers a document that is not an endpoint's reply (errors
// before routing, the control endpoints).
func writeJSON(w http.ResponseWriter, status int, h http.Header, body any) {
	for k, v := range h {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	b, _ := canonjson.Compact(body) // every document here is plain data
	_, _ = w.Write(b)
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

func requiresAuth() reply {
	return fail(http.StatusUnauthorized, "Requires authentication", docsBase)
}

// hidden answers a request for something the caller cannot see: an
// anonymous write is asked for a token first, as GitHub does; anything
// else is not found.
func hidden(c *call) reply {
	if c.token == nil && isWrite(c.req.Method) {
		return requiresAuth()
	}
	return notFound()
}

func validation(resource, code, field, doc string) reply {
	return reply{status: http.StatusUnprocessableEntity, body: errorBody{
		Message: "Validation Failed", Errors: []fieldError{{Resource: resource, Code: code, Field: field}}, DocumentationURL: doc}}
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
		return fmt.Sprintf(`<%s%s?%s>; rel="%s"`, c.host, c.path, qq.Encode(), rel)
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
