// Command publish-library is the program behind the publish-library action:
// it maps the action's inputs onto internal/publish (validate, pack, sign,
// publish to the release of the tag, optionally notify the registry) and
// writes the outputs and the step summary. Nothing else lives here.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sethvargo/go-githubactions"

	"github.com/fredbook/udos-dist/internal/ghrelease"
	"github.com/fredbook/udos-dist/internal/publish"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintf(os.Stdout, "::error title=publish-library::%s\n", escape(err.Error()))
		os.Exit(1)
	}
}

// escape keeps a message on one workflow-command line.
func escape(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	gha := githubactions.New(githubactions.WithGetenv(getenv), githubactions.WithWriter(stdout))
	in := func(name string) string { return gha.GetInput(name) }

	// Raw values: GetInput trims, which an armored key survives but a
	// passphrase might not.
	key := getenv("INPUT_SIGNING-KEY")
	passphrase := getenv("INPUT_SIGNING-PASSPHRASE")
	token := in("token")
	// Mask secrets before anything could print them.
	for _, line := range strings.Split(key, "\n") {
		if l := strings.TrimSpace(line); len(l) > 8 && !strings.HasPrefix(l, "-----") {
			gha.AddMask(l)
		}
	}
	if passphrase != "" {
		gha.AddMask(passphrase)
	}
	if token != "" {
		gha.AddMask(token)
	}

	dir := in("path")
	if dir == "" {
		dir = "."
	}
	if ws := getenv("GITHUB_WORKSPACE"); ws != "" && !filepath.IsAbs(dir) {
		dir = filepath.Join(ws, dir)
	}
	req := publish.Request{
		Dir:                dir,
		Version:            in("version"),
		SigningKey:         []byte(key),
		Passphrase:         []byte(passphrase),
		Repository:         in("repository"),
		DispatchRepository: in("dispatch-repository"),
		EventType:          in("event-type"),
	}
	if req.Repository == "" {
		req.Repository = getenv("GITHUB_REPOSITORY")
	}
	// The version defaults to the pushed tag.
	if ref := getenv("GITHUB_REF"); strings.HasPrefix(ref, "refs/tags/") {
		req.Tag = strings.TrimPrefix(ref, "refs/tags/")
		if req.Version != "" && strings.TrimPrefix(req.Version, "v") != strings.TrimPrefix(req.Tag, "v") {
			// An explicit version wins over the tag; its own tag is used.
			req.Tag = ""
		}
	}
	if sde := getenv("SOURCE_DATE_EPOCH"); sde != "" {
		secs, err := strconv.ParseInt(sde, 10, 64)
		if err != nil {
			return fmt.Errorf("SOURCE_DATE_EPOCH %q is not a number of seconds", sde)
		}
		req.MTime = time.Unix(secs, 0)
	}
	tmp := getenv("RUNNER_TEMP")
	if tmp == "" {
		tmp = os.TempDir()
	}
	out, err := os.MkdirTemp(tmp, "publish-library-")
	if err != nil {
		return fmt.Errorf("creating a work folder: %w", err)
	}
	req.OutDir = out

	var gh publish.GitHub
	if req.Repository != "" {
		if token == "" {
			return fmt.Errorf("no token: set the action's token input (default: github.token)")
		}
		c, err := ghrelease.New(ghrelease.Config{
			APIURL:    getenv("GITHUB_API_URL"),
			Token:     token,
			UserAgent: "udos-dist-publish-library",
			Logf:      func(f string, a ...any) { gha.Infof(f, a...) },
		})
		if err != nil {
			return err
		}
		gh = publish.NewGitHub(c)
	}
	res, runErr := publish.Run(ctx, req, gh, stdout, nil)
	summary := res.Summary()
	if runErr != nil {
		summary += "\n**Failed:** " + runErr.Error() + "\n"
	}
	if getenv("GITHUB_STEP_SUMMARY") != "" {
		gha.AddStepSummary(summary)
	}
	if runErr != nil {
		return runErr
	}
	outputs := map[string]string{
		"package":     res.Package,
		"sha256":      res.SHA256,
		"release-url": res.Release.URL,
		"path":        res.PackagePath,
	}
	for _, k := range []string{"package", "sha256", "release-url", "path"} {
		if getenv("GITHUB_OUTPUT") != "" {
			gha.SetOutput(k, outputs[k])
		}
		fmt.Fprintf(stdout, "%s=%s\n", k, outputs[k])
	}
	return nil
}
