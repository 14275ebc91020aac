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
	}{
		{"no command", nil, ExitUsage, "Usage:"},
		{"unknown command", []string{"nope"}, ExitUsage, `unknown command "nope"`},
		{"bad flag", []string{"list", "--nope"}, ExitUsage, "flag provided but not defined"},
		{"help", []string{"help"}, ExitOK, ""},
		{"failure", []string{"--root", "/nonexistent/udos", "list"}, ExitError, "uDOS root /nonexistent/udos"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			io, _, _, errOut := iostreams.Test()
			f := factory.New(io)
			f.Getenv = func(string) string { return "" }
			if code := Run(f, tc.args); code != tc.code {
				t.Fatalf("exit %d, want %d (stderr %s)", code, tc.code, errOut)
			}
			if !strings.Contains(errOut.String(), tc.err) {
				t.Fatalf("stderr %q lacks %q", errOut, tc.err)
			}
		})
	}
}
