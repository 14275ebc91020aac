package cmdutil

import (
	"testing"

	"github.com/spf13/cobra"
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
