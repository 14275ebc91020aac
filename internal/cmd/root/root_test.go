package root

import (
	"strings"
	"testing"

	"github.com/fredbook/udos-dist/internal/cmd/factory"
	"github.com/fredbook/udos-dist/internal/iostreams"
)

func run(t *testing.T, args ...string) (code int, f *factory.Factory, stdout, stderr string) {
	t.Helper()
	io, _, out, errOut := iostreams.Test()
	f = factory.New(io)
	f.Getenv = func(string) string { return "" }
	code = Run(f, args)
	return code, f, out.String(), errOut.String()
}

func TestGlobalFlagsBeforeOrAfterTheCommand(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want factory.Global
	}{
		{"before", []string{"--root", "r", "--json", "version"}, factory.Global{Root: "r", JSON: true}},
		{"after", []string{"version", "--registry=u", "--keyring", "k"}, factory.Global{Registry: "u", Keyring: "k"}},
		{"short forms", []string{"-q", "version", "-v"}, factory.Global{Quiet: true, Verbose: true}},
		{"require-signatures", []string{"version", "--require-signatures"}, factory.Global{RequireSignatures: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, f, _, errOut := run(t, tc.args...)
			if code != ExitOK || *f.Global != tc.want {
				t.Fatalf("exit %d, globals %+v, want %+v (stderr %s)", code, *f.Global, tc.want, errOut)
			}
		})
	}
}

func TestExitCodesAndMessages(t *testing.T) {
	tests := []struct {
		name           string
		args           []string
		code           int
		stdout, stderr string
	}{
		{"no command: usage on stderr", nil, ExitUsage, "", "Usage:"},
		{"unknown command", []string{"nope"}, ExitUsage, "", `unknown command "nope"`},
		{"misspelled command suggests", []string{"instal"}, ExitUsage, "", "install"},
		{"bad flag named as typed", []string{"list", "--nope"}, ExitUsage, "", "unknown flag: --nope"},
		{"bad short flag", []string{"list", "-z"}, ExitUsage, "", "unknown shorthand flag: 'z' in -z"},
		{"missing flag value", []string{"list", "--root"}, ExitUsage, "", "flag needs an argument: --root"},
		{"help lists commands on stdout", []string{"help"}, ExitOK, "check-updates", ""},
		{"help of a command", []string{"help", "install"}, ExitOK, "udos-lib install [NAME[@CONSTRAINT]... | FILE.udos-package]", ""},
		{"--help of a command on stdout", []string{"install", "--help"}, ExitOK, "Examples:", ""},
		{"help of nothing known", []string{"help", "nosuch"}, ExitUsage, "", `unknown help topic "nosuch"`},
		{"version", []string{"version"}, ExitOK, "udos-lib ", ""},
		{"--version", []string{"--version"}, ExitOK, "udos-lib ", ""},
		{"completion", []string{"completion", "bash"}, ExitOK, "__start_udos-lib", ""},
		{"failure names the command", []string{"--root", "/nonexistent/udos", "list"}, ExitError, "", "udos-lib: list: "},
		{"positional args are checked", []string{"info"}, ExitUsage, "", "info: name exactly one library"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, out, errOut := run(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d (stdout %q, stderr %q)", code, tc.code, out, errOut)
			}
			if !strings.Contains(out, tc.stdout) || !strings.Contains(errOut, tc.stderr) {
				t.Fatalf("stdout %q want %q; stderr %q want %q", out, tc.stdout, errOut, tc.stderr)
			}
			if tc.stdout == "" && out != "" {
				t.Fatalf("unexpected stdout %q", out)
			}
		})
	}
}

func TestQuietKeepsErrors(t *testing.T) {
	code, _, _, errOut := run(t, "-q", "--root", "/nonexistent/udos", "list")
	if code != ExitError || !strings.Contains(errOut, "udos-lib: list: ") {
		t.Fatalf("exit %d, stderr %q: -q must still print the error", code, errOut)
	}
}

// help goes to stdout, names every command and the global flags, and prints
// nothing on stderr.
func TestHelpNamesEveryCommand(t *testing.T) {
	code, f, out, errOut := run(t, "help")
	if code != ExitOK || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	for _, b := range Commands {
		if name := b(f).Name(); !strings.Contains(out, "\n  "+name+" ") {
			t.Errorf("help does not list %q:\n%s", name, out)
		}
	}
	for _, want := range []string{"--registry URL", "--root DIR", "-q, --quiet", "Exit codes:", "completion"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q:\n%s", want, out)
		}
	}
}
