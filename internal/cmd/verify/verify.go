// Package verify implements `udos-lib verify FILE [--manifest M]
// [--signature FILE.asc]`: one downloaded artifact against its signed
// manifest or SHA256SUMS and its own signature, with a one-line verdict
// on stdout and exit 0 (good) or 1 (anything else).
package verify

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fredbook/udos-dist/internal/cmd/cmdutil"
	"github.com/fredbook/udos-dist/internal/cmd/factory"
	"github.com/fredbook/udos-dist/internal/iostreams"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/verify"
)

// Options of one verify.
type Options struct {
	IO      *iostreams.IOStreams
	JSON    bool
	Keyring func() (*pgpsign.Keyring, error)
	Input   verify.Input
}

// NewCmd builds the command; runF replaces the action in tests.
func NewCmd(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Keyring: func() (*pgpsign.Keyring, error) {
		c, err := f.Client()
		if err != nil {
			return nil, err
		}
		return c.Trust.Keyring, nil
	}}
	cmd := &cobra.Command{
		Use:   "verify FILE [--manifest M] [--signature FILE.asc]",
		Short: "Check a downloaded artifact's digests and signature",
		Long: `FILE (a variant archive, ISO, package, SBOM, manifest…) must carry a good
signature by a key of --keyring (UDOS_KEYRING): FILE.asc, or --signature. Its
size and digests are compared with --manifest (a release manifest or a
SHA256SUMS/SHA512SUMS list), or else with every such list beside FILE that
names it and with FILE.sha256/FILE.sha512; each list must itself be signed.
The verdict is one line on stdout; the exit code is 0 when it is OK, 1 when not.`,
		Example: `  udos-lib verify udos-core-slim-v1.4.6.tar.gz
  udos-lib verify udos-sonic-v1.4.6.iso --manifest v1.4.6-manifest.json
  udos-lib verify --json lib-grid-math-v1.1.1.udos-package --manifest SHA256SUMS`,
		Args: cmdutil.ExactArgs(1, "usage: verify FILE [--manifest M] [--signature FILE.asc]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Input.File, opts.JSON = args[0], f.Global.JSON
			return cmdutil.Run(opts, runF, run)
		},
	}
	cmd.Flags().StringVar(&opts.Input.Manifest, "manifest", "", "the release manifest or SHA256SUMS/SHA512SUMS `FILE` that lists it")
	cmd.Flags().StringVar(&opts.Input.Signature, "signature", "", "FILE's detached signature (default FILE.asc)")
	return cmd
}

func run(o *Options) error {
	kr, err := o.Keyring()
	if err != nil {
		return err
	}
	o.Input.Keyring = kr
	v, err := verify.File(o.Input)
	if err != nil && !errors.Is(err, verify.ErrFailed) {
		return err
	}
	if o.JSON {
		out := map[string]any{"ok": err == nil, "file": o.Input.File}
		if err != nil {
			out["error"] = err.Error()
		} else {
			out["verdict"] = v
		}
		if werr := cmdutil.WriteJSON(o.IO.Out, out); werr != nil {
			return werr
		}
	} else if err != nil {
		fmt.Fprintln(o.IO.Out, err.Error())
	} else {
		fmt.Fprintln(o.IO.Out, v.Line())
	}
	if err != nil {
		return cmdutil.ErrSilent
	}
	return nil
}
