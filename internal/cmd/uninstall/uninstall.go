// Package uninstall implements `udos-lib uninstall NAME [--force]`.
package uninstall

import (
	"github.com/spf13/cobra"

	"github.com/fredbook/udos-dist/internal/cmd/cmdutil"
	"github.com/fredbook/udos-dist/internal/cmd/factory"
	"github.com/fredbook/udos-dist/internal/cmd/install"
	"github.com/fredbook/udos-dist/internal/library"
)

// Options of one uninstall.
type Options struct {
	cmdutil.Session
	Force bool
	Name  string
}

// NewCmd builds the command; runF replaces the action in tests.
func NewCmd(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{Session: cmdutil.NewSession(f, f.Begin)}
	cmd := &cobra.Command{
		Use:     "uninstall NAME",
		Example: "  udos-lib uninstall grid-extensions\n  udos-lib uninstall pathfinding --force",
		Args:    cmdutil.ExactArgs(1, "name exactly one library"),
		Short:   "Remove a library (kept in the store for rollback)",
		Long: `Refused while another installed library depends on NAME, unless --force.
Dependencies nothing else needs any more are removed too. The library's
config and its store copies are kept.`,
		RunE: cmdutil.RunE(f, opts, func(args []string) error {
			opts.Name = args[0]
			return nil
		}, runF, run),
	}
	cmd.Flags().BoolVar(&opts.Force, "force", false, "remove even if other libraries depend on it")
	return cmd
}

func run(opts *Options) error {
	return install.Apply(opts.IO, opts.JSON, opts.Begin, func(c *library.Client) ([]library.Change, error) {
		return c.Uninstall(opts.Name, opts.Force)
	})
}
