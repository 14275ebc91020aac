// Command build-variant is the GitHub Action that builds, signs, describes
// and uploads one uDOS variant (mode "build"), merges the variants of a
// release, signs the manifest and publishes the release (mode "publish"),
// or checks the pushed tag against the tree's version (mode "check"). It
// only maps the action's inputs and outputs onto internal/variant/build and
// internal/release; actions/internal/actionkit does the runner's side.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/Masterminds/semver/v3"

	"github.com/fredbook/udos-dist/actions/internal/actionkit"
	"github.com/fredbook/udos-dist/internal/ghrelease"
	"github.com/fredbook/udos-dist/internal/release"
	"github.com/fredbook/udos-dist/internal/variant"
	"github.com/fredbook/udos-dist/internal/variant/build"
	"github.com/fredbook/udos-dist/internal/vulngate"
)

// toolVersion is set at link time (-X main.toolVersion=...).
var toolVersion = "dev"

func main() { os.Exit(actionkit.Main("", os.Getenv, os.Stdout, run)) }

// run maps the inputs onto build.Build (mode build), release.Publish
// (mode publish) or the tag check (mode check), and their results onto the
// outputs and the summary.
func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	kit := actionkit.New(getenv, stdout)
	in := kit.InputOr
	sec := kit.Secrets() // masked before anything can print them
	// This action has always trimmed the key and the passphrase.
	key, pass, token := strings.TrimSpace(sec.Key), strings.TrimSpace(sec.Passphrase), sec.Token

	mode := in("mode", "build")
	version, err := resolveVersion(in("version", ""), getenv, in("source", "."))
	if err != nil {
		return err
	}

	var gh *ghrelease.Client
	owner, repo := "", ""
	upload, err := kit.Bool("upload", false)
	if err != nil {
		return err
	}
	if upload || mode == "publish" {
		owner, repo, err = actionkit.SplitRepository(in("repository", getenv("GITHUB_REPOSITORY")))
		if err != nil {
			return err
		}
		if token == "" {
			return errors.New("input token is required to upload or publish")
		}
		if gh, err = kit.GitHub(token, "udos-dist-build-variant/"+toolVersion); err != nil {
			return err
		}
	}

	switch mode {
	case "build":
		epoch, err := kit.SourceDateEpoch(ctx, in("source-date-epoch", ""), in("source", "."), actionkit.Year1970)
		if err != nil {
			return err
		}
		strict, err := kit.Bool("strict", false)
		if err != nil {
			return err
		}
		img, err := imageConfig(kit, in, token, getenv)
		if err != nil {
			return err
		}
		compose, catalog, err := wizardInputs(in)
		if err != nil {
			return err
		}
		res, err := build.Build(ctx, build.Config{
			Image:   img,
			Compose: compose, Catalog: catalog,
			Variant: in("variant", ""), Source: in("source", "."), Version: version, Output: in("output", "dist"),
			SourceDateEpoch: epoch, SigningKey: []byte(key), Passphrase: []byte(pass),
			VariantsFile: in("variants-file", ""), Strict: strict,
			Upload: upload, GitHub: gh, Owner: owner, Repo: repo, ServerURL: getenv("GITHUB_SERVER_URL"),
			ToolVersion: toolVersion, Log: stdout,
		})
		if res != nil {
			for _, w := range res.Warnings {
				kit.Warning(w)
			}
			kit.Summary(build.Summary(res))
		}
		if err != nil {
			return err
		}
		kit.SetOutput("archive", res.Archive.Path)
		kit.SetOutput("sha256", res.Archive.SHA256)
		kit.SetOutput("sha512", res.Archive.SHA512)
		kit.SetOutput("manifest", res.Manifest)
		kit.SetOutput("sbom", res.SBOM.Path)
		kit.SetOutput("formula", res.Formula.Path)
		kit.SetOutput("version", res.Version)
		return nil
	case "publish":
		res, err := release.Publish(ctx, release.PublishConfig{
			Version: version, Owner: owner, Repo: repo, GitHub: gh, Output: in("output", "dist"),
			Source: in("source", "."), SigningKey: []byte(key), Passphrase: []byte(pass),
			ExpectVariants: strings.Fields(in("variants", "")), ServerURL: getenv("GITHUB_SERVER_URL"),
			ToolVersion: toolVersion, Log: stdout,
		})
		if res != nil {
			kit.Summary(release.PublishSummary(res))
		}
		if err != nil {
			return err
		}
		kit.SetOutput("manifest", res.ManifestPath)
		kit.SetOutput("version", res.Manifest.Version)
		if res.Release != nil {
			kit.SetOutput("release-url", res.Release.HTMLURL)
		}
		return nil
	case "check":
		return checkTag(kit, in("source", "."))
	}
	return fmt.Errorf("input mode: %q is neither build nor publish (nor check)", mode)
}

// checkTag is mode check, the release workflow's first job: the pushed tag
// must name a version (v1.5.0, v1.5.0-rc.1) and that version must be the
// tree's version.json, so that a wrong tag fails once, clearly, before
// any build starts.
func checkTag(kit *actionkit.Kit, source string) error {
	tag := kit.Tag()
	if tag == "" {
		return errors.New("mode check runs on a tag push (refs/tags/v1.5.0): GITHUB_REF names no tag")
	}
	version := kit.TagVersion()
	if _, err := semver.StrictNewVersion(version); err != nil {
		return fmt.Errorf("tag %s does not name a version: release tags are v<major>.<minor>.<patch>, such as v1.5.0", tag)
	}
	if err := variant.CheckVersion(source, version); err != nil {
		return fmt.Errorf("tag %s: %w (tag the commit whose version.json says %s, or fix version.json)", tag, err, version)
	}
	kit.SetOutput("version", version)
	kit.SetOutput("tag", tag)
	return nil
}

// imageConfig maps the image-* inputs (wizard-full's container image);
// nil when image-repository is empty.
func imageConfig(kit *actionkit.Kit, in func(string, string) string, token string, getenv func(string) string) (*build.ImageConfig, error) {
	repo := in("image-repository", "")
	if repo == "" {
		return nil, nil
	}
	ic := &build.ImageConfig{Repository: repo, BaseLayout: in("image-base", ""), BaseDigest: in("image-base-digest", "")}
	if ic.BaseLayout == "" || ic.BaseDigest == "" {
		return nil, errors.New("input image-repository needs image-base (an OCI layout folder) and image-base-digest")
	}
	if token != "" {
		// ghcr.io takes the workflow's token with the actor as user.
		user := getenv("GITHUB_ACTOR")
		if user == "" {
			user = "token"
		}
		ic.Auth = authn.FromConfig(authn.AuthConfig{Username: user, Password: token})
	}
	scan, err := kit.Bool("image-scan", false)
	if err != nil {
		return nil, err
	}
	if scan {
		// Trivy gets what it needs to download its DB, never the inputs
		// (the signing key and the token are among them).
		var env []string
		for _, k := range []string{"HOME", "PATH", "TMPDIR", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "TRIVY_DB_REPOSITORY", "TRIVY_CACHE_DIR"} {
			if v := getenv(k); v != "" {
				env = append(env, k+"="+v)
			}
		}
		ic.Gate = &build.ImageGate{IgnoreFile: in("image-ignore-file", ""), Scan: vulngate.ScanOptions{Env: env}}
	}
	return ic, nil
}

// resolveVersion: the input, else the pushed tag (refs/tags/v1.4.6), else
// the checkout's version.json.
func resolveVersion(input string, getenv func(string) string, source string) (string, error) {
	if v := actionkit.Env(getenv).Version(input); v != "" {
		return v, nil
	}
	return variant.ReadVersion(source)
}

// wizardInputs reads the Wizard's port and health path for the compose file
// (empty: the variants file's, else the spec's 9000 and /api/health) and the
// library catalog to ship.
func wizardInputs(in func(name, def string) string) (variant.ComposeOptions, []byte, error) {
	var o variant.ComposeOptions
	if p := in("wizard-port", ""); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return o, nil, fmt.Errorf("input wizard-port %q: want a port number (1-65535), e.g. 8765", p)
		}
		o.Port = n
	}
	if h := in("wizard-health-path", ""); h != "" {
		if !strings.HasPrefix(h, "/") {
			return o, nil, fmt.Errorf("input wizard-health-path %q: want an absolute URL path, e.g. /health", h)
		}
		o.HealthPath = h
	}
	var catalog []byte
	if c := in("library-catalog", ""); c != "" {
		data, err := os.ReadFile(c)
		if err != nil {
			return o, nil, fmt.Errorf("input library-catalog: %w", err)
		}
		catalog = data
	}
	return o, catalog, nil
}
