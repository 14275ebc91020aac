package selfrelease_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/selfrelease"
	"github.com/fredbook/udos-dist/internal/testenv"
)

// TestPrebuiltScript runs actions/internal/prebuilt.sh, the actions' first
// step, with no Go on PATH: at a released ref it downloads the program from
// the release, checks it against prebuilt.sha256 and puts it in place; a
// tampered archive is refused and nothing is put in place; a ref that is
// not listed falls back to go build.
func TestPrebuiltScript(t *testing.T) {
	testenv.Tool(t, "curl")
	bash := testenv.Tool(t, "bash")
	t.Parallel()
	release := t.TempDir()
	res, err := selfrelease.Build(context.Background(), selfrelease.Config{
		Version: "9.9.9", Module: "../..", Output: release, Env: os.Environ(),
		Programs:   []selfrelease.Program{{Name: "publish-library", Pkg: "./internal/selfrelease/testdata/hello"}},
		Platforms:  []selfrelease.Platform{{OS: runtime.GOOS, Arch: runtime.GOARCH}},
		SourceDate: time.Unix(1764000000, 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	// The action's checkout: the script and the digest list of the release.
	repo := t.TempDir()
	script, err := os.ReadFile("../../actions/internal/prebuilt.sh")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(repo, "actions", "internal"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "actions", "internal", "prebuilt.sh"), script, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := selfrelease.WriteActionDigests(repo, res, []string{"publish-library"}); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/fredbook/udos-dist/releases/download/v9.9.9/", http.StripPrefix("/fredbook/udos-dist/releases/download/v9.9.9/", http.FileServer(http.Dir(release))))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	run := func(ref string) (string, string, error) {
		out := filepath.Join(t.TempDir(), "bin")
		cmd := exec.Command(bash, "actions/internal/prebuilt.sh", "publish-library", out)
		cmd.Dir = repo
		// No Go on PATH: only the system's tools.
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir(), "ACTION_REF=" + ref,
			"ACTION_REPOSITORY=fredbook/udos-dist", "SERVER_URL=" + srv.URL}
		b, err := cmd.CombinedOutput()
		return out, string(b), err
	}
	out, log, err := run("v9.9.9")
	if err != nil {
		t.Fatalf("prebuilt.sh at the released ref: %v\n%s", err, log)
	}
	if b, err := exec.Command(out).Output(); err != nil || !strings.Contains(string(b), "hello from the prebuilt program") {
		t.Fatalf("the prebuilt program does not run: %v %q", err, b)
	}

	// A branch: not listed, so it would build (and there is no Go here).
	_, log, err = run("main")
	if err == nil || !strings.Contains(log, "no prebuilt publish-library for ref 'main'") || !strings.Contains(log, "building publish-library with go build") {
		t.Fatalf("an unreleased ref: %v\n%s", err, log)
	}

	// The release's archive replaced: refused, nothing put in place.
	archive := res.Archives[0]
	b, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(archive, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, log, err = run("v9.9.9")
	if err == nil || !strings.Contains(log, "refusing to run it") {
		t.Fatalf("a tampered archive: %v\n%s", err, log)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("a tampered program was put in place")
	}
}
