package ghreplica

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	pushToken = "push-token"
	readToken = "read-token"
)

// fakeClock is a settable clock shared with the replica.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t = f.t.Add(d)
}

type fixture struct {
	r     *Replica
	srv   *httptest.Server
	clock *fakeClock
}

func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	clock := &fakeClock{t: time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)}
	if cfg.Now == nil {
		cfg.Now = clock.Now
	}
	r := New(cfg)
	r.AddOwner("fredbook", true)
	r.AddToken(pushToken, Token{Login: "maintainer", Push: []string{"fredbook/*"}})
	r.AddToken(readToken, Token{Login: "reader"})
	if err := r.AddRepo("fredbook", "uDOS", RepoSpec{Description: "uDOS"}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return &fixture{r: r, srv: srv, clock: clock}
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (f *fixture) do(t *testing.T, method, path, token string, body []byte, hdr ...string) resp {
	t.Helper()
	target := path
	if !strings.HasPrefix(path, "http") {
		target = f.srv.URL + path
	}
	req, err := http.NewRequest(method, target, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, b}
}

func keys(t *testing.T, b []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func requireKeys(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	have := map[string]bool{}
	for _, k := range got {
		have[k] = true
	}
	for _, k := range want {
		if !have[k] {
			t.Errorf("%s lacks field %q (has %v)", what, k, got)
		}
	}
}

var releaseFields = []string{"url", "html_url", "assets_url", "upload_url", "tarball_url", "zipball_url", "id",
	"node_id", "tag_name", "target_commitish", "name", "draft", "prerelease", "created_at", "published_at", "author", "assets"}

var assetFields = []string{"url", "browser_download_url", "id", "node_id", "name", "label", "state", "content_type",
	"size", "digest", "download_count", "created_at", "updated_at", "uploader"}

func TestObjectFieldSets(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	rel, err := f.r.AddRelease("fredbook", "uDOS", ReleaseSpec{Tag: "v1.4.6", Assets: []AssetSpec{{Name: "a.tar.gz", Data: []byte("abc")}}})
	if err != nil {
		t.Fatal(err)
	}
	draft := f.do(t, "POST", "/repos/fredbook/uDOS/releases", pushToken, []byte(`{"tag_name":"v2.0.0","draft":true}`))
	if draft.status != 201 {
		t.Fatalf("create draft: %d %s", draft.status, draft.body)
	}
	for _, tc := range []struct {
		name, path, token string
	}{
		{"published", fmt.Sprintf("/repos/fredbook/uDOS/releases/%d", rel.ID), ""},
		{"published via GHES prefix", fmt.Sprintf("/api/v3/repos/fredbook/uDOS/releases/%d", rel.ID), ""},
		{"by tag", "/repos/fredbook/uDOS/releases/tags/v1.4.6", ""},
		{"latest", "/repos/fredbook/uDOS/releases/latest", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.do(t, "GET", tc.path, tc.token, nil)
			if res.status != 200 {
				t.Fatalf("status %d: %s", res.status, res.body)
			}
			requireKeys(t, "release", keys(t, res.body), releaseFields...)
			var doc struct {
				Assets []json.RawMessage `json:"assets"`
				Author json.RawMessage   `json:"author"`
			}
			_ = json.Unmarshal(res.body, &doc)
			if len(doc.Assets) != 1 {
				t.Fatalf("assets: %d", len(doc.Assets))
			}
			requireKeys(t, "asset", keys(t, doc.Assets[0]), assetFields...)
			requireKeys(t, "author", keys(t, doc.Author), "login", "id", "node_id", "type", "url", "html_url")
		})
	}
	requireKeys(t, "draft release", keys(t, draft.body), releaseFields...)
	var d map[string]any
	_ = json.Unmarshal(draft.body, &d)
	if d["published_at"] != nil || d["tarball_url"] != nil || d["draft"] != true {
		t.Errorf("draft: published_at=%v tarball_url=%v draft=%v", d["published_at"], d["tarball_url"], d["draft"])
	}
	repo := f.do(t, "GET", "/repos/fredbook/uDOS", "", nil)
	requireKeys(t, "repository", keys(t, repo.body), "id", "node_id", "name", "full_name", "private", "owner", "html_url", "url", "default_branch")
}

func TestUploadURLTemplateAndUpload(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	res := f.do(t, "POST", "/repos/fredbook/uDOS/releases", pushToken, []byte(`{"tag_name":"v1.0.0","draft":true}`))
	var rel struct {
		ID        int64  `json:"id"`
		UploadURL string `json:"upload_url"`
	}
	_ = json.Unmarshal(res.body, &rel)
	want := regexp.MustCompile(`^` + regexp.QuoteMeta(f.srv.URL) + `/api/uploads/repos/fredbook/uDOS/releases/\d+/assets\{\?name,label\}$`)
	if !want.MatchString(rel.UploadURL) {
		t.Fatalf("upload_url %q", rel.UploadURL)
	}
	up := strings.TrimSuffix(rel.UploadURL, "{?name,label}")
	data := []byte("hello release")
	cases := []struct {
		name, url, ct string
		status        int
		body          string
	}{
		{"api host refuses uploads", fmt.Sprintf("%s/repos/fredbook/uDOS/releases/%d/assets?name=x.bin", f.srv.URL, rel.ID), "application/octet-stream", 404, ""},
		{"missing content type", up + "?name=x.bin", "", 422, ""},
		{"missing name", up, "application/octet-stream", 422, ""},
		{"ok", up + "?name=x.bin&label=The+X", "application/octet-stream", 201, ""},
		{"duplicate", up + "?name=x.bin", "application/octet-stream", 422,
			`{"message":"Validation Failed","errors":[{"resource":"ReleaseAsset","code":"already_exists","field":"name"}],"documentation_url":"https://docs.github.com/rest/releases/assets#upload-a-release-asset"}`},
		{"renamed like GitHub", up + "?name=" + "my%20file(1).bin", "application/octet-stream", 201, ""},
	}
	for _, tc := range cases {
		hdr := []string{}
		if tc.ct != "" {
			hdr = append(hdr, "Content-Type", tc.ct)
		}
		r := f.do(t, "POST", tc.url, pushToken, data, hdr...)
		if r.status != tc.status {
			t.Errorf("%s: status %d, want %d (%s)", tc.name, r.status, tc.status, r.body)
		}
		if tc.body != "" && string(r.body) != tc.body {
			t.Errorf("%s: body\n got %s\nwant %s", tc.name, r.body, tc.body)
		}
		if tc.name == "ok" {
			var a map[string]any
			_ = json.Unmarshal(r.body, &a)
			if a["digest"] != digestOf(data) || a["state"] != "uploaded" || a["label"] != "The X" || a["size"] != float64(len(data)) {
				t.Errorf("uploaded asset: %v", a)
			}
		}
		if tc.name == "renamed like GitHub" && !strings.Contains(string(r.body), `"name":"my.file.1..bin"`) {
			t.Errorf("renamed asset: %s", r.body)
		}
	}
}

func TestSecondReleaseForTag(t *testing.T) {
	t.Parallel()
	want422 := `{"message":"Validation Failed","errors":[{"resource":"Release","code":"already_exists","field":"tag_name"}],"documentation_url":"https://docs.github.com/rest/releases/releases#create-a-release"}`
	cases := []struct {
		name          string
		first, second string // draft flag of each
		status        int
	}{
		// GitHub does not de-duplicate drafts: parallel jobs can each make one.
		{"draft after draft", "true", "true", 201},
		{"published after draft", "true", "false", 201},
		{"published after published", "false", "false", 422},
		{"draft after published", "false", "true", 422},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Config{})
			first := f.do(t, "POST", "/repos/fredbook/uDOS/releases", pushToken, []byte(`{"tag_name":"v1.0.0","draft":`+tc.first+`}`))
			if first.status != 201 {
				t.Fatal(first.status)
			}
			second := f.do(t, "POST", "/repos/fredbook/uDOS/releases", pushToken, []byte(`{"tag_name":"v1.0.0","draft":`+tc.second+`}`))
			if second.status != tc.status || (tc.status == 422 && string(second.body) != want422) {
				t.Fatalf("second release: %d %s", second.status, second.body)
			}
		})
	}
	t.Run("publishing a second draft", func(t *testing.T) {
		f := newFixture(t, Config{})
		f.do(t, "POST", "/repos/fredbook/uDOS/releases", pushToken, []byte(`{"tag_name":"v1.0.0","draft":true}`))
		f.do(t, "POST", "/repos/fredbook/uDOS/releases", pushToken, []byte(`{"tag_name":"v1.0.0","draft":true}`))
		rels := f.r.Releases("fredbook", "uDOS")
		if len(rels) != 2 {
			t.Fatalf("%d drafts", len(rels))
		}
		for i, rel := range rels {
			res := f.do(t, "PATCH", fmt.Sprintf("/repos/fredbook/uDOS/releases/%d", rel.ID), pushToken, []byte(`{"draft":false}`))
			if want := []int{200, 422}[i]; res.status != want {
				t.Errorf("publishing draft %d: %d, want %d (%s)", i, res.status, want, res.body)
			}
		}
	})
}

func TestPaginationLinks(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 250 {
		if _, err := f.r.AddRelease("fredbook", "uDOS", ReleaseSpec{Tag: fmt.Sprintf("v0.0.%d", i), CreatedAt: base.Add(time.Duration(i) * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	u := f.srv.URL + "/repos/fredbook/uDOS/releases"
	cases := []struct {
		name, query string
		count       int
		link        string
	}{
		{"default page size", "", 30, `<` + u + `?page=2>; rel="next", <` + u + `?page=9>; rel="last"`},
		{"first of three", "?per_page=100", 100, `<` + u + `?page=2&per_page=100>; rel="next", <` + u + `?page=3&per_page=100>; rel="last"`},
		{"middle", "?per_page=100&page=2", 100, `<` + u + `?page=1&per_page=100>; rel="prev", <` + u + `?page=3&per_page=100>; rel="next", <` + u + `?page=3&per_page=100>; rel="last", <` + u + `?page=1&per_page=100>; rel="first"`},
		{"last", "?per_page=100&page=3", 50, `<` + u + `?page=2&per_page=100>; rel="prev", <` + u + `?page=1&per_page=100>; rel="first"`},
		{"per_page capped at 100", "?per_page=500", 100, `<` + u + `?page=2&per_page=100>; rel="next", <` + u + `?page=3&per_page=100>; rel="last"`},
		{"beyond the end", "?per_page=100&page=7", 0, `<` + u + `?page=3&per_page=100>; rel="prev", <` + u + `?page=1&per_page=100>; rel="first"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := f.do(t, "GET", "/repos/fredbook/uDOS/releases"+tc.query, "", nil)
			var list []map[string]any
			if err := json.Unmarshal(res.body, &list); err != nil {
				t.Fatal(err)
			}
			if len(list) != tc.count {
				t.Errorf("count %d, want %d", len(list), tc.count)
			}
			if got := res.header.Get("Link"); got != tc.link {
				t.Errorf("Link\n got %s\nwant %s", got, tc.link)
			}
		})
	}
	res := f.do(t, "GET", "/repos/fredbook/uDOS/releases?per_page=2", "", nil)
	var list []map[string]any
	_ = json.Unmarshal(res.body, &list)
	if list[0]["tag_name"] != "v0.0.249" {
		t.Errorf("newest first: got %v", list[0]["tag_name"])
	}
}

func TestConditionalRequests(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	if _, err := f.r.AddRelease("fredbook", "uDOS", ReleaseSpec{Tag: "v1.0.0"}); err != nil {
		t.Fatal(err)
	}
	first := f.do(t, "GET", "/repos/fredbook/uDOS/releases", pushToken, nil)
	etag := first.header.Get("ETag")
	if !strings.HasPrefix(etag, `W/"`) {
		t.Fatalf("ETag %q", etag)
	}
	used := first.header.Get("X-RateLimit-Used")
	second := f.do(t, "GET", "/repos/fredbook/uDOS/releases", pushToken, nil, "If-None-Match", etag)
	if second.status != 304 || len(second.body) != 0 {
		t.Fatalf("conditional: %d %q", second.status, second.body)
	}
	if second.header.Get("X-RateLimit-Used") != used || second.header.Get("ETag") != etag {
		t.Errorf("304 counted or lost its ETag: used %s → %s", used, second.header.Get("X-RateLimit-Used"))
	}
	if f.r.RateUsed("maintainer") != 1 {
		t.Errorf("RateUsed %d, want 1", f.r.RateUsed("maintainer"))
	}
	// A change invalidates the ETag.
	if _, err := f.r.AddRelease("fredbook", "uDOS", ReleaseSpec{Tag: "v1.0.1"}); err != nil {
		t.Fatal(err)
	}
	third := f.do(t, "GET", "/repos/fredbook/uDOS/releases", pushToken, nil, "If-None-Match", etag)
	if third.status != 200 {
		t.Errorf("after change: %d", third.status)
	}
	var hits int
	for _, l := range f.r.Requests() {
		if l.NotModified {
			hits++
		}
	}
	if hits != 1 {
		t.Errorf("logged 304s: %d", hits)
	}
}

func TestDraftVisibilityAndAuth(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	pub, _ := f.r.AddRelease("fredbook", "uDOS", ReleaseSpec{Tag: "v1.0.0"})
	draft, _ := f.r.AddRelease("fredbook", "uDOS", ReleaseSpec{Tag: "v1.1.0", Draft: true, Assets: []AssetSpec{{Name: "d.bin", Data: []byte("d")}}})
	cases := []struct {
		name, method, path, token string
		body                      string
		status                    int
		count                     int // for lists
	}{
		{"anonymous list hides drafts", "GET", "/repos/fredbook/uDOS/releases", "", "", 200, 1},
		{"reader list hides drafts", "GET", "/repos/fredbook/uDOS/releases", readToken, "", 200, 1},
		{"pusher sees drafts", "GET", "/repos/fredbook/uDOS/releases", pushToken, "", 200, 2},
		{"by tag skips drafts even for pusher", "GET", "/repos/fredbook/uDOS/releases/tags/v1.1.0", pushToken, "", 404, -1},
		{"draft by id anonymous", "GET", fmt.Sprintf("/repos/fredbook/uDOS/releases/%d", draft.ID), "", "", 404, -1},
		{"draft by id pusher", "GET", fmt.Sprintf("/repos/fredbook/uDOS/releases/%d", draft.ID), pushToken, "", 200, -1},
		{"draft asset anonymous", "GET", fmt.Sprintf("/repos/fredbook/uDOS/releases/assets/%d", draft.Assets[0].ID), "", "", 404, -1},
		{"create without token", "POST", "/repos/fredbook/uDOS/releases", "", `{"tag_name":"v9"}`, 401, -1},
		{"create with bad token", "POST", "/repos/fredbook/uDOS/releases", "nope", `{"tag_name":"v9"}`, 401, -1},
		{"create with read token", "POST", "/repos/fredbook/uDOS/releases", readToken, `{"tag_name":"v9"}`, 404, -1},
		{"delete without token", "DELETE", fmt.Sprintf("/repos/fredbook/uDOS/releases/%d", pub.ID), "", "", 401, -1},
		{"dispatch with read token", "POST", "/repos/fredbook/uDOS/dispatches", readToken, `{"event_type":"x"}`, 404, -1},
		{"dispatch without event_type", "POST", "/repos/fredbook/uDOS/dispatches", pushToken, `{}`, 422, -1},
		{"unknown repo", "GET", "/repos/fredbook/nope", "", "", 404, -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := f.do(t, tc.method, tc.path, tc.token, []byte(tc.body))
			if res.status != tc.status {
				t.Fatalf("status %d, want %d: %s", res.status, tc.status, res.body)
			}
			if tc.count >= 0 {
				var list []any
				_ = json.Unmarshal(res.body, &list)
				if len(list) != tc.count {
					t.Errorf("listed %d, want %d", len(list), tc.count)
				}
			}
		})
	}
}

func TestRateLimits(t *testing.T) {
	t.Parallel()
	t.Run("primary", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, Config{RateLimit: 3})
		for i := range 3 {
			res := f.do(t, "GET", "/repos/fredbook/uDOS", pushToken, nil)
			if res.status != 200 || res.header.Get("X-RateLimit-Remaining") != fmt.Sprint(2-i) {
				t.Fatalf("request %d: %d remaining %s", i, res.status, res.header.Get("X-RateLimit-Remaining"))
			}
			for _, h := range []string{"X-RateLimit-Limit", "X-RateLimit-Used", "X-RateLimit-Reset", "X-RateLimit-Resource"} {
				if res.header.Get(h) == "" {
					t.Errorf("missing %s", h)
				}
			}
		}
		res := f.do(t, "GET", "/repos/fredbook/uDOS", pushToken, nil)
		if res.status != 403 || res.header.Get("X-RateLimit-Remaining") != "0" {
			t.Fatalf("exhausted: %d remaining %q", res.status, res.header.Get("X-RateLimit-Remaining"))
		}
		if want := fmt.Sprint(f.clock.Now().Add(time.Hour).Unix()); res.header.Get("X-RateLimit-Reset") != want {
			t.Errorf("reset %s, want %s", res.header.Get("X-RateLimit-Reset"), want)
		}
		f.clock.Advance(time.Hour)
		if res := f.do(t, "GET", "/repos/fredbook/uDOS", pushToken, nil); res.status != 200 {
			t.Errorf("after reset: %d", res.status)
		}
	})
	t.Run("secondary content creation", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, Config{ContentCreationPerMinute: 2, RateLimitStatus: 429, SecondaryRetryAfter: 3 * time.Second})
		for i := range 3 {
			res := f.do(t, "POST", "/repos/fredbook/uDOS/dispatches", pushToken, []byte(`{"event_type":"e"}`))
			if i < 2 && res.status != 204 {
				t.Fatalf("dispatch %d: %d", i, res.status)
			}
			if i == 2 {
				if res.status != 429 || res.header.Get("Retry-After") != "3" || !strings.Contains(string(res.body), "secondary-rate-limits") {
					t.Fatalf("secondary: %d %v %s", res.status, res.header, res.body)
				}
			}
		}
		f.clock.Advance(time.Minute)
		if res := f.do(t, "POST", "/repos/fredbook/uDOS/dispatches", pushToken, []byte(`{"event_type":"e"}`)); res.status != 204 {
			t.Errorf("after a minute: %d", res.status)
		}
		if n := len(f.r.Dispatches()); n != 3 {
			t.Errorf("recorded dispatches %d", n)
		}
	})
}

func TestImmutableReleases(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{ImmutableReleases: true})
	res := f.do(t, "POST", "/repos/fredbook/uDOS/releases", pushToken, []byte(`{"tag_name":"v1.0.0","draft":true}`))
	var rel struct {
		ID        int64  `json:"id"`
		UploadURL string `json:"upload_url"`
	}
	_ = json.Unmarshal(res.body, &rel)
	up := strings.TrimSuffix(rel.UploadURL, "{?name,label}")
	if r := f.do(t, "POST", up+"?name=a.bin", pushToken, []byte("a"), "Content-Type", "application/octet-stream"); r.status != 201 {
		t.Fatalf("draft upload: %d", r.status)
	}
	pub := f.do(t, "PATCH", fmt.Sprintf("/repos/fredbook/uDOS/releases/%d", rel.ID), pushToken, []byte(`{"draft":false}`))
	if !strings.Contains(string(pub.body), `"immutable":true`) {
		t.Fatalf("published: %s", pub.body)
	}
	if r := f.do(t, "POST", up+"?name=b.bin", pushToken, []byte("b"), "Content-Type", "application/octet-stream"); r.status != 422 {
		t.Errorf("upload to immutable: %d", r.status)
	}
	snap, _ := f.r.ReleaseByTag("fredbook", "uDOS", "v1.0.0")
	if r := f.do(t, "DELETE", fmt.Sprintf("/repos/fredbook/uDOS/releases/assets/%d", snap.Assets[0].ID), pushToken, nil); r.status != 422 {
		t.Errorf("delete from immutable: %d", r.status)
	}
}

func TestDownloads(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	data := []byte("package bytes")
	rel, _ := f.r.AddRelease("fredbook", "uDOS", ReleaseSpec{Tag: "v1.0.0", Assets: []AssetSpec{{Name: "p.udos-package", Data: data}}})
	res := f.do(t, "GET", fmt.Sprintf("/repos/fredbook/uDOS/releases/assets/%d", rel.Assets[0].ID), "", nil)
	var a struct {
		BrowserDownloadURL string `json:"browser_download_url"`
	}
	_ = json.Unmarshal(res.body, &a)
	if a.BrowserDownloadURL != f.srv.URL+"/fredbook/uDOS/releases/download/v1.0.0/p.udos-package" {
		t.Errorf("browser_download_url %q", a.BrowserDownloadURL)
	}
	for _, tc := range []struct{ name, url, accept string }{
		{"browser url", a.BrowserDownloadURL, ""},
		{"api url", fmt.Sprintf("%s/repos/fredbook/uDOS/releases/assets/%d", f.srv.URL, rel.Assets[0].ID), "application/octet-stream"},
	} {
		got := f.do(t, "GET", tc.url, "", nil, "Accept", tc.accept)
		if got.status != 200 || !bytes.Equal(got.body, data) {
			t.Errorf("%s: %d %q", tc.name, got.status, got.body)
		}
	}
	snap, _ := f.r.ReleaseByTag("fredbook", "uDOS", "v1.0.0")
	if snap.Assets[0].DownloadCount != 2 {
		t.Errorf("download_count %d", snap.Assets[0].DownloadCount)
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	f.r.Inject(Fault{Method: "GET", PathPrefix: "/repos/fredbook/uDOS", Kind: Status5xx, Status: 503})
	f.r.Inject(Fault{Method: "GET", PathPrefix: "/repos/fredbook/uDOS", Kind: Status429, RetryAfter: 2 * time.Second})
	f.r.Inject(Fault{Method: "GET", PathPrefix: "/repos/fredbook/uDOS", Kind: PrimaryRateLimit, RetryAfter: 5 * time.Second})
	for _, want := range []struct {
		status int
		header string
		value  string
	}{{503, "", ""}, {429, "Retry-After", "2"}, {403, "X-RateLimit-Remaining", "0"}, {200, "", ""}} {
		res := f.do(t, "GET", "/repos/fredbook/uDOS", "", nil)
		if res.status != want.status || (want.header != "" && res.header.Get(want.header) != want.value) {
			t.Errorf("got %d %s=%q, want %d %q", res.status, want.header, res.header.Get(want.header), want.status, want.value)
		}
	}
	f.r.Inject(Fault{PathPrefix: "/repos/fredbook/uDOS", Kind: DropConnection})
	// A fresh connection: Go's transport silently retries a GET whose
	// reused keep-alive connection was closed.
	req, _ := http.NewRequest("GET", f.srv.URL+"/repos/fredbook/uDOS", nil)
	fresh := &http.Client{Transport: &http.Transport{}}
	if res, err := fresh.Do(req); err == nil {
		res.Body.Close()
		t.Errorf("dropped connection answered %d", res.StatusCode)
	}

	// HalfUpload502 leaves a starter asset that blocks the name.
	res := f.do(t, "POST", "/repos/fredbook/uDOS/releases", pushToken, []byte(`{"tag_name":"v1.0.0","draft":true}`))
	var rel struct {
		UploadURL string `json:"upload_url"`
	}
	_ = json.Unmarshal(res.body, &rel)
	up := strings.TrimSuffix(rel.UploadURL, "{?name,label}") + "?name=big.bin"
	f.r.Inject(Fault{Method: "POST", PathPrefix: "/repos/fredbook/uDOS/releases/", Kind: HalfUpload502})
	if r := f.do(t, "POST", up, pushToken, bytes.Repeat([]byte("x"), 1000), "Content-Type", "application/octet-stream"); r.status != 502 {
		t.Fatalf("half upload: %d", r.status)
	}
	snap, _ := f.r.ReleaseByTag("fredbook", "uDOS", "v1.0.0")
	if len(snap.Assets) != 1 || snap.Assets[0].State != "starter" || snap.Assets[0].Digest != "" {
		t.Fatalf("starter asset: %+v", snap.Assets)
	}
	if r := f.do(t, "POST", up, pushToken, []byte("x"), "Content-Type", "application/octet-stream"); r.status != 422 {
		t.Errorf("re-upload over starter: %d", r.status)
	}
	if f.r.PendingFaults() != 0 {
		t.Errorf("pending faults %d", f.r.PendingFaults())
	}
	if n := f.r.Count("GET", "/repos/fredbook/uDOS"); n != 5 {
		t.Errorf("Count = %d", n)
	}
}

func TestLostResponse(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	f.r.Inject(Fault{Method: "POST", PathPrefix: "/repos/fredbook/uDOS/releases", Kind: LostResponse})
	req, _ := http.NewRequest("POST", f.srv.URL+"/repos/fredbook/uDOS/releases", strings.NewReader(`{"tag_name":"v1","draft":true}`))
	req.Header.Set("Authorization", "Bearer "+pushToken)
	if res, err := f.srv.Client().Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("lost response arrived: %d", res.StatusCode)
	}
	if _, ok := f.r.ReleaseByTag("fredbook", "uDOS", "v1"); !ok {
		t.Error("the request was not performed")
	}
	if l := f.r.Requests(); len(l) != 1 || l[0].Status != 0 || l[0].Fault != LostResponse {
		t.Errorf("log %+v", l)
	}
}

func TestStall(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	f.r.Inject(Fault{Kind: Stall, Delay: 50 * time.Millisecond})
	start := time.Now()
	if res := f.do(t, "GET", "/repos/fredbook/uDOS", "", nil); res.status != 200 {
		t.Fatalf("stalled request: %d", res.status)
	}
	if time.Since(start) < 50*time.Millisecond {
		t.Errorf("no stall")
	}
}

func TestOwnerRepos(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	for i := range 5 {
		_ = f.r.AddRepo("fredbook", fmt.Sprintf("lib-%d", i), RepoSpec{})
	}
	_ = f.r.AddRepo("fredbook", "secret", RepoSpec{Private: true})
	_ = f.r.AddRepo("someone", "thing", RepoSpec{})
	cases := []struct {
		name, path, token string
		status, count     int
	}{
		{"org anonymous", "/orgs/fredbook/repos?per_page=100", "", 200, 6},
		{"org pusher sees private", "/orgs/fredbook/repos?per_page=100", pushToken, 200, 7},
		{"users path works for orgs", "/users/fredbook/repos?per_page=2", "", 200, 2},
		{"orgs path 404 for users", "/orgs/someone/repos", "", 404, 0},
		{"user", "/users/someone/repos", "", 200, 1},
	}
	for _, tc := range cases {
		res := f.do(t, "GET", tc.path, tc.token, nil)
		var list []any
		_ = json.Unmarshal(res.body, &list)
		if res.status != tc.status || len(list) != tc.count {
			t.Errorf("%s: %d, %d repos; want %d, %d", tc.name, res.status, len(list), tc.status, tc.count)
		}
	}
}
