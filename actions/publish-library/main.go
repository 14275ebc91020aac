// Command publish-library is the program behind the publish-library action:
// it maps the action's inputs onto internal/publish (validate, pack, sign,
// publish to the release of the tag, optionally notify the registry) and
// writes the outputs and the step summary through actions/internal/actionkit.
// Nothing else lives here.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/fredbook/udos-dist/actions/internal/actionkit"
	"github.com/fredbook/udos-dist/internal/publish"
)

func main() {
	ctx, stop := actionkit.SignalContext()
	code := actionkit.ExitCode(os.Stdout, "publish-library", run(ctx, os.Getenv, os.Stdout))
	stop()
	os.Exit(code)
}

func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	kit := actionkit.New(getenv, stdout)
	// Masked before anything can print them. The passphrase is taken as
	// given: trimming might change it.
	key := kit.ArmoredKey("signing-key")
	passphrase := kit.RawSecret("signing-passphrase")
	token := kit.Secret("token")

	req := publish.Request{
		Dir:                kit.Path(kit.InputOr("path", ".")),
		Version:            kit.Input("version"),
		SigningKey:         []byte(key),
		Passphrase:         []byte(passphrase),
		Repository:         kit.InputOr("repository", getenv("GITHUB_REPOSITORY")),
		DispatchRepository: kit.Input("dispatch-repository"),
		EventType:          kit.Input("event-type"),
	}
	// The version defaults to the pushed tag; an explicit version that
	// differs from it wins, and publishes under its own tag.
	if tag := kit.Tag(); tag != "" && (req.Version == "" || strings.TrimPrefix(req.Version, "v") == strings.TrimPrefix(tag, "v")) {
		req.Tag = tag
	}
	// Only SOURCE_DATE_EPOCH counts here; without it the archive carries
	// internal/publish's default mtime.
	mtime, err := kit.SourceDateEpoch(ctx, "", "", time.Unix(0, 0))
	if err != nil {
		return err
	}
	req.MTime = mtime
	tmp := getenv("RUNNER_TEMP")
	if tmp == "" {
		tmp = os.TempDir()
	}
	if req.OutDir, err = os.MkdirTemp(tmp, "publish-library-"); err != nil {
		return fmt.Errorf("creating a work folder: %w", err)
	}

	var gh publish.GitHub
	if req.Repository != "" {
		if token == "" {
			return fmt.Errorf("no token: set the action's token input (default: github.token)")
		}
		c, err := kit.GitHub(token, "udos-dist-publish-library")
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
	kit.Summary(summary)
	if runErr != nil {
		return runErr
	}
	kit.SetOutput("package", res.Package)
	kit.SetOutput("sha256", res.SHA256)
	kit.SetOutput("release-url", res.Release.URL)
	kit.SetOutput("path", res.PackagePath)
	return nil
}
