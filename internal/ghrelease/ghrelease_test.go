package ghrelease

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/ghreplica"
	"github.com/google/go-github/v89/github"
)

const testToken = "ghs_secretTestToken123"

// fakeClock advances instantly on Sleep and is shared with the replica, so
// rate-limit resets and Retry-After waits pass without real waiting.
type fakeClock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t = f.t.Add(d)
	f.sleeps = append(f.sleeps, d)
	return nil
}

type env struct {
	r     *ghreplica.Replica
	srv   *httptest.Server
	clock *fakeClock
	c     *Client
	logs  *logBuf
}

type logBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuf) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(&l.b, format+"\n", args...)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newEnv(t *testing.T, rcfg ghreplica.Config, mod func(*Config)) *env {
	t.Helper()
	clock := &fakeClock{t: time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)}
	rcfg.Now = clock.Now
	r := ghreplica.New(rcfg)
	r.AddOwner("fredbook", true)
	r.AddToken(testToken, ghreplica.Token{Login: "github-actions", Push: []string{"fredbook/*"}})
	if err := r.AddRepo("fredbook", "uDOS", ghreplica.RepoSpec{}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	logs := &logBuf{}
	cfg := Config{APIURL: srv.URL, Token: testToken, HTTPClient: srv.Client(), Clock: clock, Logf: logs.logf,
		BaseBackoff: 100 * time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if strings.Contains(logs.String(), testToken) {
			t.Errorf("the token appears in the logs:\n%s", logs)
		}
	})
	return &env{r: r, srv: srv, clock: clock, c: c, logs: logs}
}

func writeFiles(t *testing.T, files map[string]string) []AssetFile {
	t.Helper()
	dir := t.TempDir()
	var out []AssetFile
	for _, name := range slices.Sorted(maps.Keys(files)) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(files[name]), 0o644); err != nil {
			t.Fatal(err)
		}
		out = append(out, AssetFile{Path: p})
	}
	return out
}

var releaseFiles = map[string]string{
	"core-slim-v1.4.6.tar.gz":     strings.Repeat("core", 4096),
	"core-slim-v1.4.6.tar.gz.asc": "-----BEGIN PGP SIGNATURE-----\nabc\n-----END PGP SIGNATURE-----\n",
	"SHA256SUMS":                  "0123  core-slim-v1.4.6.tar.gz\n",
}

func request(assets []AssetFile) PublishRequest {
	return PublishRequest{Owner: "fredbook", Repo: "uDOS", Tag: "v1.4.6", Name: "uDOS v1.4.6", Body: "notes", Assets: assets}
}

// checkPublished asserts the replica holds exactly the local files, published.
func checkPublished(t *testing.T, e *env, assets []AssetFile) {
	t.Helper()
	rel, ok := e.r.ReleaseByTag("fredbook", "uDOS", "v1.4.6")
	if !ok {
		t.Fatal("no release v1.4.6")
	}
	if rel.Draft || rel.Name != "uDOS v1.4.6" {
		t.Errorf("release draft=%v name=%q", rel.Draft, rel.Name)
	}
	if len(rel.Assets) != len(assets) {
		t.Errorf("%d assets on GitHub, want %d: %+v", len(rel.Assets), len(assets), rel.Assets)
	}
	byName := map[string]ghreplica.Asset{}
	for _, a := range rel.Assets {
		byName[a.Name] = a
	}
	for _, af := range assets {
		want, _ := os.ReadFile(af.Path)
		got := byName[filepath.Base(af.Path)]
		if got.State != "uploaded" || !bytes.Equal(got.Data, want) {
			t.Errorf("asset %s: state %q, %d bytes (want %d)", filepath.Base(af.Path), got.State, len(got.Data), len(want))
		}
	}
	if n := len(e.r.Releases("fredbook", "uDOS")); n != 1 {
		t.Errorf("%d releases, want 1", n)
	}
}

// lastWrite returns the last content-changing request the replica saw.
func lastWrite(e *env) ghreplica.LoggedRequest {
	var last ghreplica.LoggedRequest
	for _, l := range e.r.Requests() {
		if l.Method != "GET" && l.Status < 300 {
			last = l
		}
	}
	return last
}

func TestResolveURLs(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, api, upload, wantAPI, wantUpload string
		bad                                    bool
	}{
		{"default", "", "", "https://api.github.com/", "https://uploads.github.com/", false},
		{"github.com without slash", "https://api.github.com", "", "https://api.github.com/", "https://uploads.github.com/", false},
		{"enterprise", "https://ghe.example.org/api/v3", "", "https://ghe.example.org/api/v3/", "https://ghe.example.org/api/uploads/", false},
		{"replica", "http://127.0.0.1:8089", "", "http://127.0.0.1:8089/", "http://127.0.0.1:8089/api/uploads/", false},
		{"explicit upload", "http://127.0.0.1:1/", "http://127.0.0.1:2/up", "http://127.0.0.1:1/", "http://127.0.0.1:2/up/", false},
		{"not a URL", "api.github.com", "", "", "", true},
		{"ftp", "ftp://x/", "", "", "", true},
	}
	for _, tc := range cases {
		a, u, err := resolveURLs(tc.api, tc.upload)
		if (err != nil) != tc.bad || a != tc.wantAPI || u != tc.wantUpload {
			t.Errorf("%s: got %q %q %v", tc.name, a, u, err)
		}
	}
}

func TestPublishFreshAndRerun(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ghreplica.Config{}, nil)
	assets := writeFiles(t, releaseFiles)
	ctx := context.Background()
	res, err := e.c.Publish(ctx, request(assets))
	if err != nil {
		t.Fatal(err)
	}
	checkPublished(t, e, assets)
	if !res.Created || !res.Published || len(res.Assets) != 3 {
		t.Errorf("result: %+v", res)
	}
	for _, a := range res.Assets {
		if a.Action != ActionUploaded || !strings.Contains(a.BrowserDownloadURL, "/releases/download/v1.4.6/") {
			t.Errorf("asset result %+v", a)
		}
	}
	if !strings.HasSuffix(res.HTMLURL, "/fredbook/uDOS/releases/tag/v1.4.6") {
		t.Errorf("HTMLURL %q", res.HTMLURL)
	}
	if lw := lastWrite(e); lw.Method != "PATCH" {
		t.Errorf("last write %s %s, want the publishing PATCH", lw.Method, lw.Path)
	}

	// A re-run changes nothing and writes nothing.
	e.r.ResetLog()
	res, err = e.c.Publish(ctx, request(assets))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range res.Assets {
		if a.Action != ActionUnchanged {
			t.Errorf("re-run: %s %s", a.Name, a.Action)
		}
	}
	if res.Created || res.Published {
		t.Errorf("re-run result: %+v", res)
	}
	if lw := lastWrite(e); lw.Method != "" {
		t.Errorf("re-run wrote: %s %s", lw.Method, lw.Path)
	}
	checkPublished(t, e, assets)
}

func TestPublishSurvivesFaults(t *testing.T) {
	t.Parallel()
	const rel = "/repos/fredbook/uDOS/releases"
	cases := []struct {
		name   string
		faults []ghreplica.Fault
		// minimum total simulated wait
		minWait time.Duration
	}{
		{"5xx on lookup", []ghreplica.Fault{{Method: "GET", PathPrefix: rel + "/tags/", Kind: ghreplica.Status5xx, Times: 2, Status: 502}}, 0},
		{"5xx on create", []ghreplica.Fault{{Method: "POST", PathPrefix: rel, Kind: ghreplica.Status5xx, Status: 503}}, 0},
		{"dropped create", []ghreplica.Fault{{Method: "POST", PathPrefix: rel, Kind: ghreplica.DropConnection, Times: 2}}, 0},
		{"429 with retry-after on upload", []ghreplica.Fault{{Method: "POST", PathPrefix: "/api/uploads/", Kind: ghreplica.Status429, RetryAfter: 3 * time.Second}}, 3 * time.Second},
		{"primary limit with reset", []ghreplica.Fault{{Method: "GET", Kind: ghreplica.PrimaryRateLimit, RetryAfter: 90 * time.Second}}, 90 * time.Second},
		{"dropped connection on listing", []ghreplica.Fault{{Method: "GET", PathPrefix: rel, Kind: ghreplica.DropConnection, Times: 3}}, 0},
		{"dropped upload", []ghreplica.Fault{{Method: "POST", PathPrefix: "/api/uploads/", Kind: ghreplica.DropConnection}}, 0},
		{"half upload leaves a starter", []ghreplica.Fault{{Method: "POST", PathPrefix: "/api/uploads/", Kind: ghreplica.HalfUpload502, Times: 2}}, 0},
		{"5xx on publish", []ghreplica.Fault{{Method: "PATCH", PathPrefix: rel, Kind: ghreplica.Status5xx, Times: 2}}, 0},
		{"lost create answer", []ghreplica.Fault{{Method: "POST", PathPrefix: rel, Kind: ghreplica.LostResponse}}, 0},
		{"lost upload answer", []ghreplica.Fault{{Method: "POST", PathPrefix: "/api/uploads/", Kind: ghreplica.LostResponse, Times: 2}}, 0},
		{"lost publish answer", []ghreplica.Fault{{Method: "PATCH", PathPrefix: rel, Kind: ghreplica.LostResponse}}, 0},
		{"lost delete answer", []ghreplica.Fault{
			{Method: "POST", PathPrefix: "/api/uploads/", Kind: ghreplica.HalfUpload502},
			{Method: "DELETE", PathPrefix: rel + "/assets/", Kind: ghreplica.LostResponse}}, 0},
		{"5xx on asset delete", []ghreplica.Fault{
			{Method: "POST", PathPrefix: "/api/uploads/", Kind: ghreplica.HalfUpload502},
			{Method: "DELETE", PathPrefix: rel + "/assets/", Kind: ghreplica.Status5xx}}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, ghreplica.Config{}, nil)
			for _, f := range tc.faults {
				e.r.Inject(f)
			}
			assets := writeFiles(t, releaseFiles)
			res, err := e.c.Publish(context.Background(), request(assets))
			if err != nil {
				t.Fatalf("Publish: %v\nlog:\n%s", err, e.logs)
			}
			checkPublished(t, e, assets)
			if !res.Published {
				t.Error("not published by this run")
			}
			if n := e.r.PendingFaults(); n != 0 {
				t.Errorf("%d faults never triggered", n)
			}
			if w := e.c.Stats().Waited; w < tc.minWait {
				t.Errorf("waited %s, want ≥ %s", w, tc.minWait)
			}
			if lw := lastWrite(e); lw.Method != "PATCH" {
				t.Errorf("last write %s %s, want the publishing PATCH", lw.Method, lw.Path)
			}
		})
	}
}

func TestPublishResumesAfterInterruption(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ghreplica.Config{}, func(c *Config) { c.MaxRetries = 1 })
	assets := writeFiles(t, releaseFiles)
	// The run dies on its second upload: every upload after the first fails.
	e.r.Inject(ghreplica.Fault{Method: "POST", PathPrefix: "/api/uploads/", Kind: ghreplica.Status5xx, Times: 0})
	e.r.Inject(ghreplica.Fault{Method: "POST", PathPrefix: "/api/uploads/", Kind: ghreplica.HalfUpload502, Times: 1})
	e.r.Inject(ghreplica.Fault{Method: "POST", PathPrefix: "/api/uploads/", Kind: ghreplica.Status5xx, Times: -1})
	_, err := e.c.Publish(context.Background(), request(assets))
	if err == nil || !strings.Contains(err.Error(), "uploading") {
		t.Fatalf("interrupted run: %v", err)
	}
	rel, _ := e.r.ReleaseByTag("fredbook", "uDOS", "v1.4.6")
	if !rel.Draft {
		t.Fatal("an interrupted run published the release")
	}
	e.r.ClearFaults()
	res, err := e.c.Publish(context.Background(), request(assets))
	if err != nil {
		t.Fatal(err)
	}
	checkPublished(t, e, assets)
	if res.Created {
		t.Error("the re-run created a second draft")
	}
}

func TestPublishDifferentAssets(t *testing.T) {
	t.Parallel()
	assets := writeFiles(t, map[string]string{"a.bin": "local bytes"})
	t.Run("published release is not changed", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, ghreplica.Config{}, nil)
		if _, err := e.r.AddRelease("fredbook", "uDOS", ghreplica.ReleaseSpec{Tag: "v1.4.6", Name: "uDOS v1.4.6",
			Assets: []ghreplica.AssetSpec{{Name: "a.bin", Data: []byte("remote bytes")}}}); err != nil {
			t.Fatal(err)
		}
		_, err := e.c.Publish(context.Background(), request(assets))
		remote, local := sha256.Sum256([]byte("remote bytes")), sha256.Sum256([]byte("local bytes"))
		want := fmt.Sprintf("asset a.bin on release v1.4.6 differs from the local file (sha256 %x vs %x); published releases are not changed", remote, local)
		if err == nil || err.Error() != want {
			t.Fatalf("got  %v\nwant %s", err, want)
		}
		rel, _ := e.r.ReleaseByTag("fredbook", "uDOS", "v1.4.6")
		if string(rel.Assets[0].Data) != "remote bytes" {
			t.Error("published asset was changed")
		}
	})
	t.Run("draft asset is replaced", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, ghreplica.Config{}, nil)
		if _, err := e.r.AddRelease("fredbook", "uDOS", ghreplica.ReleaseSpec{Tag: "v1.4.6", Draft: true,
			Assets: []ghreplica.AssetSpec{{Name: "a.bin", Data: []byte("stale bytes")}}}); err != nil {
			t.Fatal(err)
		}
		res, err := e.c.Publish(context.Background(), request(assets))
		if err != nil {
			t.Fatal(err)
		}
		checkPublished(t, e, assets)
		if res.Assets[0].Action != ActionReplaced || res.Created {
			t.Errorf("result %+v", res)
		}
	})
	t.Run("starter asset on a draft is replaced", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, ghreplica.Config{}, nil)
		if _, err := e.r.AddRelease("fredbook", "uDOS", ghreplica.ReleaseSpec{Tag: "v1.4.6", Draft: true,
			Assets: []ghreplica.AssetSpec{{Name: "a.bin", Data: []byte("local"), Starter: true}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.c.Publish(context.Background(), request(assets)); err != nil {
			t.Fatal(err)
		}
		checkPublished(t, e, assets)
	})
}

func TestPublishImmutable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ghreplica.Config{ImmutableReleases: true}, nil)
	assets := writeFiles(t, releaseFiles)
	req := request(assets)
	req.Immutable = true
	if _, err := e.c.Publish(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	rel, _ := e.r.ReleaseByTag("fredbook", "uDOS", "v1.4.6")
	if !rel.Immutable {
		t.Fatal("release not immutable")
	}
	if _, err := e.c.Publish(context.Background(), req); err != nil {
		t.Fatalf("unchanged re-run: %v", err)
	}
	req.Assets = append(req.Assets, writeFiles(t, map[string]string{"extra.txt": "x"})...)
	_, err := e.c.Publish(context.Background(), req)
	if err == nil || !strings.Contains(err.Error(), "asset extra.txt is missing on release v1.4.6, which is published and immutable") {
		t.Fatalf("adding to an immutable release: %v", err)
	}
}

func TestPublishBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ghreplica.Config{}, nil)
	dir := t.TempDir()
	cases := []struct {
		name string
		req  PublishRequest
		want string
	}{
		{"no tag", PublishRequest{Owner: "fredbook", Repo: "uDOS"}, "owner, repo and tag are required"},
		{"missing file", PublishRequest{Owner: "fredbook", Repo: "uDOS", Tag: "v1", Assets: []AssetFile{{Path: filepath.Join(dir, "nope")}}}, "reading asset"},
		{"directory", PublishRequest{Owner: "fredbook", Repo: "uDOS", Tag: "v1", Assets: []AssetFile{{Path: dir}}}, "not a regular file"},
		{"names collide after renaming", PublishRequest{Owner: "fredbook", Repo: "uDOS", Tag: "v1",
			Assets: []AssetFile{{Path: "/etc/hostname", Name: "a b"}, {Path: "/etc/hostname", Name: "a.b"}}}, `would both be named "a.b"`},
		{"no push access", PublishRequest{Owner: "fredbook", Repo: "missing", Tag: "v1"}, "fredbook/missing"},
	}
	for _, tc := range cases {
		_, err := e.c.Publish(context.Background(), tc.req)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
	if len(e.r.Releases("fredbook", "uDOS")) != 0 {
		t.Error("bad input created a release")
	}
}

func TestRateLimitWaitBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ghreplica.Config{}, func(c *Config) { c.MaxWait = 10 * time.Minute })
	e.r.Inject(ghreplica.Fault{Kind: ghreplica.PrimaryRateLimit, RetryAfter: 2 * time.Hour})
	_, err := e.c.ListReleases(context.Background(), "fredbook", "uDOS")
	var rl *RateLimitError
	if !errors.As(err, &rl) || rl.Secondary || rl.Wait < time.Hour || !strings.Contains(err.Error(), "longer than the allowed 10m0s") {
		t.Fatalf("got %v", err)
	}
	if e.c.Stats().Waited != 0 {
		t.Error("waited anyway")
	}
	// A secondary limit that persists through every retry surfaces too.
	e2 := newEnv(t, ghreplica.Config{}, func(c *Config) { c.MaxRetries = 2 })
	e2.r.Inject(ghreplica.Fault{Kind: ghreplica.Status429, RetryAfter: time.Second, Times: -1})
	_, err = e2.c.ListReleases(context.Background(), "fredbook", "uDOS")
	var ab *github.AbuseRateLimitError
	if !errors.As(err, &ab) || e2.c.Stats().RateLimitWaits != 2 {
		t.Fatalf("persistent secondary: %v (waits %d)", err, e2.c.Stats().RateLimitWaits)
	}
}

func TestSecondaryContentCreationLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ghreplica.Config{ContentCreationPerMinute: 3, SecondaryRetryAfter: 20 * time.Second}, nil)
	files := map[string]string{}
	for i := range 6 {
		files[fmt.Sprintf("lib-%d.udos-package", i)] = strings.Repeat("p", i+1)
	}
	assets := writeFiles(t, files)
	if _, err := e.c.Publish(context.Background(), request(assets)); err != nil {
		t.Fatalf("%v\n%s", err, e.logs)
	}
	checkPublished(t, e, assets)
	if e.c.Stats().RateLimitWaits == 0 {
		t.Error("never hit the secondary limit")
	}
}

func TestStalledRequestTimesOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ghreplica.Config{}, func(c *Config) { c.RequestTimeout = 300 * time.Millisecond })
	e.r.Inject(ghreplica.Fault{Method: "GET", Kind: ghreplica.Stall, Delay: 10 * time.Second})
	if _, err := e.c.ListReleases(context.Background(), "fredbook", "uDOS"); err != nil {
		t.Fatal(err)
	}
	if s := e.c.Stats(); s.Retries < 1 {
		t.Errorf("the stalled attempt was not retried: %+v", s)
	}
}

func TestListReleasesPaginationAndETags(t *testing.T) {
	t.Parallel()
	store := NewMemoryETagStore()
	e := newEnv(t, ghreplica.Config{}, func(c *Config) { c.ETags = store })
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 250 {
		if _, err := e.r.AddRelease("fredbook", "uDOS", ghreplica.ReleaseSpec{Tag: fmt.Sprintf("v0.%d.0", i), CreatedAt: base.Add(time.Duration(i) * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	list, err := e.c.ListReleases(ctx, "fredbook", "uDOS")
	if err != nil || len(list) != 250 || list[0].TagName != "v0.249.0" || list[249].TagName != "v0.0.0" {
		t.Fatalf("first listing: %d %v", len(list), err)
	}
	if n := e.r.Count("GET", "/repos/fredbook/uDOS/releases"); n != 3 {
		t.Errorf("%d requests for 250 releases, want 3", n)
	}
	used := e.r.RateUsed("github-actions")
	list, err = e.c.ListReleases(ctx, "fredbook", "uDOS")
	if err != nil || len(list) != 250 {
		t.Fatalf("second listing: %d %v", len(list), err)
	}
	if s := e.c.Stats(); s.NotModified != 3 {
		t.Errorf("304s: %d, want 3", s.NotModified)
	}
	if e.r.RateUsed("github-actions") != used {
		t.Errorf("304s cost rate limit: %d → %d", used, e.r.RateUsed("github-actions"))
	}
	// A new release changes every page (it shifts the listing).
	if _, err := e.r.AddRelease("fredbook", "uDOS", ghreplica.ReleaseSpec{Tag: "v1.0.0", CreatedAt: base.Add(time.Hour * 24)}); err != nil {
		t.Fatal(err)
	}
	list, _ = e.c.ListReleases(ctx, "fredbook", "uDOS")
	if len(list) != 251 || list[0].TagName != "v1.0.0" {
		t.Errorf("after a new release: %d, first %s", len(list), list[0].TagName)
	}
}

func TestDirETagStoreAcrossRuns(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := newEnv(t, ghreplica.Config{}, func(c *Config) { c.ETags = DirETagStore{Dir: dir} })
	for i := range 120 {
		_, _ = e.r.AddRelease("fredbook", "uDOS", ghreplica.ReleaseSpec{Tag: fmt.Sprintf("v%d", i)})
	}
	if _, err := e.c.ListReleases(context.Background(), "fredbook", "uDOS"); err != nil {
		t.Fatal(err)
	}
	// A second run: a new client on the same cache directory.
	c2, err := New(Config{APIURL: e.srv.URL, Token: testToken, HTTPClient: e.srv.Client(), Clock: e.clock, ETags: DirETagStore{Dir: dir}})
	if err != nil {
		t.Fatal(err)
	}
	list, err := c2.ListReleases(context.Background(), "fredbook", "uDOS")
	if err != nil || len(list) != 120 {
		t.Fatalf("%d %v", len(list), err)
	}
	if s := c2.Stats(); s.NotModified != 2 || s.Requests != 2 {
		t.Errorf("second run stats %+v", s)
	}
	files, _ := os.ReadDir(dir)
	for _, f := range files {
		b, _ := os.ReadFile(filepath.Join(dir, f.Name()))
		if bytes.Contains(b, []byte(testToken)) {
			t.Errorf("token stored in %s", f.Name())
		}
	}
}

func TestListOwnerRepos(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ghreplica.Config{}, nil)
	for i := range 130 {
		_ = e.r.AddRepo("fredbook", fmt.Sprintf("lib-%03d", i), ghreplica.RepoSpec{Private: i == 7})
	}
	_ = e.r.AddRepo("someone", "tool", ghreplica.RepoSpec{})
	repos, err := e.c.ListOwnerRepos(context.Background(), "fredbook")
	if err != nil || len(repos) != 131 {
		t.Fatalf("org: %d %v", len(repos), err)
	}
	repos, err = e.c.ListOwnerRepos(context.Background(), "someone")
	if err != nil || len(repos) != 1 || repos[0].GetName() != "tool" {
		t.Fatalf("user: %d %v", len(repos), err)
	}
	if _, err := e.c.ListOwnerRepos(context.Background(), "nobody"); err == nil || !IsNotFound(err) {
		t.Errorf("unknown owner: %v", err)
	}
}

func TestDownloadAsset(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ghreplica.Config{}, nil)
	data := []byte(strings.Repeat("package", 1000))
	if _, err := e.r.AddRelease("fredbook", "uDOS", ghreplica.ReleaseSpec{Tag: "v1", Assets: []ghreplica.AssetSpec{{Name: "p.udos-package", Data: data}}}); err != nil {
		t.Fatal(err)
	}
	rel, err := e.c.FindRelease(context.Background(), "fredbook", "uDOS", "v1")
	if err != nil || rel == nil {
		t.Fatal(err)
	}
	a := rel.Assets[0]
	e.r.Inject(ghreplica.Fault{PathPrefix: "/repos/fredbook/uDOS/releases/assets/", Kind: ghreplica.Status5xx})
	var buf bytes.Buffer
	got, err := e.c.DownloadAsset(context.Background(), a, &buf)
	if err != nil || !bytes.Equal(buf.Bytes(), data) || "sha256:"+got.SHA256 != a.GetDigest() {
		t.Fatalf("download: %v", err)
	}
	bad := *a
	bad.Digest = github.Ptr("sha256:" + strings.Repeat("0", 64))
	if _, err := e.c.DownloadAsset(context.Background(), &bad, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "does not match GitHub's digest") {
		t.Errorf("digest mismatch: %v", err)
	} else if ame := (*AssetMismatchError)(nil); !errors.As(err, &ame) || ame.Field != "sha256" || ame.Asset != a.GetName() {
		t.Errorf("digest mismatch is not an *AssetMismatchError: %#v", err)
	}
	short := *a
	short.Size = github.Ptr(a.GetSize() + 1)
	if _, err := e.c.DownloadAsset(context.Background(), &short, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "GitHub lists") {
		t.Errorf("size mismatch: %v", err)
	} else if ame := (*AssetMismatchError)(nil); !errors.As(err, &ame) || ame.Field != "size" {
		t.Errorf("size mismatch is not an *AssetMismatchError: %#v", err)
	}
}

func TestTokenStaysOnGitHubHosts(t *testing.T) {
	t.Parallel()
	var storageAuth string
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		storageAuth = r.Header.Get("Authorization")
		_, _ = w.Write([]byte("bytes"))
	}))
	defer storage.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			w.WriteHeader(401)
			return
		}
		http.Redirect(w, r, storage.URL+"/obj", http.StatusFound)
	}))
	defer api.Close()
	c, err := New(Config{APIURL: api.URL, Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := c.DownloadAsset(context.Background(), &github.ReleaseAsset{Name: github.Ptr("x"), URL: github.Ptr(api.URL + "/repos/o/r/releases/assets/1")}, &buf); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "bytes" || storageAuth != "" {
		t.Errorf("got %q, storage saw Authorization %q", buf.String(), storageAuth)
	}
}

func TestDispatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ghreplica.Config{}, nil)
	e.r.Inject(ghreplica.Fault{Method: "POST", PathPrefix: "/repos/fredbook/uDOS/dispatches", Kind: ghreplica.Status5xx})
	if err := e.c.Dispatch(context.Background(), "fredbook", "uDOS", "library-published", map[string]string{"id": "lib-grid-extensions"}); err != nil {
		t.Fatal(err)
	}
	d := e.r.Dispatches()
	if len(d) != 1 || d[0].EventType != "library-published" || string(d[0].ClientPayload) != `{"id":"lib-grid-extensions"}` {
		t.Errorf("dispatches %+v", d)
	}
	if err := e.c.Dispatch(context.Background(), "fredbook", "uDOS", "", nil); err == nil || !strings.Contains(err.Error(), "422") {
		t.Errorf("empty event type: %v", err)
	}
}

// TestParallelJobsShareOneDraft plays a release workflow's matrix: each job
// uploads its own variant to the draft concurrently (KeepDraft), then a
// final job publishes. GitHub does not de-duplicate drafts, so jobs that
// raced to create one must converge on a single release.
func TestParallelJobsShareOneDraft(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ghreplica.Config{ImmutableReleases: true}, nil)
	files := map[string]string{}
	for _, v := range []string{"core-slim", "wizard-full", "dev-complete", "sonic"} {
		files[v+".tar.gz"] = strings.Repeat(v, 300)
	}
	all := writeFiles(t, files)
	for round := range 3 {
		var wg sync.WaitGroup
		errs := make([]error, len(all))
		for i, a := range all {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := New(Config{APIURL: e.srv.URL, Token: testToken, HTTPClient: e.srv.Client(), Clock: e.clock, Logf: e.logs.logf})
				if err != nil {
					errs[i] = err
					return
				}
				req := request([]AssetFile{a})
				req.KeepDraft = true
				_, errs[i] = c.Publish(context.Background(), req)
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if n := len(e.r.Releases("fredbook", "uDOS")); n != 1 && round == 0 {
			t.Fatalf("%d releases after the matrix", n)
		}
		if round == 0 {
			res, err := e.c.Publish(context.Background(), PublishRequest{Owner: "fredbook", Repo: "uDOS", Tag: "v1.4.6", Name: "uDOS v1.4.6", Immutable: true})
			if err != nil || !res.Published {
				t.Fatalf("final publish: %v", err)
			}
		}
	}
	t.Logf("duplicate drafts resolved: %d", strings.Count(e.logs.String(), "another job created"))
	// Re-runs of the matrix after publication change nothing.
	checkPublished(t, e, all)
}

func TestConvergeDeletesOwnDuplicateDraft(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ghreplica.Config{}, nil)
	older, err := e.r.AddRelease("fredbook", "uDOS", ghreplica.ReleaseSpec{Tag: "v1.4.6", Draft: true})
	if err != nil {
		t.Fatal(err)
	}
	mine, _, err := e.c.GitHub().Repositories.CreateRelease(context.Background(), "fredbook", "uDOS",
		github.CreateReleaseRequest{TagName: "v1.4.6", Draft: github.Ptr(true)})
	if err != nil {
		t.Fatal(err)
	}
	got, created, err := e.c.converge(context.Background(), request(nil), mine)
	if err != nil || got.ID != older.ID || created {
		t.Fatalf("converge: %v id %d created %v", err, got.GetID(), created)
	}
	if rels := e.r.Releases("fredbook", "uDOS"); len(rels) != 1 || rels[0].ID != older.ID {
		t.Errorf("releases left: %+v", rels)
	}
}

func TestEnvHelpers(t *testing.T) {
	t.Parallel()
	env := map[string]string{"GITHUB_API_URL": "https://ghe.example.org/api/v3", "GH_TOKEN": "x"}
	cfg := ConfigFromEnv(func(k string) string { return env[k] })
	if cfg.APIURL != env["GITHUB_API_URL"] || cfg.Token != "x" {
		t.Errorf("ConfigFromEnv: %+v", cfg)
	}
	for in, ok := range map[string]bool{"fredbook/uDOS": true, "fredbook": false, "/x": false, "a/b/c": false, "": false} {
		o, r, err := SplitRepository(in)
		if (err == nil) != ok || (ok && o+"/"+r != in) {
			t.Errorf("SplitRepository(%q) = %q %q %v", in, o, r, err)
		}
	}
}

// cancelAfter is a transport that cancels the run once an upload has sent
// some bytes, like a workflow cancelled mid-upload.
type cancelAfter struct {
	base   http.RoundTripper
	cancel context.CancelFunc
	bytes  int
}

type cancellingBody struct {
	io.ReadCloser
	left   int
	cancel context.CancelFunc
}

func (b *cancellingBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		b.cancel()
		return 0, context.Canceled
	}
	n, err := b.ReadCloser.Read(p[:min(len(p), b.left)])
	b.left -= n
	return n, err
}

func (c *cancelAfter) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.Contains(req.URL.Path, "/api/uploads/") && req.Body != nil {
		req = req.Clone(req.Context())
		req.Body = &cancellingBody{ReadCloser: req.Body, left: c.bytes, cancel: c.cancel}
	}
	return c.base.RoundTrip(req)
}

func TestRunCancelledMidUploadThenRerun(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ghreplica.Config{}, nil)
	files := map[string]string{"sonic.iso": strings.Repeat("iso!", 256<<10)}
	assets := writeFiles(t, files)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := New(Config{APIURL: e.srv.URL, Token: testToken, Clock: e.clock,
		HTTPClient: &http.Client{Transport: &cancelAfter{base: e.srv.Client().Transport, cancel: cancel, bytes: 100 << 10}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(ctx, request(assets)); err == nil {
		t.Fatal("a cancelled run succeeded")
	}
	// GitHub keeps the broken upload as a "starter" asset.
	deadline := time.Now().Add(5 * time.Second)
	for {
		rel, _ := e.r.ReleaseByTag("fredbook", "uDOS", "v1.4.6")
		if len(rel.Assets) == 1 && rel.Assets[0].State == "starter" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no starter asset: %+v", rel)
		}
		time.Sleep(10 * time.Millisecond)
	}
	res, err := e.c.Publish(context.Background(), request(assets))
	if err != nil {
		t.Fatal(err)
	}
	if res.Assets[0].Action != ActionReplaced {
		t.Errorf("action %s", res.Assets[0].Action)
	}
	checkPublished(t, e, assets)
}

func TestPublishWithoutServerDigests(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ghreplica.Config{OmitDigests: true}, nil)
	assets := writeFiles(t, releaseFiles)
	if _, err := e.c.Publish(context.Background(), request(assets)); err != nil {
		t.Fatal(err)
	}
	checkPublished(t, e, assets)
	e.r.ResetLog()
	res, err := e.c.Publish(context.Background(), request(assets))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range res.Assets {
		if a.Action != ActionUnchanged {
			t.Errorf("%s: %s", a.Name, a.Action)
		}
	}
	// Without digests, each asset is checked by downloading it back.
	if n := e.r.Count("GET", "/_objects/"); n != len(assets) {
		t.Errorf("%d downloads, want %d", n, len(assets))
	}
	if lw := lastWrite(e); lw.Method != "" {
		t.Errorf("re-run wrote %s %s", lw.Method, lw.Path)
	}
}

func TestPublishEnterpriseLayout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ghreplica.Config{}, func(c *Config) { c.APIURL += "/api/v3" })
	if !strings.HasSuffix(e.c.APIURL(), "/api/v3/") || !strings.HasSuffix(e.c.UploadURL(), "/api/uploads/") {
		t.Fatalf("URLs %s %s", e.c.APIURL(), e.c.UploadURL())
	}
	assets := writeFiles(t, releaseFiles)
	if _, err := e.c.Publish(context.Background(), request(assets)); err != nil {
		t.Fatal(err)
	}
	checkPublished(t, e, assets)
	for _, l := range e.r.Requests() {
		if !strings.HasPrefix(l.Path, "/api/v3/") && !strings.HasPrefix(l.Path, "/api/uploads/") {
			t.Errorf("request outside the enterprise layout: %s %s", l.Method, l.Path)
		}
	}
}

func TestParseRepo(t *testing.T) {
	t.Parallel()
	tests := map[string]bool{
		"fredbook/uDOS": true, " fredporter/uDOS ": true, "a-b/c.d_e": true,
		"fredbook": false, "/x": false, "x/": false, "a/b/c": false, "": false,
		"o/..": false, "o/.": false, "bad owner/x": false, "o/na me": false,
		strings.Repeat("a", 40) + "/x": false, "-x/y": false,
	}
	for in, ok := range tests {
		r, err := ParseRepo(in)
		if (err == nil) != ok {
			t.Errorf("ParseRepo(%q) = %v, %v; want ok=%v", in, r, err, ok)
		}
		if ok && r.String() != strings.TrimSpace(in) {
			t.Errorf("ParseRepo(%q).String() = %q", in, r)
		}
	}
}
