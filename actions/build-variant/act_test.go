package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/checksum"
	"github.com/fredbook/udos-dist/internal/ghrelease/ghtest"
	"github.com/fredbook/udos-dist/internal/ghreplica"
	"github.com/fredbook/udos-dist/internal/jsonschema"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/relmanifest"
	"github.com/fredbook/udos-dist/internal/sbom"
	"github.com/fredbook/udos-dist/internal/sonic/iso"
	"github.com/fredbook/udos-dist/internal/sonic/iso/isotest"
)

// repoRoot is this checkout, which act substitutes for
// fredbook/udos-dist@v1 (the action the release workflow uses).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func needTool(t *testing.T, name string, fallbacks ...string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, f := range fallbacks {
		if _, err := os.Stat(f); err == nil {
			return f
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found", name)
	}
	t.Skipf("%s not found", name)
	return ""
}

func sh(t *testing.T, dir string, env []string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// udosRepo makes a git repository of the fixture uDOS tree with the release
// workflow, tagged v1.4.6, as the repository being released.
func udosRepo(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "uDOS")
	sh(t, "", nil, "cp", "-R", filepath.Join(repoRoot(t), "examples", "udos"), dir)
	wf := filepath.Join(dir, ".github", "workflows")
	if err := os.MkdirAll(wf, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(repoRoot(t), ".github", "workflows", "release.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(wf, "release.yml"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"GIT_AUTHOR_DATE=@1764072000 +0000", "GIT_COMMITTER_DATE=@1764072000 +0000",
		"GIT_AUTHOR_NAME=uDOS", "GIT_AUTHOR_EMAIL=release@example.org", "GIT_COMMITTER_NAME=uDOS", "GIT_COMMITTER_EMAIL=release@example.org"}
	sh(t, dir, env, "git", "init", "-q", "-b", "main")
	sh(t, dir, env, "git", "remote", "add", "origin", "https://github.com/fredbook/uDOS.git")
	sh(t, dir, env, "git", "add", "-A")
	sh(t, dir, env, "git", "commit", "-q", "-m", "uDOS 1.4.6")
	sh(t, dir, env, "git", "tag", "v1.4.6")
	return dir
}

type actRun struct {
	out     string
	err     error
	outputs map[string][]string // "job|name" → values seen
}

var setOutputRe = regexp.MustCompile(`^\[release/([^\]]+?)\s*\].*::set-output:: ([a-z0-9-]+)=(.*)$`)

// releaseReplica serves the GitHub replica a workflow run publishes to
// (fredbook/uDOS, and the token act's jobs are given, with push access)
// until the test ends; api is its base URL.
func releaseReplica(t *testing.T) (rep *ghreplica.Replica, api string) {
	t.Helper()
	e := ghtest.New(t, ghreplica.Config{}, "github-actions")
	return e.Replica, e.URL()
}

// runAct runs release.yml under act; hostEnv is added to act's own
// environment (the host runner's), extra to its arguments.
func runAct(t *testing.T, act, repo, apiURL, secrets, event string, hostEnv []string, extra ...string) actRun {
	t.Helper()
	// A bound, not a timing claim: a whole release (six build legs, the
	// amd64 and arm64 Sonic legs, the release job) under act.
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	args := []string{"push", "-e", event,
		"-P", "ubuntu-latest=-self-hosted", "-P", "macos-latest=-self-hosted",
		"--local-repository", "fredbook/udos-dist@v1=" + repoRoot(t),
		"--env", "GITHUB_API_URL=" + apiURL,
		"--secret-file", secrets,
		"-W", ".github/workflows/release.yml"}
	cmd := exec.CommandContext(ctx, act, append(args, extra...)...)
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), hostEnv...)
	out, err := cmd.CombinedOutput()
	r := actRun{out: string(out), err: err, outputs: map[string][]string{}}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if m := setOutputRe.FindStringSubmatch(sc.Text()); m != nil {
			k := m[1] + "|" + m[2]
			r.outputs[k] = append(r.outputs[k], m[3])
		}
	}
	return r
}

// TestReleaseWorkflowWithAct runs .github/workflows/release.yml end to end
// with act against the GitHub replica: six build legs (Linux and macOS x
// three variants), the Sonic ISO job and the release job. The first run is
// interrupted at the final publish (and survives a broken upload on the
// way); the re-run completes the release.
func TestReleaseWorkflowWithAct(t *testing.T) {
	act := needTool(t, "act", "/root/go/bin/act")
	needTool(t, "git")
	needTool(t, "go")
	needTool(t, "sha256sum")
	// What the sonic-iso action would otherwise apt-get install.
	needTool(t, "grub-mkimage")
	for _, f := range []string{"/usr/lib/ISOLINUX/isolinux.bin", "/usr/lib/syslinux/modules/bios/ldlinux.c32",
		"/usr/lib/grub/x86_64-efi/linux.mod", "/usr/lib/grub/i386-pc/boot.img", "/bin/busybox"} {
		needTool(t, filepath.Base(f), f)
	}
	kernel, _ := isotest.Kernel(t, iso.AMD64)
	// The arm64 leg's pieces (Debian's arm64 kernel and busybox, unpacked
	// by .ci/setup.d/50-sonic.sh) and GRUB's arm64-efi modules.
	kernelARM64 := isotest.KernelPath(iso.ARM64)
	for _, f := range []string{kernelARM64, filepath.Join(filepath.Dir(kernelARM64), "busybox"), "/usr/lib/grub/arm64-efi/linux.mod"} {
		needTool(t, filepath.Base(f), f)
	}
	root := repoRoot(t)

	// Compile the actions' programs once (with the actions' flags) so the
	// jobs share the cache.
	for _, b := range [][]string{
		{"go", "build", "-trimpath", "-o", os.DevNull, "./actions/build-variant"},
		{"env", "CGO_ENABLED=0", "go", "build", "-trimpath", "-o", os.DevNull, "./actions/sonic-iso"},
		{"env", "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "go", "build", "-trimpath", "-ldflags=-s -w -buildid=", "-o", os.DevNull, "./cmd/sonic-runtime"},
		{"env", "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64", "go", "build", "-trimpath", "-ldflags=-s -w -buildid=", "-o", os.DevNull, "./cmd/sonic-runtime"},
	} {
		warm := exec.Command(b[0], b[1:]...)
		warm.Dir = root
		if out, err := warm.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", b, err, out)
		}
	}

	rep, api := releaseReplica(t)
	prev, err := os.ReadFile(filepath.Join(root, "examples", "udos", "releases", "v1.4.3-manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rep.AddRelease("fredbook", "uDOS", ghreplica.ReleaseSpec{Tag: "v1.4.3", CreatedAt: time.Date(2025, 9, 14, 0, 0, 0, 0, time.UTC),
		Assets: []ghreplica.AssetSpec{{Name: "v1.4.3-manifest.json", ContentType: "application/json", Data: prev},
			{Name: "udos-wizard-full-v1.4.3.cdx.json", ContentType: "application/json", Data: oldSBOM(t)}}}); err != nil {
		t.Fatal(err)
	}

	const passphrase = "correct horse battery staple"
	priv, pub, err := pgpsign.GenerateTestKey("uDOS Release", "release@example.org", []byte(passphrase))
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	secrets, event := actInputs(t, work, priv, passphrase, "v1.4.6")
	repo := udosRepo(t)

	// Run 1: one upload breaks half-way (retried within the run), then the
	// publish request is refused with a rate limit far beyond what the
	// client waits for: the run fails with every asset on the draft.
	rep.Inject(ghreplica.Fault{Method: "POST", PathPrefix: "/repos/fredbook/uDOS/releases/", Kind: ghreplica.HalfUpload502})
	rep.Inject(ghreplica.Fault{Method: "PATCH", PathPrefix: "/repos/fredbook/uDOS/releases/", Kind: ghreplica.PrimaryRateLimit, RetryAfter: 2 * time.Hour})
	start := time.Now()
	// The sonic job's pinned kernel (its modules are found beside it) and
	// base root file system (an Alpine-shaped tarball), as a workflow would
	// restore them from actions/cache: no download.
	rootfs, _ := alpineRootfs(t)
	// The arm64 leg runs on this host too (GitHub's arm64 runner there):
	// its kernel and busybox are pinned, its sonic-runtime cross-compiled.
	pinned := []string{"--env", "UDOS_SONIC_KERNEL=" + kernel, "--env", "UDOS_SONIC_ROOTFS=" + rootfs,
		"-P", "ubuntu-24.04-arm=-self-hosted", "--env", "UDOS_SONIC_KERNEL_ARM64=" + kernelARM64,
		"--env", "UDOS_SONIC_BUSYBOX_ARM64=" + filepath.Join(filepath.Dir(kernelARM64), "busybox")}
	r1 := runAct(t, act, repo, api, secrets, event, nil, pinned...)
	t.Logf("act run 1: %s", time.Since(start).Round(time.Second))
	if r1.err == nil {
		t.Fatalf("run 1 succeeded despite the refused publish:\n%s", tail(r1.out, 60))
	}
	if rel, ok := rep.ReleaseByTag("fredbook", "uDOS", "v1.4.6"); !ok || !rel.Draft {
		t.Fatalf("after the interrupted run the release must be a draft (ok=%v)", ok)
	}
	if n := rep.PendingFaults(); n != 0 {
		t.Errorf("%d injected faults were not hit", n)
	}
	if !strings.Contains(r1.out, "publish: ") || !strings.Contains(r1.out, "rate limit") {
		t.Errorf("run 1 did not fail at the publish step on the rate limit:\n%s", tail(r1.out, 40))
	}
	if os.Getenv("ACT_TEST_LOG") != "" {
		t.Logf("run 1:\n%s", tail(r1.out, 40))
	}
	// The sonic job took the pinned kernel and found its modules beside it.
	mods, _ := filepath.Glob(filepath.Join(filepath.Dir(kernel), "lib", "modules", "*"))
	for _, want := range []string{"pinned kernel " + kernel + ", modules " + mods[0], "pinned rootfs " + rootfs} {
		if !strings.Contains(r1.out, want) {
			t.Errorf("the sonic job did not report %q", want)
		}
	}
	if strings.Contains(r1.out, passphrase) || strings.Contains(r1.out, strings.Split(string(priv), "\n")[3]) {
		t.Error("a secret appears in the log")
	}

	// Run 2: the re-run completes the release. Everything is on the draft
	// already (identical archives, SBOMs and lists; signatures that verify
	// are kept), so it uploads nothing and only publishes.
	posts := rep.Count("POST", "")
	start = time.Now()
	r2 := runAct(t, act, repo, api, secrets, event, nil, pinned...)
	t.Logf("act run 2: %s", time.Since(start).Round(time.Second))
	if r2.err != nil {
		t.Fatalf("run 2: %v\n%s", r2.err, tail(r2.out, 80))
	}
	if n := rep.Count("POST", "") - posts; n != 0 {
		t.Errorf("the re-run made %d POST requests (uploads), want 0", n)
	}
	checkRelease(t, rep, r2, pub)
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func checkRelease(t *testing.T, rep *ghreplica.Replica, r actRun, pub []byte) {
	t.Helper()
	rel, ok := rep.ReleaseByTag("fredbook", "uDOS", "v1.4.6")
	if !ok || rel.Draft {
		t.Fatalf("release v1.4.6 not published (found %v)", ok)
	}
	if n := len(rep.Releases("fredbook", "uDOS")); n != 2 {
		t.Errorf("%d releases, want v1.4.3 and v1.4.6", n)
	}
	assets := map[string]ghreplica.Asset{}
	for _, a := range rel.Assets {
		sum := sha256.Sum256(a.Data)
		if a.State != "uploaded" || a.Digest != "sha256:"+hex.EncodeToString(sum[:]) || a.Size != len(a.Data) {
			t.Errorf("asset %s: state %s digest %s size %d", a.Name, a.State, a.Digest, a.Size)
		}
		assets[a.Name] = a
	}
	// 3 variants x (archive, SBOM, formula, fragment: 4 files with
	// .sha256/.sha512/.asc but fragments only .asc = 14) = 42, the
	// manifest, SUMS lists, the release-wide SBOM and their signatures = 8,
	// the ISO with .sha256, .sha512, .asc and its signed fragment = 6, and
	// the netboot bundle and the ISO's block index, each with .sha256,
	// .sha512, .asc = 8; the same 14 again for the arm64 image.
	if len(assets) != 78 {
		t.Errorf("%d assets, want 78", len(assets))
	}
	m, err := relmanifest.Parse(assets["v1.4.6-manifest.json"].Data)
	if err != nil {
		t.Fatal(err)
	}
	schema, err := os.ReadFile("../../internal/relmanifest/testdata/seed-manifest.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := jsonschema.Validate(schema, assets["v1.4.6-manifest.json"].Data); err != nil {
		t.Errorf("the released manifest does not follow the seed's schema: %v", err)
	}
	if got := strings.Join(m.Names(), ","); got != "core-slim,dev-complete,sonic-iso,sonic-iso-arm64,wizard-full" || m.PreviousVersion != "1.4.3" {
		t.Fatalf("manifest: variants %s, previous %q", got, m.PreviousVersion)
	}
	checkSonic(t, assets, m, r)
	checkSonicARM64(t, assets, m, r)
	kr, err := pgpsign.LoadKeyring(pub)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range m.Names() {
		v := m.Variants[name]
		a := assets[v.Filename]
		if a.Digest != "sha256:"+v.SHA256 || int64(a.Size) != v.Size {
			t.Errorf("%s: GitHub digest %s, manifest %s", v.Filename, a.Digest, v.SHA256)
		}
		want := "https://github.com/fredbook/uDOS/releases/download/v1.4.6/" + v.Filename
		if v.URL != want || v.Signature != want+".asc" {
			t.Errorf("%s: url %s signature %s", name, v.URL, v.Signature)
		}
		if name == "sonic-iso" || name == "sonic-iso-arm64" {
			continue // one job each, checked in checkSonic(ARM64)
		}
		// Both legs of the variant reported the same sha256 (the build is
		// reproducible across the runners), equal to GitHub's digest.
		for _, os := range []string{"ubuntu-latest", "macos-latest"} {
			found := false
			for k, vals := range r.outputs {
				if strings.HasPrefix(k, "build "+name+" on "+os) && strings.HasSuffix(k, "|sha256") {
					found = true
					for _, got := range vals {
						if got != v.SHA256 {
							t.Errorf("%s on %s: ::set-output:: sha256=%s, want %s", name, os, got, v.SHA256)
						}
					}
				}
			}
			if !found {
				t.Errorf("no ::set-output:: sha256 for %s on %s", name, os)
			}
		}
	}
	// Every signature on the release verifies against its file.
	for n, a := range assets {
		if !strings.HasSuffix(n, ".asc") {
			continue
		}
		target, ok := assets[strings.TrimSuffix(n, ".asc")]
		if !ok {
			t.Errorf("%s signs nothing on the release", n)
			continue
		}
		if _, err := kr.VerifyDetached(bytes.NewReader(target.Data), bytes.NewReader(a.Data)); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	// SHA256SUMS and SHA512SUMS list every archive, SBOM, formula and the manifest, correctly.
	for _, algo := range []checksum.Algorithm{checksum.SHA256, checksum.SHA512} {
		lines, err := checksum.Parse(bytes.NewReader(assets[algo.SumsName()].Data), algo)
		if err != nil {
			t.Fatal(err)
		}
		if len(lines) != 17 {
			t.Errorf("%s has %d lines, want 17 (3 x archive, SBOM, formula; 2 x the ISO, its block index and the netboot bundle; the release SBOM; the manifest)", algo.SumsName(), len(lines))
		}
		for _, l := range lines {
			d, err := checksum.Sum(bytes.NewReader(assets[l.Name].Data))
			if err != nil || d.Get(algo) != l.Digest {
				t.Errorf("%s: %s does not match the asset", algo.SumsName(), l.Name)
			}
		}
	}
	for _, want := range []string{"Upgrade path from v1.4.3", "dev-complete: new variant", "minimum_python 3.8 → 3.9",
		"wizard-full, since v1.4.3: fastapi 0.109.2 → 0.110.0"} {
		if !strings.Contains(rel.Body, want) {
			t.Errorf("release notes lack %q:\n%s", want, rel.Body)
		}
	}
	var sbomDoc map[string]any
	if err := json.Unmarshal(assets["udos-core-slim-v1.4.6.cdx.json"].Data, &sbomDoc); err != nil || sbomDoc["specVersion"] != "1.6" {
		t.Errorf("core-slim SBOM: %v", err)
	}
	if !strings.Contains(string(assets["udos-core-slim.rb"].Data), `sha256 "`+m.Variants["core-slim"].SHA256+`"`) {
		t.Error("the Homebrew formula does not carry the archive's sha256")
	}
	if got := r.outputs["publish the release|release-url"]; len(got) == 0 || !strings.HasSuffix(got[0], "/fredbook/uDOS/releases/tag/v1.4.6") {
		t.Errorf("release-url outputs %v", got)
	}
}

// jobOutputs are the values of a step output of the job whose name starts
// with job (act names a matrix leg "NAME-1", "NAME-2", …).
func jobOutputs(r actRun, job, output string) []string {
	var vals []string
	for k, v := range r.outputs {
		if strings.HasPrefix(k, job) && strings.HasSuffix(k, "|"+output) {
			vals = append(vals, v...)
		}
	}
	return vals
}

// sonicEntry is the manifest entry of a Sonic variant and its ISO asset.
func sonicEntry(t *testing.T, assets map[string]ghreplica.Asset, m *relmanifest.Manifest, variant, isoName string) (relmanifest.Variant, ghreplica.Asset) {
	t.Helper()
	v, ok := m.Variants[variant]
	if !ok {
		t.Fatalf("the merged manifest has no %s variant", variant)
	}
	iso, ok := assets[isoName]
	if !ok {
		t.Fatalf("the release has no %s", isoName)
	}
	return v, iso
}

// checkSonicARM64 checks the arm64 leg's part of the release: its own
// variant for linux-arm64 (UEFI, no BIOS fallback) naming its own ISO, that
// ISO with its signature, sidecars, block index and netboot bundle, and
// its fragment, none of which replaced the amd64 ones.
func checkSonicARM64(t *testing.T, assets map[string]ghreplica.Asset, m *relmanifest.Manifest, r actRun) {
	t.Helper()
	const isoName = "udos-sonic-v1.4.6-arm64.iso"
	v, iso := sonicEntry(t, assets, m, "sonic-iso-arm64", isoName)
	for _, want := range []string{isoName + ".asc", isoName + ".sha256", isoName + ".sha512", isoName + ".bix", isoName + ".bix.asc",
		"udos-sonic-v1.4.6-arm64-netboot.tar.gz", "udos-sonic-iso-arm64-v1.4.6.manifest.json", "udos-sonic-iso-arm64-v1.4.6.manifest.json.asc"} {
		if _, ok := assets[want]; !ok {
			t.Errorf("the release lacks %s", want)
		}
	}
	sum := sha256.Sum256(iso.Data)
	if v.Filename != isoName || v.SHA256 != hex.EncodeToString(sum[:]) || strings.Join(v.Platforms, ",") != "linux-arm64" ||
		v.UEFISupported == nil || !*v.UEFISupported || v.BIOSFallback == nil || *v.BIOSFallback {
		t.Errorf("sonic-iso-arm64 entry %+v: want %s (sha256 %x) for linux-arm64, UEFI, no BIOS fallback", v, isoName, sum)
	}
	if len(iso.Data) < 34816 || string(iso.Data[32769:32774]) != "CD001" {
		t.Error("the arm64 ISO asset is not an ISO9660 image")
	}
	if got := strings.Join(jobOutputs(r, "build the Sonic ISO (arm64)", "sha256"), " "); !strings.Contains(got, v.SHA256) {
		t.Errorf("arm64 sonic job sha256 outputs %q lack the ISO's %s", got, v.SHA256)
	}
}

// checkSonic checks what the sonic job added to the release: the ISO with
// its signature and sidecars, its entry in the merged manifest, the SUMS
// lists covering it (with sha256sum/sha512sum -c over the downloaded
// release), and that it was built from the same core-slim bytes as the
// build job's.
func checkSonic(t *testing.T, assets map[string]ghreplica.Asset, m *relmanifest.Manifest, r actRun) {
	t.Helper()
	const isoName = "udos-sonic-v1.4.6.iso"
	v, iso := sonicEntry(t, assets, m, "sonic-iso", isoName)
	for _, want := range []string{isoName + ".asc", isoName + ".sha256", isoName + ".sha512", "udos-sonic-iso-v1.4.6.manifest.json", "udos-sonic-iso-v1.4.6.manifest.json.asc"} {
		if _, ok := assets[want]; !ok {
			t.Errorf("the release lacks %s", want)
		}
	}
	sum := sha256.Sum256(iso.Data)
	if v.Filename != isoName || v.SHA256 != hex.EncodeToString(sum[:]) || v.Size != int64(len(iso.Data)) {
		t.Errorf("sonic-iso entry: %s sha256 %s size %d; the asset has sha256 %x size %d", v.Filename, v.SHA256, v.Size, sum, len(iso.Data))
	}
	for flag, p := range map[string]*bool{"bootable": v.Bootable, "uefi_supported": v.UEFISupported, "bios_fallback": v.BIOSFallback} {
		if p == nil || !*p {
			t.Errorf("sonic-iso entry: %s is %v, want true", flag, p)
		}
	}
	want := "https://github.com/fredbook/uDOS/releases/download/v1.4.6/" + isoName
	if v.URL != want || v.Signature != want+".asc" {
		t.Errorf("sonic-iso: url %s signature %s", v.URL, v.Signature)
	}
	// An ISO9660 volume: "CD001" at 32769, an isohybrid MBR signature.
	if len(iso.Data) < 34816 || string(iso.Data[32769:32774]) != "CD001" || iso.Data[510] != 0x55 || iso.Data[511] != 0xaa {
		t.Error("the ISO asset is not a hybrid ISO9660 image")
	}
	// The sonic job reported the ISO's sha256, and a core-slim sha256 equal
	// to the build job's (the image holds the released core-slim bytes).
	got := strings.Join(jobOutputs(r, "build the Sonic ISO (amd64)", "sha256"), " ")
	if !strings.Contains(got, v.SHA256) || !strings.Contains(got, m.Variants["core-slim"].SHA256) {
		t.Errorf("sonic job sha256 outputs %q lack the ISO's %s or core-slim's %s", got, v.SHA256, m.Variants["core-slim"].SHA256)
	}
	// What a user does after downloading the release.
	dir := t.TempDir()
	for name, a := range assets {
		if err := os.WriteFile(filepath.Join(dir, name), a.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The pinned base root file system is in the image's initramfs.
	if files := initramfsFiles(t, filepath.Join(dir, isoName)); !slices.Contains(files, "etc/alpine-release") || !slices.Contains(files, "etc/os-release") {
		t.Errorf("the ISO's initramfs lacks the rootfs's etc/alpine-release or etc/os-release (%d members)", len(files))
	}
	for _, c := range [][]string{
		{"sha256sum", "-c", "--strict", "SHA256SUMS"},
		{"sha512sum", "-c", "--strict", "SHA512SUMS"},
		{"sha256sum", "-c", "--strict", isoName + ".sha256"},
		{"sha512sum", "-c", "--strict", isoName + ".sha512"},
	} {
		cmd := exec.Command(c[0], c[1:]...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("%v: %v\n%s", c, err, out)
		} else if strings.HasSuffix(c[3], "SUMS") && !strings.Contains(string(out), isoName+": OK") {
			t.Errorf("%v does not cover the ISO:\n%s", c, out)
		}
	}
}

// oldSBOM is a wizard-full SBOM of the previous release, with fastapi at
// 0.109.2, so that the notes show a package upgrade.
func oldSBOM(t *testing.T) []byte {
	t.Helper()
	reqs, err := sbom.ParseRequirements(strings.NewReader("rich==13.7.1\nprompt-toolkit==3.0.43\nPyYAML==6.0.1\nrequests==2.31.0\n"+
		"python-dateutil==2.9.0.post0\nfastapi==0.109.2\nuvicorn[standard]==0.29.0\npydantic==2.6.4\nJinja2==3.1.3\nhttpx>=0.27.0\n"), "requirements.txt")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := sbom.Generate(sbom.Input{Variant: "wizard-full", Version: "1.4.3", Archive: "udos-wizard-full-v1.4.3.tar.gz",
		ArchiveSHA256: strings.Repeat("0", 64), Requirements: reqs, Time: time.Unix(1757808000, 0)})
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// actInputs writes what act reads for a tag push: the secrets file (the
// release key and its passphrase, the replica's token) and the push event
// of tag on fredbook/uDOS.
func actInputs(t *testing.T, work string, priv []byte, passphrase, tag string) (secrets, event string) {
	t.Helper()
	secrets = filepath.Join(work, "secrets.env")
	sec := fmt.Sprintf("UDOS_SIGNING_KEY=\"%s\"\nUDOS_SIGNING_PASSPHRASE=\"%s\"\nGITHUB_TOKEN=%s\n",
		strings.ReplaceAll(strings.TrimSpace(string(priv)), "\n", `\n`), passphrase, ghtest.Token)
	if err := os.WriteFile(secrets, []byte(sec), 0o600); err != nil {
		t.Fatal(err)
	}
	event = filepath.Join(work, "event.json")
	ev := `{"ref": "refs/tags/` + tag + `", "ref_name": "` + tag + `", "repository": {"full_name": "fredbook/uDOS", "name": "uDOS", "owner": {"login": "fredbook"}}}`
	if err := os.WriteFile(event, []byte(ev), 0o644); err != nil {
		t.Fatal(err)
	}
	return secrets, event
}
