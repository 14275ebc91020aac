// Command registry-gen assembles a library registry (internal/registry):
// catalog.json (+ .asc when a key is given), index/, the files clients
// fetch and the Jekyll site. The packages come from a local folder
// (--from-dir) or from the GitHub Releases a registry.json names
// (--github). See docs/FORMATS.md and docs/REGISTRY.md.
//
//	registry-gen --from-dir DIR --out OUT [--base-url URL] [--keyring FILE]
//	             [--require-signatures] [common flags]
//	registry-gen --github --config registry.json --out OUT [--api-url URL]
//	             [--keyring FILE] [--workers 4] [--summary FILE] [common flags]
//
// Common flags: --sign-key FILE, --expires 720h, --time RFC3339, --no-site,
// --build-site DIR [--baseurl /repo] [--jekyll PATH], --json.
//
// Environment: UDOS_SIGN_PASSPHRASE unlocks the signing key. In the GitHub
// mode also: GITHUB_TOKEN (or UDOS_GITHUB_TOKEN) authenticates,
// GITHUB_API_URL is the API base (as Actions sets it), UDOS_SIGN_KEY may
// hold the armored catalog signing key instead of --sign-key (so a secret
// never touches the disk), GITHUB_STEP_SUMMARY receives the Markdown
// summary. Exit status: 0 done, 1 failed, 2 bad usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/fredbook/udos-dist/internal/canonjson"
	"github.com/fredbook/udos-dist/internal/ghrelease"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/registry"
	"github.com/fredbook/udos-dist/internal/site"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

type usageError struct{ error }

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	err := generate(ctx, args, stdout, stderr, getenv)
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "registry-gen: %v\nrun 'registry-gen --help' for usage\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "registry-gen: %v\n", err)
		return 1
	}
}

// config is the parsed command line.
type config struct {
	github bool
	// local mode
	fromDir, baseURL string
	requireSigs      bool
	// GitHub mode
	configPath, apiURL, summary string
	workers                     int
	// both
	out, signKey, keyring, at  string
	buildDir, siteBase, jekyll string
	noSite, asJSON             bool
	expires                    time.Duration
}

// Flags of one mode only; naming one in the other mode is a usage error.
var (
	localOnly  = []string{"from-dir", "base-url", "require-signatures"}
	githubOnly = []string{"config", "api-url", "workers", "summary"}
)

func parse(args []string, stderr io.Writer) (*config, error) {
	var c config
	fs := flag.NewFlagSet("registry-gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage:
  registry-gen --from-dir DIR --out OUT [flags]                 local mode: the packages of a folder
  registry-gen --github --config registry.json --out OUT [flags]  GitHub mode: the packages of GitHub Releases

Both modes write OUT/catalog.json (signed with --sign-key), OUT/index/ and,
unless --no-site, the Jekyll site in OUT/site. The serial is never lower than
the previous catalog's or the generation time in Unix seconds.

Flags (local mode only: -from-dir, -base-url, -require-signatures;
GitHub mode only: -config, -api-url, -workers, -summary):
`)
		fs.PrintDefaults()
	}
	fs.BoolVar(&c.github, "github", false, "read the packages from the GitHub Releases of the repositories --config names")
	fs.StringVar(&c.fromDir, "from-dir", "", "local mode: folder holding the .udos-package files (and .asc signatures)")
	fs.StringVar(&c.baseURL, "base-url", "", "local mode: make catalog URLs absolute under this URL (default: relative)")
	fs.BoolVar(&c.requireSigs, "require-signatures", false, "local mode: refuse packages without a .asc")
	fs.StringVar(&c.configPath, "config", "", "GitHub mode: registry config (JSON: repositories, owners, publisher_keys, expires)")
	fs.StringVar(&c.apiURL, "api-url", "", "GitHub mode: API base URL (default $GITHUB_API_URL, else https://api.github.com)")
	fs.IntVar(&c.workers, "workers", 4, "GitHub mode: repositories read at the same time")
	fs.StringVar(&c.summary, "summary", "", "GitHub mode: append a Markdown summary to this file (default $GITHUB_STEP_SUMMARY)")
	fs.StringVar(&c.out, "out", "", "registry folder to write; its previous catalog.json (and the GitHub mode's .registry-cache.json) carry over")
	fs.StringVar(&c.signKey, "sign-key", "", "armored private key file to sign catalog.json with (GitHub mode: or $UDOS_SIGN_KEY; passphrase $UDOS_SIGN_PASSPHRASE)")
	fs.StringVar(&c.keyring, "keyring", "", "publishers' armored public keys: every package's .asc must verify (GitHub mode default: the config's publisher_keys)")
	fs.DurationVar(&c.expires, "expires", 0, "how long the catalog stays valid (default: the GitHub config's, else 720h)")
	fs.StringVar(&c.at, "time", "", "generation time, RFC 3339 (default: now; for reproducible output)")
	fs.BoolVar(&c.noSite, "no-site", false, "do not write OUT/site (the Jekyll source)")
	fs.StringVar(&c.buildDir, "build-site", "", "also run `jekyll build` of OUT/site into this folder")
	fs.StringVar(&c.siteBase, "baseurl", "", "Jekyll base URL for --build-site (\"/repo\" for project pages)")
	fs.StringVar(&c.jekyll, "jekyll", "jekyll", "jekyll program for --build-site")
	fs.BoolVar(&c.asJSON, "json", false, "print the result as JSON on stdout")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, usageError{err}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	wrong, mode := githubOnly, "add --github"
	if c.github {
		wrong, mode = localOnly, "drop --github"
	}
	for _, name := range wrong {
		if set[name] {
			return nil, usageError{fmt.Errorf("--%s belongs to the other mode (%s)", name, mode)}
		}
	}
	switch {
	case fs.NArg() > 0:
		return nil, usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	case c.github && c.configPath == "":
		return nil, usageError{errors.New("--config is required in the GitHub mode")}
	case !c.github && c.fromDir == "":
		return nil, usageError{errors.New("--from-dir is required (or --github --config FILE to build from GitHub Releases)")}
	case c.out == "":
		return nil, usageError{errors.New("--out is required")}
	case c.expires < 0 || (set["expires"] && c.expires == 0):
		return nil, usageError{fmt.Errorf("--expires %s must be positive", c.expires)}
	case c.workers < 1:
		return nil, usageError{fmt.Errorf("--workers %d must be at least 1", c.workers)}
	case c.buildDir != "" && c.noSite:
		return nil, usageError{errors.New("--build-site needs the site (drop --no-site)")}
	}
	return &c, nil
}

func generate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	c, err := parse(args, stderr)
	if err != nil {
		return err
	}
	opts := registry.Options{OutDir: c.out, Expires: c.expires, Site: !c.noSite, Log: stderr}
	if c.at != "" {
		t, err := time.Parse(time.RFC3339, c.at)
		if err != nil {
			return usageError{fmt.Errorf("--time: %v", err)}
		}
		opts.Now = t
	}
	pass := []byte(getenv("UDOS_SIGN_PASSPHRASE"))
	switch {
	case c.signKey != "":
		if opts.Signer, err = pgpsign.LoadSignerFile(c.signKey, pass); err != nil {
			return fmt.Errorf("loading signing key: %w", err)
		}
	case c.github && strings.TrimSpace(getenv("UDOS_SIGN_KEY")) != "":
		if opts.Signer, err = pgpsign.LoadSigner([]byte(getenv("UDOS_SIGN_KEY")), pass); err != nil {
			return fmt.Errorf("loading signing key from UDOS_SIGN_KEY: %w", err)
		}
	}

	var src registry.Source
	var gh *registry.GitHubSource
	if c.github {
		if gh, err = githubSource(c, getenv, stderr); err != nil {
			return err
		}
		if opts.Expires == 0 {
			opts.Expires = gh.Config.ExpiresIn(registry.DefaultExpires)
		}
		opts.WarnUnsigned = true
		src = gh
	} else {
		ds := &registry.DirSource{Dir: c.fromDir, BaseURL: c.baseURL, RequireSignatures: c.requireSigs}
		if c.keyring != "" {
			if ds.Keyring, err = pgpsign.LoadKeyringFile(c.keyring); err != nil {
				return fmt.Errorf("loading keyring: %w", err)
			}
		}
		src = ds
	}

	// The keyring a client needs is published beside a signed catalog.
	if keyFile := c.keyring; opts.Signer != nil {
		if keyFile == "" && gh != nil {
			keyFile = gh.Config.PublisherKeys
		}
		if keyFile != "" {
			if opts.PublisherKeys, err = os.ReadFile(keyFile); err != nil {
				return fmt.Errorf("reading publishers' keys: %w", err)
			}
		}
	}
	res, err := registry.Assemble(ctx, src, opts)
	if err != nil {
		return err
	}
	if err := res.WriteSummary(stderr); err != nil {
		return err
	}
	var out any = res
	if gh != nil {
		rep := gh.Report()
		fmt.Fprintf(stderr, "registry-gen: %d repositories, %d releases, %d packages downloaded, %d from the cache, %d requests (%d answered 304), %d left out\n",
			len(rep.Repositories), rep.Releases, rep.Downloaded, rep.Cached, rep.Stats.Requests, rep.Stats.NotModified, len(res.Problems))
		out = struct {
			*registry.Result
			registry.GitHubReport
		}{res, rep}
		summary := c.summary
		if summary == "" {
			summary = getenv("GITHUB_STEP_SUMMARY")
		}
		if summary != "" {
			if err := appendFile(summary, githubSummary(res, rep)); err != nil {
				return err
			}
		}
	}
	if c.buildDir != "" {
		if err := site.Build(ctx, c.jekyll, res.Site, c.buildDir, c.siteBase); err != nil {
			return err
		}
	}
	if c.asJSON {
		data, err := canonjson.Marshal(out)
		if err != nil {
			return err
		}
		_, err = stdout.Write(data)
		return err
	}
	return nil
}

// githubSource sets up the GitHub mode: the config, the publishers'
// keyring, the output folder's cache and a client that uses it.
func githubSource(c *config, getenv func(string) string, stderr io.Writer) (*registry.GitHubSource, error) {
	cfg, err := registry.LoadGitHubConfig(c.configPath)
	if err != nil {
		return nil, err
	}
	kring := c.keyring
	if kring == "" {
		kring = cfg.PublisherKeys
	}
	if kring == "" {
		return nil, usageError{errors.New("no publishers' keyring: give --keyring or publisher_keys in the config")}
	}
	kr, err := pgpsign.LoadKeyringFile(kring)
	if err != nil {
		return nil, fmt.Errorf("loading publishers' keyring: %w", err)
	}
	apiURL := c.apiURL
	if apiURL == "" {
		apiURL = getenv("GITHUB_API_URL")
	}
	token := getenv("GITHUB_TOKEN")
	if token == "" {
		token = getenv("UDOS_GITHUB_TOKEN")
	}
	cache, err := registry.OpenGitHubCache(c.out)
	if err != nil {
		return nil, err
	}
	client, err := ghrelease.New(ghrelease.Config{
		APIURL: apiURL, Token: token, ETags: cache, UserAgent: "udos-dist-registry-gen",
		Logf: func(f string, a ...any) { fmt.Fprintf(stderr, "registry-gen: "+f+"\n", a...) },
	})
	if err != nil {
		return nil, err
	}
	return &registry.GitHubSource{Config: cfg, Client: client, Cache: cache, Keyring: kr, Workers: c.workers}, nil
}

func githubSummary(res *registry.Result, rep registry.GitHubReport) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### Library registry\n\n")
	fmt.Fprintf(&b, "| | |\n|---|---|\n| serial | %d |\n| expires | %s |\n| libraries | %d |\n| versions | %d |\n",
		res.Serial, res.Expires.UTC().Format(time.RFC3339), res.Libraries, res.Versions)
	fmt.Fprintf(&b, "| repositories | %d |\n| releases | %d |\n| downloaded | %d |\n| from cache | %d |\n| requests | %d (%d answered 304) |\n",
		len(rep.Repositories), rep.Releases, rep.Downloaded, rep.Cached, rep.Stats.Requests, rep.Stats.NotModified)
	if res.Signer != "" {
		fmt.Fprintf(&b, "| signed by | `%s` |\n", res.Signer)
	}
	if len(res.Problems) > 0 {
		fmt.Fprintf(&b, "\n#### Left out\n\n")
		for _, p := range res.Problems {
			fmt.Fprintf(&b, "- %s\n", p)
		}
	}
	return b.String()
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("writing summary: %w", err)
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return fmt.Errorf("writing summary: %w", err)
	}
	return f.Close()
}
