// Package cmdutil holds what udos-lib's cobra commands share: usage errors
// (exit code 2) and the argument checks that produce them, and the JSON and
// change-list output helpers.
package cmdutil

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

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

// ExitCode is returned by a command whose exit code is not its own (a
// remote command's status); whatever there was to say has been said.
type ExitCode int

func (e ExitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// ErrSilent is returned when the command already told the user everything.
var ErrSilent = errors.New("silent failure")

// NoArgs refuses positional arguments as a usage error.
func NoArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return Usagef("%s: takes no arguments (got %q)", cmd.Name(), args[0])
	}
	return nil
}

// ExactArgs wants exactly n positional arguments; msg says what they are.
func ExactArgs(n int, msg string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return Usagef("%s: %s", cmd.Name(), msg)
		}
		return nil
	}
}

// MinArgs wants at least n positional arguments; msg says what they are.
func MinArgs(n int, msg string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return Usagef("%s: %s", cmd.Name(), msg)
		}
		return nil
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
