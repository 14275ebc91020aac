package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestActionlint lints the release and CI workflows, and the action's own
// metadata through a workflow that uses it as a local action (actionlint
// checks a local action's action.yml and the inputs passed to it).
func TestActionlint(t *testing.T) {
	t.Parallel()
	lint := needTool(t, "actionlint", "/root/go/bin/actionlint")
	root := repoRoot(t)
	cmd := exec.Command(lint, ".github/workflows/release.yml", ".github/workflows/ci.yml")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("actionlint: %v\n%s", err, out)
	}

	tmp := t.TempDir()
	action, err := os.ReadFile("action.yml")
	if err != nil {
		t.Fatal(err)
	}
	write := func(rel, data string) {
		p := filepath.Join(tmp, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// actionlint finds the project (and its local actions) by its .git.
	if err := os.Mkdir(filepath.Join(tmp, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	write("actions/build-variant/action.yml", string(action))
	write(".github/workflows/use.yml", `name: use
on: push
jobs:
  b:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - id: v
        uses: ./actions/build-variant
        with:
          variant: core-slim
          signing-key: ${{ secrets.KEY }}
          upload: true
          token: ${{ secrets.GITHUB_TOKEN }}
      - run: echo "${{ steps.v.outputs.archive }} ${{ steps.v.outputs.sha256 }} ${{ steps.v.outputs.manifest }}"
`)
	cmd = exec.Command(lint)
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("actionlint on a workflow using the action: %v\n%s", err, out)
	}
	// actionlint must be able to fail here: an undeclared input is reported.
	write(".github/workflows/bad.yml", `name: bad
on: push
jobs:
  b:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: ./actions/build-variant
        with:
          flavour: vanilla
`)
	cmd = exec.Command(lint, ".github/workflows/bad.yml")
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("actionlint accepted an undeclared input:\n%s", out)
	}
}
