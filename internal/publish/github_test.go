package publish

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/ghrelease"
	"github.com/fredbook/udos-dist/internal/ghrelease/ghtest"
	"github.com/fredbook/udos-dist/internal/ghreplica"
	"github.com/fredbook/udos-dist/internal/treetest"
)

func replica(t *testing.T, cfg ghreplica.Config) (*ghreplica.Replica, GitHub) {
	t.Helper()
	if cfg.ContentCreationPerMinute == 0 {
		cfg.ContentCreationPerMinute = -1
	}
	gh := ghtest.Serve(t, ghtest.Options{Config: cfg, Login: "maintainer", Repos: []string{"fredbook/udos-grid-extensions", "fredbook/registry"},
		Client: func(c *ghrelease.Config) {
			c.MaxBackoff, c.MaxWait, c.RequestTimeout = 5*time.Millisecond, 5*time.Second, 2*time.Second
		}})
	return gh.Replica, NewGitHub(gh.Client)
}

func request(t *testing.T, dir string) Request {
	priv, _ := testKey(t)
	return Request{Dir: dir, Tag: "v1.2.3", SigningKey: priv, Passphrase: []byte("pw"), OutDir: t.TempDir(),
		Repository: "fredbook/udos-grid-extensions", DispatchRepository: "fredbook/registry"}
}

func TestPublishToReplica(t *testing.T) {
	t.Parallel()
	r, gh := replica(t, ghreplica.Config{ImmutableReleases: true})
	ctx := context.Background()
	res, err := Run(ctx, request(t, exampleLib), gh, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	rel, ok := r.ReleaseByTag("fredbook", "udos-grid-extensions", "v1.2.3")
	if !ok || rel.Draft {
		t.Fatalf("release: %+v (found %v)", rel, ok)
	}
	var names []string
	for _, a := range rel.Assets {
		names = append(names, a.Name+"="+a.State)
		if a.Name == res.Package && a.Digest != "sha256:"+res.SHA256 {
			t.Errorf("package digest on GitHub %s, local %s", a.Digest, res.SHA256)
		}
	}
	if got := strings.Join(names, " "); got != "lib-grid-extensions-v1.2.3.udos-package=uploaded lib-grid-extensions-v1.2.3.udos-package.asc=uploaded lib-grid-extensions-v1.2.3.manifest.json=uploaded" {
		t.Errorf("assets: %s", got)
	}
	if len(res.Release.Uploaded) != 3 || res.Release.AlreadyPublished || !strings.Contains(res.Release.URL, "/releases/tag/v1.2.3") {
		t.Errorf("release result %+v", res.Release)
	}
	d := r.Dispatches()
	if len(d) != 1 || d[0].Repo != "registry" || d[0].EventType != DefaultEventType || !strings.Contains(string(d[0].ClientPayload), res.SHA256) {
		t.Errorf("dispatches: %+v", d)
	}

	// A re-run of the same version is a no-op (same digest: skipped).
	again, err := Run(ctx, request(t, exampleLib), gh, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Release.AlreadyPublished || len(again.Release.Uploaded) != 0 || len(again.Release.Kept) != 3 {
		t.Errorf("re-run: %+v", again.Release)
	}
	if rel2, _ := r.ReleaseByTag("fredbook", "udos-grid-extensions", "v1.2.3"); len(rel2.Assets) != 3 {
		t.Errorf("re-run changed the release: %d assets", len(rel2.Assets))
	}

	// Different contents under the same version fail clearly.
	changed := t.TempDir()
	treetest.Copy(t, exampleLib, changed)
	if err := os.WriteFile(filepath.Join(changed, "lib", "grid_extensions", "extra.py"), []byte("X = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Run(ctx, request(t, changed), gh, nil, nil)
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "publish a new version instead") {
		t.Errorf("changed contents: err = %v", err)
	}
}

// TestPublishSurvivesFaults: every fault the replica can inject, on the
// way to a published release; the run still ends with exactly the three
// assets, all complete.
func TestPublishSurvivesFaults(t *testing.T) {
	t.Parallel()
	faults := []struct {
		name  string
		fault ghreplica.Fault
	}{
		{"5xx on create", ghreplica.Fault{Method: "POST", PathPrefix: "/repos/fredbook/udos-grid-extensions/releases", Kind: ghreplica.Status5xx, Status: 502}},
		{"429 on upload", ghreplica.Fault{Method: "POST", PathPrefix: "/repos/fredbook/udos-grid-extensions/releases/", Kind: ghreplica.Status429, RetryAfter: time.Second}},
		{"dropped upload", ghreplica.Fault{Method: "POST", PathPrefix: "/repos/fredbook/udos-grid-extensions/releases/", Kind: ghreplica.DropConnection}},
		{"half upload 502", ghreplica.Fault{Method: "POST", PathPrefix: "/repos/fredbook/udos-grid-extensions/releases/", Kind: ghreplica.HalfUpload502}},
		{"primary limit on lookup", ghreplica.Fault{Method: "GET", Kind: ghreplica.PrimaryRateLimit, RetryAfter: time.Second}},
		{"5xx on publish", ghreplica.Fault{Method: "PATCH", Kind: ghreplica.Status5xx}},
		{"dropped dispatch", ghreplica.Fault{Method: "POST", PathPrefix: "/repos/fredbook/registry/dispatches", Kind: ghreplica.DropConnection}},
	}
	for _, tc := range faults {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, gh := replica(t, ghreplica.Config{})
			r.Inject(tc.fault)
			res, err := Run(context.Background(), request(t, exampleLib), gh, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.PendingFaults() != 0 {
				t.Errorf("fault never triggered")
			}
			rel, _ := r.ReleaseByTag("fredbook", "udos-grid-extensions", "v1.2.3")
			if rel.Draft || len(rel.Assets) != 3 {
				t.Fatalf("release draft=%v with %d assets", rel.Draft, len(rel.Assets))
			}
			for _, a := range rel.Assets {
				if a.State != "uploaded" {
					t.Errorf("asset %s left %s", a.Name, a.State)
				}
			}
			if !res.Dispatched || len(r.Dispatches()) == 0 {
				t.Error("no dispatch")
			}
		})
	}
}
