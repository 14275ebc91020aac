package ghreplica

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/goldentest"
)

// routeFixture seeds a replica whose ids are the same on every run: a
// public and a private repository, a published release with an asset and
// a draft with an asset.
func routeFixture(t *testing.T) (*Replica, map[string]string) {
	t.Helper()
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	r := New(Config{Now: func() time.Time { return now }})
	r.AddOwner("fredbook", true)
	r.AddToken(pushToken, Token{Login: "maintainer", Push: []string{"fredbook/*"}})
	r.AddToken(readToken, Token{Login: "reader"})
	for _, name := range []string{"uDOS", "secret"} {
		if err := r.AddRepo("fredbook", name, RepoSpec{Private: name == "secret"}); err != nil {
			t.Fatal(err)
		}
	}
	pub, err := r.AddRelease("fredbook", "uDOS", ReleaseSpec{Tag: "v1.0.0", Assets: []AssetSpec{{Name: "a.bin", Data: []byte("a")}}})
	if err != nil {
		t.Fatal(err)
	}
	draft, err := r.AddRelease("fredbook", "uDOS", ReleaseSpec{Tag: "v1.1.0", Draft: true, Assets: []AssetSpec{{Name: "d.bin", Data: []byte("d")}}})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{
		"{pub}": itoa(pub.ID), "{draft}": itoa(draft.ID),
		"{asset}": itoa(pub.Assets[0].ID), "{draftasset}": itoa(draft.Assets[0].ID),
		"{sig}": r.objectSig(pub.Assets[0].ID),
	}
	return r, ids
}

var routePaths = []string{
	"/", "/nothing", "/rate_limit", "/rate_limit/",
	"/users/fredbook/repos", "/orgs/fredbook/repos", "/orgs/maintainer/repos", "/users/nobody/repos", "/users/fredbook",
	"/repos/fredbook", "/repos/fredbook/uDOS", "/repos/fredbook/uDOS/", "//repos/fredbook/uDOS", "/repos/fredbook/nope",
	"/repos/fredbook/secret", "/repos/fredbook/secret/releases", "/repos/fredbook/nope/releases/{pub}", "/repos/fredbook/uDOS/tags",
	"/repos/fredbook/uDOS/dispatches",
	"/repos/fredbook/uDOS/releases", "/repos/fredbook/uDOS/releases/", "/repos/fredbook/uDOS/releases/latest",
	"/repos/fredbook/uDOS/releases/tags/v1.0.0", "/repos/fredbook/uDOS/releases/tags/v1.1.0", "/repos/fredbook/uDOS/releases/tags/assets",
	"/repos/fredbook/uDOS/releases/tags", "/repos/fredbook/uDOS/releases/tags/", "/repos/fredbook/uDOS/releases/tags/release%2Fv1",
	"/repos/fredbook/uDOS/releases/{pub}", "/repos/fredbook/uDOS/releases/{draft}", "/repos/fredbook/uDOS/releases/9999", "/repos/fredbook/uDOS/releases/abc",
	"/repos/fredbook/uDOS/releases/{pub}/", "/repos/fredbook/uDOS/releases/{pub}/assets", "/repos/fredbook/uDOS/releases/{draft}/assets",
	"/repos/fredbook/uDOS/releases/9999/assets", "/repos/fredbook/uDOS/releases/{pub}/assets/x", "/repos/fredbook/uDOS/releases/tags/assets/x",
	"/repos/fredbook/uDOS/releases/assets/{asset}", "/repos/fredbook/uDOS/releases/assets/{draftasset}", "/repos/fredbook/uDOS/releases/assets/9999",
	"/repos/fredbook/uDOS/releases/assets/assets", "/repos/fredbook/uDOS/releases/assets", "/repos/fredbook/secret/releases/assets/{asset}",
	"/repos/fredbook/uDOS/releases/./latest", "/repos/fredbook/uDOS//releases", "/repos/fredbook/uDOS/releases/../releases",
	"/api/v3", "/api/v3/", "/api/v3/rate_limit", "/api/v3/repos/fredbook/uDOS/releases/{pub}", "/api/v3/repos/fredbook/uDOS/releases/",
	"/api/v3/fredbook/uDOS/releases/download/v1.0.0/a.bin", "/api/v3/_objects/{asset}?sig={sig}",
	"/api/uploads", "/api/uploads/rate_limit", "/api/uploads/repos/fredbook/uDOS/releases/{draft}/assets?name=n.bin",
	"/api/uploads/repos/fredbook/uDOS/releases/{pub}/assets?name=a.bin", "/api/uploads/repos/fredbook/secret/releases/{draft}/assets?name=n.bin",
	"/api/uploads/repos/fredbook/uDOS/releases/{draft}/assets", "/api/uploads/repos/fredbook/uDOS/releases/{draft}/assets/?name=n.bin",
	"/api/uploads/repos/fredbook/uDOS/releases/{draft}", "/api/uploads/fredbook/uDOS/releases/download/v1.0.0/a.bin",
	"/fredbook/uDOS/releases/download/v1.0.0/a.bin", "/fredbook/uDOS/releases/download/v1.0.0/a.bin/", "/fredbook/uDOS/releases/download/v1.0.0/nope",
	"/fredbook/uDOS/releases/download/v1.1.0/d.bin", "/fredbook//uDOS/releases/download/v1.0.0/a.bin", "/fredbook/secret/releases/download/v1.0.0/a.bin",
	"/_objects/{asset}?sig={sig}", "/_objects/{asset}", "/_objects/{asset}?sig=00", "/_objects/{asset}/?sig={sig}", "/_objects/{draftasset}?sig={sig}",
	"/_replica/nope",
}

var (
	untaggedRE = regexp.MustCompile(`untagged-[0-9a-f]{20}`)
	sigRE      = regexp.MustCompile(`sig=[0-9a-f]{32}`)
)

// TestRoutes pins the replica's answer (status, the headers clients act on,
// a digest of the body, the request log entry) to every method on a broad
// set of paths with each kind of caller, so a change in routing is a
// visible diff in testdata/routes.golden.
func TestRoutes(t *testing.T) {
	t.Parallel()
	var got strings.Builder
	tokens := []struct{ label, token string }{{"anon", ""}, {"read", readToken}, {"push", pushToken}, {"bad", "bogus"}}
	for _, path := range routePaths {
		for _, method := range []string{"GET", "HEAD", "POST", "PATCH", "PUT", "DELETE"} {
			for _, tok := range tokens {
				r, ids := routeFixture(t)
				target := path
				for k, v := range ids {
					target = strings.ReplaceAll(target, k, v)
				}
				var body *strings.Reader
				if isWrite(method) {
					body = strings.NewReader(`{"tag_name":"v9.9.9","draft":true,"event_type":"e","name":"renamed.bin"}`)
				} else {
					body = strings.NewReader("")
				}
				req := httptest.NewRequest(method, "http://replica.test"+target, body)
				if isWrite(method) {
					req.Header.Set("Content-Type", "application/octet-stream")
				}
				if tok.token != "" {
					req.Header.Set("Authorization", "Bearer "+tok.token)
				}
				rec := httptest.NewRecorder()
				r.ServeHTTP(rec, req)
				fmt.Fprintf(&got, "%s %s %s → %s\n", method, path, tok.label, describe(rec, r.Requests()))
			}
		}
	}
	golden := filepath.Join("testdata", "routes.golden")
	if goldentest.Update() {
		if err := os.WriteFile(golden, []byte(got.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	gotLines, wantLines := strings.Split(got.String(), "\n"), strings.Split(string(want), "\n")
	diffs := 0
	for i := 0; i < max(len(gotLines), len(wantLines)); i++ {
		var g, w string
		if i < len(gotLines) {
			g = gotLines[i]
		}
		if i < len(wantLines) {
			w = wantLines[i]
		}
		if g != w {
			if diffs++; diffs <= 20 {
				t.Errorf("line %d:\n got %s\nwant %s", i+1, g, w)
			}
		}
	}
	if diffs > 20 {
		t.Errorf("… %d differing lines in all", diffs)
	}
}

func describe(rec *httptest.ResponseRecorder, log []LoggedRequest) string {
	mask := func(s string) string {
		return sigRE.ReplaceAllString(untaggedRE.ReplaceAllString(s, "untagged-X"), "sig=X")
	}
	h := rec.Header()
	var b strings.Builder
	fmt.Fprintf(&b, "%d", rec.Code)
	for _, k := range []string{"Content-Type", "Location", "Allow", "Retry-After", "X-RateLimit-Remaining", "X-RateLimit-Resource", "Content-Disposition"} {
		if v := h.Get(k); v != "" {
			fmt.Fprintf(&b, " %s=%q", k, mask(v))
		}
	}
	for _, k := range []string{"ETag", "Link"} {
		if h.Get(k) != "" {
			fmt.Fprintf(&b, " +%s", k)
		}
	}
	body := mask(rec.Body.String())
	if body != "" {
		sum := sha256.Sum256([]byte(body))
		fmt.Fprintf(&b, " body=%s", hex.EncodeToString(sum[:6]))
		var doc struct {
			Message string `json:"message"`
		}
		if json.Unmarshal([]byte(body), &doc) == nil && doc.Message != "" {
			fmt.Fprintf(&b, " %q", doc.Message)
		} else if !strings.HasPrefix(body, "{") && !strings.HasPrefix(body, "[") && len(body) < 40 {
			fmt.Fprintf(&b, " %q", body)
		}
	}
	if len(log) == 1 {
		l := log[0]
		fmt.Fprintf(&b, " | log %d", l.Status)
		if l.Upload {
			b.WriteString(" upload")
		}
		if l.Login != "" {
			b.WriteString(" " + l.Login)
		}
	} else {
		fmt.Fprintf(&b, " | %d log entries", len(log))
	}
	return b.String()
}

var _ http.Handler = (*Replica)(nil)
