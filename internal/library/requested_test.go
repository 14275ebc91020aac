package library

import (
	"testing"

	"github.com/Masterminds/semver/v3"

	"github.com/fredbook/udos-dist/internal/constraint"
)

func TestRequestedCombinesSpecs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{""}, ""},
		{[]string{"^1||^2"}, "^1||^2"}, // one constraint: as written
		{[]string{"^1", "^1"}, "^1"},
		{[]string{"^1", "~1.4"}, "^1 ~1.4"},
		{[]string{"^1 || ^2", "!=1.5.0"}, "^1 !=1.5.0 || ^2 !=1.5.0"},
		{[]string{"1 - 2", ">=1.5"}, ">=1.0.0 <3.0.0-0 >=1.5"},
		{[]string{"", "^1"}, "^1"},
	}
	for _, tt := range tests {
		got, err := requested(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("requested(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	// The combination means exactly "all of them" on every version tried.
	for _, in := range [][]string{{"^1 || ^2", "!=1.5.0"}, {"1 - 2", ">=1.5"}, {"~1.4 || 2.x", "<2.1 || >=3"}} {
		got, err := requested(in)
		if err != nil {
			t.Fatal(err)
		}
		all := constraint.MustParse(got)
		for _, v := range []string{"0.9.0", "1.0.0", "1.4.2", "1.5.0", "1.9.9", "2.0.0", "2.0.5", "2.1.0", "2.9.0", "3.0.0"} {
			sv := semver.MustParse(v)
			want := true
			for _, c := range in {
				want = want && constraint.MustParse(c).Check(sv)
			}
			if all.Check(sv) != want {
				t.Errorf("%q (from %q) on %s = %v, want %v", got, in, v, !want, want)
			}
		}
	}
	many := []string{"1 || 2 || 3 || 4 || 5 || 6", "1.1 || 2.1 || 3.1 || 4.1 || 5.1 || 6.1"}
	if _, err := requested(append(many, "1 || 2")); err == nil {
		t.Error("6 x 6 x 2 alternatives were recorded as one constraint")
	}
}
