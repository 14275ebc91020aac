// Package pack implements `udos-lib pack NAME|DIR [--output FILE]
// [--sign-key FILE]`: a reproducible .udos-package from a library source
// folder or from an installed library, optionally signed.
package pack

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/fredbook/udos-dist/internal/cmd/cmdutil"
	"github.com/fredbook/udos-dist/internal/cmd/factory"
	"github.com/fredbook/udos-dist/internal/library"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/sourcedate"
	"github.com/fredbook/udos-dist/internal/udospkg"
)

// Options of one pack.
type Options struct {
	cmdutil.Session
	Client     func() (*library.Client, error)
	Getenv     func(string) string
	Target     string
	Output     string
	SignKey    string
	SourceDate string
}

// Result is the --json output.
type Result struct {
	File      string `json:"file"`
	ID        string `json:"id"`
	Version   string `json:"version"`
	Size      int64  `json:"size"`
	SHA256    string `json:"sha256"`
	SHA512    string `json:"sha512"`
	Signature string `json:"signature,omitempty"`
	Signer    string `json:"signer,omitempty"`
}

// NewCmd builds the command; runF replaces the action in tests.
func NewCmd(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{Session: cmdutil.NewSession(f, f.Begin), Client: f.Client, Getenv: f.Getenv}
	cmd := &cobra.Command{
		Use:     "pack (NAME | DIR)",
		Example: "  udos-lib pack ./grid-math --output dist/\n  UDOS_SIGN_PASSPHRASE=… udos-lib pack ./grid-math --sign-key release.key",
		Args:    cmdutil.ExactArgs(1, "name one library or source folder"),
		Short:   "Build a reproducible .udos-package (and sign it)",
		Long: `DIR is a library source folder (manifest.json, lib/, …); NAME an installed
library. --output is a file or a folder (default: the current folder).
--sign-key is an armored private key; its passphrase comes from
UDOS_SIGN_PASSPHRASE. Entry times come from SOURCE_DATE_EPOCH (default 0).`,
		RunE: cmdutil.RunE(f, opts, func(args []string) error {
			opts.Target = args[0]
			return nil
		}, runF, run),
	}
	cmd.Flags().StringVarP(&opts.Output, "output", "o", ".", "output `FILE` or folder")
	cmd.Flags().StringVar(&opts.SignKey, "sign-key", "", "armored private key `FILE` to write FILE.asc with")
	return cmd
}

func run(opts *Options) error {
	src, err := cmdutil.SourceDir(opts.Begin, opts.Target)
	if err != nil {
		return err
	}
	var signer *pgpsign.Signer
	if opts.SignKey != "" {
		signer, err = pgpsign.LoadSignerFile(opts.SignKey, []byte(opts.Getenv("UDOS_SIGN_PASSPHRASE")))
		if err != nil {
			return fmt.Errorf("loading --sign-key %s: %w (a protected key's passphrase comes from UDOS_SIGN_PASSPHRASE)", opts.SignKey, err)
		}
	}
	po := udospkg.PackOptions{}
	if t, ok, err := sourcedate.Lookup(opts.Getenv); err != nil {
		return err
	} else if ok {
		po.MTime = t
	}
	res, err := udospkg.PackFile(src, opts.Output, po)
	if err != nil {
		return err
	}
	out := opts.Output
	if fi, err := os.Stat(out); err == nil && fi.IsDir() {
		out = filepath.Join(out, res.FileName)
	}
	r := Result{File: out, ID: res.Manifest.ID, Version: res.Manifest.Version, Size: res.Size, SHA256: res.SHA256, SHA512: res.SHA512}
	if signer != nil {
		asc, err := pgpsign.SignFile(signer, out)
		if err != nil {
			return fmt.Errorf("signing %s: %w", out, err)
		}
		r.Signature, r.Signer = asc, signer.Fingerprint()
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, r)
	}
	fmt.Fprintln(opts.IO.Out, r.File)
	fmt.Fprintf(opts.IO.ErrOut, "packed %s@%s: %d bytes, sha256 %s\n", r.ID, r.Version, r.Size, r.SHA256)
	if r.Signature != "" {
		fmt.Fprintf(opts.IO.ErrOut, "signed by %s: %s\n", r.Signer, r.Signature)
	}
	return nil
}
