// Package update implements `udos-lib update NAME... | --all`.
package update

import (
	"github.com/spf13/cobra"

	"github.com/fredbook/udos-dist/internal/cmd/cmdutil"
	"github.com/fredbook/udos-dist/internal/cmd/factory"
	"github.com/fredbook/udos-dist/internal/cmd/install"
	"github.com/fredbook/udos-dist/internal/library"
)

// Options of one update.
type Options struct {
	cmdutil.Session
	All   bool
	Names []string
	Pre   bool
}

// NewCmd builds the command; runF replaces the action in tests.
func NewCmd(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{Session: cmdutil.NewSession(f, f.Begin)}
	cmd := &cobra.Command{
		Use:   "update [NAME... | --all]",
		Short: "Update libraries within their requested constraints",
		Long: `Moves the named libraries (or all with --all) to the newest versions their
requested constraints allow (see check-updates); other libraries keep their
versions unless a dependency forces a change. To cross a constraint, install
NAME@NEWCONSTRAINT.`,
		Example: "  udos-lib update grid-extensions\n  udos-lib update --all",
		RunE: cmdutil.RunE(f, opts, func(args []string) error {
			opts.Names = args
			if opts.All == (len(args) > 0) {
				return cmdutil.Usagef("update: name libraries or pass --all (not both)")
			}
			return nil
		}, runF, run),
	}
	cmd.Flags().BoolVar(&opts.All, "all", false, "update every installed library")
	cmdutil.PreFlag(cmd, &opts.Pre)
	return cmd
}

func run(opts *Options) error {
	return install.Apply(opts.IO, opts.JSON, opts.Begin, func(c *library.Client) ([]library.Change, error) {
		c.Prerelease = opts.Pre
		return c.Update(opts.Ctx, opts.Names, opts.All)
	})
}
