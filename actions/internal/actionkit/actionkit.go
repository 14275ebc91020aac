// Package actionkit is the layer shared by the action mains
// (actions/build-variant, actions/publish-library, actions/sonic-iso): it
// reads inputs, masks secrets before anything can print them, writes outputs
// and step summaries without go-githubactions' panics outside the runner,
// formats ::error lines, parses bool inputs, resolves paths, the version of
// the pushed tag, SOURCE_DATE_EPOCH and OWNER/NAME. It is the only package
// besides the mains that imports github.com/sethvargo/go-githubactions,
// which is why it lives under actions/ and not under internal/: the
// internal packages stay free of the runner.
//
// Like library code, it never reads the process environment or prints on
// its own: the mains pass os.Getenv and os.Stdout in, tests pass a map and
// a buffer.
package actionkit

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	githubactions "github.com/sethvargo/go-githubactions"

	"github.com/fredbook/udos-dist/internal/ghrelease"
)

// Env is the environment of the step, as os.Getenv reads it.
type Env func(string) string

// Kit is one run of an action: its environment and its log (stdout, where
// the runner reads workflow commands).
type Kit struct {
	Env
	gha *githubactions.Action
	log io.Writer
}

// New returns the kit of a run with the environment getenv and the log w.
func New(getenv func(string) string, w io.Writer) *Kit {
	return &Kit{
		Env: Env(getenv),
		gha: githubactions.New(githubactions.WithGetenv(getenv), githubactions.WithWriter(w)),
		log: w,
	}
}

// Main runs an action's program and returns its exit status: run gets a
// context cancelled when the runner cancels the job (SIGTERM) or on Ctrl-C,
// so uploads stop cleanly; its error becomes an ::error line titled title
// (none when empty) on w, and status 1.
func Main(title string, getenv func(string) string, w io.Writer, run func(context.Context, func(string) string, io.Writer) error) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return ExitCode(w, title, run(ctx, getenv, w))
}

// ExitCode ends a run: nil is 0; an error becomes an ::error line titled
// title (none when empty) on w, and 1.
func ExitCode(w io.Writer, title string, err error) int {
	if err == nil {
		return 0
	}
	fmt.Fprint(w, ErrorLine(title, err.Error()))
	return 1
}

// ErrorLine is the ::error workflow command for msg, on one line whatever
// msg holds, with an optional title.
func ErrorLine(title, msg string) string {
	if title == "" {
		return "::error::" + Escape(msg) + "\n"
	}
	return "::error title=" + escapeProperty(title) + "::" + Escape(msg) + "\n"
}

// Escape keeps a message on one workflow-command line; the runner undoes
// it, so a multi-line error shows as several lines in the annotation.
func Escape(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// escapeProperty escapes a command property, which also ends at ':' and ','.
func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

// envNames are the variables an input may arrive in: INPUT_SIGNING-KEY as
// the runner names it for JavaScript and Docker actions, INPUT_SIGNING_KEY
// as a composite action's env: block must spell it (shells cannot export
// names with dashes).
func envNames(name string) [2]string {
	n := "INPUT_" + strings.ToUpper(strings.ReplaceAll(name, " ", "_"))
	return [2]string{n, strings.ReplaceAll(n, "-", "_")}
}

// RawInput is the input name exactly as given, for values whose
// surrounding white space matters (a passphrase); "" when unset.
func (e Env) RawInput(name string) string {
	for _, n := range envNames(name) {
		if v := e(n); v != "" {
			return v
		}
	}
	return ""
}

// Input is the input name without surrounding white space; "" when unset.
func (e Env) Input(name string) string {
	for _, n := range envNames(name) {
		if v := strings.TrimSpace(e(n)); v != "" {
			return v
		}
	}
	return ""
}

// InputOr is Input, or def when the input is empty.
func (e Env) InputOr(name, def string) string {
	if v := e.Input(name); v != "" {
		return v
	}
	return def
}

// Bool reads a true/false input (strconv.ParseBool's spellings); an empty
// input is def. Anything else is an error naming the input rather than a
// silent false, so a typo does not skip an upload unnoticed.
func (e Env) Bool(name string, def bool) (bool, error) {
	v := e.Input(name)
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("input %s: %q is not true or false", name, v)
	}
	return b, nil
}

// Path resolves a path input against GITHUB_WORKSPACE, where the runner
// checked the repository out (the step's working directory may differ).
// Empty and absolute paths, and every path outside Actions, stay as given.
func (e Env) Path(p string) string {
	ws := e("GITHUB_WORKSPACE")
	if p == "" || filepath.IsAbs(p) || ws == "" {
		return p
	}
	return filepath.Join(ws, p)
}

// Secrets are the signing key, its passphrase and the token, the secret
// inputs every action of this repository takes.
type Secrets struct {
	// Key is the armored private key as given ("" for none).
	Key string
	// Passphrase is the key's passphrase as given: trimming might change it.
	Passphrase string
	// Token is the GitHub token, trimmed.
	Token string
}

// Secrets reads the inputs signing-key, signing-passphrase and token and
// masks them (under Actions, see Mask) before returning them, so nothing
// can print them first. The passphrase is masked as given and trimmed,
// whichever the caller uses.
func (k *Kit) Secrets() Secrets {
	var s Secrets
	s.Key = k.ArmoredKey("signing-key")
	s.Passphrase = k.RawSecret("signing-passphrase")
	if t := strings.TrimSpace(s.Passphrase); t != s.Passphrase {
		k.Mask(t)
	}
	s.Token = k.Secret("token")
	return s
}

// Secret reads a secret input, trimmed, and masks it before returning it.
func (k *Kit) Secret(name string) string {
	v := k.Input(name)
	k.Mask(v)
	return v
}

// RawSecret reads a secret input untrimmed (a passphrase may end in a
// space) and masks it before returning it.
func (k *Kit) RawSecret(name string) string {
	v := k.RawInput(name)
	k.Mask(v)
	return v
}

// ArmoredKey reads an armored private key input untrimmed and masks it line
// by line, before returning it: the runner masks single lines, so masking
// the whole block would not hide a line of it printed alone.
func (k *Kit) ArmoredKey(name string) string {
	v := k.RawInput(name)
	for _, line := range KeyMaskLines(v) {
		k.Mask(line)
	}
	return v
}

// KeyMaskLines are the lines of an armored key worth masking: the base64
// body and checksum. Armor headers and short lines are public and common;
// masking them would blank unrelated log text.
func KeyMaskLines(armored string) []string {
	var lines []string
	for _, line := range strings.Split(armored, "\n") {
		if l := strings.TrimSpace(line); len(l) > 8 && !strings.HasPrefix(l, "-----") {
			lines = append(lines, l)
		}
	}
	return lines
}

// Mask hides each non-empty value in the rest of the job's log, under the
// runner (GITHUB_ACTIONS=true). Anywhere else nothing reads workflow
// commands: an ::add-mask:: line would only print the secret, so nothing
// is written.
func (k *Kit) Mask(values ...string) {
	if !k.UnderActions() {
		return
	}
	for _, v := range values {
		if v != "" {
			k.gha.AddMask(v)
		}
	}
}

// UnderActions reports whether the program runs as a step of a GitHub
// Actions job (or of act, which sets the same variable).
func (e Env) UnderActions() bool { return e("GITHUB_ACTIONS") == "true" }

// SetOutput logs the output as a name=value line and, under the runner,
// writes it to GITHUB_OUTPUT (go-githubactions panics when that is unset,
// as it is outside Actions).
func (k *Kit) SetOutput(name, value string) {
	if k.Env("GITHUB_OUTPUT") != "" {
		k.gha.SetOutput(name, value)
	}
	fmt.Fprintf(k.log, "%s=%s\n", name, value)
}

// Summary adds markdown to the step summary under the runner, and prints it
// to the log outside Actions, where there is no GITHUB_STEP_SUMMARY.
func (k *Kit) Summary(markdown string) {
	if k.Env("GITHUB_STEP_SUMMARY") == "" {
		fmt.Fprint(k.log, markdown)
		return
	}
	k.gha.AddStepSummary(markdown)
}

// Warning is a ::warning annotation.
func (k *Kit) Warning(msg string) { k.gha.Warningf("%s", msg) }

// Logf prints a plain line to the log.
func (k *Kit) Logf(format string, args ...any) { k.gha.Infof(format, args...) }

// GitHub is a release client for GITHUB_API_URL (GitHub Enterprise and the
// test replica set it) whose retry notices go to the log.
func (k *Kit) GitHub(token, userAgent string) (*ghrelease.Client, error) {
	return ghrelease.New(ghrelease.Config{
		APIURL: k.Env("GITHUB_API_URL"), Token: token, UserAgent: userAgent, Logf: k.Logf,
	})
}

// SplitRepository splits the repository input OWNER/NAME, by
// ghrelease.ParseRepo's rules.
func SplitRepository(s string) (owner, name string, err error) {
	r, err := ghrelease.ParseRepo(s)
	if err != nil {
		return "", "", fmt.Errorf("input repository: %q is not owner/name (a GitHub login, a slash, a repository name)", s)
	}
	return r.Owner, r.Name, nil
}
