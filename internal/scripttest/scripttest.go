// Package scripttest holds the testscript commands more than one command's
// script tests use, so that each script language word means one thing.
package scripttest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/fredbook/udos-dist/internal/pgpsign"
)

// ClientEnv sets what a script that runs udos-lib needs: $EXAMPLES, the
// example libraries at examples (made absolute); a config home in the work
// folder, so that the user's own config is never read; a short retry
// backoff and the HTTP timeout httpTimeout, so that injected faults cost
// little time.
func ClientEnv(env *testscript.Env, examples, httpTimeout string) error {
	abs, err := filepath.Abs(examples)
	if err != nil {
		return fmt.Errorf("the example libraries %s: %w", examples, err)
	}
	env.Setenv("EXAMPLES", abs)
	env.Setenv("XDG_CONFIG_HOME", filepath.Join(env.WorkDir, ".config"))
	env.Setenv("UDOS_LIB_RETRY_BACKOFF", "10ms")
	env.Setenv("UDOS_LIB_HTTP_TIMEOUT", httpTimeout)
	return nil
}

// Corrupt is the script command `corrupt FILE`: it flips one byte in the
// middle of FILE, so that a digest or a signature over it no longer holds.
func Corrupt(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: corrupt FILE")
	}
	p := ts.MkAbs(args[0])
	b, err := os.ReadFile(p)
	ts.Check(err)
	b[len(b)/2] ^= 0xff
	ts.Check(os.WriteFile(p, b, 0o644))
}

// Sign is the script command `sign KEY FILE [PASSPHRASE]`: it writes
// FILE.asc, a detached signature by the armored private key KEY.
func Sign(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 || len(args) > 3 {
		ts.Fatalf("usage: sign KEY FILE [PASSPHRASE]")
	}
	var pass []byte
	if len(args) == 3 {
		pass = []byte(args[2])
	}
	s, err := pgpsign.LoadSignerFile(ts.MkAbs(args[0]), pass)
	ts.Check(err)
	_, err = pgpsign.SignFile(s, ts.MkAbs(args[1]))
	ts.Check(err)
}

// HTTPServe is the script command `httpserve DIR [norange]`: a loopback
// file server on DIR for the rest of the script, its address in $URL;
// norange makes it one that ignores Range requests and answers with the
// whole file.
func HTTPServe(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: httpserve DIR [norange]")
	}
	fs := http.FileServer(http.Dir(ts.MkAbs(args[0])))
	h := http.Handler(fs)
	if len(args) == 2 && args[1] == "norange" {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Header.Del("Range")
			fs.ServeHTTP(w, r)
		})
	}
	srv := httptest.NewServer(h)
	ts.Defer(srv.Close)
	ts.Setenv("URL", srv.URL)
}
