package main

// The GitHub mode of registry-gen: the packages come from GitHub Releases of
// the repositories a registry config names (internal/registry, github*.go).
//
//	registry-gen --github --config registry.json --out OUT
//	             [--api-url URL] [--sign-key FILE] [--keyring FILE]
//	             [--expires 720h] [--time RFC3339] [--no-site]
//	             [--build-site DIR --baseurl /repo] [--jekyll PATH]
//	             [--summary FILE] [--workers 4] [--json]
//
// Environment: GITHUB_TOKEN (or UDOS_GITHUB_TOKEN) authenticates,
// GITHUB_API_URL is the API base (as Actions sets it), UDOS_SIGN_KEY may hold
// the armored catalog signing key instead of --sign-key (so a secret never
// touches the disk), UDOS_SIGN_PASSPHRASE unlocks it, GITHUB_STEP_SUMMARY
// receives the Markdown summary.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/fredbook/udos-dist/internal/ghrelease"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/registry"
	"github.com/fredbook/udos-dist/internal/site"
)

// runGitHubMode runs `registry-gen --github …` with an interruptible context.
func runGitHubMode(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runGitHub(ctx, args, stdout, stderr, getenv)
}

func isGitHubMode(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == "--github" || a == "-github" || a == "--github=true" || a == "-github=true" {
			return true
		}
	}
	return false
}

func runGitHub(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	err := generateGitHub(ctx, args, stdout, stderr, getenv)
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "registry-gen: %v\nrun 'registry-gen --github --help' for usage\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "registry-gen: %v\n", err)
		return 1
	}
}

func generateGitHub(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("registry-gen --github", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		github                                  bool
		configPath, out, apiURL, signKey, kring string
		at, buildDir, baseURL, jekyll, summary  string
		noSite, asJSON                          bool
		expires                                 time.Duration
		workers                                 int
	)
	fs.BoolVar(&github, "github", true, "read the packages from GitHub Releases (this mode)")
	fs.StringVar(&configPath, "config", "", "registry config (JSON: repositories, owners, publisher_keys, expires)")
	fs.StringVar(&out, "out", "", "registry folder to write; its previous catalog.json and .registry-cache.json are the cache")
	fs.StringVar(&apiURL, "api-url", "", "GitHub API base URL (default $GITHUB_API_URL, else https://api.github.com)")
	fs.StringVar(&signKey, "sign-key", "", "armored private key file to sign catalog.json with (or $UDOS_SIGN_KEY; passphrase $UDOS_SIGN_PASSPHRASE)")
	fs.StringVar(&kring, "keyring", "", "publishers' armored public keys (default: the config's publisher_keys)")
	fs.DurationVar(&expires, "expires", 0, "how long the catalog stays valid (default: the config's, else 720h)")
	fs.StringVar(&at, "time", "", "generation time, RFC 3339 (default: now)")
	fs.BoolVar(&noSite, "no-site", false, "do not write OUT/site (the Jekyll source)")
	fs.StringVar(&buildDir, "build-site", "", "also run `jekyll build` of OUT/site into this folder")
	fs.StringVar(&baseURL, "baseurl", "", "Jekyll base URL for --build-site (\"/repo\" for project pages)")
	fs.StringVar(&jekyll, "jekyll", "jekyll", "jekyll program for --build-site")
	fs.StringVar(&summary, "summary", "", "append a Markdown summary to this file (default $GITHUB_STEP_SUMMARY)")
	fs.IntVar(&workers, "workers", 4, "repositories read at the same time")
	fs.BoolVar(&asJSON, "json", false, "print the result as JSON on stdout")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	switch {
	case fs.NArg() > 0:
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	case configPath == "":
		return usageError{errors.New("--config is required in the GitHub mode")}
	case out == "":
		return usageError{errors.New("--out is required")}
	case expires < 0:
		return usageError{fmt.Errorf("--expires %s must be positive", expires)}
	case workers < 1:
		return usageError{fmt.Errorf("--workers %d must be at least 1", workers)}
	case buildDir != "" && noSite:
		return usageError{errors.New("--build-site needs the site (drop --no-site)")}
	}
	opts := registry.GitHubOptions{OutDir: out, Expires: expires, Site: !noSite, Log: stderr, Workers: workers}
	if at != "" {
		t, err := time.Parse(time.RFC3339, at)
		if err != nil {
			return usageError{fmt.Errorf("--time: %v", err)}
		}
		opts.Now = t
	}
	cfg, err := registry.LoadGitHubConfig(configPath)
	if err != nil {
		return err
	}
	opts.Config = cfg
	if kring == "" {
		kring = cfg.PublisherKeys
	}
	if kring == "" {
		return usageError{errors.New("no publishers' keyring: give --keyring or publisher_keys in the config")}
	}
	if opts.Keyring, err = pgpsign.LoadKeyringFile(kring); err != nil {
		return fmt.Errorf("loading publishers' keyring: %w", err)
	}
	pass := []byte(getenv("UDOS_SIGN_PASSPHRASE"))
	switch {
	case signKey != "":
		if opts.Signer, err = pgpsign.LoadSignerFile(signKey, pass); err != nil {
			return fmt.Errorf("loading signing key: %w", err)
		}
	case strings.TrimSpace(getenv("UDOS_SIGN_KEY")) != "":
		if opts.Signer, err = pgpsign.LoadSigner([]byte(getenv("UDOS_SIGN_KEY")), pass); err != nil {
			return fmt.Errorf("loading signing key from UDOS_SIGN_KEY: %w", err)
		}
	}
	if apiURL == "" {
		apiURL = getenv("GITHUB_API_URL")
	}
	token := getenv("GITHUB_TOKEN")
	if token == "" {
		token = getenv("UDOS_GITHUB_TOKEN")
	}
	cache, err := registry.NewGitHubCache(out)
	if err != nil {
		return err
	}
	client, err := ghrelease.New(ghrelease.Config{
		APIURL: apiURL, Token: token, ETags: cache, UserAgent: "udos-dist-registry-gen",
		Logf: func(f string, a ...any) { fmt.Fprintf(stderr, "registry-gen: "+f+"\n", a...) },
	})
	if err != nil {
		return err
	}
	res, err := registry.GenerateFromGitHub(ctx, client, cache, opts)
	if err != nil {
		return err
	}
	if err := res.WriteSummary(stderr); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "registry-gen: %d repositories, %d releases, %d packages downloaded, %d from the cache, %d requests (%d answered 304), %d left out\n",
		len(res.Repositories), res.Releases, res.Downloaded, res.Cached, res.Stats.Requests, res.Stats.NotModified, len(res.Problems))
	if buildDir != "" {
		if err := site.Build(ctx, jekyll, res.Site, buildDir, baseURL); err != nil {
			return err
		}
	}
	if summary == "" {
		summary = getenv("GITHUB_STEP_SUMMARY")
	}
	if summary != "" {
		if err := appendFile(summary, githubSummary(res)); err != nil {
			return err
		}
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	return nil
}

func githubSummary(res *registry.GitHubResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### Library registry\n\n")
	fmt.Fprintf(&b, "| | |\n|---|---|\n| serial | %d |\n| expires | %s |\n| libraries | %d |\n| versions | %d |\n",
		res.Serial, res.Expires.UTC().Format(time.RFC3339), res.Libraries, res.Versions)
	fmt.Fprintf(&b, "| repositories | %d |\n| releases | %d |\n| downloaded | %d |\n| from cache | %d |\n| requests | %d (%d answered 304) |\n",
		len(res.Repositories), res.Releases, res.Downloaded, res.Cached, res.Stats.Requests, res.Stats.NotModified)
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
