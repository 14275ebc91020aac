package ghreplica

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// decode unmarshals a response body into a generic document.
func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	return m
}

func TestArchivedRepository(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	if err := f.r.AddRepo("fredbook", "old-lib", RepoSpec{Archived: true}); err != nil {
		t.Fatal(err)
	}
	rel, _ := f.r.AddRelease("fredbook", "old-lib", ReleaseSpec{Tag: "v1.0.0", Draft: true})
	if doc := decode(t, f.do(t, "GET", "/repos/fredbook/old-lib", "", nil).body); doc["archived"] != true {
		t.Errorf("archived = %v", doc["archived"])
	}
	if doc := decode(t, f.do(t, "GET", "/repos/fredbook/uDOS", "", nil).body); doc["archived"] != false {
		t.Errorf("a live repository: archived = %v", doc["archived"])
	}
	var list []map[string]any
	_ = json.Unmarshal(f.do(t, "GET", "/orgs/fredbook/repos", "", nil).body, &list)
	archived := map[string]any{}
	for _, r := range list {
		archived[r["name"].(string)] = r["archived"]
	}
	if archived["old-lib"] != true || archived["uDOS"] != false {
		t.Errorf("listing: %v", archived)
	}
	// Reads work; every write is refused as read-only.
	if res := f.do(t, "GET", "/repos/fredbook/old-lib/releases", pushToken, nil); res.status != 200 {
		t.Errorf("list releases: %d", res.status)
	}
	writes := []struct{ method, path, ct string }{
		{"POST", "/repos/fredbook/old-lib/releases", ""},
		{"PATCH", fmt.Sprintf("/repos/fredbook/old-lib/releases/%d", rel.ID), ""},
		{"DELETE", fmt.Sprintf("/repos/fredbook/old-lib/releases/%d", rel.ID), ""},
		{"POST", fmt.Sprintf("/api/uploads/repos/fredbook/old-lib/releases/%d/assets?name=a.bin", rel.ID), "application/octet-stream"},
		{"POST", "/repos/fredbook/old-lib/dispatches", ""},
	}
	for _, w := range writes {
		hdr := []string{}
		if w.ct != "" {
			hdr = append(hdr, "Content-Type", w.ct)
		}
		res := f.do(t, w.method, w.path, pushToken, []byte(`{"tag_name":"v2","event_type":"e"}`), hdr...)
		if res.status != 403 || decode(t, res.body)["message"] != "Repository was archived so is read-only." {
			t.Errorf("%s %s: %d %s", w.method, w.path, res.status, res.body)
		}
	}
	// A token without push rights still cannot see the write side.
	if res := f.do(t, "POST", "/repos/fredbook/old-lib/releases", readToken, []byte(`{"tag_name":"v2"}`)); res.status != 404 {
		t.Errorf("reader: %d", res.status)
	}
}

func TestIntegrationTokenWithoutWrite(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	f.r.AddToken("ghs_read", Token{Login: "github-actions[bot]", Integration: true})
	f.r.AddToken("ghs_write", Token{Login: "github-actions[bot]", Integration: true, Push: []string{"fredbook/uDOS"}})
	body := []byte(`{"tag_name":"v1.0.0","draft":true}`)
	res := f.do(t, "POST", "/repos/fredbook/uDOS/releases", "ghs_read", body)
	want := `{"message":"Resource not accessible by integration","documentation_url":"https://docs.github.com/rest"}`
	if res.status != 403 || string(res.body) != want {
		t.Fatalf("read-only installation token: %d %s", res.status, res.body)
	}
	if res.header.Get("X-RateLimit-Remaining") == "0" {
		t.Error("the refusal looks like a rate limit")
	}
	if res := f.do(t, "GET", "/repos/fredbook/uDOS/releases", "ghs_read", nil); res.status != 200 {
		t.Errorf("reading: %d", res.status)
	}
	if res := f.do(t, "POST", "/repos/fredbook/uDOS/releases", "ghs_write", body); res.status != 201 {
		t.Errorf("with contents: write: %d %s", res.status, res.body)
	}
}

func TestOpenAsset(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	data := []byte("half way there")
	rel, err := f.r.AddRelease("fredbook", "uDOS", ReleaseSpec{Tag: "v1.0.0", Draft: true,
		Assets: []AssetSpec{{Name: "big.iso", Data: data, State: "open"}}})
	if err != nil {
		t.Fatal(err)
	}
	id := rel.Assets[0].ID
	assetPath := fmt.Sprintf("/repos/fredbook/uDOS/releases/assets/%d", id)
	doc := decode(t, f.do(t, "GET", assetPath, pushToken, nil).body)
	if doc["state"] != "open" || doc["digest"] != nil || doc["size"] != float64(len(data)) {
		t.Errorf("open asset: %v", doc)
	}
	if res := f.do(t, "GET", assetPath, pushToken, nil, "Accept", "application/octet-stream"); res.status != 404 {
		t.Errorf("download of an open asset: %d", res.status)
	}
	up := fmt.Sprintf("/api/uploads/repos/fredbook/uDOS/releases/%d/assets?name=big.iso", rel.ID)
	if res := f.do(t, "POST", up, pushToken, data, "Content-Type", "application/octet-stream"); res.status != 422 {
		t.Errorf("upload over an open asset: %d", res.status)
	}
	if err := f.r.CompleteUpload(id); err != nil {
		t.Fatal(err)
	}
	doc = decode(t, f.do(t, "GET", assetPath, pushToken, nil).body)
	if doc["state"] != "uploaded" || doc["digest"] != digestOf(data) {
		t.Errorf("completed asset: %v", doc)
	}
	if res := f.do(t, "GET", assetPath, pushToken, nil, "Accept", "application/octet-stream"); res.status != 200 || !bytes.Equal(res.body, data) {
		t.Errorf("download after completion: %d %q", res.status, res.body)
	}
	if err := f.r.CompleteUpload(id); err == nil || !strings.Contains(err.Error(), `"uploaded", not open`) {
		t.Errorf("completing twice: %v", err)
	}
	if err := f.r.CompleteUpload(1); err == nil {
		t.Error("completing an unknown asset")
	}
	for _, bad := range []AssetSpec{{Name: "x", State: "broken"}, {Name: "y", State: "open", Starter: true}} {
		if _, err := f.r.AddRelease("fredbook", "uDOS", ReleaseSpec{Tag: "v9-" + bad.Name, Assets: []AssetSpec{bad}}); err == nil || !strings.Contains(err.Error(), "want uploaded, open or starter") {
			t.Errorf("seeding state %q starter %v: %v", bad.State, bad.Starter, err)
		}
	}
}

func TestDirectDownloads(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{DirectDownloads: true})
	data := []byte("package bytes")
	rel, _ := f.r.AddRelease("fredbook", "uDOS", ReleaseSpec{Tag: "v1.0.0", Assets: []AssetSpec{{Name: "p.udos-package", Data: data}}})
	for _, tc := range []struct{ name, url, accept string }{
		{"api url", fmt.Sprintf("/repos/fredbook/uDOS/releases/assets/%d", rel.Assets[0].ID), "application/octet-stream"},
		{"browser url", "/fredbook/uDOS/releases/download/v1.0.0/p.udos-package", ""},
	} {
		res := f.do(t, "GET", tc.url, "", nil, "Accept", tc.accept)
		if res.status != 200 || !bytes.Equal(res.body, data) || res.header.Get("Location") != "" ||
			res.header.Get("Content-Type") != "application/octet-stream" || res.header.Get("Content-Disposition") != "attachment; filename=p.udos-package" {
			t.Errorf("%s: %d %v %q", tc.name, res.status, res.header, res.body)
		}
	}
	if snap, _ := f.r.ReleaseByTag("fredbook", "uDOS", "v1.0.0"); snap.Assets[0].DownloadCount != 2 {
		t.Errorf("download_count %d", snap.Assets[0].DownloadCount)
	}
	// The asset document is still JSON.
	if doc := decode(t, f.do(t, "GET", fmt.Sprintf("/repos/fredbook/uDOS/releases/assets/%d", rel.Assets[0].ID), "", nil).body); doc["name"] != "p.udos-package" {
		t.Errorf("asset document: %v", doc)
	}
}

func TestRateLimitResources(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	f.do(t, "GET", "/repos/fredbook/uDOS", pushToken, nil)
	for _, tc := range []struct {
		token       string
		core, limit float64
	}{{pushToken, 5000, 30}, {"", 60, 10}} {
		var doc struct {
			Resources map[string]struct {
				Limit, Used, Remaining float64
				Reset                  int64
				Resource               string
			} `json:"resources"`
		}
		if err := json.Unmarshal(f.do(t, "GET", "/rate_limit", tc.token, nil).body, &doc); err != nil {
			t.Fatal(err)
		}
		core, search := doc.Resources["core"], doc.Resources["search"]
		if core.Limit != tc.core || core.Resource != "core" {
			t.Errorf("token %q: core %+v", tc.token, core)
		}
		if search.Limit != tc.limit || search.Remaining != tc.limit || search.Used != 0 || search.Resource != "search" ||
			search.Reset != f.clock.Now().Unix()+60 {
			t.Errorf("token %q: search %+v", tc.token, search)
		}
	}
}

func TestTagsWithSlashes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	for _, tag := range []string{"release/v1.0.0", "lib/grid/v2.0.0", "v1.0#rc", "v1.0.0+build.5"} {
		data := []byte("bytes of " + tag)
		if _, err := f.r.AddRelease("fredbook", "uDOS", ReleaseSpec{Tag: tag, Assets: []AssetSpec{{Name: "a.bin", Data: data}}}); err != nil {
			t.Fatal(err)
		}
		escaped := escapeTag(tag)
		for _, p := range []string{escaped, strings.ReplaceAll(escaped, "/", "%2F")} {
			res := f.do(t, "GET", "/repos/fredbook/uDOS/releases/tags/"+p, "", nil)
			if res.status != 200 {
				t.Errorf("tags/%s: %d %s", p, res.status, res.body)
				continue
			}
			doc := decode(t, res.body)
			if doc["tag_name"] != tag || !strings.HasSuffix(doc["html_url"].(string), "/releases/tag/"+escaped) {
				t.Errorf("tags/%s: tag_name %v html_url %v", p, doc["tag_name"], doc["html_url"])
			}
			asset := doc["assets"].([]any)[0].(map[string]any)
			dl := asset["browser_download_url"].(string)
			if want := f.srv.URL + "/fredbook/uDOS/releases/download/" + escaped + "/a.bin"; dl != want {
				t.Errorf("browser_download_url %s, want %s", dl, want)
			}
			for _, u := range []string{dl, strings.Replace(dl, escaped, strings.ReplaceAll(escaped, "/", "%2F"), 1)} {
				if got := f.do(t, "GET", u, "", nil); got.status != 200 || !bytes.Equal(got.body, data) {
					t.Errorf("download %s: %d %q", u, got.status, got.body)
				}
			}
		}
	}
	if res := f.do(t, "GET", "/repos/fredbook/uDOS/releases/tags/release", "", nil); res.status != 404 {
		t.Errorf("a prefix of a tag: %d", res.status)
	}
	if res := f.do(t, "GET", "/fredbook/uDOS/releases/download/a.bin", "", nil); res.status != 404 {
		t.Errorf("a download URL without a tag: %d", res.status)
	}
}

func TestMakeLatest(t *testing.T) {
	t.Parallel()
	type step struct {
		method, path, body string // path relative to /repos/fredbook/uDOS/releases; {v2} names v2.0.0's id
		status             int
	}
	cases := []struct {
		name   string
		steps  []step
		latest string // "" for 404
	}{
		{"a later publication becomes latest by default", []step{
			{"POST", "", `{"tag_name":"v2.0.0"}`, 201},
			{"POST", "", `{"tag_name":"v1.4.7"}`, 201},
		}, "v1.4.7"},
		{"make_latest false keeps the latest", []step{
			{"POST", "", `{"tag_name":"v2.0.0"}`, 201},
			{"POST", "", `{"tag_name":"v1.4.7","make_latest":"false"}`, 201},
		}, "v2.0.0"},
		{"legacy picks by date, then version", []step{
			{"POST", "", `{"tag_name":"v2.0.0"}`, 201},
			{"POST", "", `{"tag_name":"v1.4.7","make_latest":"legacy"}`, 201},
		}, "v2.0.0"},
		{"a draft's make_latest applies when it is published", []step{
			{"POST", "", `{"tag_name":"v2.0.0"}`, 201},
			{"POST", "", `{"tag_name":"v1.4.7","draft":true,"make_latest":"false"}`, 201},
			{"PATCH", "/{v1.4.7}", `{"draft":false}`, 200},
		}, "v2.0.0"},
		{"publishing a draft makes it latest by default", []step{
			{"POST", "", `{"tag_name":"v2.0.0"}`, 201},
			{"POST", "", `{"tag_name":"v1.4.7","draft":true}`, 201},
			{"PATCH", "/{v1.4.7}", `{"draft":false}`, 200},
		}, "v1.4.7"},
		{"the publishing request's make_latest wins", []step{
			{"POST", "", `{"tag_name":"v2.0.0"}`, 201},
			{"POST", "", `{"tag_name":"v1.4.7","draft":true,"make_latest":"true"}`, 201},
			{"PATCH", "/{v1.4.7}", `{"draft":false,"make_latest":"false"}`, 200},
		}, "v2.0.0"},
		{"a published release made latest again", []step{
			{"POST", "", `{"tag_name":"v2.0.0"}`, 201},
			{"POST", "", `{"tag_name":"v1.4.7"}`, 201},
			{"PATCH", "/{v2.0.0}", `{"make_latest":"true"}`, 200},
		}, "v2.0.0"},
		{"a prerelease is never latest", []step{
			{"POST", "", `{"tag_name":"v1.0.0"}`, 201},
			{"POST", "", `{"tag_name":"v2.0.0-rc.1","prerelease":true,"make_latest":"true"}`, 201},
		}, "v1.0.0"},
		{"the latest turned prerelease", []step{
			{"POST", "", `{"tag_name":"v1.0.0"}`, 201},
			{"POST", "", `{"tag_name":"v0.9.0"}`, 201},
			{"PATCH", "/{v0.9.0}", `{"prerelease":true}`, 200},
		}, "v1.0.0"},
		{"the latest deleted", []step{
			{"POST", "", `{"tag_name":"v1.0.0"}`, 201},
			{"POST", "", `{"tag_name":"v0.9.0"}`, 201},
			{"DELETE", "/{v0.9.0}", ``, 204},
		}, "v1.0.0"},
		{"an invalid value", []step{
			{"POST", "", `{"tag_name":"v1.0.0","make_latest":"maybe"}`, 422},
			{"POST", "", `{"tag_name":"v1.0.0","make_latest":""}`, 422},
			{"POST", "", `{"tag_name":"v1.0.0","make_latest":false}`, 400},
		}, ""},
		{"only drafts", []step{
			{"POST", "", `{"tag_name":"v1.0.0","draft":true}`, 201},
		}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, Config{})
			ids := map[string]string{}
			for _, s := range tc.steps {
				p := s.path
				for tag, id := range ids {
					p = strings.ReplaceAll(p, "{"+tag+"}", id)
				}
				res := f.do(t, s.method, "/repos/fredbook/uDOS/releases"+p, pushToken, []byte(s.body))
				if res.status != s.status {
					t.Fatalf("%s %s %s: %d %s", s.method, p, s.body, res.status, res.body)
				}
				if res.status == 422 && !strings.Contains(string(res.body), `"code":"invalid","field":"make_latest"`) {
					t.Errorf("422 body %s", res.body)
				}
				if s.method == "POST" && res.status == 201 {
					doc := decode(t, res.body)
					ids[doc["tag_name"].(string)] = fmt.Sprint(int64(doc["id"].(float64)))
				}
			}
			res := f.do(t, "GET", "/repos/fredbook/uDOS/releases/latest", "", nil)
			got := ""
			if res.status == 200 {
				got = decode(t, res.body)["tag_name"].(string)
			} else if res.status != 404 {
				t.Fatalf("latest: %d", res.status)
			}
			if got != tc.latest {
				t.Errorf("latest %q, want %q", got, tc.latest)
			}
		})
	}
	t.Run("seeded", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, Config{})
		if _, err := f.r.AddRelease("fredbook", "uDOS", ReleaseSpec{Tag: "v2.0.0", MakeLatest: "true"}); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(3600e9)
		if _, err := f.r.AddRelease("fredbook", "uDOS", ReleaseSpec{Tag: "v1.4.7"}); err != nil {
			t.Fatal(err)
		}
		if got := decode(t, f.do(t, "GET", "/repos/fredbook/uDOS/releases/latest", "", nil).body)["tag_name"]; got != "v2.0.0" {
			t.Errorf("latest %v, want the one seeded with make_latest", got)
		}
		if _, err := f.r.AddRelease("fredbook", "uDOS", ReleaseSpec{Tag: "v3", MakeLatest: "yes"}); err == nil || !strings.Contains(err.Error(), "want true, false or legacy") {
			t.Errorf("seeding make_latest yes: %v", err)
		}
	})
}
