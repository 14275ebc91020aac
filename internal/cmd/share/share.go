// Package share implements `udos-lib share NAME|DIR --github`: publish a
// library version to the GitHub release of its tag from a terminal, through
// the same flow as the publish-library action (internal/publish): validate,
// pack reproducibly, sign, publish the package, its .asc and its manifest
// (draft, then assets, then publish), optionally notify the registry.
package share

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fredbook/udos-dist/internal/cmd/cmdutil"
	"github.com/fredbook/udos-dist/internal/cmd/factory"
	"github.com/fredbook/udos-dist/internal/ghrelease"
	"github.com/fredbook/udos-dist/internal/publish"
	"github.com/fredbook/udos-dist/internal/sourcedate"
	"github.com/fredbook/udos-dist/internal/udospkg"
)

// Options of one share.
type Options struct {
	cmdutil.Session
	Getenv func(string) string

	Target     string
	GitHub     bool
	Repository string
	Dispatch   string
	Version    string
	Tag        string
	SignKey    string
	APIURL     string
	Output     string
}

// Result is the --json output.
type Result struct {
	Package    string   `json:"package"`
	Path       string   `json:"path"`
	ID         string   `json:"id"`
	Version    string   `json:"version"`
	Tag        string   `json:"tag"`
	SHA256     string   `json:"sha256"`
	Size       int64    `json:"size"`
	Signer     string   `json:"signer"`
	ReleaseURL string   `json:"release_url"`
	Uploaded   []string `json:"uploaded"`
	Kept       []string `json:"kept"`
	Dispatched bool     `json:"dispatched"`
}

// NewCmd builds the command; runF replaces the action in tests.
func NewCmd(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{Session: cmdutil.NewSession(f, f.Begin), Getenv: f.Getenv}
	cmd := &cobra.Command{
		Use:     "share (NAME | DIR) --github",
		Example: "  GITHUB_TOKEN=… udos-lib share ./grid-math --github --sign-key release.key\n  udos-lib share grid-math --github --repository fredbook/grid-math --tag v1.1.1",
		Args:    cmdutil.ExactArgs(1, "name one library or source folder"),
		Short:   "Publish a library version to its GitHub release",
		Long: `DIR is a library source folder (manifest.json, lib/, …); NAME an installed
library. The package, its signature and its manifest are published to the
release of the tag (default v<version>) of --repository (default the
manifest's "repository"): created as a draft, assets uploaded, then
published. A re-run with the same contents changes nothing; different
contents under a published version fail.

The token comes from GITHUB_TOKEN (or GH_TOKEN), the API from --api-url or
GITHUB_API_URL. The signing key is --sign-key FILE or the armored key in
UDOS_SIGN_KEY; its passphrase comes from UDOS_SIGN_PASSPHRASE. Entry times
come from SOURCE_DATE_EPOCH (default 0).`,
		RunE: cmdutil.RunE(f, opts, func(args []string) error {
			if !opts.GitHub {
				return cmdutil.Usagef("share: say where to publish: --github")
			}
			opts.Target = args[0]
			return nil
		}, runF, Run),
	}
	fs := cmd.Flags()
	fs.BoolVar(&opts.GitHub, "github", false, "publish to GitHub Releases (required: the only destination)")
	fs.StringVar(&opts.Repository, "repository", "", "`OWNER/NAME` of the release's repository (default: the manifest's repository)")
	fs.StringVar(&opts.Dispatch, "dispatch", "", "`OWNER/NAME` of the registry repository to notify (repository_dispatch)")
	fs.StringVar(&opts.Version, "version", "", "`VERSION` to publish (default: the tag's, else the manifest's)")
	fs.StringVar(&opts.Tag, "tag", "", "release `TAG` (default v<version>)")
	fs.StringVar(&opts.SignKey, "sign-key", "", "armored private key `FILE` (default: $UDOS_SIGN_KEY)")
	fs.StringVar(&opts.APIURL, "api-url", "", "GitHub API base `URL` (default $GITHUB_API_URL, else https://api.github.com)")
	fs.StringVar(&opts.Output, "output", "", "`DIR` to keep the package, .asc and manifest in (default: a temporary folder)")
	return cmd
}

// Run shares opts.Target.
func Run(opts *Options) error {
	if opts.Ctx == nil {
		opts.Ctx = context.Background()
	}
	src, err := cmdutil.SourceDir(opts.Begin, opts.Target)
	if err != nil {
		return err
	}
	key, err := signingKey(opts)
	if err != nil {
		return err
	}
	req := publish.Request{
		Dir: src, Version: opts.Version, Tag: opts.Tag, SigningKey: key,
		Passphrase: []byte(opts.Getenv("UDOS_SIGN_PASSPHRASE")),
		Repository: opts.Repository, DispatchRepository: opts.Dispatch,
	}
	if req.Repository == "" {
		data, err := os.ReadFile(filepath.Join(src, udospkg.ManifestName))
		if err != nil {
			return fmt.Errorf("reading manifest: %w", err)
		}
		m, err := udospkg.ParseSourceManifest(data)
		if err != nil {
			return fmt.Errorf("manifest of %s: %w", src, err)
		}
		if m.Repository == "" {
			return cmdutil.Usagef("share: the manifest names no repository: give --repository OWNER/NAME")
		}
		req.Repository = strings.TrimPrefix(m.Repository, "https://github.com/")
	}
	if t, ok, err := sourcedate.Lookup(opts.Getenv); err != nil {
		return err
	} else if ok {
		req.MTime = t
	}
	if opts.Output != "" {
		req.OutDir = opts.Output
	} else {
		tmp, err := os.MkdirTemp("", "udos-share-")
		if err != nil {
			return fmt.Errorf("creating a work folder: %w", err)
		}
		defer os.RemoveAll(tmp)
		req.OutDir = tmp
	}
	cfg := ghrelease.ConfigFromEnv(opts.Getenv)
	if cfg.Token == "" {
		return fmt.Errorf("no GitHub token: set GITHUB_TOKEN (a token with contents:write on %s)", req.Repository)
	}
	if opts.APIURL != "" {
		cfg.APIURL = opts.APIURL
	}
	cfg.UserAgent = "udos-lib-share"
	cfg.Logf = func(f string, a ...any) { fmt.Fprintf(opts.IO.ErrOut, "udos-lib: "+f+"\n", a...) }
	c, err := ghrelease.New(cfg)
	if err != nil {
		return err
	}
	res, err := publish.Run(opts.Ctx, req, publish.NewGitHub(c), opts.IO.ErrOut, nil)
	if err != nil {
		return err
	}
	r := Result{Package: res.Package, Path: res.PackagePath, ID: res.ID, Version: res.Version, Tag: res.Tag,
		SHA256: res.SHA256, Size: res.Size, Signer: res.Fingerprint, ReleaseURL: res.Release.URL,
		Uploaded: cmdutil.NonNil(res.Release.Uploaded), Kept: cmdutil.NonNil(res.Release.Kept), Dispatched: res.Dispatched}
	if opts.Output == "" {
		r.Path = ""
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, r)
	}
	fmt.Fprintln(opts.IO.Out, r.ReleaseURL)
	state := "published"
	if res.Release.AlreadyPublished {
		state = "already published (same sha256), nothing changed"
	}
	fmt.Fprintf(opts.IO.ErrOut, "%s %s@%s: %s, sha256 %s\n", r.Package, r.ID, r.Version, state, r.SHA256)
	return nil
}

func signingKey(opts *Options) ([]byte, error) {
	if opts.SignKey != "" {
		data, err := os.ReadFile(opts.SignKey)
		if err != nil {
			return nil, fmt.Errorf("reading --sign-key: %w", err)
		}
		return data, nil
	}
	if k := opts.Getenv("UDOS_SIGN_KEY"); strings.TrimSpace(k) != "" {
		return []byte(k), nil
	}
	return nil, cmdutil.Usagef("share: a package is published signed: give --sign-key FILE or set UDOS_SIGN_KEY")
}
