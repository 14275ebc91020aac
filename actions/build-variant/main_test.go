package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fredbook/udos-dist/internal/pgpsign"
)

func envFunc(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// TestRunOutsideActions runs the action's program without the runner's
// files (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY unset): outputs and summary go
// to stdout instead of panicking, and the secrets are never printed.
func TestRunOutsideActions(t *testing.T) {
	t.Parallel()
	priv, _, err := pgpsign.GenerateTestKey("uDOS Release", "release@example.org", []byte("pw-1234567"))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	env := map[string]string{
		"INPUT_VARIANT":            "core-slim",
		"INPUT_SOURCE":             "../../examples/udos",
		"INPUT_OUTPUT":             out,
		"INPUT_SIGNING_KEY":        string(priv),
		"INPUT_SIGNING-PASSPHRASE": "pw-1234567",
		"INPUT_SOURCE-DATE-EPOCH":  "1764072000",
		"GITHUB_REF":               "refs/tags/v1.4.6",
	}
	var stdout bytes.Buffer
	if err := run(context.Background(), envFunc(env), &stdout); err != nil {
		t.Fatalf("run: %v\n%s", err, stdout.String())
	}
	s := stdout.String()
	for _, want := range []string{"archive=" + filepath.Join(out, "udos-core-slim-v1.4.6.tar.gz"), "sha256=", "| `udos-core-slim-v1.4.6.tar.gz` | archive |"} {
		if !strings.Contains(s, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	// Outside Actions nothing reads ::add-mask::, which would only print
	// the secrets: neither the passphrase nor a line of the key appears.
	keyLine := strings.Split(string(priv), "\n")[3]
	for _, secret := range []string{"pw-1234567", keyLine} {
		if strings.Contains(s, secret) {
			t.Errorf("a secret is printed outside Actions:\n%s", s)
		}
	}
	// Under the runner both are masked before anything else is printed.
	env["GITHUB_ACTIONS"], env["INPUT_OUTPUT"] = "true", t.TempDir()
	stdout.Reset()
	if err := run(context.Background(), envFunc(env), &stdout); err != nil {
		t.Fatalf("run under Actions: %v\n%s", err, stdout.String())
	}
	for _, want := range []string{"::add-mask::pw-1234567", "::add-mask::" + keyLine} {
		if !strings.HasPrefix(stdout.String(), "::add-mask::") || !strings.Contains(stdout.String(), want) {
			t.Errorf("under Actions, stdout lacks %q first", want)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "udos-core-slim-v1.4.6.tar.gz.asc")); err != nil {
		t.Error(err)
	}
}

func TestRunWithRunnerFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	outFile, summary := filepath.Join(dir, "output"), filepath.Join(dir, "summary")
	env := map[string]string{
		"INPUT_VARIANT": "wizard-full", "INPUT_SOURCE": "../../examples/udos", "INPUT_OUTPUT": filepath.Join(dir, "dist"),
		"INPUT_SOURCE_DATE_EPOCH": "1764072000", "INPUT_VERSION": "v1.4.6",
		"GITHUB_OUTPUT": outFile, "GITHUB_STEP_SUMMARY": summary,
	}
	var stdout bytes.Buffer
	if err := run(context.Background(), envFunc(env), &stdout); err != nil {
		t.Fatalf("run: %v\n%s", err, stdout.String())
	}
	o, _ := os.ReadFile(outFile)
	for _, k := range []string{"archive<<", "sha256<<", "manifest<<", "sbom<<", "formula<<"} {
		if !strings.Contains(string(o), k) {
			t.Errorf("GITHUB_OUTPUT lacks %s:\n%s", k, o)
		}
	}
	sm, _ := os.ReadFile(summary)
	if !strings.Contains(string(sm), "| sign | skipped: no signing key given |") {
		t.Errorf("summary:\n%s", sm)
	}
}

func TestRunInputErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"bad mode", map[string]string{"INPUT_MODE": "deploy", "INPUT_VERSION": "1.4.6"}, "neither build nor publish"},
		{"bad upload", map[string]string{"INPUT_UPLOAD": "yes please", "INPUT_VERSION": "1.4.6"}, "input upload"},
		{"upload without token", map[string]string{"INPUT_UPLOAD": "true", "INPUT_VERSION": "1.4.6", "GITHUB_REPOSITORY": "fredbook/uDOS"}, "token is required"},
		{"bad repository", map[string]string{"INPUT_MODE": "publish", "INPUT_VERSION": "1.4.6", "INPUT_REPOSITORY": "uDOS"}, "not owner/name"},
		{"bad epoch", map[string]string{"INPUT_VERSION": "1.4.6", "INPUT_SOURCE_DATE_EPOCH": "yesterday", "INPUT_VARIANT": "core-slim"}, "not a Unix time"},
		{"no git for epoch", map[string]string{"INPUT_VERSION": "1.4.6", "INPUT_SOURCE": "/nonexistent", "INPUT_VARIANT": "core-slim"}, "commit time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout bytes.Buffer
			err := run(context.Background(), envFunc(tt.env), &stdout)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestResolveVersion(t *testing.T) {
	t.Parallel()
	tests := []struct{ input, ref, want string }{
		{"v1.4.7", "refs/tags/v1.4.6", "1.4.7"},
		{"", "refs/tags/v1.4.6", "1.4.6"},
		{"", "refs/heads/main", "1.4.6"}, // from examples/udos/version.json
	}
	for _, tt := range tests {
		got, err := resolveVersion(tt.input, envFunc(map[string]string{"GITHUB_REF": tt.ref}), "../../examples/udos")
		if err != nil || got != tt.want {
			t.Errorf("resolveVersion(%q, %q) = %q, %v; want %q", tt.input, tt.ref, got, err, tt.want)
		}
	}
}

// TestActionMetadataMatchesMain keeps action.yml and main.go in step: every
// input main reads is declared and passed to the program.
func TestActionMetadataMatchesMain(t *testing.T) {
	t.Parallel()
	yml, err := os.ReadFile("action.yml")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"mode", "variant", "variants", "source", "version", "output", "signing-key", "signing-passphrase",
		"source-date-epoch", "strict", "variants-file", "upload", "token", "repository",
		"image-repository", "image-base", "image-base-digest", "image-scan", "image-ignore-file"} {
		// kit.Secrets() reads the inputs signing-key, signing-passphrase and token.
		bySecrets := (name == "signing-key" || name == "signing-passphrase" || name == "token") && strings.Contains(string(src), "kit.Secrets()")
		if !bySecrets && !regexp.MustCompile(`(\bin|kit\.[A-Za-z]+)\("`+regexp.QuoteMeta(name)+`"`).Match(src) {
			t.Errorf("main.go does not read input %s", name)
		}
		if !strings.Contains(string(yml), "\n  "+name+":\n") {
			t.Errorf("action.yml does not declare input %s", name)
		}
		env := "INPUT_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_")) + ": ${{ inputs." + name + " }}"
		if !strings.Contains(string(yml), env) {
			t.Errorf("action.yml does not pass %s", env)
		}
	}
	for _, out := range []string{"archive", "sha256", "manifest"} {
		if !strings.Contains(string(yml), "${{ steps.run.outputs."+out+" }}") || !strings.Contains(string(src), `kit.SetOutput("`+out+`"`) {
			t.Errorf("output %s is not wired", out)
		}
	}
}

func TestWizardInputs(t *testing.T) {
	t.Parallel()
	catalog := filepath.Join(t.TempDir(), "catalog.json")
	if err := os.WriteFile(catalog, []byte(`{"catalog_version": "1.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		inputs  map[string]string
		port    int
		health  string
		catalog bool
		wantErr string
	}{
		{inputs: map[string]string{}},
		{inputs: map[string]string{"wizard-port": "8765", "wizard-health-path": "/health", "library-catalog": catalog}, port: 8765, health: "/health", catalog: true},
		{inputs: map[string]string{"wizard-port": "http"}, wantErr: `input wizard-port "http"`},
		{inputs: map[string]string{"wizard-port": "70000"}, wantErr: "1-65535"},
		{inputs: map[string]string{"wizard-health-path": "health"}, wantErr: "absolute URL path"},
		{inputs: map[string]string{"library-catalog": "/nonexistent/catalog.json"}, wantErr: "input library-catalog"},
	}
	for _, tt := range tests {
		in := func(name, def string) string {
			if v, ok := tt.inputs[name]; ok {
				return v
			}
			return def
		}
		o, cat, err := wizardInputs(in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%v: err = %v, want %q", tt.inputs, err, tt.wantErr)
			}
			continue
		}
		if err != nil || o.Port != tt.port || o.HealthPath != tt.health || (cat != nil) != tt.catalog {
			t.Errorf("%v: %+v %q %v", tt.inputs, o, cat, err)
		}
	}
}

// TestCheckTag is mode check, the release workflow's first job, on trees
// with the real uDOS version.json (nested) and the flat one.
func TestCheckTag(t *testing.T) {
	t.Parallel()
	tree := func(versionJSON string) string {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "version.json"), []byte(versionJSON), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	real150 := tree(`{"$schema": "core/version.schema.json", "component": "udos", "name": "uDOS",
 "version": {"major": 1, "minor": 5, "patch": 0}, "display": "v1.5.0", "channel": "stable", "released": "2026-03-04"}`)
	flat146 := tree(`{"version": "1.4.6", "variant": "core-slim"}`)
	tests := []struct {
		name, source, ref string
		want              []string // outputs, or the error's parts
		ok                bool
	}{
		{"v1.5.0 on the v1.5 tree", real150, "refs/tags/v1.5.0", []string{"version=1.5.0", "tag=v1.5.0"}, true},
		{"release candidate", real150, "refs/tags/v1.5.0-rc.1", []string{"version=1.5.0-rc.1"}, true},
		{"flat version.json", flat146, "refs/tags/v1.4.6", []string{"version=1.4.6"}, true},
		{"tag of another version", real150, "refs/tags/v1.4.6", []string{"tag v1.4.6", "releasing 1.4.6 but version.json says 1.5.0", "fix version.json"}, false},
		{"not a version tag", real150, "refs/tags/vnext", []string{"tag vnext does not name a version", "v1.5.0"}, false},
		{"not a tag", real150, "refs/heads/main", []string{"runs on a tag push"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout bytes.Buffer
			err := run(context.Background(), envFunc(map[string]string{"INPUT_MODE": "check", "INPUT_SOURCE": tc.source, "GITHUB_REF": tc.ref}), &stdout)
			if tc.ok != (err == nil) {
				t.Fatalf("err = %v\n%s", err, stdout.String())
			}
			got := stdout.String()
			if err != nil {
				got = err.Error()
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("%q lacks %q", got, w)
				}
			}
		})
	}
}

// TestReleaseWorkflowTriggers: release.yml runs on every v* tag (a v1.5.0
// tag must release) and checks the tag first; no version is written into it.
func TestReleaseWorkflowTriggers(t *testing.T) {
	t.Parallel()
	wf, err := os.ReadFile("../../.github/workflows/release.yml")
	if err != nil {
		t.Fatal(err)
	}
	s := string(wf)
	on := s[strings.Index(s, "\non:\n"):strings.Index(s, "\npermissions:")]
	if !regexp.MustCompile(`(?m)^\s+tags:\n(\s+#.*\n)*\s+- "v\*"\n`).MatchString(on) {
		t.Errorf("release.yml does not trigger on v* tags:\n%s", on)
	}
	if m := regexp.MustCompile(`v1\.[0-9]+[.*]`).FindString(strings.SplitN(s, "\njobs:", 2)[1]); m != "" {
		t.Errorf("release.yml's jobs name a version (%s): they take it from the tag", m)
	}
	for _, want := range []string{"mode: check", "needs: version", "needs: [version, build, sonic]", "version: ${{ needs.version.outputs.version }}"} {
		if !strings.Contains(s, want) {
			t.Errorf("release.yml lacks %q", want)
		}
	}
}
