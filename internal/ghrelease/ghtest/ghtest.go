// Package ghtest gives a test the GitHub a release publishes to: the
// replica (internal/ghreplica) on a loopback server, holding fredbook/uDOS,
// and a ghrelease client of it.
package ghtest

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/ghrelease"
	"github.com/fredbook/udos-dist/internal/ghreplica"
)

// Token is the token of the account New gives push access.
const Token = "test-token"

// Env is a served replica and a client of it.
type Env struct {
	Replica *ghreplica.Replica
	Server  *httptest.Server
	Client  *ghrelease.Client
}

// New serves, until the test ends, a replica made with cfg that holds the
// organisation fredbook with its repository uDOS, and where Token is
// login's, with push access to fredbook's repositories; Client uses that
// token, with backoffs short enough that injected faults cost the test
// little time.
func New(t testing.TB, cfg ghreplica.Config, login string) *Env {
	t.Helper()
	rep := ghreplica.New(cfg)
	rep.AddOwner("fredbook", true)
	rep.AddToken(Token, ghreplica.Token{Login: login, Push: []string{"fredbook/*"}})
	if err := rep.AddRepo("fredbook", "uDOS", ghreplica.RepoSpec{}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rep)
	t.Cleanup(srv.Close)
	gh, err := ghrelease.New(ghrelease.Config{APIURL: srv.URL, Token: Token, HTTPClient: srv.Client(),
		BaseBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return &Env{Replica: rep, Server: srv, Client: gh}
}
