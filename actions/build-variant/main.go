// Command build-variant is the GitHub Action that builds, signs, describes
// and uploads one uDOS variant (mode "build"), or merges the variants of a
// release, signs the manifest and publishes the release (mode "publish").
// It only maps the action's inputs and outputs onto internal/variant/build.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"time"

	githubactions "github.com/sethvargo/go-githubactions"

	"github.com/fredbook/udos-dist/internal/ghrelease"
	"github.com/fredbook/udos-dist/internal/variant"
	"github.com/fredbook/udos-dist/internal/variant/build"
)

// toolVersion is set at link time (-X main.toolVersion=...).
var toolVersion = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	a := githubactions.New()
	if err := run(ctx, a, os.Getenv, os.Stdout); err != nil {
		a.Errorf("%s", oneLine(err.Error()))
		stop()
		os.Exit(1)
	}
}

// oneLine keeps a multi-line error readable in an ::error:: annotation.
func oneLine(s string) string { return strings.ReplaceAll(s, "\n", "%0A") }

func run(ctx context.Context, a *githubactions.Action, getenv func(string) string, stdout io.Writer) error {
	// The composite action passes inputs as INPUT_SIGNING_KEY (shells
	// cannot export names with dashes); the runner's own convention for
	// JavaScript actions is INPUT_SIGNING-KEY. Accept both.
	in := func(name, def string) string {
		if v := a.GetInput(name); v != "" {
			return v
		}
		if v := strings.TrimSpace(getenv("INPUT_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_")))); v != "" {
			return v
		}
		return def
	}
	key := strings.TrimSpace(in("signing-key", ""))
	pass := in("signing-passphrase", "")
	// Mask the secrets before anything can print them.
	for _, line := range strings.Split(key, "\n") {
		if l := strings.TrimSpace(line); len(l) > 8 && !strings.HasPrefix(l, "-----") {
			a.AddMask(l)
		}
	}
	if pass != "" {
		a.AddMask(pass)
	}
	token := in("token", "")
	if token != "" {
		a.AddMask(token)
	}

	mode := in("mode", "build")
	version, err := resolveVersion(in("version", ""), getenv, in("source", "."))
	if err != nil {
		return err
	}
	out := files{a: a, getenv: getenv, stdout: stdout}

	var gh *ghrelease.Client
	owner, repo := "", ""
	upload, err := parseBool("upload", in("upload", "false"))
	if err != nil {
		return err
	}
	if upload || mode == "publish" {
		owner, repo, err = splitRepo(in("repository", getenv("GITHUB_REPOSITORY")))
		if err != nil {
			return err
		}
		if token == "" {
			return errors.New("input token is required to upload or publish")
		}
		gh, err = ghrelease.New(ghrelease.Config{
			APIURL: getenv("GITHUB_API_URL"), Token: token, UserAgent: "udos-dist-build-variant/" + toolVersion,
			Logf: func(f string, args ...any) { fmt.Fprintf(stdout, f+"\n", args...) },
		})
		if err != nil {
			return err
		}
	}

	switch mode {
	case "build":
		epoch, err := sourceDateEpoch(in("source-date-epoch", getenv("SOURCE_DATE_EPOCH")), in("source", "."))
		if err != nil {
			return err
		}
		strict, err := parseBool("strict", in("strict", "false"))
		if err != nil {
			return err
		}
		res, err := build.Build(ctx, build.Config{
			Variant: in("variant", ""), Source: in("source", "."), Version: version, Output: in("output", "dist"),
			SourceDateEpoch: epoch, SigningKey: []byte(key), Passphrase: []byte(pass),
			VariantsFile: in("variants-file", ""), Strict: strict,
			Upload: upload, GitHub: gh, Owner: owner, Repo: repo, ServerURL: getenv("GITHUB_SERVER_URL"),
			ToolVersion: toolVersion, Log: stdout,
		})
		if res != nil {
			for _, w := range res.Warnings {
				a.Warningf("%s", w)
			}
			out.summary(build.Summary(res))
		}
		if err != nil {
			return err
		}
		out.set("archive", res.Archive.Path)
		out.set("sha256", res.Archive.SHA256)
		out.set("sha512", res.Archive.SHA512)
		out.set("manifest", res.Manifest)
		out.set("sbom", res.SBOM.Path)
		out.set("formula", res.Formula.Path)
		out.set("version", res.Version)
		return nil
	case "publish":
		res, err := build.Publish(ctx, build.PublishConfig{
			Version: version, Owner: owner, Repo: repo, GitHub: gh, Output: in("output", "dist"),
			Source: in("source", "."), SigningKey: []byte(key), Passphrase: []byte(pass),
			ExpectVariants: strings.Fields(in("variants", "")), Log: stdout,
		})
		if res != nil {
			out.summary(build.PublishSummary(res))
		}
		if err != nil {
			return err
		}
		manifest := ""
		for _, art := range res.Artifacts {
			if art.Kind == "manifest" {
				manifest = art.Path
			}
		}
		out.set("manifest", manifest)
		out.set("version", res.Manifest.Version)
		if res.Release != nil {
			out.set("release-url", res.Release.HTMLURL)
		}
		return nil
	}
	return fmt.Errorf("input mode: %q is neither build nor publish", mode)
}

// files writes outputs and the step summary through the runner's files, and
// to stdout when run outside Actions (go-githubactions panics without them).
type files struct {
	a      *githubactions.Action
	getenv func(string) string
	stdout io.Writer
}

func (f files) set(k, v string) {
	if f.getenv("GITHUB_OUTPUT") == "" {
		fmt.Fprintf(f.stdout, "%s=%s\n", k, v)
		return
	}
	f.a.SetOutput(k, v)
}

func (f files) summary(md string) {
	if f.getenv("GITHUB_STEP_SUMMARY") == "" {
		fmt.Fprint(f.stdout, md)
		return
	}
	f.a.AddStepSummary(md)
}

func parseBool(name, v string) (bool, error) {
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return false, fmt.Errorf("input %s: %q is not true or false", name, v)
	}
	return b, nil
}

func splitRepo(s string) (string, string, error) {
	owner, repo, ok := strings.Cut(s, "/")
	if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
		return "", "", fmt.Errorf("input repository: %q is not owner/name", s)
	}
	return owner, repo, nil
}

// resolveVersion: the input, else the pushed tag (refs/tags/v1.4.6), else
// the checkout's version.json.
func resolveVersion(input string, getenv func(string) string, source string) (string, error) {
	if input != "" {
		return strings.TrimPrefix(input, "v"), nil
	}
	if ref := getenv("GITHUB_REF"); strings.HasPrefix(ref, "refs/tags/v") {
		return strings.TrimPrefix(ref, "refs/tags/v"), nil
	}
	return variant.ReadVersion(source)
}

// sourceDateEpoch: the input (or SOURCE_DATE_EPOCH), else the commit time
// of the checkout's HEAD.
func sourceDateEpoch(v, source string) (time.Time, error) {
	if v == "" {
		out, err := exec.Command("git", "-C", source, "log", "-1", "--format=%ct").Output()
		if err != nil {
			return time.Time{}, fmt.Errorf("source-date-epoch not given and the commit time of %s could not be read (git: %v)", source, err)
		}
		v = strings.TrimSpace(string(out))
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, fmt.Errorf("source-date-epoch %q is not a Unix time", v)
	}
	return time.Unix(n, 0).UTC(), nil
}
