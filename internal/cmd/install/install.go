// Package install implements `udos-lib install`: libraries by name and
// constraint from the registry, a package file, or (no arguments) exactly
// what library/lock.json pins.
package install

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fredbook/udos-dist/internal/cmd/cmdutil"
	"github.com/fredbook/udos-dist/internal/cmd/factory"
	"github.com/fredbook/udos-dist/internal/iostreams"
	"github.com/fredbook/udos-dist/internal/library"
	"github.com/fredbook/udos-dist/internal/udospkg"
)

// Options of one install.
type Options struct {
	cmdutil.Session

	Specs []library.Spec
	File  string
	Pre   bool
}

// NewCmd builds the command; runF replaces the action in tests.
func NewCmd(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{Session: cmdutil.NewSession(f, f.Begin)}
	cmd := &cobra.Command{
		Use:   "install [NAME[@CONSTRAINT]... | FILE.udos-package]",
		Short: "Install libraries and their dependencies",
		Long: `NAME is an id (lib-grid-extensions), a namespace (@uDOS/grid-extensions) or a
short name (grid-extensions); CONSTRAINT is a version or range (1.2.3, ^1.2, ~1.2).
A path ending in .udos-package installs that file; its dependencies come from
the registry. Without arguments, installs exactly what library/lock.json pins.`,
		Example: `  udos-lib install grid-extensions@^1.2
  udos-lib install @uDOS/pathfinding@~1.0 grid-math
  udos-lib install grid-math@^1.2 --pre    # 1.2.0-beta.1 too
  udos-lib install ./lib-grid-math-v1.1.1.udos-package
  udos-lib install            # exactly what library/lock.json pins`,
		RunE: cmdutil.RunE(f, opts, func(args []string) error {
			opts.Specs, opts.File = nil, ""
			for _, a := range args {
				if strings.HasSuffix(a, udospkg.Extension) || strings.ContainsRune(a, '/') && !strings.HasPrefix(a, "@") {
					if opts.File != "" || len(args) > 1 {
						return cmdutil.Usagef("install: a package file must be the only argument")
					}
					opts.File = a
					continue
				}
				s, err := library.ParseSpec(a)
				if err != nil {
					return cmdutil.Usagef("install: %v", err)
				}
				opts.Specs = append(opts.Specs, s)
			}
			return nil
		}, runF, run),
	}
	cmdutil.PreFlag(cmd, &opts.Pre)
	return cmd
}

func run(opts *Options) error {
	return Apply(opts.IO, opts.JSON, opts.Begin, func(c *library.Client) ([]library.Change, error) {
		c.Prerelease = opts.Pre
		switch {
		case opts.File != "":
			return c.InstallFile(opts.Ctx, opts.File)
		case len(opts.Specs) > 0:
			return c.Install(opts.Ctx, opts.Specs)
		default:
			return c.InstallLocked(opts.Ctx)
		}
	})
}

// Apply runs one transaction in a session of begin and reports its changes
// (shared by install, update, uninstall, rollback).
func Apply(io *iostreams.IOStreams, asJSON bool, begin func() (*library.Client, func(), error), tx func(*library.Client) ([]library.Change, error)) error {
	return cmdutil.WithClient(begin, func(c *library.Client) error {
		changes, err := tx(c)
		if err != nil {
			return err
		}
		return Print(io, asJSON, changes)
	})
}

// Print reports changes: JSON on stdout, or one line per change on stderr.
func Print(io *iostreams.IOStreams, asJSON bool, changes []library.Change) error {
	n := 0
	err := cmdutil.PrintChanges(io.Out, io.ErrOut, asJSON, changes, func(c library.Change) string {
		switch c.Action {
		case "installed":
			n++
			return fmt.Sprintf("installed %s %s -> %s", c.ID, c.To, c.Path)
		case "updated", "downgraded":
			n++
			return fmt.Sprintf("%s %s %s -> %s", c.Action, c.ID, c.From, c.To)
		case "removed":
			n++
			return fmt.Sprintf("removed %s %s", c.ID, c.From)
		}
		return ""
	})
	if err == nil && !asJSON && n == 0 {
		fmt.Fprintln(io.ErrOut, "nothing to do: everything is already installed as asked")
	}
	return err
}
