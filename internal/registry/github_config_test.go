package registry

import (
	"github.com/fredbook/udos-dist/internal/ghreplica"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseGitHubConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, err string
	}{
		{name: "repositories", in: `{"repositories": ["fredbook/udos-grid", "a-b/c.d_e"]}`},
		{name: "owners with expiry", in: `{"owners": ["udos-libraries"], "expires": "168h", "exclude": ["udos-libraries/attic"]}`},
		{name: "empty", in: `{}`, err: "names no repositories and no owners"},
		{name: "typo in a field", in: `{"repositores": ["a/b"]}`, err: "unknown field"},
		{name: "not owner/name", in: `{"repositories": ["just-a-name"]}`, err: `"just-a-name" is not OWNER/NAME`},
		{name: "bad owner", in: `{"owners": ["a/b"]}`, err: "not a GitHub login"},
		{name: "bad expiry", in: `{"owners": ["a"], "expires": "a month"}`, err: "not a positive duration"},
		{name: "negative expiry", in: `{"owners": ["a"], "expires": "-1h"}`, err: "not a positive duration"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := ParseGitHubConfig([]byte(tc.in))
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v, want %q (cfg %+v)", err, tc.err, cfg)
			}
		})
	}
}

func TestLoadGitHubConfigResolvesKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "registry.json")
	os.WriteFile(p, []byte(`{"repositories": ["a/b"], "publisher_keys": "keys/pub.asc", "expires": "48h"}`), 0o644)
	cfg, err := LoadGitHubConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PublisherKeys != filepath.Join(dir, "keys", "pub.asc") || cfg.ExpiresIn(time.Hour) != 48*time.Hour {
		t.Errorf("%+v", cfg)
	}
	if _, err := LoadGitHubConfig(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("a missing config loaded")
	}
}

func TestDedupRepos(t *testing.T) {
	t.Parallel()
	got := dedupRepos([]string{"B/x", "a/y", "b/X", "a/attic"}, []string{"A/Attic"})
	if strings.Join(got, " ") != "a/y B/x" {
		t.Errorf("got %v", got)
	}
}

// TestGitHubYankedAndOwners: an owner listing brings repositories in
// (minus the excluded ones), and "[yanked]" in a release's title marks its
// version yanked: listed, but not the library's current version.
func TestGitHubYankedAndOwners(t *testing.T) {
	t.Parallel()
	f := newGHFixture(t, ghreplica.Config{})
	f.r.AddOwner("libs", true)
	f.addRepo(t, "libs/udos-one")
	f.addRepo(t, "libs/attic")
	one := libSource(t, f.srcDir, "one", nil)
	old := libSource(t, f.srcDir, "old", nil)
	f.release(t, "libs/udos-one", "v1.0.0", t0, libAssets(t, one, "1.0.0")...)
	if _, err := f.r.AddRelease("libs", "udos-one", ghreplica.ReleaseSpec{Tag: "v1.1.0", Name: "v1.1.0 [yanked]",
		CreatedAt: t0.Add(time.Hour), PublishedAt: t0.Add(time.Hour), Assets: libAssets(t, one, "1.1.0")}); err != nil {
		t.Fatal(err)
	}
	f.release(t, "libs/attic", "v1.0.0", t0, libAssets(t, old, "1.0.0")...)
	f.cfg = &GitHubConfig{Owners: []string{"libs"}, Exclude: []string{"libs/attic"}}
	res, err := f.run(t, t0.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	cat := f.catalog(t)
	if len(cat.Libraries) != 1 || strings.Join(res.Repositories, ",") != "libs/udos-one" {
		t.Fatalf("libraries %d, repositories %v", len(cat.Libraries), res.Repositories)
	}
	l := cat.Libraries[0]
	if l.Version != "1.0.0" || len(l.Versions) != 2 || !l.Versions[0].Yanked || l.Versions[1].Yanked {
		t.Errorf("library %s, versions %+v", l.Version, l.Versions)
	}
}

// TestGitHubMissingRepositoryFails: a configured repository GitHub does not
// know fails the run (leaving the registry alone) rather than silently
// dropping its libraries.
func TestGitHubMissingRepositoryFails(t *testing.T) {
	t.Parallel()
	f := newGHFixture(t, ghreplica.Config{})
	f.addRepo(t, "libs/udos-one")
	f.release(t, "libs/udos-one", "v1.0.0", t0, libAssets(t, libSource(t, f.srcDir, "one", nil), "1.0.0")...)
	f.cfg = &GitHubConfig{Repositories: []string{"libs/udos-one", "libs/gone"}}
	_, err := f.run(t, t0)
	if err == nil || !strings.Contains(err.Error(), "libs/gone") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(f.out, "catalog.json")); !os.IsNotExist(err) {
		t.Errorf("a failed run wrote a catalog: %v", err)
	}
}
