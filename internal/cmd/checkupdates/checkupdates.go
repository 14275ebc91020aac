// Package checkupdates implements `udos-lib check-updates`.
package checkupdates

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fredbook/udos-dist/internal/cmd/cmdutil"
	"github.com/fredbook/udos-dist/internal/cmd/factory"
	"github.com/fredbook/udos-dist/internal/library"
)

// Options of one check.
type Options struct {
	cmdutil.Session
	Pre bool
}

// NewCmd builds the command; runF replaces the action in tests.
func NewCmd(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{Session: cmdutil.NewSession(f, f.Inspect)}
	cmd := &cobra.Command{
		Use:   "check-updates",
		Short: "Show installed libraries with newer versions",
		Long: `WANTED is what 'update --all' would install: the newest versions the requested
constraints allow while every installed library's dependencies still hold.
LATEST is the newest published version (pre-releases only with --pre).`,
		Example: "  udos-lib check-updates\n  udos-lib check-updates --json\n  udos-lib check-updates --pre",
		Args:    cmdutil.NoArgs,
		RunE:    cmdutil.RunE(f, opts, nil, runF, run),
	}
	cmdutil.PreFlag(cmd, &opts.Pre)
	return cmd
}

func run(opts *Options) error {
	return cmdutil.WithClient(opts.Begin, func(c *library.Client) error {
		c.Prerelease = opts.Pre
		ups, err := c.CheckUpdates(opts.Ctx)
		if err != nil {
			return err
		}
		return printUpdates(opts, ups)
	})
}

func printUpdates(opts *Options, ups []library.UpdateInfo) error {
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, cmdutil.NonNil(ups))
	}
	n := 0
	tw := cmdutil.NewTable(opts.IO.Out)
	for _, u := range ups {
		if !u.Update && u.Wanted == u.Current {
			continue
		}
		if n == 0 {
			fmt.Fprintln(tw, "NAME\tCURRENT\tWANTED\tLATEST")
		}
		n++
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Namespace, u.Current, u.Wanted, u.Latest)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if n == 0 {
		fmt.Fprintf(opts.IO.ErrOut, "all %d installed libraries are up to date\n", len(ups))
	}
	return nil
}
