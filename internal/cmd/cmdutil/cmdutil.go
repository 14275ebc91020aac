// Package cmdutil holds what udos-lib's cobra commands share: usage errors
// (exit code 2) and the argument checks that produce them, the action seam
// (runF in tests, run otherwise), the library session around an action, and
// the JSON, table and change-list output helpers.
package cmdutil

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/fredbook/udos-dist/internal/cmd/factory"
	"github.com/fredbook/udos-dist/internal/iostreams"
	"github.com/fredbook/udos-dist/internal/library"
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

// DidYouMean is the end of an unknown command's usage error: "; did you
// mean A or B?" with the subcommands of c that cobra finds near name, or ""
// when none is.
func DidYouMean(c *cobra.Command, name string) string {
	s := c.SuggestionsFor(name)
	if len(s) == 0 {
		return ""
	}
	return "; did you mean " + strings.Join(s, " or ") + "?"
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

// NonNil is s, or an empty slice when s is nil: a list in --json output is
// [], never null.
func NonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// PrintChanges reports the result of a transaction: JSON on out when asked,
// otherwise one human line per change on errOut.
func PrintChanges[T any](out, errOut io.Writer, asJSON bool, changes []T, line func(T) string) error {
	if asJSON {
		return WriteJSON(out, map[string]any{"changes": NonNil(changes)})
	}
	for _, c := range changes {
		if s := line(c); s != "" {
			fmt.Fprintln(errOut, s)
		}
	}
	return nil
}

// Run is the end of every command's RunE: the test seam runF when a test set
// one (it sees the Options the flags and arguments filled), run otherwise.
func Run[O any](opts *O, runF, run func(*O) error) error {
	if runF != nil {
		return runF(opts)
	}
	return run(opts)
}

// Session is what the Options of every command that works in a library
// session start with: the streams, the context, how the session is opened
// and --json.
type Session struct {
	IO  *iostreams.IOStreams
	Ctx context.Context
	// Begin opens the session: the factory's Begin (a transaction),
	// Browse or Inspect (read-only).
	Begin func() (*library.Client, func(), error)
	JSON  bool
}

// NewSession is the Session of a command of f whose sessions begin opens.
func NewSession(f *factory.Factory, begin func() (*library.Client, func(), error)) Session {
	return Session{IO: f.IO, Begin: begin}
}

func (s *Session) session() *Session { return s }

// RunE is the RunE of a command whose Options embed a Session: it fills the
// context and --json from f when the command runs, lets parse (nil: nothing
// to take) take the positional arguments into opts — an error, a usage
// error as a rule, stops it — and ends as Run does.
func RunE[O interface{ session() *Session }](f *factory.Factory, opts O, parse func(args []string) error, runF, run func(O) error) func(*cobra.Command, []string) error {
	return func(_ *cobra.Command, args []string) error {
		s := opts.session()
		s.Ctx, s.JSON = f.Ctx, f.Global.JSON
		if parse != nil {
			if err := parse(args); err != nil {
				return err
			}
		}
		if runF != nil {
			return runF(opts)
		}
		return run(opts)
	}
}

// PreFlag adds --pre, the resolver's includePrerelease, to a command that
// resolves ranges.
func PreFlag(cmd *cobra.Command, pre *bool) {
	cmd.Flags().BoolVar(pre, "pre", false, "allow pre-release versions inside every range (npm's includePrerelease; see docs/CONSTRAINTS.md)")
}

// WithClient runs fn in one library session opened by begin (the factory's
// Begin, Browse or Inspect) and ends the session, releasing its lock,
// however fn returns.
func WithClient(begin func() (*library.Client, func(), error), fn func(*library.Client) error) error {
	c, end, err := begin()
	if err != nil {
		return err
	}
	defer end()
	return fn(c)
}

// WithCatalog runs fn in one session of begin with the registry catalog:
// the cached one, or fetched when there is none or refresh is set.
func WithCatalog(ctx context.Context, begin func() (*library.Client, func(), error), refresh bool, fn func(*library.Client, *library.SyncResult) error) error {
	return WithClient(begin, func(c *library.Client) error {
		sr, err := c.LoadCatalog(ctx, refresh)
		if err != nil {
			return err
		}
		return fn(c, sr)
	})
}

// SourceDir resolves the (NAME | DIR) argument of pack and share: target
// itself when it is a folder, else the store copy of the installed library
// it names.
func SourceDir(begin func() (*library.Client, func(), error), target string) (string, error) {
	if fi, err := os.Stat(target); err == nil && fi.IsDir() {
		return target, nil
	}
	var dir string
	err := WithClient(begin, func(c *library.Client) error {
		lock, err := c.Paths.ReadLock()
		if err != nil {
			return err
		}
		id, e, err := c.FindInstalled(lock, target)
		if err != nil {
			return fmt.Errorf("%s is neither a library source folder nor an installed library", target)
		}
		dir = c.Paths.StoreDir(id, e.Version)
		return nil
	})
	return dir, err
}

// NewTable is the layout of every table on stdout: left-aligned columns two
// spaces apart; Flush it when the rows are written.
func NewTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}
