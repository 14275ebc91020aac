package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/fixturetest"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/sbom"
)

// TestReleaseWorkflowOnRealLayout runs release.yml's build jobs with act
// on a v1.5.0 tag of the fixture shaped like the real uDOS v1.5 tree
// (symlinks, uDOS.py at the root, the launcher under wizard/services,
// uv.lock, ignored .env files) with no udos-variants.json: every variant
// builds, signs and uploads to the draft, and each SBOM lists the lock's
// packages.
func TestReleaseWorkflowOnRealLayout(t *testing.T) {
	act := needTool(t, "act", "/root/go/bin/act")
	needTool(t, "git")
	needTool(t, "go")
	needTool(t, "sha256sum")
	root := repoRoot(t)
	sh(t, root, nil, "go", "build", "-trimpath", "-o", os.DevNull, "./actions/build-variant") // warm the cache the jobs share

	rep, api := releaseReplica(t)

	const passphrase = "fixture passphrase"
	priv, _, err := pgpsign.GenerateTestKey("uDOS Release", "release@example.org", []byte(passphrase))
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	secrets, event := actInputs(t, work, priv, passphrase, "v1.5.0")

	repo := fixturetest.Repo(t, "udos-v1.5", fixturetest.Options{Tag: "fixture"})
	wf := filepath.Join(repo, ".github", "workflows")
	if err := os.MkdirAll(wf, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, ".github", "workflows", "release.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(wf, "release.yml"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	fixturetest.Git(t, repo, "remote", "add", "origin", "https://github.com/fredbook/uDOS.git")
	fixturetest.Git(t, repo, "add", "-A")
	fixturetest.Git(t, repo, "commit", "-q", "-m", "release workflow")
	fixturetest.Git(t, repo, "tag", "v1.5.0")

	start := time.Now()
	r := runAct(t, act, repo, api, secrets, event, nil, "-j", "build", "--matrix", "os:ubuntu-latest")
	t.Logf("act: %s", time.Since(start).Round(time.Second))
	if r.err != nil {
		t.Fatalf("act: %v\n%s", r.err, tail(r.out, 80))
	}
	if strings.Contains(r.out, passphrase) {
		t.Error("the passphrase appears in the log")
	}
	rel, ok := rep.ReleaseByTag("fredbook", "uDOS", "v1.5.0")
	if !ok || !rel.Draft {
		t.Fatalf("no draft release v1.5.0 (found %v)", ok)
	}
	assets := map[string][]byte{}
	for _, a := range rel.Assets {
		assets[a.Name] = a.Data
	}
	for _, v := range []string{"core-slim", "wizard-full", "dev-complete"} {
		for _, suffix := range []string{".tar.gz", ".tar.gz.asc", ".cdx.json"} {
			if _, ok := assets["udos-"+v+"-v1.5.0"+suffix]; !ok {
				t.Errorf("the draft lacks udos-%s-v1.5.0%s", v, suffix)
			}
		}
		pk, err := sbom.Packages(assets["udos-"+v+"-v1.5.0.cdx.json"])
		if err != nil {
			t.Errorf("%s: %v", v, err)
			continue
		}
		have := map[string]string{}
		for _, p := range pk {
			have[p.Name] = p.Version
		}
		if have["rich"] != "13.9.4" || have["certifi"] != "2024.8.30" {
			t.Errorf("%s: the SBOM does not list the lock's packages: %v", v, pk)
		}
	}
	for _, w := range []string{"core/dist is a dangling symlink", "bin/ucli is not in the checkout; generated as an alias of bin/ucode"} {
		if !strings.Contains(r.out, w) {
			t.Errorf("the log lacks the warning %q", w)
		}
	}
}
