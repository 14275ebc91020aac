package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/artifact"
	"github.com/fredbook/udos-dist/internal/assetname"
	"github.com/fredbook/udos-dist/internal/checksum"
	"github.com/fredbook/udos-dist/internal/ghrelease"
	"github.com/fredbook/udos-dist/internal/ghrelease/ghtest"
	"github.com/fredbook/udos-dist/internal/ghreplica"
	"github.com/fredbook/udos-dist/internal/jsonschema"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/release"
	"github.com/fredbook/udos-dist/internal/relmanifest"
	"github.com/fredbook/udos-dist/internal/sbom"
)

const fixture = "../../../examples/udos"

var epoch = time.Unix(1764072000, 0).UTC() // 2025-11-25T12:00:00Z

var (
	keyOnce          sync.Once
	testPriv, tstPub []byte
	keyErr           error
)

func testKey(t *testing.T) ([]byte, []byte) {
	t.Helper()
	keyOnce.Do(func() {
		testPriv, tstPub, keyErr = pgpsign.GenerateTestKey("uDOS Release", "release@example.org", []byte("s3cret"))
	})
	if keyErr != nil {
		t.Fatal(keyErr)
	}
	return testPriv, tstPub
}

func need(t *testing.T, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not on PATH", tool)
		}
		t.Skipf("%s not on PATH", tool)
	}
	return p
}

func buildCfg(t *testing.T, variantName, src, out string) Config {
	priv, _ := testKey(t)
	return Config{
		Variant: variantName, Source: src, Version: "v1.4.6", Output: out,
		SourceDateEpoch: epoch, SigningKey: priv, Passphrase: []byte("s3cret"),
		ToolVersion: "test",
	}
}

// TestBuildLocal builds every variant into one output directory and checks
// the outputs with the real tools: sha256sum -c, sha512sum -c, gpg --verify,
// the CycloneDX schema and tar itself.
func TestBuildLocal(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	var log bytes.Buffer
	for _, v := range []string{"core-slim", "wizard-full", "dev-complete"} {
		cfg := buildCfg(t, v, fixture, out)
		cfg.Log = &log
		res, err := Build(context.Background(), cfg)
		if err != nil {
			t.Fatalf("%s: %v\n%s", v, err, log.String())
		}
		if res.Archive.Name != "udos-"+v+"-v1.4.6.tar.gz" {
			t.Errorf("archive %s", res.Archive.Name)
		}
		if v == "core-slim" && (len(res.Warnings) != 2 || !strings.Contains(res.Warnings[1], "bin/ucli is not in the checkout; generated as an alias of bin/ucode")) {
			t.Errorf("core-slim warnings: %v", res.Warnings)
		}
		sum := Summary(res)
		for _, want := range []string{"| `udos-" + v + "-v1.4.6.tar.gz` | archive |", "| sign | ok", "| upload | skipped: upload not requested"} {
			if !strings.Contains(sum, want) {
				t.Errorf("summary lacks %q:\n%s", want, sum)
			}
		}
	}
	for _, want := range []string{"• layout", "archive done in", "sign", "upload skipped: upload not requested"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}

	// Checksums, with coreutils.
	for _, c := range [][]string{{"sha256sum", "-c", "--strict", "SHA256SUMS"}, {"sha512sum", "-c", "--strict", "SHA512SUMS"},
		{"sha256sum", "-c", "udos-core-slim-v1.4.6.tar.gz.sha256"}, {"sha512sum", "-c", "udos-wizard-full-v1.4.6.cdx.json.sha512"}} {
		cmd := exec.Command(need(t, c[0]), c[1:]...)
		cmd.Dir = out
		if o, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%v: %v\n%s", c, err, o)
		}
	}
	sums, _ := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
	if n := strings.Count(string(sums), "\n"); n != 12 {
		t.Errorf("SHA256SUMS has %d lines, want 12 (4 artifacts x 3 variants):\n%s", n, sums)
	}

	// Signatures, with gpg.
	gpgVerifyAll(t, out)

	// The merged manifest has the three variants and validates.
	m, err := relmanifest.Read(filepath.Join(out, "releases", "v1.4.6-manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(m.Names(), ","); got != "core-slim,dev-complete,wizard-full" {
		t.Errorf("manifest variants %s", got)
	}
	if w := m.Variants["wizard-full"]; !w.RequiresDocker || w.MinimumPython != "3.9" || w.SBOM == nil || w.SBOM.Format != "CycloneDX" {
		t.Errorf("wizard-full entry %+v", w)
	}

	// The SBOM is valid CycloneDX 1.6, lists the wizard's pins and every file.
	doc, err := os.ReadFile(filepath.Join(out, "udos-wizard-full-v1.4.6.cdx.json"))
	if err != nil {
		t.Fatal(err)
	}
	validateSchema(t, doc)
	for _, want := range []string{`"purl": "pkg:pypi/fastapi@0.110.0"`, `"purl": "pkg:pypi/pyyaml@6.0.1"`, `"name": "wizard/routes/health.py"`, `"name": "docker-compose.yml"`} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("SBOM lacks %s", want)
		}
	}

	// The archive unpacks with tar into the expected tree; file digests in
	// the SBOM match the unpacked files.
	x := t.TempDir()
	if o, err := exec.Command(need(t, "tar"), "-xzf", filepath.Join(out, "udos-wizard-full-v1.4.6.tar.gz"), "-C", x).CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, o)
	}
	root := filepath.Join(x, "udos-wizard-full-v1.4.6")
	vj, err := os.ReadFile(filepath.Join(root, "version.json"))
	if err != nil || !strings.Contains(string(vj), `"variant": "wizard-full"`) || !strings.Contains(string(vj), `"version": "1.4.6"`) {
		t.Errorf("version.json: %s %v", vj, err)
	}
	health, _ := os.ReadFile(filepath.Join(root, "wizard", "routes", "health.py"))
	h := sha256.Sum256(health)
	if !strings.Contains(string(doc), hex.EncodeToString(h[:])) {
		t.Error("SBOM lacks the digest of wizard/routes/health.py")
	}
	if fi, err := os.Stat(filepath.Join(root, "bin", "udos")); err != nil || fi.Mode().Perm()&0o111 == 0 {
		t.Errorf("bin/udos not executable: %v", err)
	}
	compose, _ := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if !strings.Contains(string(compose), "cap_drop") {
		t.Error("wizard-full lacks the hardened compose file")
	}
	// Homebrew formula for core-slim points at the archive with its digest.
	rb, _ := os.ReadFile(filepath.Join(out, "udos-core-slim.rb"))
	core, _ := os.ReadFile(filepath.Join(out, "udos-core-slim-v1.4.6.tar.gz.sha256"))
	if !strings.Contains(string(rb), `sha256 "`+strings.Fields(string(core))[0]+`"`) || !strings.Contains(string(rb), `version "1.4.6"`) {
		t.Errorf("formula:\n%s", rb)
	}
}

func gpgVerifyAll(t *testing.T, dir string) {
	t.Helper()
	gpg := need(t, "gpg")
	_, pub := testKey(t)
	home := t.TempDir()
	env := append(os.Environ(), "GNUPGHOME="+home)
	imp := exec.Command(gpg, "--batch", "--import")
	imp.Env, imp.Stdin = env, bytes.NewReader(pub)
	if o, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("gpg --import: %v\n%s", err, o)
	}
	sigs, _ := filepath.Glob(filepath.Join(dir, "*.asc"))
	if len(sigs) == 0 {
		t.Fatal("no signatures")
	}
	for _, sig := range sigs {
		cmd := exec.Command(gpg, "--batch", "--verify", sig, strings.TrimSuffix(sig, ".asc"))
		cmd.Env = env
		if o, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("gpg --verify %s: %v\n%s", filepath.Base(sig), err, o)
		}
	}
	// gpg must be able to fail: a changed file does not verify.
	target := strings.TrimSuffix(sigs[0], ".asc")
	data, _ := os.ReadFile(target)
	tampered := filepath.Join(t.TempDir(), "tampered")
	_ = os.WriteFile(tampered, append(data, 'x'), 0o644)
	cmd := exec.Command(gpg, "--batch", "--verify", sigs[0], tampered)
	cmd.Env = env
	if err := cmd.Run(); err == nil {
		t.Error("gpg verified a tampered file")
	}
}

func validateSchema(t *testing.T, doc []byte) {
	t.Helper()
	py := need(t, "python3")
	if err := exec.Command(py, "-c", "import jsonschema").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("python3 jsonschema missing")
		}
		t.Skip("python3 jsonschema missing")
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/CycloneDX/cyclonedx-go").Output()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "bom.json")
	_ = os.WriteFile(p, doc, 0o644)
	script, _ := filepath.Abs("../../sbom/testdata/validate.py")
	if o, err := exec.Command(py, script, filepath.Join(strings.TrimSpace(string(out)), "schema"), p).CombinedOutput(); err != nil {
		t.Fatalf("CycloneDX 1.6 validation: %v\n%s", err, o)
	}
}

// validateSeedManifest checks a produced manifest against the JSON Schema
// of the seed's release manifest (internal/relmanifest/testdata), with the
// repository's validator and with python's jsonschema.
func validateSeedManifest(t *testing.T, doc []byte) {
	t.Helper()
	const schemaPath = "../../relmanifest/testdata/seed-manifest.schema.json"
	schema, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := jsonschema.Validate(schema, doc); err != nil {
		t.Errorf("the manifest does not follow the seed's schema: %v\n%s", err, doc)
	}
	py := need(t, "python3")
	p := filepath.Join(t.TempDir(), "manifest.json")
	_ = os.WriteFile(p, doc, 0o644)
	if o, err := exec.Command(py, "../../relmanifest/testdata/validate.py", schemaPath, p).CombinedOutput(); err != nil {
		t.Errorf("python jsonschema: %v\n%s", err, o)
	}
}

// TestReproducible builds from two copies of the tree that differ in mtimes,
// umask, owners and directory creation order: the archives (and SBOMs,
// manifests, formulas) must be identical bytes.
func TestReproducible(t *testing.T) {
	t.Parallel()
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	copyTree(t, fixture, a, 0o022, time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC), -1)
	copyTree(t, fixture, b, 0o077, time.Date(2026, 6, 7, 8, 9, 10, 0, time.UTC), 4242)
	for _, v := range []string{"core-slim", "wizard-full", "dev-complete"} {
		outA, outB := t.TempDir(), t.TempDir()
		ra, err := Build(context.Background(), buildCfg(t, v, a, outA))
		if err != nil {
			t.Fatal(err)
		}
		cfgB := buildCfg(t, v, b, outB)
		cfgB.Level = 6
		rb, err := Build(context.Background(), cfgB)
		if err != nil {
			t.Fatal(err)
		}
		if ra.Archive.SHA256 != rb.Archive.SHA256 {
			t.Errorf("%s: archives differ: %s vs %s", v, ra.Archive.SHA256, rb.Archive.SHA256)
		}
		for _, pair := range [][2]*artifact.Artifact{{ra.SBOM, rb.SBOM}, {ra.Fragment, rb.Fragment}} {
			if pair[0].SHA256 != pair[1].SHA256 {
				t.Errorf("%s: %s differs between the copies", v, pair[0].Name)
			}
		}
		// The archive carries none of the copy's metadata.
		entries := listTar(t, ra.Archive.Path)
		for _, line := range entries {
			if !strings.Contains(line, "0/0") || !strings.Contains(line, "2025-11-25 12:00") {
				t.Errorf("%s: entry %q", v, line)
				break
			}
		}
	}
}

// copyTree copies src to dst with the given umask and mtime, chowning to
// uid (when >= 0 and running as root), and creating entries in reverse order.
func copyTree(t *testing.T, src, dst string, umask int, mtime time.Time, uid int) {
	t.Helper()
	old := syscall.Umask(umask)
	defer syscall.Umask(old)
	var paths []string
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		paths = append(paths, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := len(paths) - 1; i >= 0; i-- { // files before their directories
		p := paths[i]
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if info.IsDir() {
			if err := os.MkdirAll(target, 0o777); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o777); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o666)
		if info.Mode()&0o111 != 0 {
			mode = 0o777
		}
		if err := os.WriteFile(target, data, mode); err != nil {
			t.Fatal(err)
		}
	}
	_ = filepath.Walk(dst, func(p string, info os.FileInfo, err error) error {
		if err == nil {
			if uid >= 0 && os.Geteuid() == 0 {
				_ = os.Lchown(p, uid, uid)
			}
			_ = os.Chtimes(p, mtime, mtime)
		}
		return nil
	})
}

func listTar(t *testing.T, path string) []string {
	t.Helper()
	out, err := exec.Command(need(t, "tar"), "--numeric-owner", "-tvzf", path).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

func TestBuildErrors(t *testing.T) {
	t.Parallel()
	priv, _ := testKey(t)
	tests := []struct {
		name string
		mod  func(c *Config)
		step string
		want string
	}{
		{"tag does not match version.json", func(c *Config) { c.Version = "1.4.7" }, "setup", "version.json says 1.4.6"},
		{"wrong passphrase", func(c *Config) { c.Passphrase = []byte("nope") }, "setup", "signing key"},
		{"no epoch", func(c *Config) { c.SourceDateEpoch = time.Time{} }, "setup", "SOURCE_DATE_EPOCH"},
		{"unknown variant", func(c *Config) { c.Variant = "sonic-iso" }, "layout", `unknown variant "sonic-iso"`},
		{"strict", func(c *Config) { c.Strict = true; c.VariantsFile = "testdata/strict-variants.json" }, "layout", "entry point bin/ucli"},
		{"upload without client", func(c *Config) { c.Upload = true }, "setup", "upload needs"},
		{"missing variants file", func(c *Config) { c.VariantsFile = "/nonexistent/v.json" }, "layout", "variants file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := Config{Variant: "core-slim", Source: fixture, Version: "1.4.6", Output: t.TempDir(),
				SourceDateEpoch: epoch, SigningKey: priv, Passphrase: []byte("s3cret")}
			tt.mod(&cfg)
			res, err := Build(context.Background(), cfg)
			if err == nil || !strings.HasPrefix(err.Error(), tt.step+": ") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %s: …%s…", err, tt.step, tt.want)
			}
			if last := res.Steps[len(res.Steps)-1]; last.Step != tt.step || last.Status != "failed" {
				t.Errorf("last step %+v", last)
			}
		})
	}
}

func TestUnsignedBuildSkipsSigning(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	res, err := Build(context.Background(), Config{Variant: "core-slim", Source: fixture, Version: "1.4.6", Output: out, SourceDateEpoch: epoch})
	if err != nil {
		t.Fatal(err)
	}
	if sigs, _ := filepath.Glob(filepath.Join(out, "*.asc")); len(sigs) != 0 {
		t.Errorf("signatures written without a key: %v", sigs)
	}
	var skipped bool
	for _, s := range res.Steps {
		skipped = skipped || (s.Step == "sign" && s.Status == "skipped" && s.Reason == "no signing key given")
	}
	if !skipped {
		t.Errorf("steps %+v", res.Steps)
	}
	m, _ := relmanifest.Read(res.Manifest)
	if m.Variants["core-slim"].Signature != "" {
		t.Error("manifest names a signature that was not made")
	}
}

// --- GitHub: the replica ---

type ghEnv struct {
	rep *ghreplica.Replica
	srv *httptest.Server
	gh  *ghrelease.Client
}

func newGH(t *testing.T) *ghEnv {
	e := ghtest.New(t, ghreplica.Config{}, "release-bot")
	return &ghEnv{rep: e.Replica, srv: e.Server, gh: e.Client}
}

func (e *ghEnv) upload(cfg Config) Config {
	cfg.Upload, cfg.GitHub, cfg.Owner, cfg.Repo, cfg.ServerURL = true, e.gh, "fredbook", "uDOS", "https://github.com"
	return cfg
}

func (e *ghEnv) publishCfg(t *testing.T, out string) release.PublishConfig {
	priv, _ := testKey(t)
	return release.PublishConfig{Version: "1.4.6", Owner: "fredbook", Repo: "uDOS", GitHub: e.gh, Output: out, Source: fixture,
		SigningKey: priv, Passphrase: []byte("s3cret"), ExpectVariants: []string{"core-slim", "wizard-full", "dev-complete"}}
}

// TestReleaseThroughReplica runs the workflow's jobs in-process: three
// variant builds upload to a draft (two of them twice, as the Linux and
// macOS legs do), then the release job publishes. The first release job is
// interrupted by a broken upload; the re-run completes the release.
func TestReleaseThroughReplica(t *testing.T) {
	t.Parallel()
	e := newGH(t)
	ctx := context.Background()
	// A previous release with its manifest, for the upgrade path.
	prev, err := os.ReadFile(filepath.Join(fixture, "releases", "v1.4.3-manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.rep.AddRelease("fredbook", "uDOS", ghreplica.ReleaseSpec{Tag: "v1.4.3",
		Assets: []ghreplica.AssetSpec{{Name: "v1.4.3-manifest.json", Data: prev, ContentType: "application/json"},
			{Name: "udos-wizard-full-v1.4.3.cdx.json", Data: OldSBOM(t), ContentType: "application/json"}}}); err != nil {
		t.Fatal(err)
	}
	for _, leg := range []string{"linux", "macos"} {
		for _, v := range []string{"core-slim", "wizard-full", "dev-complete"} {
			res, err := Build(ctx, e.upload(buildCfg(t, v, fixture, filepath.Join(t.TempDir(), leg))))
			if err != nil {
				t.Fatalf("%s/%s: %v", leg, v, err)
			}
			for _, a := range res.Upload.Assets {
				if leg == "macos" && a.Action != ghrelease.ActionUnchanged {
					t.Errorf("macos leg changed %s (%s): the builds are not reproducible", a.Name, a.Action)
				}
			}
		}
	}
	rel, ok := e.rep.ReleaseByTag("fredbook", "uDOS", "v1.4.6")
	if !ok || !rel.Draft || len(rel.Assets) != 42 {
		t.Fatalf("after the builds: ok=%v draft=%v assets=%d", ok, rel.Draft, len(rel.Assets))
	}

	// The release job's first attempt breaks while uploading SHA256SUMS.
	e.rep.Inject(ghreplica.Fault{Method: "POST", PathPrefix: "/repos/fredbook/uDOS/releases/", Kind: ghreplica.HalfUpload502, Times: -1})
	out := t.TempDir()
	if _, err := release.Publish(ctx, e.publishCfg(t, out)); err == nil {
		t.Fatal("publish succeeded through a broken upload")
	}
	rel, _ = e.rep.ReleaseByTag("fredbook", "uDOS", "v1.4.6")
	if !rel.Draft {
		t.Fatal("a half-done release was published")
	}
	e.rep.ClearFaults()

	res, err := release.Publish(ctx, e.publishCfg(t, out))
	if err != nil {
		t.Fatal(err)
	}
	rel, _ = e.rep.ReleaseByTag("fredbook", "uDOS", "v1.4.6")
	if rel.Draft {
		t.Fatal("release still a draft")
	}
	byName := map[string]ghreplica.Asset{}
	for _, a := range rel.Assets {
		if a.State != "uploaded" {
			t.Errorf("asset %s left in state %s", a.Name, a.State)
		}
		byName[a.Name] = a
	}
	// 42 from the builds; the manifest, the SUMS lists, the release-wide
	// SBOM and their signatures.
	if len(rel.Assets) != 50 {
		t.Errorf("%d assets, want 50", len(rel.Assets))
	}
	for _, name := range []string{"v1.4.6-manifest.json", "v1.4.6-manifest.json.asc", "SHA256SUMS", "SHA256SUMS.asc", "SHA512SUMS", "SHA512SUMS.asc",
		"udos-v1.4.6.cdx.json", "udos-v1.4.6.cdx.json.asc"} {
		a, ok := byName[name]
		if !ok {
			t.Errorf("release lacks %s", name)
			continue
		}
		local, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(local)
		if a.Digest != "sha256:"+hex.EncodeToString(sum[:]) || !bytes.Equal(a.Data, local) {
			t.Errorf("%s on GitHub differs from the local file", name)
		}
	}
	// Every archive on the release matches the manifest and GitHub's digest.
	for _, name := range res.Manifest.Names() {
		v := res.Manifest.Variants[name]
		a := byName[v.Filename]
		if a.Digest != "sha256:"+v.SHA256 || int64(a.Size) != v.Size {
			t.Errorf("%s: GitHub digest %s, manifest %s", v.Filename, a.Digest, v.SHA256)
		}
	}
	// The published manifest is the seed's, and its top-level SBOM is
	// valid CycloneDX listing every variant's packages.
	validateSeedManifest(t, byName["v1.4.6-manifest.json"].Data)
	if res.Manifest.SBOM == nil || res.Manifest.SBOM.URL != "https://github.com/fredbook/uDOS/releases/download/v1.4.6/udos-v1.4.6.cdx.json" ||
		res.Manifest.ReleaseNotes != "https://github.com/fredbook/uDOS/releases/tag/v1.4.6" {
		t.Errorf("sbom %+v, release_notes %q", res.Manifest.SBOM, res.Manifest.ReleaseNotes)
	}
	relBOM := byName["udos-v1.4.6.cdx.json"].Data
	validateSchema(t, relBOM)
	for _, want := range []string{`"purl": "pkg:pypi/fastapi@0.110.0"`, `"purl": "pkg:generic/udos-core-slim@1.4.6"`, `"purl": "pkg:generic/udos@1.4.6"`} {
		if !strings.Contains(string(relBOM), want) {
			t.Errorf("the release SBOM lacks %s", want)
		}
	}
	for _, name := range res.Manifest.Names() {
		v := res.Manifest.Variants[name]
		sig := byName[v.Filename+".asc"].Data
		if v.GPGSignature != string(sig) || !strings.HasPrefix(v.GPGSignature, "-----BEGIN PGP SIGNATURE-----") {
			t.Errorf("%s: gpg_signature is not the release's armored signature", name)
		}
	}
	// Upgrade path: release notes compare with v1.4.3.
	if res.Manifest.PreviousVersion != "1.4.3" {
		t.Errorf("previous_version %q", res.Manifest.PreviousVersion)
	}
	for _, want := range []string{"Upgrade path from v1.4.3", "dev-complete: new variant", "core-slim: minimum_python 3.8 → 3.9",
		"- wizard-full, since v1.4.3: aiofiles (removed), fastapi 0.109.2 → 0.110.0, pyyaml 6.0.1 (new)", "- core-slim: prompt-toolkit 3.0.43"} {
		if !strings.Contains(rel.Body, want) {
			t.Errorf("release notes lack %q:\n%s", want, rel.Body)
		}
	}
	// The downloaded set checks out with sha256sum and gpg.
	cmd := exec.Command(need(t, "sha256sum"), "-c", "--strict", "SHA256SUMS")
	cmd.Dir = out
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("sha256sum -c: %v\n%s", err, o)
	}
	gpgVerifyAll(t, out)
	if !strings.Contains(release.PublishSummary(res), "published") {
		t.Error("summary does not say published")
	}

	// A third run changes nothing.
	before := e.rep.Count("POST", "")
	if _, err := release.Publish(ctx, e.publishCfg(t, out)); err != nil {
		t.Fatal(err)
	}
	if n := e.rep.Count("POST", "") - before; n != 0 {
		t.Errorf("re-run after publication made %d POSTs", n)
	}
}

func TestPublishRefusesBadFragment(t *testing.T) {
	t.Parallel()
	e := newGH(t)
	ctx := context.Background()
	out := t.TempDir()
	if _, err := Build(ctx, e.upload(buildCfg(t, "core-slim", fixture, out))); err != nil {
		t.Fatal(err)
	}
	// The release job insists on every expected variant.
	if _, err := release.Publish(ctx, e.publishCfg(t, t.TempDir())); err == nil || !strings.Contains(err.Error(), "lacks variant") {
		t.Fatalf("err = %v", err)
	}
	// A tampered archive (replaced on the draft) is caught by the manifest.
	rel, _ := e.rep.ReleaseByTag("fredbook", "uDOS", "v1.4.6")
	var archiveData []byte
	for _, a := range rel.Assets {
		if a.Name == "udos-core-slim-v1.4.6.tar.gz" {
			archiveData = a.Data
		}
	}
	if archiveData == nil {
		t.Fatal("archive not uploaded")
	}
	bad := filepath.Join(t.TempDir(), "udos-core-slim-v1.4.6.tar.gz")
	_ = os.WriteFile(bad, append(append([]byte{}, archiveData...), 0), 0o644)
	if _, err := e.gh.Publish(ctx, ghrelease.PublishRequest{Owner: "fredbook", Repo: "uDOS", Tag: "v1.4.6", KeepDraft: true,
		Assets: []ghrelease.AssetFile{{Path: bad}}}); err != nil {
		t.Fatal(err)
	}
	cfg := e.publishCfg(t, t.TempDir())
	cfg.ExpectVariants = nil
	if _, err := release.Publish(ctx, cfg); err == nil || !strings.Contains(err.Error(), "does not match its manifest") {
		t.Fatalf("err = %v", err)
	}
}

// TestPublishWithSonicISO shows how another job (sonic-iso) joins the
// release: it uploads its image, signature and manifest fragment to the
// draft, and the release job merges it with the tar.gz variants.
func TestPublishWithSonicISO(t *testing.T) {
	t.Parallel()
	e := newGH(t)
	ctx := context.Background()
	priv, _ := testKey(t)
	if _, err := Build(ctx, e.upload(buildCfg(t, "core-slim", fixture, t.TempDir()))); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	iso := filepath.Join(dir, "udos-sonic-iso-v1.4.6.iso")
	if err := os.WriteFile(iso, bytes.Repeat([]byte("CD001"), 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	signer, err := pgpsign.LoadSigner(priv, []byte("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := checksum.File(iso)
	if err != nil {
		t.Fatal(err)
	}
	frag := relmanifest.New("1.4.6")
	if err := frag.Set("sonic-iso", relmanifest.Variant{Filename: filepath.Base(iso), Size: d.Size, SHA256: d.SHA256, SHA512: d.SHA512,
		Signature: filepath.Base(iso) + ".asc", Platforms: []string{"x86_64"}, URL: "https://github.com/fredbook/uDOS/releases/download/v1.4.6/" + filepath.Base(iso),
		Bootable: relmanifest.Bool(true), UEFISupported: relmanifest.Bool(true), BIOSFallback: relmanifest.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	fragPath := filepath.Join(dir, assetname.Fragment("sonic-iso", "1.4.6"))
	if err := frag.Write(fragPath); err != nil {
		t.Fatal(err)
	}
	var assets []ghrelease.AssetFile
	for _, p := range []string{iso, fragPath} {
		sig, err := pgpsign.SignFile(signer, p)
		if err != nil {
			t.Fatal(err)
		}
		assets = append(assets, ghrelease.AssetFile{Path: p}, ghrelease.AssetFile{Path: sig})
	}
	if _, err := e.gh.Publish(ctx, ghrelease.PublishRequest{Owner: "fredbook", Repo: "uDOS", Tag: "v1.4.6", KeepDraft: true, Assets: assets}); err != nil {
		t.Fatal(err)
	}
	cfg := e.publishCfg(t, t.TempDir())
	cfg.ExpectVariants = []string{"core-slim", "sonic-iso"}
	res, err := release.Publish(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := res.Manifest.Variants["sonic-iso"]
	if s.Bootable == nil || !*s.Bootable || s.UEFISupported == nil || s.BIOSFallback == nil || s.SHA256 != d.SHA256 {
		t.Errorf("sonic-iso entry %+v", s)
	}
	if rel, _ := e.rep.ReleaseByTag("fredbook", "uDOS", "v1.4.6"); rel.Draft {
		t.Error("not published")
	}
	sums, _ := os.ReadFile(filepath.Join(cfg.Output, "SHA256SUMS"))
	if !strings.Contains(string(sums), d.SHA256+"  udos-sonic-iso-v1.4.6.iso") {
		t.Errorf("SHA256SUMS lacks the ISO:\n%s", sums)
	}
}

// OldSBOM is the wizard-full SBOM of the fixture's previous release
// (v1.4.3), with older pins, for the upgrade notes.
func OldSBOM(t *testing.T) []byte {
	t.Helper()
	reqs, err := sbom.ParseRequirements(strings.NewReader("rich==13.7.1\nprompt-toolkit==3.0.43\nrequests==2.31.0\n"+
		"python-dateutil==2.9.0.post0\nfastapi==0.109.2\nuvicorn[standard]==0.29.0\npydantic==2.6.4\nJinja2==3.1.3\nhttpx>=0.27.0\naiofiles==23.2.1\n"), "requirements.txt")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := sbom.Generate(sbom.Input{Variant: "wizard-full", Version: "1.4.3", Archive: "udos-wizard-full-v1.4.3.tar.gz",
		ArchiveSHA256: strings.Repeat("0", 64), Requirements: reqs, Time: epoch})
	if err != nil {
		t.Fatal(err)
	}
	return doc
}
