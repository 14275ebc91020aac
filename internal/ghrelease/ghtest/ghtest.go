// Package ghtest gives a test the GitHub a release publishes to: the
// replica (internal/ghreplica) on a loopback server, holding the
// repositories the test names, a token with push access, and a ghrelease
// client of it.
package ghtest

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/ghrelease"
	"github.com/fredbook/udos-dist/internal/ghreplica"
)

// Token is the token of the account Serve gives push access.
const Token = "test-token"

// Env is a served replica and a client of it.
type Env struct {
	Replica *ghreplica.Replica
	Server  *httptest.Server
	Client  *ghrelease.Client
}

// URL is the replica's API base URL (GITHUB_API_URL).
func (e *Env) URL() string { return e.Server.URL }

// Options says what Serve puts in the replica and how its client is made.
type Options struct {
	// Config tunes the replica; ghreplica's zero value is GitHub's
	// defaults, secondary rate limit included.
	Config ghreplica.Config
	// Login is the account Token belongs to.
	Login string
	// Push lists what Token may write to (ghreplica.Token.Push); nil is
	// every repository.
	Push []string
	// Orgs are owners created as organisations; the other owners of Repos
	// are users.
	Orgs []string
	// Repos are the OWNER/NAME repositories to create.
	Repos []string
	// Client, when set, adjusts the client's configuration before the
	// client is made.
	Client func(*ghrelease.Config)
}

// Serve serves, until the test ends, a replica made as o says, where Token
// is o.Login's. Client uses that token, with backoffs short enough that
// injected faults cost the test little time.
func Serve(t testing.TB, o Options) *Env {
	t.Helper()
	rep := ghreplica.New(o.Config)
	for _, org := range o.Orgs {
		rep.AddOwner(org, true)
	}
	push := o.Push
	if push == nil {
		push = []string{"*"}
	}
	rep.AddToken(Token, ghreplica.Token{Login: o.Login, Push: push})
	for _, full := range o.Repos {
		owner, name, _ := strings.Cut(full, "/")
		if err := rep.AddRepo(owner, name, ghreplica.RepoSpec{}); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(rep)
	t.Cleanup(srv.Close)
	cfg := ghrelease.Config{APIURL: srv.URL, Token: Token, HTTPClient: srv.Client(),
		BaseBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}
	if o.Client != nil {
		o.Client(&cfg)
	}
	gh, err := ghrelease.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &Env{Replica: rep, Server: srv, Client: gh}
}

// New serves a replica made with cfg that holds the organisation fredbook
// with its repository uDOS, where Token is login's, with push access to
// fredbook's repositories: the GitHub a uDOS release publishes to.
func New(t testing.TB, cfg ghreplica.Config, login string) *Env {
	t.Helper()
	return Serve(t, Options{Config: cfg, Login: login, Push: []string{"fredbook/*"},
		Orgs: []string{"fredbook"}, Repos: []string{"fredbook/uDOS"}})
}
