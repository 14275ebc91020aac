package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/catalog"
	"github.com/fredbook/udos-dist/internal/cmd/factory"
	"github.com/fredbook/udos-dist/internal/cmd/root"
	"github.com/fredbook/udos-dist/internal/ghrelease/ghtest"
	"github.com/fredbook/udos-dist/internal/ghreplica"
	"github.com/fredbook/udos-dist/internal/iostreams"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/publish"
	"github.com/fredbook/udos-dist/internal/site"
	"github.com/fredbook/udos-dist/internal/testenv"
	"github.com/fredbook/udos-dist/internal/treetest"
)

// gitRepo makes dir a git repository of fredbook/NAME with one commit (and
// tag), as act needs to derive the github context.
func gitRepo(t *testing.T, dir, name, tag string) {
	t.Helper()
	git := testenv.Tool(t, "git")
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"add", "-A"},
		{"-c", "user.email=ci@example.org", "-c", "user.name=CI", "commit", "-qm", "initial"},
		{"remote", "add", "origin", "https://github.com/fredbook/" + name + ".git"},
	} {
		cmd := exec.Command(git, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	if tag != "" {
		cmd := exec.Command(git, "tag", tag)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git tag: %v\n%s", err, out)
		}
	}
}

// secretFile writes act's dotenv secrets: a multi-line key as one
// double-quoted value with \n.
func secretFile(t *testing.T, dir string, secrets map[string]string) string {
	t.Helper()
	var b strings.Builder
	for k, v := range secrets {
		fmt.Fprintf(&b, "%s=\"%s\"\n", k, strings.ReplaceAll(v, "\n", `\n`))
	}
	p := filepath.Join(dir, "secrets.env")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func runAct(t *testing.T, act, dir string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, act, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("act %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// TestActReleaseRegistryAndClient runs the real workflow files with act
// against the GitHub replica: a library's release workflow publishes with
// the publish-library action and notifies the registry; the registry's
// workflow (the root action, Jekyll, Pages) regenerates and deploys the
// site; then udos-lib installs and syncs from that site served as GitHub
// Pages serves it, downloading the packages from the releases.
func TestActReleaseRegistryAndClient(t *testing.T) {
	t.Parallel()
	act := testenv.Tool(t, "act")
	testenv.Tool(t, "jekyll")
	repoRoot, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	demoKey, err := os.ReadFile(filepath.Join(repoRoot, "examples", "keys", "demo-signing-key.asc"))
	if err != nil {
		t.Fatal(err)
	}
	demoPub := filepath.Join(repoRoot, "examples", "keys", "demo-signing-key.pub.asc")

	gh := ghtest.Serve(t, ghtest.Options{Config: ghreplica.Config{ContentCreationPerMinute: -1, ImmutableReleases: true}, Login: "github-actions",
		Repos: []string{"fredbook/udos-grid-math", "fredbook/udos-pathfinding", "fredbook/udos-grid-extensions", "fredbook/registry"}})
	r, srv := gh.Replica, gh.Server

	// Two libraries were published earlier (through the same code as the
	// action: internal/publish).
	for _, lib := range []struct{ dir, repo string }{{"pathfinding", "udos-pathfinding"}, {"grid-extensions", "udos-grid-extensions"}} {
		if _, err := publish.Run(context.Background(), publish.Request{
			Dir: filepath.Join(repoRoot, "examples", "libraries", lib.dir), SigningKey: demoKey,
			Repository: "fredbook/" + lib.repo, OutDir: t.TempDir(),
		}, publish.NewGitHub(gh.Client), nil, nil); err != nil {
			t.Fatal(err)
		}
	}

	// 1. A tag push in the grid-math repository runs its release workflow.
	libRepo := filepath.Join(t.TempDir(), "udos-grid-math")
	treetest.Copy(t, filepath.Join(repoRoot, "examples", "libraries", "grid-math"), libRepo)
	treetest.Copy(t, filepath.Join(repoRoot, "testdata", "act", "registry", "library"), libRepo)
	gitRepo(t, libRepo, "udos-grid-math", "v1.1.1")
	work := t.TempDir()
	event := filepath.Join(work, "push.json")
	os.WriteFile(event, []byte(`{"ref": "refs/tags/v1.1.1"}`), 0o644)
	out := runAct(t, act, libRepo, "push", "-e", event, "-P", "ubuntu-latest=-self-hosted",
		"--local-repository", "fredbook/udos-dist@v1="+repoRoot,
		"--env", "GITHUB_API_URL="+srv.URL, "-s", "GITHUB_TOKEN="+ghtest.Token,
		"--secret-file", secretFile(t, work, map[string]string{"LIBRARY_SIGNING_KEY": string(demoKey)}),
		"-W", ".github/workflows/release.yml")
	for _, want := range []string{"::set-output:: package=lib-grid-math-v1.1.1.udos-package", "::set-output:: release-url=" + srv.URL + "/fredbook/udos-grid-math/releases/tag/v1.1.1", "Job succeeded"} {
		if !strings.Contains(out, want) {
			t.Errorf("release workflow output lacks %q:\n%s", want, out)
		}
	}
	if rel, ok := r.ReleaseByTag("fredbook", "udos-grid-math", "v1.1.1"); !ok || rel.Draft || len(rel.Assets) != 3 {
		t.Fatalf("grid-math release: %+v", rel)
	}
	if d := r.Dispatches(); len(d) != 1 || d[0].Repo != "registry" || d[0].EventType != "udos-library-published" {
		t.Fatalf("dispatches: %+v", d)
	}

	// 2. The dispatch runs the registry's workflow.
	regRepo := filepath.Join(t.TempDir(), "registry")
	os.MkdirAll(filepath.Join(regRepo, ".github", "workflows"), 0o755)
	os.MkdirAll(filepath.Join(regRepo, "keys"), 0o755)
	wf, _ := os.ReadFile(filepath.Join(repoRoot, ".github", "workflows", "registry.yml"))
	pub, _ := os.ReadFile(demoPub)
	os.WriteFile(filepath.Join(regRepo, ".github", "workflows", "registry.yml"), wf, 0o644)
	os.WriteFile(filepath.Join(regRepo, "keys", "publishers.asc"), pub, 0o644)
	os.WriteFile(filepath.Join(regRepo, "registry.json"), []byte(`{
  "repositories": ["fredbook/udos-grid-math", "fredbook/udos-pathfinding", "fredbook/udos-grid-extensions"],
  "publisher_keys": "keys/publishers.asc",
  "expires": "240h"
}
`), 0o644)
	gitRepo(t, regRepo, "registry", "")
	state := filepath.Join(t.TempDir(), "state")
	dispatch := filepath.Join(work, "dispatch.json")
	os.WriteFile(dispatch, []byte(`{"action": "udos-library-published", "client_payload": {"id": "lib-grid-math"}}`), 0o644)
	stubs := filepath.Join(repoRoot, "testdata", "act", "registry", "stubs")
	regSecrets := secretFile(t, t.TempDir(), map[string]string{"REGISTRY_SIGNING_KEY": string(demoKey)})
	runRegistry := func() string {
		t.Helper()
		return runAct(t, act, regRepo, "repository_dispatch", "-e", dispatch, "-P", "ubuntu-latest=-self-hosted",
			"--local-repository", "fredbook/udos-dist@v1="+repoRoot,
			"--local-repository", "actions/cache@v4="+filepath.Join(stubs, "cache"),
			"--local-repository", "actions/configure-pages@v5="+filepath.Join(stubs, "configure-pages"),
			"--local-repository", "actions/jekyll-build-pages@v1="+filepath.Join(stubs, "jekyll-build-pages"),
			"--local-repository", "actions/upload-pages-artifact@v3="+filepath.Join(stubs, "upload-pages-artifact"),
			"--local-repository", "actions/deploy-pages@v4="+filepath.Join(stubs, "deploy-pages"),
			"--env", "GITHUB_API_URL="+srv.URL, "--env", "UDOS_ACT_STATE="+state, "--env", "UDOS_ACT_BASE_PATH=/registry",
			"-s", "GITHUB_TOKEN="+ghtest.Token, "--secret-file", regSecrets,
			"-W", ".github/workflows/registry.yml")
	}
	r.ResetLog()
	out = runRegistry()
	if !strings.Contains(out, "Job succeeded") || strings.Contains(out, "Job failed") {
		t.Fatalf("registry workflow:\n%s", out)
	}
	pages := filepath.Join(state, "pages")
	catJSON, err := os.ReadFile(filepath.Join(pages, "catalog.json"))
	if err != nil {
		t.Fatalf("no catalog deployed: %v\n%s", err, out)
	}
	sig, _ := os.ReadFile(filepath.Join(pages, "catalog.json.asc"))
	kr, err := pgpsign.LoadKeyringFile(demoPub)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Verify(catJSON, sig, kr, catalog.TrustState{}, time.Now())
	if err != nil {
		t.Fatalf("deployed catalog: %v", err)
	}
	if !strings.Contains(out, fmt.Sprintf("::set-output:: serial=%d", cat.Serial)) {
		t.Errorf("the root action's serial output is not the catalog's %d", cat.Serial)
	}
	var ids []string
	for _, l := range cat.Libraries {
		ids = append(ids, l.ID+"@"+l.Version)
	}
	if got := strings.Join(ids, " "); got != "lib-grid-extensions@1.2.3 lib-grid-math@1.1.1 lib-pathfinding@1.1.0" {
		t.Errorf("deployed catalog lists %s", got)
	}
	page, err := os.ReadFile(filepath.Join(pages, "libraries", "lib-grid-math", "index.html"))
	if err != nil || !strings.Contains(string(page), "udos-lib install grid-math") || !strings.Contains(string(page), `href="/registry/`) {
		t.Errorf("grid-math page (%v):\n%s", err, page)
	}

	// 3. Runs with nothing new: the same catalog but for serial and times;
	// nothing downloaded; once the first run's downloads no longer move
	// the listings, one request per repository, answered 304.
	r.ResetLog()
	runRegistry()
	if n := r.Count("GET", "/_objects/"); n != 0 {
		t.Errorf("second registry run downloaded %d assets", n)
	}
	catJSON2, _ := os.ReadFile(filepath.Join(pages, "catalog.json"))
	if stripVolatile(t, catJSON) != stripVolatile(t, catJSON2) {
		t.Errorf("second run changed the catalog:\n%s\n---\n%s", catJSON, catJSON2)
	}
	r.ResetLog()
	runRegistry()
	reqs := r.Requests()
	if len(reqs) != 3 {
		t.Errorf("no-change run made %d requests, want 3", len(reqs))
	}
	for _, q := range reqs {
		if !q.NotModified {
			t.Errorf("no-change run: %s %s answered %d", q.Method, q.Path, q.Status)
		}
	}
	cat3, err := catalog.Parse(mustRead(t, filepath.Join(pages, "catalog.json")))
	if err != nil || cat3.Serial <= cat.Serial {
		t.Errorf("serial after three runs: %v (first %d)", err, cat.Serial)
	}

	// 4. The client against the site as GitHub Pages serves it.
	pagesSrv := httptest.NewServer(site.PagesHandler(pages, "/registry"))
	defer pagesSrv.Close()
	udosRoot := t.TempDir()
	os.WriteFile(filepath.Join(udosRoot, "version.json"), []byte(`{"version": "1.5.0", "variant": "core-slim"}`+"\n"), 0o644)
	udosLib := func(args ...string) string {
		t.Helper()
		io, _, stdout, stderr := iostreams.Test()
		f := &factory.Factory{Ctx: context.Background(), IO: io, Getenv: func(string) string { return "" },
			HTTPClient: pagesSrv.Client(), Now: time.Now, Global: &factory.Global{}}
		full := append([]string{"--root", udosRoot, "--registry", pagesSrv.URL + "/registry/", "--keyring", demoPub, "--json"}, args...)
		if code := root.Run(f, full); code != 0 {
			t.Fatalf("udos-lib %v: exit %d\n%s\n%s", args, code, stdout, stderr)
		}
		return stdout.String()
	}
	udosLib("sync")
	udosLib("install", "grid-extensions")
	var lock struct {
		Libraries map[string]struct {
			Version string `json:"version"`
			Source  string `json:"source"`
			SHA256  string `json:"sha256"`
		} `json:"libraries"`
	}
	if err := json.Unmarshal(mustRead(t, filepath.Join(udosRoot, "library", "lock.json")), &lock); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{"lib-grid-extensions": "1.2.3", "lib-pathfinding": "1.1.0", "lib-grid-math": "1.1.1"} {
		e, ok := lock.Libraries[id]
		if !ok || e.Version != want || !strings.HasPrefix(e.Source, srv.URL+"/fredbook/") {
			t.Errorf("lock entry %s: %+v", id, e)
		}
	}
	if _, err := os.Stat(filepath.Join(udosRoot, "library", "grid-extensions", "lib", "grid_extensions", "__init__.py")); err != nil {
		t.Errorf("grid-extensions not installed: %v", err)
	}
	// A second sync is a conditional request the static server answers 304.
	udosLib("sync")
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
