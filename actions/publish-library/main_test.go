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
)

func TestActionPublishesAndWritesOutputs(t *testing.T) {
	gh := ghtest.Serve(t, ghtest.Options{Config: ghreplica.Config{ContentCreationPerMinute: -1}, Login: "ci", Repos: []string{"fredbook/udos-grid-extensions"}})
	r := gh.Replica
	priv, _, err := pgpsign.GenerateTestKey("CI", "ci@example.org", []byte("secret pass"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	outFile := filepath.Join(tmp, "output")
	summary := filepath.Join(tmp, "summary")
	env := map[string]string{
		"INPUT_PATH":               "examples/libraries/grid-extensions",
		"INPUT_SIGNING-KEY":        string(priv),
		"INPUT_SIGNING-PASSPHRASE": "secret pass",
		"INPUT_TOKEN":              ghtest.Token,
		"INPUT_REPOSITORY":         "fredbook/udos-grid-extensions",
		"GITHUB_ACTIONS":           "true",
		"GITHUB_WORKSPACE":         "../..",
		"GITHUB_REF":               "refs/tags/v1.2.3",
		"GITHUB_API_URL":           gh.URL(),
		"GITHUB_OUTPUT":            outFile,
		"GITHUB_STEP_SUMMARY":      summary,
		"RUNNER_TEMP":              tmp,
	}
	var stdout bytes.Buffer
	if err := run(context.Background(), func(k string) string { return env[k] }, &stdout); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	outputs, _ := os.ReadFile(outFile)
	for _, want := range []string{"lib-grid-extensions-v1.2.3.udos-package", "/releases/tag/v1.2.3"} {
		if !strings.Contains(string(outputs), want) {
			t.Errorf("outputs lack %q:\n%s", want, outputs)
		}
	}
	if n := strings.Count(stdout.String(), "secret pass"); n != 1 {
		t.Errorf("the passphrase appears %d times in the log, want only in its add-mask command", n)
	}
	if !strings.Contains(stdout.String(), "::add-mask::secret pass") {
		t.Error("the passphrase was not masked")
	}
	sum, _ := os.ReadFile(summary)
	if !strings.Contains(string(sum), "| release |") {
		t.Errorf("summary:\n%s", sum)
	}
	if rel, ok := r.ReleaseByTag("fredbook", "udos-grid-extensions", "v1.2.3"); !ok || rel.Draft || len(rel.Assets) != 3 {
		t.Errorf("release %+v", rel)
	}
}
