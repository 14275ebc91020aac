package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fredbook/udos-dist/internal/catalog"
	"github.com/fredbook/udos-dist/internal/ghrelease/ghtest"
	"github.com/fredbook/udos-dist/internal/ghreplica"
	"github.com/fredbook/udos-dist/internal/publish"
)

func TestGitHubModeUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no config", []string{"--github", "--out", "x"}, 2, "--config is required"},
		{"no out", []string{"--github", "--config", "c.json"}, 2, "--out is required"},
		{"stray argument", []string{"--github", "extra"}, 2, `unexpected argument "extra"`},
		{"site built without site", []string{"--github", "--config", "c", "--out", "o", "--no-site", "--build-site", "d"}, 2, "--build-site needs the site"},
		{"missing config file", []string{"--github", "--config", "/nonexistent.json", "--out", "o"}, 1, "reading registry config"},
		{"help", []string{"--github", "--help"}, 0, "-config string"},
		// --github is a flag like any other: anywhere before "--", and not after.
		{"github flag last", []string{"--out", "x", "--github"}, 2, "--config is required in the GitHub mode"},
		{"github after --", []string{"--from-dir", "d", "--", "--github"}, 2, `unexpected argument "--github"`},
		{"local flag in the GitHub mode", []string{"--github", "--config", "c", "--out", "o", "--from-dir", "d"}, 2, "--from-dir belongs to the other mode (drop --github)"},
		{"GitHub flag in the local mode", []string{"--from-dir", "d", "--out", "o", "--workers", "2"}, 2, "--workers belongs to the other mode (add --github)"},
		{"zero workers", []string{"--github", "--config", "c", "--out", "o", "--workers", "0"}, 2, "--workers 0 must be at least 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, &stdout, &stderr, func(string) string { return "" })
			if code != tc.code || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("exit %d (want %d), stderr:\n%s", code, tc.code, stderr.String())
			}
		})
	}
}

func TestGitHubModeGenerates(t *testing.T) {
	t.Parallel()
	gh := ghtest.Serve(t, ghtest.Options{Config: ghreplica.Config{ContentCreationPerMinute: -1}, Login: "ci", Repos: []string{"fredbook/udos-grid-math"}})
	key, err := os.ReadFile("../../examples/keys/demo-signing-key.asc")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := publish.Run(context.Background(), publish.Request{Dir: "../../examples/libraries/grid-math", SigningKey: key,
		Repository: "fredbook/udos-grid-math", OutDir: t.TempDir()}, publish.NewGitHub(gh.Client), nil, nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "registry.json")
	pub, _ := filepath.Abs("../../examples/keys/demo-signing-key.pub.asc")
	os.WriteFile(cfg, []byte(`{"repositories": ["fredbook/udos-grid-math"], "publisher_keys": "`+pub+`"}`), 0o644)
	out := filepath.Join(dir, "out")
	summary := filepath.Join(dir, "summary.md")
	env := map[string]string{"GITHUB_TOKEN": ghtest.Token, "GITHUB_API_URL": gh.URL(), "UDOS_SIGN_KEY": string(key), "GITHUB_STEP_SUMMARY": summary}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"--github", "--config", cfg, "--out", out, "--json"}, &stdout, &stderr, func(k string) string { return env[k] }); code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr.String())
	}
	var res struct {
		Serial     int64 `json:"serial"`
		Versions   int   `json:"versions"`
		Downloaded int   `json:"downloaded"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || res.Versions != 1 || res.Downloaded != 1 || res.Serial == 0 {
		t.Errorf("result %+v (%v):\n%s", res, err, stdout.String())
	}
	data, _ := os.ReadFile(filepath.Join(out, "catalog.json"))
	if c, err := catalog.Parse(data); err != nil || len(c.Libraries) != 1 || c.Libraries[0].ID != "lib-grid-math" {
		t.Errorf("catalog: %v", err)
	}
	if s, _ := os.ReadFile(summary); !strings.Contains(string(s), "| versions | 1 |") {
		t.Errorf("summary:\n%s", s)
	}
	for _, f := range []string{"catalog.json.asc", "site/_data/catalog.json", "index/lib-grid-math.json", ".registry-cache.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
}
