// Package core implements `udos-lib core`: install, upgrade, rollback and
// status of uDOS itself (`@uDOS/core`) from signed release manifests. The
// logic is internal/coreinst; this package parses, prints and maps errors.
package core

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/spf13/cobra"

	"github.com/fredbook/udos-dist/internal/cmd/cmdutil"
	"github.com/fredbook/udos-dist/internal/cmd/factory"
	"github.com/fredbook/udos-dist/internal/coreinst"
	"github.com/fredbook/udos-dist/internal/ghrelease"
	"github.com/fredbook/udos-dist/internal/iostreams"
	"github.com/fredbook/udos-dist/internal/library"
)

// Options shared by the core subcommands.
type Options struct {
	IO   *iostreams.IOStreams
	Ctx  context.Context
	JSON bool
	// Prefix is --prefix, else --root/UDOS_ROOT.
	Prefix string
	// New builds the installer for the prefix.
	New func(prefix string) (*coreinst.Installer, error)

	Variant, Version string // install
	Source           string // --from
	To               string // upgrade, rollback
	Check, Force     bool   // upgrade
	Offline          bool   // status
}

const sourceHelp = `SOURCE is a GitHub repository OWNER/NAME (default ` + coreinst.DefaultRepository + `; API base from
GITHUB_API_URL), an http(s) URL prefix or a local folder holding v<version>-manifest.json,
its .asc and the assets. The manifest's signature is checked against --keyring
(UDOS_KEYRING), then each archive's size, sha256, sha512 and signature, before
anything is unpacked. See docs/CORE.md.`

// NewCmd builds the `core` group; runF replaces every subcommand's action
// in tests (it receives the subcommand's name).
func NewCmd(f *factory.Factory, runF func(sub string, o *Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, New: func(prefix string) (*coreinst.Installer, error) { return newInstaller(f, prefix) }}
	group := &cobra.Command{
		Use:   "core",
		Short: "Install, upgrade and roll back uDOS itself (@uDOS/core)",
		Long: `udos-lib core manages a uDOS installation (a prefix) from the signed release
manifests: each version in its own folder, the active one switched atomically,
the user's library/, memory/ and vault/ outside the versions. The prefix is the
--root of every other command.

` + sourceHelp,
		SuggestionsMinimumDistance: 2,
		Example: `  udos-lib core install core-slim@1.4.6 --prefix ~/udos
  udos-lib --root ~/udos core upgrade --check
  udos-lib --root ~/udos core rollback
  udos-lib --root ~/udos core status --json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			return cmdutil.Usagef("unknown command %q for %q%s", args[0], cmd.CommandPath(), cmdutil.DidYouMean(cmd, args[0]))
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmdutil.Usagef("core: which one? install, upgrade, rollback or status (see 'udos-lib core --help')")
		},
	}
	// run wraps a subcommand's action: the prefix, the context, runF.
	run := func(name string, action func(*Options) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			opts.Ctx, opts.JSON = f.Ctx, f.Global.JSON
			if opts.Prefix == "" {
				root, err := f.RootDir()
				if err != nil {
					return err
				}
				opts.Prefix = root
			}
			abs, err := filepath.Abs(opts.Prefix)
			if err != nil {
				return fmt.Errorf("prefix %q: %w", opts.Prefix, err)
			}
			opts.Prefix = abs
			if runF != nil {
				return runF(name, opts)
			}
			return action(opts)
		}
	}
	prefixFlag := func(c *cobra.Command) *cobra.Command {
		c.Flags().StringVar(&opts.Prefix, "prefix", "", "the uDOS prefix `DIR` (default --root, UDOS_ROOT)")
		return c
	}

	install := prefixFlag(&cobra.Command{
		Use:   "install VARIANT[@VERSION] --prefix DIR [--from SOURCE]",
		Short: "Install a variant (core-slim, wizard-full, dev-complete) into a prefix",
		Long:  "Without @VERSION, the newest release of SOURCE.\n\n" + sourceHelp,
		Example: `  udos-lib core install core-slim --prefix ~/udos
  udos-lib core install wizard-full@1.4.6 --prefix /opt/udos --from https://mirror.example.org/udos
  udos-lib core install dev-complete --prefix ./udos --from ./releases`,
		Args: cmdutil.ExactArgs(1, "usage: core install VARIANT[@VERSION] --prefix DIR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Variant, opts.Version, _ = strings.Cut(args[0], "@")
			if opts.Variant == "" || opts.Variant == "sonic-iso" {
				return cmdutil.Usagef("core install: %q: VARIANT is core-slim, wizard-full or dev-complete (sonic-iso is written to a stick, see docs/SONIC-STANDALONE.md)", args[0])
			}
			return run("install", runInstall)(cmd, args)
		},
	})
	install.Flags().StringVar(&opts.Source, "from", "", "where releases come from (`SOURCE`)")

	upgrade := prefixFlag(&cobra.Command{
		Use:   "upgrade [--to VERSION] [--check] [--from SOURCE] [--force]",
		Short: "Upgrade to a newer release (installed libraries are checked first)",
		Long: `Every installed library's @uDOS/core constraint is checked against the new
version; one that would break blocks the upgrade (named with its constraint)
unless --force. The release's upgrade notes are shown.`,
		Example: `  udos-lib --root ~/udos core upgrade --check
  udos-lib --root ~/udos core upgrade --to 1.4.6`,
		Args: cmdutil.NoArgs,
		RunE: run("upgrade", runUpgrade),
	})
	upgrade.Flags().StringVar(&opts.To, "to", "", "the `VERSION` to upgrade to (default: the newest)")
	upgrade.Flags().BoolVar(&opts.Check, "check", false, "only report what an upgrade would do")
	upgrade.Flags().StringVar(&opts.Source, "from", "", "where releases come from (`SOURCE`; default: the install's)")
	upgrade.Flags().BoolVar(&opts.Force, "force", false, "upgrade even if installed libraries' @uDOS/core constraints exclude the new version")

	rollback := prefixFlag(&cobra.Command{
		Use:     "rollback [--to VERSION]",
		Short:   "Switch back to a kept version (offline)",
		Example: "  udos-lib --root ~/udos core rollback\n  udos-lib --root ~/udos core rollback --to 1.4.3",
		Args:    cmdutil.NoArgs,
		RunE:    run("rollback", runRollback),
	})
	rollback.Flags().StringVar(&opts.To, "to", "", "the kept `VERSION` (default: the one active before)")

	status := prefixFlag(&cobra.Command{
		Use:     "status [--json] [--offline]",
		Short:   "Show the installed version and variant, kept versions and newer releases",
		Example: "  udos-lib --root ~/udos core status --json",
		Args:    cmdutil.NoArgs,
		RunE:    run("status", runStatus),
	})
	status.Flags().BoolVar(&opts.Offline, "offline", false, "do not look for newer releases")
	status.Flags().StringVar(&opts.Source, "from", "", "where to look for newer releases (`SOURCE`; default: the install's)")

	group.AddCommand(install, upgrade, rollback, status)
	return group
}

// newInstaller wires the installer to the factory's keyring, fetcher,
// GitHub client and terminal.
func newInstaller(f *factory.Factory, prefix string) (*coreinst.Installer, error) {
	g := *f.Global
	g.Root = prefix
	ff := *f
	ff.Global = &g
	c, err := ff.Client()
	if err != nil {
		return nil, err
	}
	gh := func() (*ghrelease.Client, error) { return f.GitHub(nil) }
	return &coreinst.Installer{
		Paths:       coreinst.Paths{Prefix: prefix},
		Keyring:     c.Trust.Keyring,
		Fetcher:     c.Fetcher,
		OpenSource:  func(s string) (coreinst.Source, error) { return coreinst.ParseSource(s, c.Fetcher, gh) },
		Now:         f.Now,
		Hook:        f.Hook,
		Info:        func(m string) { fmt.Fprintln(f.IO.ErrOut, m) },
		Progress:    func(label string, total int64) coreinst.ProgressSink { return f.IO.NewProgress(label, total) },
		LockTimeout: c.LockTimeout,
		Libraries:   func() (coreinst.Libraries, error) { return &libraries{client: ff.Client}, nil },
	}, nil
}

// libraries is the library client as `core upgrade` uses it: a fresh
// client for each step, planning for the new core's version.
type libraries struct {
	client func() (*library.Client, error)
}

func (l *libraries) open(core *semver.Version) (*library.Client, error) {
	c, err := l.client()
	if err != nil {
		return nil, err
	}
	c.CoreVersion = core
	return c, nil
}

func (l *libraries) Compatible(ctx context.Context, core *semver.Version, ids []string) (map[string]string, error) {
	c, err := l.open(core)
	if err != nil {
		return nil, err
	}
	if c.Registry == "" {
		return nil, fmt.Errorf("no registry is configured (--registry, UDOS_REGISTRY) to look for compatible versions")
	}
	if err := c.Open(true); err != nil {
		return nil, err
	}
	ups, err := c.CheckUpdates(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, u := range ups {
		out[u.ID] = u.Wanted
	}
	return out, nil
}

func (l *libraries) Update(ctx context.Context, core *semver.Version, ids []string) error {
	c, err := l.open(core)
	if err != nil {
		return err
	}
	if err := c.Begin(ctx); err != nil {
		return err
	}
	defer c.End()
	_, err = c.Update(ctx, ids, false)
	return err
}

func (l *libraries) Recover(ctx context.Context) error {
	c, err := l.open(nil)
	if err != nil {
		return err
	}
	if err := c.Begin(ctx); err != nil {
		return err
	}
	c.End()
	return nil
}

// withInstaller runs fn with the prefix's installer, locked and recovered,
// and releases the lock however fn returns.
func withInstaller(o *Options, fn func(in *coreinst.Installer) error) error {
	in, err := o.New(o.Prefix)
	if err != nil {
		return err
	}
	if _, err := in.Begin(o.Ctx); err != nil {
		return err
	}
	defer in.End()
	return fn(in)
}

func runInstall(o *Options) error {
	return withInstaller(o, func(in *coreinst.Installer) error {
		res, err := in.Install(o.Ctx, coreinst.InstallOptions{Variant: o.Variant, Version: o.Version, Source: o.Source})
		if err != nil {
			return explain(err)
		}
		return printResult(o, res)
	})
}

func runUpgrade(o *Options) error {
	return withInstaller(o, func(in *coreinst.Installer) error {
		res, err := in.Upgrade(o.Ctx, coreinst.UpgradeOptions{To: o.To, Source: o.Source, Check: o.Check, Force: o.Force})
		if errors.Is(err, coreinst.ErrBlocked) {
			var lines []string
			for _, b := range res.Blocked {
				lines = append(lines, "  "+b.String())
			}
			return fmt.Errorf("upgrading to %s would break %d installed librar%s:\n%s\nthe catalog has no version of them that works with %s (checked with --registry/UDOS_REGISTRY): uninstall them, wait for one, or pass --force",
				res.To, len(res.Blocked), plural(len(res.Blocked), "y", "ies"), strings.Join(lines, "\n"), res.To)
		}
		if err != nil {
			return explain(err)
		}
		return printResult(o, res)
	})
}

func runRollback(o *Options) error {
	return withInstaller(o, func(in *coreinst.Installer) error {
		res, err := in.Rollback(o.Ctx, coreinst.RollbackOptions{To: o.To})
		if err != nil {
			return err
		}
		return printResult(o, res)
	})
}

func runStatus(o *Options) error {
	return withInstaller(o, func(in *coreinst.Installer) error {
		st, err := in.Status(o.Ctx, !o.Offline, o.Source)
		if err != nil {
			return err
		}
		if o.JSON {
			return cmdutil.WriteJSON(o.IO.Out, st)
		}
		w := o.IO.Out
		if !st.Installed {
			fmt.Fprintf(w, "nothing installed in %s\n", st.Prefix)
			return nil
		}
		fmt.Fprintf(w, "%s %s in %s\n", st.Variant, st.Version, st.Prefix)
		for _, k := range st.Kept {
			mark := " "
			if k.Active {
				mark = "*"
			}
			fmt.Fprintf(w, "%s %-12s %-8s installed %s\n", mark, k.Variant, k.Version, k.InstalledAt.Format(time.RFC3339))
		}
		switch {
		case st.NewerError != "":
			fmt.Fprintf(o.IO.ErrOut, "udos-lib: warning: could not look for newer releases: %s\n", st.NewerError)
		case len(st.Newer) > 0:
			fmt.Fprintf(w, "newer releases: %s (udos-lib core upgrade)\n", strings.Join(st.Newer, ", "))
		case !o.Offline:
			fmt.Fprintln(w, "up to date")
		}
		return nil
	})
}

func printResult(o *Options, res *coreinst.Result) error {
	if o.JSON {
		return cmdutil.WriteJSON(o.IO.Out, res)
	}
	w := o.IO.ErrOut
	for _, n := range res.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	for _, m := range res.Warnings {
		fmt.Fprintf(w, "udos-lib: warning: %s\n", m)
	}
	switch res.Action {
	case "installed":
		fmt.Fprintf(w, "installed %s %s in %s\n", res.Variant, res.To, o.Prefix)
	case "upgraded":
		for _, u := range res.Libraries {
			fmt.Fprintf(w, "updated %s %s -> %s (for @uDOS/core %s)\n", u.ID, u.From, u.To, res.To)
		}
		fmt.Fprintf(w, "upgraded %s %s -> %s\n", res.Variant, res.From, res.To)
	case "rolled-back":
		fmt.Fprintf(w, "rolled back %s %s -> %s\n", res.Variant, res.From, res.To)
	case "unchanged":
		fmt.Fprintf(w, "%s %s is already active\n", res.Variant, res.To)
	case "up-to-date":
		fmt.Fprintf(w, "%s %s is the newest release\n", res.Variant, res.To)
	case "available":
		fmt.Fprintf(w, "%s %s -> %s is available", res.Variant, res.From, res.To)
		for _, u := range res.Libraries {
			fmt.Fprintf(w, "; %s %s -> %s with it", u.ID, u.From, u.To)
		}
		if len(res.Blocked) > 0 {
			fmt.Fprintf(w, "; it would break:\n")
			for _, b := range res.Blocked {
				fmt.Fprintf(w, "  %s\n", b)
			}
		} else {
			fmt.Fprintln(w)
		}
	}
	return nil
}

// explain adds what to do to a refusal.
func explain(err error) error {
	if errors.Is(err, coreinst.ErrUntrusted) {
		return fmt.Errorf("%w\nnothing was changed; check the source and the keyring (--keyring, UDOS_KEYRING)", err)
	}
	return err
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
