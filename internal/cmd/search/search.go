// Package search implements `udos-lib search QUERY`: every word of the
// query must appear in a library's id, namespace, name, description or tags.
package search

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fredbook/udos-dist/internal/catalog"
	"github.com/fredbook/udos-dist/internal/cmd/cmdutil"
	"github.com/fredbook/udos-dist/internal/cmd/factory"
	"github.com/fredbook/udos-dist/internal/library"
)

// Options of one search.
type Options struct {
	cmdutil.Session
	Query string
}

// Result is one match in --json output.
type Result struct {
	ID          string   `json:"id"`
	Namespace   string   `json:"namespace"`
	Name        string   `json:"name"`
	Version     string   `json:"version"`
	Description string   `json:"description"`
	Tags        []string `json:"tags"`
}

// NewCmd builds the command; runF replaces the action in tests.
func NewCmd(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{Session: cmdutil.NewSession(f, f.Browse)}
	return &cobra.Command{
		Use:     "search QUERY...",
		Short:   "Search the catalog by id, name, description and tags",
		Example: "  udos-lib search grid\n  udos-lib search --json path finding",
		Args:    cmdutil.MinArgs(1, "give a query (e.g. 'udos-lib search grid')"),
		RunE: cmdutil.RunE(f, opts, func(args []string) error {
			opts.Query = strings.Join(args, " ")
			return nil
		}, runF, run),
	}
}

func run(opts *Options) error {
	return cmdutil.WithCatalog(opts.Ctx, opts.Begin, false, func(_ *library.Client, sr *library.SyncResult) error {
		return printMatches(opts, library.Search(sr.Catalog, opts.Query))
	})
}

func printMatches(opts *Options, libs []catalog.Library) error {
	if opts.JSON {
		out := []Result{}
		for _, l := range libs {
			out = append(out, Result{ID: l.ID, Namespace: l.Namespace, Name: l.Name, Version: l.Version, Description: l.Description, Tags: cmdutil.NonNil(l.Tags)})
		}
		return cmdutil.WriteJSON(opts.IO.Out, out)
	}
	if len(libs) == 0 {
		fmt.Fprintf(opts.IO.ErrOut, "no library matches %q\n", opts.Query)
		return nil
	}
	tw := cmdutil.NewTable(opts.IO.Out)
	fmt.Fprintln(tw, "NAME\tVERSION\tDESCRIPTION")
	for _, l := range libs {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", l.Namespace, l.Version, l.Description)
	}
	return tw.Flush()
}
