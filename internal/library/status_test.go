package library

import "testing"

func TestSuggest(t *testing.T) {
	t.Parallel()
	ids := []string{"lib-grid-extensions", "lib-grid-math", "lib-pathfinding", "lib-themes-retro", "lib-nethack-bridge"}
	tests := []struct{ name, want string }{
		{"grid-extentions", " (did you mean grid-extensions?)"},
		{"lib-pathfnding", " (did you mean pathfinding?)"},
		{"@uDOS/themes-rerto", " (did you mean themes-retro?)"},
		{"grid-mat", " (did you mean grid-math?)"},
		{"nethack", " (did you mean nethack-bridge?)"},
		{"zzzzzz", ""},
		{"grid", " (did you mean grid-extensions or grid-math?)"}, // a prefix of both
		{"grid-math", ""},
	}
	for _, tc := range tests {
		if got := suggest(tc.name, ids); got != tc.want {
			t.Errorf("suggest(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}
