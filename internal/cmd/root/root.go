// Package root is the udos-lib command line: global flags (accepted before
// or after the command), the command table, help and exit codes (0 success,
// 1 failure, 2 usage error).
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

	"github.com/fredbook/udos-dist/internal/cmd/checkupdates"
	"github.com/fredbook/udos-dist/internal/cmd/cmdutil"
	configcmd "github.com/fredbook/udos-dist/internal/cmd/config"
	"github.com/fredbook/udos-dist/internal/cmd/factory"
	"github.com/fredbook/udos-dist/internal/cmd/info"
	"github.com/fredbook/udos-dist/internal/cmd/install"
	"github.com/fredbook/udos-dist/internal/cmd/list"
	"github.com/fredbook/udos-dist/internal/cmd/pack"
	"github.com/fredbook/udos-dist/internal/cmd/rollback"
	"github.com/fredbook/udos-dist/internal/cmd/search"
	"github.com/fredbook/udos-dist/internal/cmd/share"
	"github.com/fredbook/udos-dist/internal/cmd/sync"
	"github.com/fredbook/udos-dist/internal/cmd/uninstall"
	"github.com/fredbook/udos-dist/internal/cmd/update"
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
type Builder func(f *factory.Factory) *cmdutil.Command

// Commands lists the subcommands in help order. A new command is one
// package under internal/cmd with a NewCmd(f, runF) and one line here.
var Commands = []Builder{
	func(f *factory.Factory) *cmdutil.Command { return search.NewCmd(f, nil) },
	func(f *factory.Factory) *cmdutil.Command { return info.NewCmd(f, nil) },
	func(f *factory.Factory) *cmdutil.Command { return list.NewCmd(f, nil) },
	func(f *factory.Factory) *cmdutil.Command { return install.NewCmd(f, nil) },
	func(f *factory.Factory) *cmdutil.Command { return update.NewCmd(f, nil) },
	func(f *factory.Factory) *cmdutil.Command { return checkupdates.NewCmd(f, nil) },
	func(f *factory.Factory) *cmdutil.Command { return uninstall.NewCmd(f, nil) },
	func(f *factory.Factory) *cmdutil.Command { return rollback.NewCmd(f, nil) },
	func(f *factory.Factory) *cmdutil.Command { return configcmd.NewCmd(f, nil) },
	func(f *factory.Factory) *cmdutil.Command { return pack.NewCmd(f, nil) },
	func(f *factory.Factory) *cmdutil.Command { return sync.NewCmd(f, nil) },
	func(f *factory.Factory) *cmdutil.Command { return share.NewCmd(f, nil) },
}

// splitGlobal removes the global flags from args wherever they are and
// stores them in g. It stops at "--".
func splitGlobal(args []string, g *factory.Global) ([]string, error) {
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") {
			rest = append(rest, a)
			continue
		}
		var target *string
		switch name {
		case "root":
			target = &g.Root
		case "registry":
			target = &g.Registry
		case "keyring":
			target = &g.Keyring
		case "json":
			if hasVal {
				g.JSON = val == "true" || val == "1"
			} else {
				g.JSON = true
			}
			continue
		case "require-signatures":
			g.RequireSignatures = !hasVal || val == "true" || val == "1"
			continue
		default:
			rest = append(rest, a)
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				return nil, cmdutil.Usagef("flag --%s needs a value", name)
			}
			i++
			val = args[i]
		}
		*target = val
	}
	return rest, nil
}

const globalHelp = `Global flags (before or after the command):
  --root DIR            the uDOS installation (env UDOS_ROOT; default: current folder)
  --registry URL|DIR    the registry: an http(s) URL or a folder with catalog.json
                        (env UDOS_REGISTRY, then library/.udos-lib/config.json, then user config)
  --keyring FILE        trusted armored public keys (env UDOS_KEYRING); with it, unsigned
                        or badly signed catalogs and packages are refused
  --require-signatures  refuse to work without a keyring
  --json                machine-readable output on stdout

Exit codes: 0 success, 1 failure, 2 usage error, 130 interrupted (Ctrl-C). See docs/LIBRARY-MANAGEMENT.md.
`

func usage(w io.Writer, cmds []*cmdutil.Command) {
	fmt.Fprintf(w, "Usage: udos-lib [global flags] COMMAND [args]\n\nManage uDOS libraries.\n\nCommands:\n")
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-34s %s\n", c.Usage, c.Short)
	}
	fmt.Fprintf(w, "\n%s", globalHelp)
}

// Run runs udos-lib with args (without the program name) and returns the
// exit code.
func Run(f *factory.Factory, args []string) int {
	rest, err := splitGlobal(args, f.Global)
	if err != nil {
		fmt.Fprintf(f.IO.ErrOut, "udos-lib: %v\n", err)
		return ExitUsage
	}
	cmds := make([]*cmdutil.Command, 0, len(Commands))
	for _, b := range Commands {
		cmds = append(cmds, b(f))
	}
	if len(rest) == 0 {
		usage(f.IO.ErrOut, cmds)
		return ExitUsage
	}
	switch rest[0] {
	case "help", "-h", "--help":
		if len(rest) > 1 {
			for _, c := range cmds {
				if c.Name == rest[1] {
					c.PrintHelp(f.IO.Out, nil)
					return ExitOK
				}
			}
		}
		usage(f.IO.Out, cmds)
		return ExitOK
	}
	var cmd *cmdutil.Command
	for _, c := range cmds {
		if c.Name == rest[0] {
			cmd = c
		}
	}
	if cmd == nil {
		fmt.Fprintf(f.IO.ErrOut, "udos-lib: unknown command %q (see 'udos-lib help')\n", rest[0])
		return ExitUsage
	}
	err = cmd.Execute(rest[1:], f.IO.ErrOut)
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, cmdutil.ErrSilent):
		return ExitError
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(f.IO.ErrOut, "udos-lib: interrupted")
		return ExitInterrupted
	case cmdutil.IsUsage(err):
		fmt.Fprintf(f.IO.ErrOut, "udos-lib: %v\n", err)
		return ExitUsage
	default:
		what := strings.Join(append([]string{cmd.Name}, cmd.Args...), " ")
		fmt.Fprintf(f.IO.ErrOut, "udos-lib: %s: %v\n", what, err)
		return ExitError
	}
}

// Context returns the context commands run under: cancelled by SIGINT or
// SIGTERM, so a download stops cleanly (a transaction already started is
// completed by the next command's recovery).
func Context() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}
