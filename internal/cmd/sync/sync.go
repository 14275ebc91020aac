// Package sync implements `udos-lib sync`: fetch the catalog with
// If-None-Match, verify it (signature, serial, expiry) and cache it.
package sync

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fredbook/udos-dist/internal/cmd/cmdutil"
	"github.com/fredbook/udos-dist/internal/cmd/factory"
	"github.com/fredbook/udos-dist/internal/library"
)

// Options of one sync.
type Options struct {
	cmdutil.Session
}

// Result is the --json output.
type Result struct {
	Registry  string `json:"registry"`
	Serial    int64  `json:"serial"`
	Libraries int    `json:"libraries"`
	Changed   bool   `json:"changed"`
	Signed    bool   `json:"signed"`
	Signer    string `json:"signer,omitempty"`
	Requests  int    `json:"requests"`
	Expires   string `json:"expires,omitempty"`
}

// NewCmd builds the command; runF replaces the action in tests.
func NewCmd(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{Session: cmdutil.NewSession(f, f.Begin)}
	return &cobra.Command{
		Use:     "sync",
		Short:   "Fetch, verify and cache the registry's catalog",
		Example: "  udos-lib sync\n  udos-lib --registry https://fredbook.github.io/udos-registry sync",
		Args:    cmdutil.NoArgs,
		RunE:    cmdutil.RunE(f, opts, nil, runF, run),
	}
}

func run(opts *Options) error {
	return cmdutil.WithCatalog(opts.Ctx, opts.Begin, true, func(c *library.Client, sr *library.SyncResult) error {
		return report(opts, c.Registry, sr)
	})
}

func report(opts *Options, registry string, sr *library.SyncResult) error {
	cat := sr.Catalog
	res := Result{Registry: registry, Serial: cat.Serial, Libraries: len(cat.Libraries), Changed: sr.Changed, Requests: sr.Requests}
	if cat.Signer != nil {
		res.Signed, res.Signer = true, cat.Signer.Fingerprint
	}
	if !cat.Expires.IsZero() {
		res.Expires = cat.Expires.UTC().Format("2006-01-02T15:04:05Z")
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, res)
	}
	state := "updated"
	if !sr.Changed {
		state = "unchanged"
	}
	sig := "unsigned (no keyring)"
	if res.Signed {
		sig = "signed by " + res.Signer
	}
	fmt.Fprintf(opts.IO.ErrOut, "catalog %s: serial %d, %d libraries, %s, %s (%d request(s))\n", state, cat.Serial, len(cat.Libraries), sig, orNever(res.Expires), sr.Requests)
	return nil
}

func orNever(exp string) string {
	if exp == "" {
		return "no expiry"
	}
	return "expires " + exp
}
