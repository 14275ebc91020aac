// Command gh-replica serves the in-repo GitHub REST replica
// (internal/ghreplica) on a loopback address, for manual runs and act-based
// tests: point GITHUB_API_URL at the printed URL. Tests in another process
// inspect and steer it through /_replica/state, /_replica/requests and
// /_replica/faults (see internal/ghreplica).
//
//	gh-replica -addr 127.0.0.1:8089 -token test-token -repo fredbook/uDOS -repo fredbook/registry
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/fredbook/udos-dist/internal/ghrelease"
	"github.com/fredbook/udos-dist/internal/ghreplica"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gh-replica:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("gh-replica", flag.ContinueOnError)
	fs.SetOutput(stdout)
	addr := fs.String("addr", "127.0.0.1:0", "loopback address to listen on")
	login := fs.String("login", "github-actions", "login of the token owner")
	immutable := fs.Bool("immutable", false, "make published releases immutable")
	urlFile := fs.String("url-file", "", "write the base URL to this file once listening")
	rateLimit := fs.Int("rate-limit", 5000, "primary rate limit per token and hour")
	perMinute := fs.Int("secondary-per-minute", 80, "content-creating requests per minute before the secondary limit (negative: off)")
	limitStatus := fs.Int("rate-limit-status", 403, "status of rate-limit answers: 403 or 429")
	direct := fs.Bool("direct-downloads", false, "answer asset downloads with the bytes (200) instead of a redirect to storage")
	var tokens, readTokens, repos, archived, orgs listFlag
	fs.Var(&tokens, "token", "token with push access to every repository (repeatable)")
	fs.Var(&readTokens, "integration-read-token", "installation token without contents: write: writes answer 403 (repeatable)")
	fs.Var(&repos, "repo", "OWNER/NAME repository to create (repeatable)")
	fs.Var(&archived, "archived-repo", "OWNER/NAME archived (read-only) repository to create (repeatable)")
	fs.Var(&orgs, "org", "owner to create as an organization (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		return fmt.Errorf("parsing -addr %q: %w", *addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("-addr %q is not a loopback address", *addr)
	}
	if *limitStatus != 403 && *limitStatus != 429 {
		return fmt.Errorf("-rate-limit-status %d: want 403 or 429", *limitStatus)
	}
	r := ghreplica.New(ghreplica.Config{ImmutableReleases: *immutable, RateLimit: *rateLimit,
		ContentCreationPerMinute: *perMinute, RateLimitStatus: *limitStatus, DirectDownloads: *direct})
	for _, o := range orgs {
		r.AddOwner(o, true)
	}
	for _, t := range tokens {
		r.AddToken(t, ghreplica.Token{Login: *login, Push: []string{"*"}})
	}
	for _, t := range readTokens {
		r.AddToken(t, ghreplica.Token{Login: *login, Integration: true})
	}
	for _, set := range []struct {
		flag  string
		repos []string
		spec  ghreplica.RepoSpec
	}{{"-repo", repos, ghreplica.RepoSpec{}}, {"-archived-repo", archived, ghreplica.RepoSpec{Archived: true}}} {
		for _, full := range set.repos {
			repo, err := ghrelease.ParseRepo(full)
			if err != nil {
				return fmt.Errorf("%s: %w", set.flag, err)
			}
			if err := r.AddRepo(repo.Owner, repo.Name, set.spec); err != nil {
				return err
			}
		}
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	base := "http://" + l.Addr().String()
	fmt.Fprintln(stdout, base)
	if *urlFile != "" {
		if err := os.WriteFile(*urlFile, []byte(base+"\n"), 0o644); err != nil {
			return fmt.Errorf("writing -url-file: %w", err)
		}
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
