package registry

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/ghreplica"
)

// seedScale creates org "scale" with repos repositories, each holding one
// library published in perRepo versions (one release each).
func seedScale(tb testing.TB, f *ghFixture, repos, perRepo int) {
	tb.Helper()
	f.r.AddOwner("scale", true)
	for i := 0; i < repos; i++ {
		name := fmt.Sprintf("lib%03d", i)
		full := "scale/udos-" + name
		f.addRepo(tb, full)
		src := libSource(tb, f.srcDir, name, map[string]string{"@uDOS/core": ">=1.4.0"})
		for v := 0; v < perRepo; v++ {
			version := fmt.Sprintf("1.%d.0", v)
			f.release(tb, full, "v"+version, t0.Add(time.Duration(i*perRepo+v)*time.Minute), libAssets(tb, src, version)...)
		}
	}
	f.cfg = &GitHubConfig{Owners: []string{"scale"}}
}

// TestGitHubScale: 300 releases across 30 repositories found through an
// owner listing; then a run with nothing new costs one 304 per listing.
func TestGitHubScale(t *testing.T) {
	t.Parallel()
	f := newGHFixture(t, ghreplica.Config{RateLimit: 1 << 20})
	seedScale(t, f, 30, 10)
	start := time.Now()
	res, err := f.run(t, t0.Add(240*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	full := time.Since(start)
	if res.Libraries != 30 || res.Versions != 300 || res.Releases != 300 || res.Downloaded != 300 || len(res.Problems) != 0 {
		t.Fatalf("full run: %d libraries, %d versions, %d releases, %d downloaded, problems %v", res.Libraries, res.Versions, res.Releases, res.Downloaded, res.Problems)
	}
	cat := f.catalog(t)
	if l := cat.Libraries[7]; l.ID != "lib-lib007" || l.Version != "1.9.0" || len(l.Versions) != 10 || l.Versions[9].Version != "1.0.0" {
		t.Errorf("lib-lib007: %s with %d versions", l.Version, len(l.Versions))
	}
	// Settle: the first run's downloads changed the listings' download counts.
	if _, err := f.run(t, t0.Add(241*time.Hour)); err != nil {
		t.Fatal(err)
	}
	f.r.ResetLog()
	start = time.Now()
	res, err = f.run(t, t0.Add(242*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	noChange := time.Since(start)
	reqs := f.r.Requests()
	if len(reqs) != 31 {
		t.Errorf("no-change run: %d requests, want 31 (1 owner listing + 30 release listings)", len(reqs))
	}
	for _, q := range reqs {
		if !q.NotModified {
			t.Errorf("no-change run: %s %s?%s answered %d", q.Method, q.Path, q.Query, q.Status)
		}
	}
	if res.Versions != 300 || res.Downloaded != 0 || res.Cached != 300 {
		t.Errorf("no-change run: %d versions, %d downloaded, %d cached", res.Versions, res.Downloaded, res.Cached)
	}
	t.Logf("300 releases / 30 repositories: full run %s, no-change run %s (%d requests, all 304)", full.Round(time.Millisecond), noChange.Round(time.Millisecond), len(reqs))
}

// TestGitHubSurvivesFaults: whatever the replica injects during a run, the
// generator (through ghrelease's retries) ends with the same catalog as a
// clean run; the cache file stays valid.
func TestGitHubSurvivesFaults(t *testing.T) {
	t.Parallel()
	faults := []struct {
		name  string
		fault ghreplica.Fault
	}{
		{"500 on a listing", ghreplica.Fault{Method: "GET", PathPrefix: "/repos/scale/udos-lib001/releases", Kind: ghreplica.Status5xx}},
		{"502 twice on the owner listing", ghreplica.Fault{Method: "GET", PathPrefix: "/orgs/scale/repos", Kind: ghreplica.Status5xx, Status: 502, Times: 2}},
		{"secondary limit (429)", ghreplica.Fault{Method: "GET", PathPrefix: "/repos/scale/udos-lib002/releases", Kind: ghreplica.Status429, RetryAfter: time.Second}},
		{"secondary limit (403)", ghreplica.Fault{Method: "GET", PathPrefix: "/repos/scale/udos-lib000/releases", Kind: ghreplica.Status429, Status: 403, RetryAfter: time.Second}},
		{"primary limit exhausted", ghreplica.Fault{Method: "GET", PathPrefix: "/repos/", Kind: ghreplica.PrimaryRateLimit, RetryAfter: time.Second}},
		{"dropped connection on a listing", ghreplica.Fault{Method: "GET", PathPrefix: "/repos/scale/udos-lib001/releases", Kind: ghreplica.DropConnection}},
		{"dropped connection on an asset", ghreplica.Fault{Method: "GET", PathPrefix: "/repos/scale/udos-lib002/releases/assets/", Kind: ghreplica.DropConnection}},
		{"500 on asset storage", ghreplica.Fault{Method: "GET", PathPrefix: "/_objects/", Kind: ghreplica.Status5xx, Times: 3}},
	}
	clean := newGHFixture(t, ghreplica.Config{})
	seedScale(t, clean, 3, 2)
	if _, err := clean.run(t, t0.Add(240*time.Hour)); err != nil {
		t.Fatal(err)
	}
	want := stripVolatile(t, mustRead(t, filepath.Join(clean.out, "catalog.json")))
	for _, tc := range faults {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newGHFixture(t, ghreplica.Config{})
			seedScale(t, f, 3, 2)
			f.r.Inject(tc.fault)
			res, err := f.run(t, t0.Add(240*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if f.r.PendingFaults() != 0 {
				t.Error("the fault never fired")
			}
			// Asset URLs carry the replica's address: compare without it.
			got := stripVolatile(t, mustRead(t, filepath.Join(f.out, "catalog.json")))
			got = string(bytes.ReplaceAll([]byte(got), []byte(f.srv.URL), []byte(clean.srv.URL)))
			if got != want {
				t.Errorf("catalog after fault differs from a clean run")
			}
			if res.Versions != 6 || len(res.Problems) != 0 {
				t.Errorf("%d versions, problems %v", res.Versions, res.Problems)
			}
			if _, err := os.Stat(filepath.Join(f.out, CacheFileName)); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestGitHubPagination: a repository with more releases than a page holds
// is read completely, and a no-change run asks for every page once, each
// answered 304.
func TestGitHubPagination(t *testing.T) {
	t.Parallel()
	f := newGHFixture(t, ghreplica.Config{RateLimit: 1 << 20})
	f.addRepo(t, "fredbook/udos-many")
	src := libSource(t, f.srcDir, "many", nil)
	for v := 0; v < 130; v++ {
		version := fmt.Sprintf("0.%d.0", v)
		f.release(t, "fredbook/udos-many", "v"+version, t0.Add(time.Duration(v)*time.Minute), libAssets(t, src, version)...)
	}
	f.cfg = &GitHubConfig{Repositories: []string{"fredbook/udos-many"}}
	res, err := f.run(t, t0.Add(240*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if res.Versions != 130 || f.catalog(t).Libraries[0].Version != "0.129.0" {
		t.Fatalf("%d versions", res.Versions)
	}
	if _, err := f.run(t, t0.Add(241*time.Hour)); err != nil {
		t.Fatal(err)
	}
	f.r.ResetLog()
	if _, err := f.run(t, t0.Add(242*time.Hour)); err != nil {
		t.Fatal(err)
	}
	reqs := f.r.Requests()
	if len(reqs) != 2 || countNotModified(reqs) != 2 {
		t.Errorf("no-change run over two pages: %d requests, %d answered 304", len(reqs), countNotModified(reqs))
	}
}
