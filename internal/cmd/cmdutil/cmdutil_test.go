package cmdutil

import (
	"errors"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/fredbook/udos-dist/internal/library"
)

func TestArgChecksAreUsageErrors(t *testing.T) {
	cmd := &cobra.Command{Use: "x"}
	tests := []struct {
		name  string
		check cobra.PositionalArgs
		args  []string
		usage bool
	}{
		{"no args ok", NoArgs, nil, false},
		{"no args refused", NoArgs, []string{"a"}, true},
		{"exact ok", ExactArgs(1, "name one"), []string{"a"}, false},
		{"exact too many", ExactArgs(1, "name one"), []string{"a", "b"}, true},
		{"exact none", ExactArgs(1, "name one"), nil, true},
		{"min ok", MinArgs(1, "give one"), []string{"a", "b"}, false},
		{"min none", MinArgs(1, "give one"), nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.check(cmd, tc.args)
			if (err != nil) != tc.usage || (err != nil && !IsUsage(err)) {
				t.Fatalf("error %v, want usage error %v", err, tc.usage)
			}
		})
	}
}

func TestRunTakesTheTestSeamWhenSet(t *testing.T) {
	type opts struct{ got string }
	run := func(o *opts) error { o.got = "run"; return nil }
	seam := func(o *opts) error { o.got = "seam"; return nil }
	for _, tc := range []struct {
		runF func(*opts) error
		want string
	}{{nil, "run"}, {seam, "seam"}} {
		o := &opts{}
		if err := Run(o, tc.runF, run); err != nil || o.got != tc.want {
			t.Fatalf("Run: %v, ran %q, want %q", err, o.got, tc.want)
		}
	}
}

func TestWithClientEndsTheSessionOnError(t *testing.T) {
	ended := 0
	begin := func() (*library.Client, func(), error) { return &library.Client{}, func() { ended++ }, nil }
	boom := errors.New("boom")
	if err := WithClient(begin, func(*library.Client) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("WithClient: %v, want %v", err, boom)
	}
	if ended != 1 {
		t.Fatalf("session ended %d times, want 1", ended)
	}
	refused := errors.New("locked")
	called := false
	err := WithClient(func() (*library.Client, func(), error) { return nil, nil, refused }, func(*library.Client) error { called = true; return nil })
	if !errors.Is(err, refused) || called {
		t.Fatalf("WithClient with a failing begin: %v (fn called %v)", err, called)
	}
}

func TestDidYouMean(t *testing.T) {
	group := &cobra.Command{Use: "group"}
	for _, name := range []string{"install", "uninstall", "status", "stop"} {
		group.AddCommand(&cobra.Command{Use: name, Run: func(*cobra.Command, []string) {}})
	}
	for name, want := range map[string]string{
		"instal": "; did you mean install?",
		"sto":    "; did you mean stop?",
		"st":     "; did you mean status or stop?",
		"zzzz":   "",
	} {
		if got := DidYouMean(group, name); got != want {
			t.Errorf("DidYouMean(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestNonNilListsAreEmptyInJSON(t *testing.T) {
	var b strings.Builder
	if err := WriteJSON(&b, map[string]any{"none": NonNil([]string(nil)), "some": NonNil([]string{"a"})}); err != nil {
		t.Fatal(err)
	}
	if want := "{\n  \"none\": [],\n  \"some\": [\n    \"a\"\n  ]\n}\n"; b.String() != want {
		t.Fatalf("got %q, want %q", b.String(), want)
	}
}
