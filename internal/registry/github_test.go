package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/assetname"
	"github.com/fredbook/udos-dist/internal/catalog"
	"github.com/fredbook/udos-dist/internal/ghrelease"
	"github.com/fredbook/udos-dist/internal/ghrelease/ghtest"
	"github.com/fredbook/udos-dist/internal/ghreplica"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/udospkg"
)

var (
	ghKeyOnce          sync.Once
	ghPubSigner        *pgpsign.Signer
	ghPubKey, ghCatKey []byte
	ghCatSigner        *pgpsign.Signer
	ghKeyErr           error
)

// ghKeys returns the publisher's signer and public key and the catalog's
// signer (made once per test binary).
func ghKeys(t testing.TB) (*pgpsign.Signer, []byte, *pgpsign.Signer) {
	t.Helper()
	ghKeyOnce.Do(func() {
		var priv []byte
		priv, ghPubKey, ghKeyErr = pgpsign.GenerateTestKey("Publisher", "pub@example.org", nil)
		if ghKeyErr != nil {
			return
		}
		if ghPubSigner, ghKeyErr = pgpsign.LoadSigner(priv, nil); ghKeyErr != nil {
			return
		}
		priv, _, ghKeyErr = pgpsign.GenerateTestKey("Registry", "reg@example.org", nil)
		if ghKeyErr != nil {
			return
		}
		ghCatSigner, ghKeyErr = pgpsign.LoadSigner(priv, nil)
	})
	if ghKeyErr != nil {
		t.Fatal(ghKeyErr)
	}
	return ghPubSigner, ghPubKey, ghCatSigner
}

// libSource writes a minimal library source folder for short name name.
func libSource(t testing.TB, dir, name string, deps map[string]string) string {
	t.Helper()
	src := filepath.Join(dir, name)
	mod := strings.ReplaceAll(name, "-", "_")
	if err := os.MkdirAll(filepath.Join(src, "lib", mod), 0o755); err != nil {
		t.Fatal(err)
	}
	man := map[string]any{
		"id": "lib-" + name, "name": strings.ToUpper(name[:1]) + name[1:], "version": "0.0.1",
		"description": "The " + name + " library.", "author": "Test", "license": "MIT", "tags": []string{"test"},
		"entry_point": "lib/" + mod + "/__init__.py", "dependencies": deps,
	}
	data, _ := json.Marshal(man)
	if err := os.WriteFile(filepath.Join(src, "manifest.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "lib", mod, "__init__.py"), []byte("NAME = "+fmt.Sprintf("%q", name)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return src
}

// libAssets packs, signs and describes the three release assets of a version.
func libAssets(t testing.TB, src, version string) []ghreplica.AssetSpec {
	t.Helper()
	signer, _, _ := ghKeys(t)
	var buf bytes.Buffer
	pr, err := udospkg.Pack(src, &buf, udospkg.PackOptions{Version: version})
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signer.SignDetached(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	mjson, err := pr.Manifest.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return []ghreplica.AssetSpec{
		{Name: pr.FileName, ContentType: "application/gzip", Data: buf.Bytes()},
		{Name: assetname.Signature(pr.FileName), ContentType: "application/pgp-signature", Data: sig},
		{Name: assetname.PackageManifest(pr.Manifest.ID, version), ContentType: "application/json", Data: mjson},
	}
}

type ghFixture struct {
	r      *ghreplica.Replica
	srv    *httptest.Server
	out    string
	cfg    *GitHubConfig
	kr     *pgpsign.Keyring
	srcDir string
}

func newGHFixture(t testing.TB, cfg ghreplica.Config) *ghFixture {
	t.Helper()
	_, pub, _ := ghKeys(t)
	if cfg.ContentCreationPerMinute == 0 {
		cfg.ContentCreationPerMinute = -1
	}
	gh := ghtest.Serve(t, ghtest.Options{Config: cfg, Login: "registry-bot"})
	kr, err := pgpsign.LoadKeyring(pub)
	if err != nil {
		t.Fatal(err)
	}
	return &ghFixture{r: gh.Replica, srv: gh.Server, out: filepath.Join(t.TempDir(), "out"), kr: kr, srcDir: t.TempDir()}
}

func (f *ghFixture) addRepo(t testing.TB, full string) {
	t.Helper()
	owner, name, _ := strings.Cut(full, "/")
	if err := f.r.AddRepo(owner, name, ghreplica.RepoSpec{}); err != nil {
		t.Fatal(err)
	}
}

func (f *ghFixture) release(t testing.TB, full, tag string, published time.Time, assets ...ghreplica.AssetSpec) {
	t.Helper()
	owner, name, _ := strings.Cut(full, "/")
	if _, err := f.r.AddRelease(owner, name, ghreplica.ReleaseSpec{Tag: tag, Name: tag, CreatedAt: published, PublishedAt: published, Assets: assets}); err != nil {
		t.Fatal(err)
	}
}

func (f *ghFixture) client(t testing.TB, cache ghrelease.ETagStore) *ghrelease.Client {
	t.Helper()
	c, err := ghrelease.New(ghrelease.Config{APIURL: f.srv.URL, Token: ghtest.Token, HTTPClient: f.srv.Client(), ETags: cache,
		BaseBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond, MaxWait: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ghResult is a GitHub-mode generation's result with its source's report.
type ghResult struct {
	*Result
	GitHubReport
}

// run generates the registry once with a fresh client over the persisted cache.
func (f *ghFixture) run(t testing.TB, now time.Time) (ghResult, error) {
	t.Helper()
	_, _, catSigner := ghKeys(t)
	cache, err := OpenGitHubCache(f.out)
	if err != nil {
		t.Fatal(err)
	}
	src := &GitHubSource{Config: f.cfg, Client: f.client(t, cache), Cache: cache, Keyring: f.kr}
	res, err := Assemble(context.Background(), src, Options{OutDir: f.out, Signer: catSigner, Now: now, Site: true, WarnUnsigned: true})
	return ghResult{res, src.Report()}, err
}

func (f *ghFixture) catalog(t testing.TB) *catalog.Catalog {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(f.out, "catalog.json"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := catalog.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var t0 = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

func TestGitHubGenerate(t *testing.T) {
	t.Parallel()
	f := newGHFixture(t, ghreplica.Config{})
	for _, r := range []string{"fredbook/udos-grid", "fredbook/udos-path", "fredbook/udos-broken"} {
		f.addRepo(t, r)
	}
	grid := libSource(t, f.srcDir, "grid", map[string]string{"@uDOS/core": ">=1.4.0", "@uDOS/path": "^1.0.0"})
	// The site shows the README of the current version (1.1.0 is packed
	// from the same folder: both have it).
	if err := os.MkdirAll(filepath.Join(grid, "docs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(grid, "docs", "README.md"), []byte("# Grid\n\nRead me.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	siteReadme := func(when string) {
		t.Helper()
		data := mustRead(t, filepath.Join(f.out, SiteDir, "_data", "readmes.json"))
		if !strings.Contains(string(data), `"lib-grid": {`) || !strings.Contains(string(data), `<h1>Grid</h1>`) || strings.Contains(string(data), "lib-path") {
			t.Errorf("%s: site READMEs:\n%s", when, data)
		}
	}
	path := libSource(t, f.srcDir, "path", nil)
	broken := libSource(t, f.srcDir, "broken", nil)
	f.release(t, "fredbook/udos-grid", "v1.0.0", t0, libAssets(t, grid, "1.0.0")...)
	f.release(t, "fredbook/udos-grid", "v1.1.0", t0.Add(time.Hour), libAssets(t, grid, "1.1.0")...)
	f.release(t, "fredbook/udos-path", "v1.0.0", t0, libAssets(t, path, "1.0.0")...)
	// A draft is not published yet: not in the catalog, not a problem.
	owner, name := "fredbook", "udos-path"
	if _, err := f.r.AddRelease(owner, name, ghreplica.ReleaseSpec{Tag: "v1.1.0", Draft: true, Assets: libAssets(t, path, "1.1.0")}); err != nil {
		t.Fatal(err)
	}
	// Half-published: the package without its signature.
	a := libAssets(t, broken, "1.0.0")
	f.release(t, "fredbook/udos-broken", "v1.0.0", t0, a[0], a[2])
	// A signature by a key the registry does not trust.
	a = libAssets(t, broken, "1.1.0")
	otherPriv, _, _ := pgpsign.GenerateTestKey("Mallory", "m@example.org", nil)
	other, _ := pgpsign.LoadSigner(otherPriv, nil)
	a[1].Data, _ = other.SignDetached(bytes.NewReader(a[0].Data))
	f.release(t, "fredbook/udos-broken", "v1.1.0", t0, a...)
	// A broken upload left a starter asset.
	a = libAssets(t, broken, "1.2.0")
	a[0].Starter = true
	f.release(t, "fredbook/udos-broken", "v1.2.0", t0, a...)
	// No manifest asset.
	a = libAssets(t, broken, "1.3.0")
	f.release(t, "fredbook/udos-broken", "v1.3.0", t0, a[0], a[1])

	f.cfg = &GitHubConfig{Repositories: []string{"fredbook/udos-grid", "fredbook/udos-path", "fredbook/udos-broken"}}
	res, err := f.run(t, t0.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	cat := f.catalog(t)
	if len(cat.Libraries) != 2 || cat.Libraries[0].ID != "lib-grid" || cat.Libraries[1].ID != "lib-path" {
		t.Fatalf("libraries: %+v", cat.Libraries)
	}
	g := cat.Libraries[0]
	if g.Version != "1.1.0" || len(g.Versions) != 2 || g.Repository != "fredbook/udos-grid" ||
		!strings.HasSuffix(g.URL, "/fredbook/udos-grid/releases/download/v1.1.0/lib-grid-v1.1.0.udos-package") ||
		!strings.HasSuffix(g.SignatureURL, ".udos-package.asc") || g.Dependencies["@uDOS/path"] != "^1.0.0" ||
		!g.PublishedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("lib-grid: %+v", g)
	}
	if len(res.Problems) != 4 {
		t.Fatalf("problems: %v", res.Problems)
	}
	for i, want := range []string{"v1.0.0 lib-broken-v1.0.0.udos-package: half-published: no signature", "v1.1.0 lib-broken-v1.1.0.udos-package: signature: signature made by a key that is not in the trusted keyring; left out", "v1.2.0 lib-broken-v1.2.0.udos-package: the package upload did not complete", "v1.3.0 lib-broken-v1.3.0.udos-package: half-published: no manifest"} {
		if !strings.Contains(res.Problems[i].String(), want) {
			t.Errorf("problem %d = %q, want it to contain %q", i, res.Problems[i], want)
		}
	}
	if res.Downloaded != 3 || res.Cached != 0 || res.Releases != 7 {
		t.Errorf("downloaded %d cached %d releases %d", res.Downloaded, res.Cached, res.Releases)
	}
	// The catalog's signature verifies; index and site files are written.
	_, _, catSigner := ghKeys(t)
	pub, _ := catSigner.PublicKey()
	kr, _ := pgpsign.LoadKeyring(pub)
	catJSON, _ := os.ReadFile(filepath.Join(f.out, "catalog.json"))
	sig, _ := os.ReadFile(filepath.Join(f.out, "catalog.json.asc"))
	if _, err := catalog.Verify(catJSON, sig, kr, catalog.TrustState{}, t0.Add(25*time.Hour)); err != nil {
		t.Errorf("catalog does not verify: %v", err)
	}
	for _, p := range []string{"index/lib-grid.json", "index/lib-path.json", "site/_data/catalog.json", "site/libraries/lib-grid.md", "site/catalog.json.asc", "site/index/lib-path.json", CacheFileName} {
		if _, err := os.Stat(filepath.Join(f.out, p)); err != nil {
			t.Errorf("missing %s: %v", p, err)
		}
	}

	// The first run's downloads changed the assets' download_count, so
	// GitHub's listings (and their ETags) changed: the second run reads
	// them again but downloads nothing, not even the rejected assets.
	f.r.ResetLog()
	siteReadme("first run")
	res2, err := f.run(t, t0.Add(36*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	siteReadme("run from the cache")
	if res2.Downloaded != 0 || res2.Cached != 3 || len(res2.Problems) != 4 || f.r.Count("GET", "/_objects/") != 0 {
		t.Errorf("second run: downloaded %d, cached %d, %d problems, %d object downloads", res2.Downloaded, res2.Cached, len(res2.Problems), f.r.Count("GET", "/_objects/"))
	}
	// The catalog's downloads are the package assets' download_count as
	// GitHub lists them (each package was downloaded once, by the first
	// run), and a library's is the sum of its versions'.
	afterRun2, _ := os.ReadFile(filepath.Join(f.out, "catalog.json"))
	cat2, err := catalog.Parse(afterRun2)
	if err != nil {
		t.Fatal(err)
	}
	counted := 0
	for _, l := range cat2.Libraries {
		var sum int64
		for _, v := range l.Versions {
			if v.Downloads != 1 {
				t.Errorf("%s %s: downloads %d, want 1", l.ID, v.Version, v.Downloads)
			}
			sum += v.Downloads
			counted++
		}
		if l.Downloads != sum {
			t.Errorf("%s: downloads %d, want the versions' sum %d", l.ID, l.Downloads, sum)
		}
	}
	if counted != 3 {
		t.Errorf("%d versions listed, want 3", counted)
	}
	// A run with nothing new: one conditional request per repository, all
	// 304, nothing downloaded, the same catalog but for serial and times.
	f.r.ResetLog()
	res3, err := f.run(t, t0.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	reqs := f.r.Requests()
	if len(reqs) != 3 {
		t.Errorf("no-change run made %d requests, want 3: %+v", len(reqs), reqs)
	}
	for _, r := range reqs {
		if !r.NotModified {
			t.Errorf("request %s %s answered %d, not 304", r.Method, r.Path, r.Status)
		}
	}
	if res3.Downloaded != 0 || res3.Cached != 3 || res3.Serial <= res2.Serial || res2.Serial <= res.Serial {
		t.Errorf("no-change run: downloaded %d cached %d serials %d %d %d", res3.Downloaded, res3.Cached, res.Serial, res2.Serial, res3.Serial)
	}
	catJSON2, _ := os.ReadFile(filepath.Join(f.out, "catalog.json"))
	if a, b := stripVolatile(t, catJSON), stripVolatile(t, catJSON2); a != b {
		t.Errorf("catalogs differ beyond serial and times:\n%s\n---\n%s", a, b)
	}

	// A deleted release disappears from the next catalog.
	gh := f.client(t, nil)
	rel, ok := f.r.ReleaseByTag("fredbook", "udos-grid", "v1.1.0")
	if !ok {
		t.Fatal("release v1.1.0 not found")
	}
	if _, err := gh.GitHub().Repositories.DeleteRelease(context.Background(), "fredbook", "udos-grid", rel.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.run(t, t0.Add(72*time.Hour)); err != nil {
		t.Fatal(err)
	}
	g = f.catalog(t).Libraries[0]
	if g.Version != "1.0.0" || len(g.Versions) != 1 {
		t.Errorf("after deleting v1.1.0: version %s, %d versions", g.Version, len(g.Versions))
	}
}

// stripVolatile returns the catalog without serial, last_updated, expires.
func stripVolatile(t testing.TB, data []byte) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "serial")
	delete(m, "last_updated")
	delete(m, "expires")
	// Download counts are GitHub's, and move with every download.
	libs, _ := m["libraries"].([]any)
	for _, l := range libs {
		lib := l.(map[string]any)
		delete(lib, "downloads")
		for _, v := range lib["versions"].([]any) {
			delete(v.(map[string]any), "downloads")
		}
	}
	out, _ := json.MarshalIndent(m, "", " ")
	return string(out)
}
