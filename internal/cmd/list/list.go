// Package list implements `udos-lib list [--available]`.
package list

import (
	"fmt"
	"sort"

	"github.com/spf13/cobra"

	"github.com/fredbook/udos-dist/internal/cmd/cmdutil"
	"github.com/fredbook/udos-dist/internal/cmd/factory"
	"github.com/fredbook/udos-dist/internal/library"
)

// Options of one list.
type Options struct {
	cmdutil.Session
	Available bool
}

// Item is one line of --json output.
type Item struct {
	ID          string `json:"id"`
	Namespace   string `json:"namespace"`
	Version     string `json:"version"`
	InstallPath string `json:"install_path"`
	Direct      bool   `json:"direct"`
	Requested   string `json:"requested,omitempty"`
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	// Installed is the installed version (list --available only).
	Installed string `json:"installed,omitempty"`
	// Status is "ok" or "broken" (installed libraries only); Problems
	// says why: a missing or misdirected link, an incomplete store copy,
	// an unmet dependency.
	Status   string   `json:"status,omitempty"`
	Problems []string `json:"problems,omitempty"`
}

// NewCmd builds the command; runF replaces the action in tests.
func NewCmd(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{Session: cmdutil.NewSession(f, f.Inspect)}
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List installed libraries, or every library in the catalog",
		Example: "  udos-lib list\n  udos-lib list --available --json",
		Args:    cmdutil.NoArgs,
		RunE:    cmdutil.RunE(f, opts, nil, runF, run),
	}
	cmd.Flags().BoolVar(&opts.Available, "available", false, "list the catalog instead")
	return cmd
}

func run(opts *Options) error {
	return cmdutil.WithClient(opts.Begin, func(c *library.Client) error { return list(opts, c) })
}

func list(opts *Options, c *library.Client) error {
	lock, err := c.Paths.ReadLock()
	if err != nil {
		return err
	}
	items := []Item{}
	if opts.Available {
		sr, err := c.LoadCatalog(opts.Ctx, false)
		if err != nil {
			return err
		}
		for _, l := range sr.Catalog.Libraries {
			e := lock.Libraries[l.ID]
			items = append(items, Item{ID: l.ID, Namespace: l.Namespace, Version: l.Version, InstallPath: l.InstallPath,
				Name: l.Name, Description: l.Description, Installed: e.Version, Direct: e.Direct, Requested: e.Requested})
		}
	}
	problems := 0
	if !opts.Available {
		for _, st := range c.Statuses(lock) {
			e := st.Entry
			it := Item{ID: st.ID, Namespace: e.Namespace, Version: e.Version, InstallPath: e.InstallPath, Direct: e.Direct, Requested: e.Requested,
				Status: "ok", Problems: st.Problems}
			if len(st.Problems) > 0 {
				it.Status = "broken"
				problems += len(st.Problems)
			}
			items = append(items, it)
		}
	}
	if err := printItems(opts, items); err != nil {
		return err
	}
	if problems > 0 {
		// Like npm ls: the listing is printed, and the exit code says the
		// tree is not what the lock file promises.
		for _, it := range items {
			for _, p := range it.Problems {
				fmt.Fprintf(opts.IO.ErrOut, "udos-lib: %s %s: %s\n", it.ID, it.Version, p)
			}
		}
		return fmt.Errorf("%d problem(s) with what is installed: 'udos-lib install' (no arguments) restores links and store copies, 'udos-lib install NAME' adds a missing dependency", problems)
	}
	return nil
}

func printItems(opts *Options, items []Item) error {
	sort.Slice(items, func(i, j int) bool { return items[i].ID < items[j].ID })
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, items)
	}
	if len(items) == 0 {
		if opts.Available {
			fmt.Fprintln(opts.IO.ErrOut, "the catalog is empty")
		} else {
			fmt.Fprintln(opts.IO.ErrOut, "no library is installed (see 'udos-lib list --available')")
		}
		return nil
	}
	tw := cmdutil.NewTable(opts.IO.Out)
	if opts.Available {
		fmt.Fprintln(tw, "NAME\tLATEST\tINSTALLED\tDESCRIPTION")
		for _, it := range items {
			inst := it.Installed
			if inst == "" {
				inst = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", it.Namespace, it.Version, inst, it.Description)
		}
	} else {
		fmt.Fprintln(tw, "NAME\tVERSION\tPATH\tREQUESTED\tSTATUS")
		for _, it := range items {
			req := it.Requested
			if !it.Direct {
				req = "(dependency)"
			}
			status := it.Status
			if len(it.Problems) > 0 {
				status = "BROKEN" // the problems follow on stderr
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", it.Namespace, it.Version, it.InstallPath, req, status)
		}
	}
	return tw.Flush()
}
