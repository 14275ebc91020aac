// Package rollback implements `udos-lib rollback NAME --to VERSION`.
package rollback

import (
	"github.com/spf13/cobra"

	"github.com/fredbook/udos-dist/internal/cmd/cmdutil"
	"github.com/fredbook/udos-dist/internal/cmd/factory"
	"github.com/fredbook/udos-dist/internal/cmd/install"
	"github.com/fredbook/udos-dist/internal/library"
)

// Options of one rollback.
type Options struct {
	cmdutil.Session
	Name string
	To   string
}

// NewCmd builds the command; runF replaces the action in tests.
func NewCmd(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{Session: cmdutil.NewSession(f, f.Begin)}
	cmd := &cobra.Command{
		Use:     "rollback NAME --to VERSION",
		Short:   "Switch a library back to an earlier version (offline if it was installed before)",
		Example: "  udos-lib rollback grid-extensions --to 1.2.0",
		RunE: cmdutil.RunE(f, opts, func(args []string) error {
			if len(args) != 1 || opts.To == "" {
				return cmdutil.Usagef("rollback: usage: rollback NAME --to VERSION")
			}
			opts.Name = args[0]
			return nil
		}, runF, run),
	}
	cmd.Flags().StringVar(&opts.To, "to", "", "the `VERSION` to go back to")
	return cmd
}

func run(opts *Options) error {
	return install.Apply(opts.IO, opts.JSON, opts.Begin, func(c *library.Client) ([]library.Change, error) {
		return c.Rollback(opts.Ctx, opts.Name, opts.To)
	})
}
