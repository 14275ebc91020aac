// Command dist-release builds udos-dist's own release (internal/selfrelease)
// from this checkout: every program for Linux and macOS on amd64 and
// arm64, reproducibly, with archives, SBOM, SHA256SUMS/SHA512SUMS,
// signatures and install.sh. The release workflow runs it on v* tags.
//
//	dist-release -version 0.9.0 -out dist -key release-key.asc [-base-url URL]
//
// The key's passphrase, if any, comes from UDOS_DIST_KEY_PASSPHRASE;
// SOURCE_DATE_EPOCH fixes the archives' timestamps (default: the commit's).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/fredbook/udos-dist/internal/ghrelease"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/selfrelease"
	"github.com/fredbook/udos-dist/internal/sourcedate"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "dist-release: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	version := flag.String("version", "", "the release version (0.9.0 or v0.9.0)")
	out := flag.String("out", "dist", "output folder")
	key := flag.String("key", "", "armored private signing key file (none: unsigned, no install.sh)")
	base := flag.String("base-url", "", "where install.sh downloads from (default the GitHub release of -repo)")
	repo := flag.String("repo", "fredbook/udos-dist", "OWNER/NAME, for the default -base-url")
	platforms := flag.String("platforms", "", "comma-separated GOOS-GOARCH (default linux and darwin, amd64 and arm64)")
	digests := flag.Bool("write-action-digests", false, "record the action programs' archives in actions/*/prebuilt.sha256 (commit them before tagging)")
	publish := flag.Bool("publish", false, "publish the files as the GitHub release v<version> of -repo (GITHUB_API_URL, GITHUB_TOKEN)")
	flag.Parse()
	if *version == "" {
		return fmt.Errorf("-version is required")
	}
	v := strings.TrimPrefix(*version, "v")
	cfg := selfrelease.Config{Version: v, Module: ".", Output: *out, Env: os.Environ(), Log: os.Stderr,
		BaseURL: *base}
	if cfg.BaseURL == "" {
		cfg.BaseURL = "https://github.com/" + *repo + "/releases/download/v" + v
	}
	t, err := sourceDate()
	if err != nil {
		return err
	}
	cfg.SourceDate = t
	if *platforms != "" {
		for _, p := range strings.Split(*platforms, ",") {
			os, arch, ok := strings.Cut(strings.TrimSpace(p), "-")
			if !ok {
				return fmt.Errorf("-platforms: %q is not GOOS-GOARCH", p)
			}
			cfg.Platforms = append(cfg.Platforms, selfrelease.Platform{OS: os, Arch: arch})
		}
	}
	if *key != "" {
		s, err := pgpsign.LoadSignerFile(*key, []byte(os.Getenv("UDOS_DIST_KEY_PASSPHRASE")))
		if err != nil {
			return err
		}
		pub, err := s.PublicKey()
		if err != nil {
			return err
		}
		cfg.Signer, cfg.PublicKey = s, pub
	}
	res, err := selfrelease.Build(context.Background(), cfg)
	if err != nil {
		return err
	}
	for _, f := range res.Files {
		fmt.Println(f)
	}
	if *digests {
		paths, err := selfrelease.WriteActionDigests(".", res, selfrelease.ActionPrograms)
		if err != nil {
			return err
		}
		for _, p := range paths {
			fmt.Fprintf(os.Stderr, "wrote %s\n", p)
		}
	}
	if !*publish {
		return nil
	}
	r, err := ghrelease.ParseRepo(*repo)
	if err != nil {
		return err
	}
	gc := ghrelease.ConfigFromEnv(os.Getenv)
	gc.UserAgent = "udos-dist-release"
	gc.Logf = func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	gh, err := ghrelease.New(gc)
	if err != nil {
		return err
	}
	req := ghrelease.PublishRequest{Owner: r.Owner, Repo: r.Name, Tag: "v" + v, Name: "udos-dist " + v,
		Body: "udos-dist " + v + ": install with `sh install.sh` (checks the signature and digests), or see docs/INSTALLATION.md."}
	for _, f := range res.Files {
		req.Assets = append(req.Assets, ghrelease.AssetFile{Path: f})
	}
	pr, err := gh.Publish(context.Background(), req)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "published %s (%d assets)\n", pr.HTMLURL, len(pr.Assets))
	return nil
}

// sourceDate is SOURCE_DATE_EPOCH, else the HEAD commit's time.
func sourceDate() (time.Time, error) {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		return sourcedate.Parse(s)
	}
	b, err := exec.Command("git", "log", "-1", "--format=%ct").Output()
	if err != nil {
		return time.Time{}, fmt.Errorf("no SOURCE_DATE_EPOCH and no git commit time: %w", err)
	}
	return sourcedate.Parse(strings.TrimSpace(string(b)))
}
