// Package scripttest holds the testscript commands more than one command's
// script tests use, so that each script language word means one thing.
package scripttest

import (
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/fredbook/udos-dist/internal/pgpsign"
)

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
