package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fredbook/udos-dist/internal/ghrelease/ghtest"
	"github.com/fredbook/udos-dist/internal/ghreplica"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/sonic/iso"
	"github.com/fredbook/udos-dist/internal/sonic/iso/isotest"
)

// fakeInputs writes stand-ins for the kernel, busybox and runtime: the ISO
// build does not look inside them (booting is the e2e tests' job).
func fakeInputs(t *testing.T) map[string]string {
	dir := t.TempDir()
	files := map[string]string{}
	for _, n := range []string{"vmlinuz", "busybox", "sonic-runtime", "udos-lib"} {
		p := filepath.Join(dir, n)
		data := []byte(n)
		if n == "vmlinuz" {
			data = isotest.BzImage()
		}
		if err := os.WriteFile(p, data, 0o755); err != nil {
			t.Fatal(err)
		}
		files[n] = p
	}
	return files
}

func TestActionBuildsSignsUploads(t *testing.T) {
	t.Parallel()
	isotest.Tools(t, iso.AMD64)
	gh := ghtest.Serve(t, ghtest.Options{Config: ghreplica.Config{ContentCreationPerMinute: -1}, Login: "ci", Repos: []string{"fredbook/uDOS"}})
	r := gh.Replica
	priv, pub, err := pgpsign.GenerateTestKey("CI", "ci@example.org", []byte("secret pass"))
	if err != nil {
		t.Fatal(err)
	}
	f := fakeInputs(t)
	tmp := t.TempDir()
	outFile := filepath.Join(tmp, "output")
	summaryFile := filepath.Join(tmp, "summary")
	env := map[string]string{
		"INPUT_KERNEL":             f["vmlinuz"],
		"INPUT_BUSYBOX":            f["busybox"],
		"INPUT_OUTPUT":             "dist",
		"INPUT_SIGNING-KEY":        string(priv),
		"INPUT_SIGNING-PASSPHRASE": "secret pass",
		"INPUT_SOURCE-DATE-EPOCH":  "1764115200",
		"INPUT_UPLOAD":             "true",
		"INPUT_TOKEN":              ghtest.Token,
		"INPUT_REPOSITORY":         "fredbook/uDOS",
		"UDOS_SONIC_RUNTIME":       f["sonic-runtime"],
		"UDOS_SONIC_UDOS_LIB":      f["udos-lib"],
		"GITHUB_ACTIONS":           "true",
		"GITHUB_WORKSPACE":         tmp,
		"GITHUB_REF":               "refs/tags/v1.4.6",
		"GITHUB_API_URL":           gh.URL(),
		"GITHUB_OUTPUT":            outFile,
		"GITHUB_STEP_SUMMARY":      summaryFile,
		"RUNNER_TEMP":              tmp,
	}
	var stdout bytes.Buffer
	if err := run(context.Background(), func(k string) string { return env[k] }, &stdout); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	isoPath := filepath.Join(tmp, "dist", "udos-sonic-v1.4.6.iso")
	outputs, _ := os.ReadFile(outFile)
	for _, want := range []string{"iso<<", isoPath, "sha256<<", "manifest<<", "releases/v1.4.6-manifest.json"} {
		if !strings.Contains(string(outputs), want) {
			t.Errorf("outputs lack %q:\n%s", want, outputs)
		}
	}
	if n := strings.Count(stdout.String(), "secret pass"); n != 1 || !strings.Contains(stdout.String(), "::add-mask::secret pass") {
		t.Errorf("passphrase appears %d times in the log, want once in ::add-mask::", n)
	}
	kr, err := pgpsign.LoadKeyring(pub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.VerifyFile(isoPath, isoPath+".asc"); err != nil {
		t.Errorf("signature does not verify: %v", err)
	}
	manifest, _ := os.ReadFile(filepath.Join(tmp, "dist", "releases", "v1.4.6-manifest.json"))
	for _, want := range []string{`"sonic-iso"`, `"bootable": true`, "https://github.com/fredbook/uDOS/releases/download/v1.4.6/udos-sonic-v1.4.6.iso"} {
		if !strings.Contains(string(manifest), want) {
			t.Errorf("manifest lacks %s:\n%s", want, manifest)
		}
	}
	var assets []string
	for _, rp := range r.Snapshot().Repos {
		for _, rel := range rp.Releases {
			for _, a := range rel.Assets {
				assets = append(assets, a.Name)
			}
		}
	}
	got := strings.Join(assets, " ")
	if _, err := kr.VerifyFile(filepath.Join(tmp, "dist", "udos-sonic-iso-v1.4.6.manifest.json"), filepath.Join(tmp, "dist", "udos-sonic-iso-v1.4.6.manifest.json.asc")); err != nil {
		t.Errorf("fragment signature does not verify: %v", err)
	}
	// The release job publishes: this one leaves a draft.
	if rel, ok := r.ReleaseByTag("fredbook", "uDOS", "v1.4.6"); !ok || !rel.Draft {
		t.Errorf("release v1.4.6: found %v, want a draft", ok)
	}
	for _, want := range []string{"udos-sonic-v1.4.6.iso", ".iso.sha256", ".iso.sha512", ".iso.asc", "udos-sonic-v1.4.6-netboot.tar.gz", "netboot.tar.gz.asc", "udos-sonic-iso-v1.4.6.manifest.json", "udos-sonic-iso-v1.4.6.manifest.json.asc"} {
		if !strings.Contains(got, want) {
			t.Errorf("release assets %q lack %q", got, want)
		}
	}
	sum, _ := os.ReadFile(summaryFile)
	if !strings.Contains(string(sum), "| publish | ok |") {
		t.Errorf("summary:\n%s", sum)
	}

	// A re-run (the release workflow re-run after an interruption) builds
	// the same ISO and keeps the signatures already on the draft, which
	// verify against the same bytes: it uploads nothing.
	posts := r.Count("POST", "")
	stdout.Reset()
	if err := run(context.Background(), func(k string) string { return env[k] }, &stdout); err != nil {
		t.Fatalf("re-run: %v\n%s", err, stdout.String())
	}
	if n := r.Count("POST", "") - posts; n != 0 {
		t.Errorf("the re-run made %d POST requests (uploads), want 0\n%s", n, stdout.String())
	}
	if !strings.Contains(stdout.String(), "kept 4 signature(s)") {
		t.Errorf("the re-run did not keep the release's signatures:\n%s", stdout.String())
	}
	if _, err := kr.VerifyFile(isoPath, isoPath+".asc"); err != nil {
		t.Errorf("kept signature does not verify: %v", err)
	}
}

func TestActionRefusesBadInput(t *testing.T) {
	t.Parallel()
	f := fakeInputs(t)
	base := map[string]string{
		"INPUT_KERNEL": f["vmlinuz"], "INPUT_BUSYBOX": f["busybox"], "UDOS_SONIC_RUNTIME": f["sonic-runtime"],
		"UDOS_SONIC_UDOS_LIB": f["udos-lib"], "INPUT_VERSION": "1.4.6", "INPUT_SOURCE-DATE-EPOCH": "1764115200", "RUNNER_TEMP": t.TempDir(),
		"INPUT_OUTPUT": t.TempDir(),
	}
	tests := []struct {
		name string
		set  map[string]string
		want string
	}{
		{"no version", map[string]string{"INPUT_VERSION": ""}, "no version"},
		{"bad epoch", map[string]string{"INPUT_SOURCE-DATE-EPOCH": "yesterday"}, "not a number"},
		{"no epoch", map[string]string{"INPUT_SOURCE-DATE-EPOCH": ""}, "no build time"},
		{"bad key", map[string]string{"INPUT_SIGNING-KEY": "not a key"}, "signing key"},
		{"upload without repository", map[string]string{"INPUT_UPLOAD": "true", "INPUT_TOKEN": "x"}, "OWNER/NAME"},
		{"missing kernel", map[string]string{"INPUT_KERNEL": "/nonexistent/vmlinuz"}, "/nonexistent/vmlinuz"},
		{"no udos-lib", map[string]string{"UDOS_SONIC_UDOS_LIB": ""}, "UDOS_SONIC_UDOS_LIB is not set"},
		{"kernel not a bzImage", map[string]string{"INPUT_KERNEL": f["busybox"]}, "has no Linux boot header"},
		{"unknown arch", map[string]string{"INPUT_ARCH": "riscv64"}, `the arch input: architecture "riscv64": the Sonic image is built for amd64 or arm64`},
		{"arm64 with the amd64 kernel", map[string]string{"INPUT_ARCH": "arm64"}, "is an amd64 kernel, not a Linux kernel image of the build's architecture (arm64)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "missing kernel" || tc.name == "upload without repository" || tc.name == "kernel not a bzImage" {
				isotest.Tools(t, iso.AMD64)
			}
			if tc.name == "arm64 with the amd64 kernel" {
				isotest.Tools(t, iso.ARM64)
			}
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tc.set {
				env[k] = v
			}
			// No GITHUB_OUTPUT or GITHUB_STEP_SUMMARY: must not panic.
			var stdout bytes.Buffer
			err := run(context.Background(), func(k string) string { return env[k] }, &stdout)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// Every image carries udos-lib: the action's own build, unless the
// binaries input names one.
func TestBinaries(t *testing.T) {
	abs := func(p string) string { return filepath.Join("/ws", p) }
	tests := []struct {
		name, input, udosLib string
		want                 []string
		err                  string
	}{
		{"default", "", "/tmp/b/udos-lib", []string{"/tmp/b/udos-lib"}, ""},
		{"extra binaries", "tools/jq\n\n  tools/curl  \n", "/tmp/b/udos-lib", []string{"/ws/tools/jq", "/ws/tools/curl", "/tmp/b/udos-lib"}, ""},
		{"the user's udos-lib", "tools/jq\nmy/udos-lib", "/tmp/b/udos-lib", []string{"/ws/tools/jq", "/ws/my/udos-lib"}, ""},
		{"the user's udos-lib, none built", "my/udos-lib", "", []string{"/ws/my/udos-lib"}, ""},
		{"none built", "tools/jq", "", nil, "UDOS_SONIC_UDOS_LIB is not set"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := binaries(tc.input, abs, tc.udosLib)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("binaries = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
