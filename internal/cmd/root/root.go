// Package root is the udos-lib command line on cobra: the global flags
// (persistent, so accepted before or after the command), the command table,
// help, completion and version, and the exit codes (0 success, 1 failure,
// 2 usage error, 130 interrupted).
package root

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	bridgecmd "github.com/fredbook/udos-dist/internal/cmd/bridge"
	"github.com/fredbook/udos-dist/internal/cmd/checkupdates"
	"github.com/fredbook/udos-dist/internal/cmd/cmdutil"
	configcmd "github.com/fredbook/udos-dist/internal/cmd/config"
	"github.com/fredbook/udos-dist/internal/cmd/core"
	"github.com/fredbook/udos-dist/internal/cmd/factory"
	"github.com/fredbook/udos-dist/internal/cmd/info"
	"github.com/fredbook/udos-dist/internal/cmd/install"
	"github.com/fredbook/udos-dist/internal/cmd/list"
	"github.com/fredbook/udos-dist/internal/cmd/pack"
	"github.com/fredbook/udos-dist/internal/cmd/rollback"
	"github.com/fredbook/udos-dist/internal/cmd/search"
	"github.com/fredbook/udos-dist/internal/cmd/share"
	soniccmd "github.com/fredbook/udos-dist/internal/cmd/sonic"
	"github.com/fredbook/udos-dist/internal/cmd/sync"
	"github.com/fredbook/udos-dist/internal/cmd/uninstall"
	"github.com/fredbook/udos-dist/internal/cmd/update"
	verifycmd "github.com/fredbook/udos-dist/internal/cmd/verify"
	"github.com/fredbook/udos-dist/internal/cmd/version"
	wizardcmd "github.com/fredbook/udos-dist/internal/cmd/wizard"
	"github.com/fredbook/udos-dist/internal/iostreams"
	"github.com/fredbook/udos-dist/internal/store"
)

// Exit codes.
const (
	ExitOK    = 0
	ExitError = 1
	ExitUsage = 2
	// ExitInterrupted is the shells' code for a command ended by SIGINT
	// (128+2): Ctrl-C, or SIGTERM, stopped it before it changed anything,
	// or after it finished a transaction it had started.
	ExitInterrupted = 130
)

// Builder makes one command from the shared factory.
type Builder func(f *factory.Factory) *cobra.Command

// Commands lists the subcommands in help order. A new command is one
// package under internal/cmd with a NewCmd(f, runF) and one line here.
var Commands = []Builder{
	func(f *factory.Factory) *cobra.Command { return search.NewCmd(f, nil) },
	func(f *factory.Factory) *cobra.Command { return info.NewCmd(f, nil) },
	func(f *factory.Factory) *cobra.Command { return list.NewCmd(f, nil) },
	func(f *factory.Factory) *cobra.Command { return install.NewCmd(f, nil) },
	func(f *factory.Factory) *cobra.Command { return update.NewCmd(f, nil) },
	func(f *factory.Factory) *cobra.Command { return checkupdates.NewCmd(f, nil) },
	func(f *factory.Factory) *cobra.Command { return uninstall.NewCmd(f, nil) },
	func(f *factory.Factory) *cobra.Command { return rollback.NewCmd(f, nil) },
	func(f *factory.Factory) *cobra.Command { return configcmd.NewCmd(f, nil) },
	func(f *factory.Factory) *cobra.Command { return pack.NewCmd(f, nil) },
	func(f *factory.Factory) *cobra.Command { return sync.NewCmd(f, nil) },
	func(f *factory.Factory) *cobra.Command { return share.NewCmd(f, nil) },
	func(f *factory.Factory) *cobra.Command { return core.NewCmd(f, nil) },
	func(f *factory.Factory) *cobra.Command { return verifycmd.NewCmd(f, nil) },
	func(f *factory.Factory) *cobra.Command { return version.NewCmd(f) },
	func(f *factory.Factory) *cobra.Command { return bridgecmd.NewCmd(f) },
	func(f *factory.Factory) *cobra.Command { return soniccmd.NewCmd(f) },
	wizardcmd.NewCmd,
}

const footer = `
Exit codes: 0 success, 1 failure, 2 usage error, 130 interrupted.
Environment: UDOS_ROOT, UDOS_REGISTRY, UDOS_KEYRING (see docs/LIBRARY-MANAGEMENT.md).
`

// NewCmdRoot builds the command tree on f. Global flags are persistent:
// accepted before or after the command name.
func NewCmdRoot(f *factory.Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "udos-lib",
		Short: "Manage uDOS libraries",
		Long: `udos-lib installs, updates and rolls back versioned, signed uDOS libraries
from a registry's signed catalog, with their dependencies.`,
		Example: `  udos-lib search grid
  udos-lib install grid-extensions@^1.2
  udos-lib --root ~/uDOS list --json`,
		Version:       version.Current().String(),
		SilenceErrors: true,
		SilenceUsage:  true,
		// Completion scripts come from cobra; say so in help.
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: false},
	}
	g := f.Global
	pf := root.PersistentFlags()
	pf.StringVar(&g.Root, "root", "", "the uDOS installation `DIR` (env UDOS_ROOT; default: current folder)")
	pf.StringVar(&g.Registry, "registry", "", "the registry: an http(s) `URL` or a folder with catalog.json (env UDOS_REGISTRY)")
	pf.StringVar(&g.Keyring, "keyring", "", "trusted armored public keys `FILE` (env UDOS_KEYRING); unsigned or badly signed catalogs and packages are then refused")
	pf.BoolVar(&g.RequireSignatures, "require-signatures", false, "refuse to work without a keyring")
	pf.BoolVar(&g.JSON, "json", false, "machine-readable output on stdout")
	pf.BoolVarP(&g.Quiet, "quiet", "q", false, "print nothing but data and errors")
	pf.BoolVarP(&g.Verbose, "verbose", "v", false, "say more on stderr (every retry, every step)")
	root.SetVersionTemplate("udos-lib {{.Version}}\n")
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return cmdutil.Usagef("%s: %v (see '%s --help')", c.Name(), err, c.CommandPath())
	})
	root.SetHelpCommand(newHelpCmd())
	root.SetUsageTemplate(root.UsageTemplate() + footer)
	for _, b := range Commands {
		root.AddCommand(b(f))
	}
	return root
}

// newHelpCmd is cobra's help command, except that an unknown topic is a
// usage error (exit 2) with suggestions rather than a help page and exit 0.
func newHelpCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			var names []cobra.Completion
			for _, sub := range c.Root().Commands() {
				if sub.IsAvailableCommand() && strings.HasPrefix(sub.Name(), toComplete) {
					names = append(names, sub.Name())
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(c *cobra.Command, args []string) error {
			target, rest, err := c.Root().Find(args)
			if err != nil || len(rest) > 0 || target == nil {
				topic := strings.Join(args, " ")
				return cmdutil.Usagef("unknown help topic %q%s (see 'udos-lib help')", topic, cmdutil.DidYouMean(c.Root(), topic))
			}
			target.InitDefaultHelpFlag()
			return target.Help()
		},
	}
}

// Run runs udos-lib with args (without the program name) and returns the
// exit code.
func Run(f *factory.Factory, args []string) int {
	errOut := f.IO.ErrOut
	root := NewCmdRoot(f)
	defer f.IO.StopProgress()
	if len(args) == 0 {
		root.SetOut(errOut)
		_ = root.Usage()
		return ExitUsage
	}
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd(args...)
	// An unknown command is a usage error with cobra's suggestions; Find
	// is cobra's own lookup, so this is exactly the case it would refuse.
	if _, _, err := root.Find(args); err != nil {
		fmt.Fprintf(errOut, "udos-lib: %s\n", strings.TrimSpace(strings.ReplaceAll(err.Error(), "\n\n", "\n")))
		return ExitUsage
	}
	root.PersistentPreRun = func(*cobra.Command, []string) {
		if f.Global.Quiet {
			f.IO.ErrOut = io.Discard
		}
	}
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	f.IO.ErrOut = errOut
	var code cmdutil.ExitCode
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &code):
		return int(code)
	case f.Ctx.Err() != nil && errors.Is(err, context.Canceled):
		fmt.Fprintln(errOut, "udos-lib: interrupted")
		return ExitInterrupted
	case errors.Is(err, cmdutil.ErrSilent):
		return ExitError
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(f.IO.ErrOut, "udos-lib: interrupted")
		return ExitInterrupted
	case cmdutil.IsUsage(err):
		fmt.Fprintf(errOut, "udos-lib: %v\n", err)
		return ExitUsage
	default:
		what := strings.TrimPrefix(cmd.CommandPath(), root.Name()+" ")
		if pos := cmd.Flags().Args(); len(pos) > 0 {
			what += " " + strings.Join(pos, " ")
		}
		fmt.Fprintf(errOut, "udos-lib: %s: %v\n", what, err)
		return ExitError
	}
}

// Context returns the context commands run under: cancelled by SIGINT or
// SIGTERM, so a download stops cleanly (a transaction already started is
// completed by the next command's recovery).
func Context() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// Main runs udos-lib as its process does and returns the exit code: on the
// process's streams (forceTTY as iostreams.System takes it), under Context,
// with hook called at the named points of a transaction (nil: none). It is
// the udos-lib binary's main and that of every test binary that stands in
// for udos-lib in scripts.
func Main(args []string, forceTTY string, hook store.Hook) int {
	ctx, cancel := Context()
	defer cancel()
	f := factory.New(iostreams.System(forceTTY))
	f.Ctx = ctx
	f.Hook = hook
	return Run(f, args)
}
