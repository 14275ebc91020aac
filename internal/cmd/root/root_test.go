package root

import (
	"strings"
	"testing"

	"github.com/fredbook/udos-dist/internal/cmd/factory"
	"github.com/fredbook/udos-dist/internal/iostreams"
)

func TestSplitGlobal(t *testing.T) {
	tests := []struct {
		name string
		args []string
		rest string
		want factory.Global
		err  string
	}{
		{"before", []string{"--root", "r", "--json", "list"}, "list", factory.Global{Root: "r", JSON: true}, ""},
		{"after", []string{"install", "x", "--registry=u", "--keyring", "k"}, "install x", factory.Global{Registry: "u", Keyring: "k"}, ""},
		{"command flags kept", []string{"uninstall", "x", "--force", "--require-signatures"}, "uninstall x --force", factory.Global{RequireSignatures: true}, ""},
		{"after --", []string{"search", "--", "--json"}, "search -- --json", factory.Global{}, ""},
		{"missing value", []string{"list", "--root"}, "", factory.Global{}, "needs a value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var g factory.Global
			rest, err := splitGlobal(tc.args, &g)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(rest, " ") != tc.rest || g != tc.want {
				t.Fatalf("got %q %+v, want %q %+v", rest, g, tc.rest, tc.want)
			}
		})
	}
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		err  string
		out  []string // every one on stdout
	}{
		{"no command", nil, ExitUsage, "Usage:", nil},
		{"unknown command", []string{"nope"}, ExitUsage, `unknown command "nope"`, nil},
		{"bad flag", []string{"list", "--nope"}, ExitUsage, "flag provided but not defined", nil},
		// help goes to stdout, names every command and the global flags,
		// and prints nothing on stderr.
		{"help", []string{"help"}, ExitOK, "", []string{"Usage: udos-lib [global flags] COMMAND", "  search QUERY", "  install ", "  uninstall ", "  sync ", "--registry URL|DIR", "Exit codes:"}},
		{"help of a command", []string{"help", "uninstall"}, ExitOK, "", []string{"Usage: udos-lib uninstall", "--force"}},
		{"failure", []string{"--root", "/nonexistent/udos", "list"}, ExitError, "uDOS root /nonexistent/udos", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			io, _, out, errOut := iostreams.Test()
			f := factory.New(io)
			f.Getenv = func(string) string { return "" }
			if code := Run(f, tc.args); code != tc.code {
				t.Fatalf("exit %d, want %d (stderr %s)", code, tc.code, errOut)
			}
			if tc.err == "" && errOut.Len() > 0 {
				t.Fatalf("stderr is not empty: %q", errOut)
			}
			if !strings.Contains(errOut.String(), tc.err) {
				t.Fatalf("stderr %q lacks %q", errOut, tc.err)
			}
			for _, want := range tc.out {
				if !strings.Contains(out.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
			if tc.out == nil && tc.code != ExitOK && out.Len() > 0 {
				t.Errorf("stdout of a failure is not empty: %q", out)
			}
		})
	}
}
