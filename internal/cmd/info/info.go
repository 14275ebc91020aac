// Package info implements `udos-lib info NAME[@VERSION]`.
package info

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/spf13/cobra"

	"github.com/fredbook/udos-dist/internal/catalog"
	"github.com/fredbook/udos-dist/internal/cmd/cmdutil"
	"github.com/fredbook/udos-dist/internal/cmd/factory"
	"github.com/fredbook/udos-dist/internal/libid"
	"github.com/fredbook/udos-dist/internal/library"
)

// Options of one info.
type Options struct {
	cmdutil.Session
	Name    string
	Version string
	Pre     bool
}

// Details is the --json output.
type Details struct {
	catalog.Library
	// Selected is the version described by dependencies below (the one
	// asked for, or the newest).
	Selected     string            `json:"selected_version"`
	SelectedDeps map[string]string `json:"selected_dependencies"`
	Installed    string            `json:"installed,omitempty"`
	Stored       []string          `json:"stored_versions"`
}

// NewCmd builds the command; runF replaces the action in tests.
func NewCmd(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{Session: cmdutil.NewSession(f, f.Browse)}
	cmd := &cobra.Command{
		Use:     "info NAME[@VERSION]",
		Example: "  udos-lib info grid-extensions\n  udos-lib info grid-extensions@1.2.0 --json\n  udos-lib info grid-extensions --pre   # the newest pre-release's dependencies",
		Args:    cmdutil.ExactArgs(1, "name exactly one library"),
		Short:   "Show a library's details, versions and dependencies",
		RunE: cmdutil.RunE(f, opts, func(args []string) error {
			name, ver, err := libid.SplitSpec(args[0])
			if err != nil {
				return cmdutil.Usagef("info: %v", err)
			}
			opts.Name, opts.Version = name, strings.TrimPrefix(ver, "v")
			return nil
		}, runF, run),
	}
	cmd.Flags().BoolVar(&opts.Pre, "pre", false, "describe the newest version counting pre-releases (npm's includePrerelease)")
	return cmd
}

func run(opts *Options) error {
	return cmdutil.WithCatalog(opts.Ctx, opts.Begin, false, func(c *library.Client, sr *library.SyncResult) error {
		return describe(opts, c, sr.Catalog)
	})
}

func describe(opts *Options, c *library.Client, cat *library.Catalog) error {
	lib, err := cat.Lookup(opts.Name)
	if err != nil {
		return err
	}
	d := Details{Library: *lib, Selected: lib.Version, SelectedDeps: lib.Dependencies}
	for _, v := range c.Paths.StoredVersions(lib.ID) {
		d.Stored = append(d.Stored, v.Original())
	}
	if opts.Pre && opts.Version == "" {
		// The newest published version, pre-releases included (yanked
		// ones are never "the newest").
		var newest *semver.Version
		for _, x := range lib.Versions {
			if v, err := semver.NewVersion(x.Version); err == nil && !x.Yanked && (newest == nil || v.GreaterThan(newest)) {
				newest, d.Selected, d.SelectedDeps = v, x.Version, x.Dependencies
			}
		}
	}
	if opts.Version != "" {
		v, ok := lib.FindVersion(opts.Version)
		if !ok {
			var all []string
			for _, x := range lib.Versions {
				all = append(all, x.Version)
			}
			return fmt.Errorf("%s has no version %s (published: %s)", lib.ID, opts.Version, strings.Join(all, ", "))
		}
		d.Selected, d.SelectedDeps = v.Version, v.Dependencies
	}
	if lock, err := c.Paths.ReadLock(); err == nil {
		d.Installed = lock.Libraries[lib.ID].Version
	}
	if d.SelectedDeps == nil {
		d.SelectedDeps = map[string]string{}
	}
	d.Stored = cmdutil.NonNil(d.Stored)
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, d)
	}
	w := opts.IO.Out
	fmt.Fprintf(w, "%s (%s)\n", lib.Name, lib.Namespace)
	if lib.Description != "" {
		fmt.Fprintf(w, "  %s\n", lib.Description)
	}
	fmt.Fprintf(w, "id:          %s\n", lib.ID)
	fmt.Fprintf(w, "latest:      %s\n", lib.Version)
	if opts.Pre && d.Selected != lib.Version && opts.Version == "" {
		fmt.Fprintf(w, "pre-release: %s\n", d.Selected)
	}
	if d.Installed != "" {
		fmt.Fprintf(w, "installed:   %s\n", d.Installed)
	} else {
		fmt.Fprintf(w, "installed:   no\n")
	}
	for _, kv := range [][2]string{{"author", lib.Author}, {"license", lib.License}, {"homepage", lib.Homepage}, {"repository", lib.Repository}, {"path", lib.InstallPath}} {
		if kv[1] != "" {
			fmt.Fprintf(w, "%-13s%s\n", kv[0]+":", kv[1])
		}
	}
	if len(lib.Tags) > 0 {
		fmt.Fprintf(w, "tags:        %s\n", strings.Join(lib.Tags, ", "))
	}
	fmt.Fprintf(w, "dependencies of %s:\n", d.Selected)
	names := slices.Sorted(maps.Keys(d.SelectedDeps))
	if len(names) == 0 {
		fmt.Fprintln(w, "  (none)")
	}
	for _, n := range names {
		fmt.Fprintf(w, "  %s %s\n", n, d.SelectedDeps[n])
	}
	fmt.Fprintln(w, "versions:")
	for _, v := range lib.Versions {
		mark := ""
		if v.Yanked {
			mark += " (yanked)"
		}
		if v.Version == d.Installed {
			mark += " (installed)"
		}
		pub := ""
		if !v.PublishedAt.IsZero() {
			pub = v.PublishedAt.UTC().Format("2006-01-02")
		}
		fmt.Fprintf(w, "  %-10s %s%s\n", v.Version, pub, mark)
	}
	return nil
}
