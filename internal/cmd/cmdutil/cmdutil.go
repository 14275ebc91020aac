// Package cmdutil is the small command framework of udos-lib: a Command
// with its own flag set, usage errors (exit code 2) and JSON output helpers.
// Global flags (--root, --registry, --keyring, --json, --require-signatures)
// are accepted before or after the command name; the root command pulls
// them out before a command parses its own flags.
package cmdutil

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Command is one udos-lib subcommand.
type Command struct {
	Name  string
	Usage string // e.g. "install NAME[@CONSTRAINT]..."
	Short string
	Long  string
	// Flags registers the command's own flags.
	Flags func(fs *flag.FlagSet)
	// Run runs the command with the positional arguments left after flags.
	Run func(args []string) error

	// Args are the positional arguments of the last Execute, for error
	// messages ("udos-lib: install grid-extensions: …").
	Args []string
}

// UsageError is a mistake in the command line: exit code 2.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Usagef builds a UsageError.
func Usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// IsUsage reports whether err is a usage error.
func IsUsage(err error) bool {
	var u *UsageError
	return errors.As(err, &u)
}

// ErrSilent is returned when the command already told the user everything.
var ErrSilent = errors.New("silent failure")

// Execute parses args with the command's flags and runs it. Flags may come
// after positional arguments ("uninstall x --force").
func (c *Command) Execute(args []string, errOut io.Writer) error {
	fs := flag.NewFlagSet(c.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if c.Flags != nil {
		c.Flags(fs)
	}
	var pos []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				c.PrintHelp(errOut, fs)
				return nil
			}
			return Usagef("%s: %v (see 'udos-lib %s --help')", c.Name, err, c.Name)
		}
		rest = fs.Args()
		if len(rest) == 0 {
			break
		}
		if rest[0] == "--" {
			pos = append(pos, rest[1:]...)
			break
		}
		pos = append(pos, rest[0])
		rest = rest[1:]
	}
	c.Args = pos
	return c.Run(pos)
}

// PrintHelp writes the command's usage and flags.
func (c *Command) PrintHelp(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: udos-lib %s\n\n%s\n", c.Usage, c.Short)
	if c.Long != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.Long))
	}
	if fs == nil {
		fs = flag.NewFlagSet(c.Name, flag.ContinueOnError)
		if c.Flags != nil {
			c.Flags(fs)
		}
	}
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintln(w, "\nFlags:")
		fs.VisitAll(func(f *flag.Flag) {
			fmt.Fprintf(w, "  --%-20s %s\n", f.Name, f.Usage)
		})
	}
}

// WriteJSON prints v as indented JSON with a final newline.
func WriteJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding JSON output: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// PrintChanges reports the result of a transaction: JSON on out when asked,
// otherwise one human line per change on errOut.
func PrintChanges[T any](out, errOut io.Writer, asJSON bool, changes []T, line func(T) string) error {
	if asJSON {
		if changes == nil {
			changes = []T{}
		}
		return WriteJSON(out, map[string]any{"changes": changes})
	}
	for _, c := range changes {
		if s := line(c); s != "" {
			fmt.Fprintln(errOut, s)
		}
	}
	return nil
}
