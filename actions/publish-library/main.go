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

	"github.com/fredbook/udos-dist/actions/internal/actionkit"
	"github.com/fredbook/udos-dist/internal/publish"
)

func main() { os.Exit(actionkit.Main("publish-library", os.Getenv, os.Stdout, run)) }

// run maps the inputs onto a publish.Request, and the result of
// publish.Run onto the outputs and the summary.
func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	kit := actionkit.New(getenv, stdout)
	// Masked before anything can print them. The passphrase is taken as
	// given: trimming might change it.
	sec := kit.Secrets()

	req := publish.Request{
		Dir:                kit.Path(kit.InputOr("path", ".")),
		Version:            kit.Input("version"),
		SigningKey:         []byte(sec.Key),
		Passphrase:         []byte(sec.Passphrase),
		Repository:         kit.InputOr("repository", getenv("GITHUB_REPOSITORY")),
		DispatchRepository: kit.Input("dispatch-repository"),
		EventType:          kit.Input("event-type"),
	}
	// The version defaults to the pushed tag; an explicit version that
	// differs from it wins, and publishes under its own tag.
	req.Tag = kit.TagOf(req.Version)
	// Only SOURCE_DATE_EPOCH counts here; without it the archive carries
	// internal/publish's default mtime.
	mtime, err := kit.SourceDateEpoch(ctx, "", "", actionkit.Year1970)
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
		if sec.Token == "" {
			return fmt.Errorf("no token: set the action's token input (default: github.token)")
		}
		c, err := kit.GitHub(sec.Token, "udos-dist-publish-library")
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
