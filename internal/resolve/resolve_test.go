package resolve

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"

	"github.com/fredbook/udos-dist/internal/goldentest"
	"github.com/fredbook/udos-dist/internal/libid"
)

// memSource is a catalog in memory. Lines read
// "lib-a 2.0.0 -> lib-c ^2; lib-d >=1.0 <2" (the part after "->" optional).
type memSource struct {
	t        testing.TB
	libs     map[string][]Candidate
	reversed bool // hand versions out in the opposite order
	fail     map[string]error
	calls    map[string]int
}

func catalog(t testing.TB, lines ...string) *memSource {
	t.Helper()
	s := &memSource{t: t, libs: map[string][]Candidate{}, calls: map[string]int{}}
	for _, line := range lines {
		head, tail, _ := strings.Cut(line, "->")
		id, ver, ok := strings.Cut(strings.TrimSpace(head), " ")
		if !ok {
			t.Fatalf("bad catalog line %q", line)
		}
		c := Candidate{Version: semver.MustParse(strings.TrimSpace(ver))}
		for _, d := range strings.Split(tail, ";") {
			if d = strings.TrimSpace(d); d == "" {
				continue
			}
			did, con, _ := strings.Cut(d, " ")
			c.Deps = append(c.Deps, Requirement{ID: did, Constraint: strings.TrimSpace(con)})
		}
		s.libs[id] = append(s.libs[id], c)
	}
	return s
}

func (s *memSource) Versions(id string) ([]Candidate, error) {
	s.calls[id]++
	if libid.IsCore(id) {
		s.t.Errorf("the core %q was looked up in the catalog", id)
	}
	if err := s.fail[id]; err != nil {
		return nil, err
	}
	vs, ok := s.libs[id]
	if !ok {
		return nil, fmt.Errorf("library %s: %w", id, ErrUnknown)
	}
	vs = slices.Clone(vs)
	if s.reversed {
		slices.Reverse(vs)
	}
	return vs, nil
}

func reqs(specs ...string) []Requirement {
	var out []Requirement
	for _, s := range specs {
		id, c, _ := strings.Cut(s, " ")
		out = append(out, Requirement{ID: id, Constraint: c})
	}
	return out
}

func versions(sol *Solution) string {
	var parts []string
	for _, id := range slices.Sorted(maps.Keys(sol.Versions)) {
		parts = append(parts, id+" "+sol.Versions[id].String())
	}
	return strings.Join(parts, ", ")
}

var v146 = semver.MustParse("1.4.6")

func TestResolve(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		catalog []string
		roots   []string
		opts    Options
		want    string // "id version, ..." sorted by id
		order   string // optional: Solution.Order joined by " "
	}{
		{
			name:    "newest matching",
			catalog: []string{"lib-a 1.0.0", "lib-a 1.4.2", "lib-a 2.0.0"},
			roots:   []string{"lib-a ^1"},
			want:    "lib-a 1.4.2",
		},
		{
			name:    "no constraint means newest",
			catalog: []string{"lib-a 1.0.0", "lib-a 2.0.0"},
			roots:   []string{"lib-a"},
			want:    "lib-a 2.0.0",
		},
		{
			name: "diamond",
			catalog: []string{
				"lib-app 1.0.0 -> lib-left ^1; lib-right ^1",
				"lib-left 1.0.0 -> lib-base ^1.1",
				"lib-right 1.0.0 -> lib-base ~1.2",
				"lib-base 1.0.0", "lib-base 1.1.0", "lib-base 1.2.0", "lib-base 1.2.5", "lib-base 1.3.0", "lib-base 2.0.0",
			},
			roots: []string{"lib-app ^1"},
			want:  "lib-app 1.0.0, lib-base 1.2.5, lib-left 1.0.0, lib-right 1.0.0",
			order: "lib-base lib-left lib-right lib-app",
		},
		{
			name: "backtracking: newest lib-a needs lib-c ^2, root needs lib-c ^1",
			catalog: []string{
				"lib-a 2.0.0 -> lib-c ^2", "lib-a 1.9.0 -> lib-c ^1",
				"lib-c 1.0.0", "lib-c 1.3.0", "lib-c 2.0.0",
			},
			roots: []string{"lib-a", "lib-c ^1"},
			want:  "lib-a 1.9.0, lib-c 1.3.0",
		},
		{
			name: "backtracking: conflict found two levels down",
			catalog: []string{
				"lib-a 2.0.0 -> lib-b ^2", "lib-a 1.9.0 -> lib-b ^1",
				"lib-b 2.0.0 -> lib-c ^2", "lib-b 1.0.0 -> lib-c ^1",
				"lib-c 1.0.0", "lib-c 2.0.0",
				"lib-k 1.0.0 -> lib-c ~1.0",
			},
			roots: []string{"lib-a ^1 || ^2", "lib-k"},
			want:  "lib-a 1.9.0, lib-b 1.0.0, lib-c 1.0.0, lib-k 1.0.0",
		},
		{
			name: "backtracking past an unrelated choice",
			catalog: []string{
				"lib-a 1.0.0", "lib-a 1.1.0", "lib-a 1.2.0",
				"lib-b 2.0.0 -> lib-d ^2", "lib-b 1.0.0 -> lib-d ^1",
				"lib-d 1.0.0", "lib-d 2.0.0 -> lib-e ^5",
				"lib-e 1.0.0",
			},
			roots: []string{"lib-a", "lib-b"},
			want:  "lib-a 1.2.0, lib-b 1.0.0, lib-d 1.0.0",
		},
		{
			name: "a cycle is avoided by an older version",
			catalog: []string{
				"lib-x 1.0.0 -> lib-y ^2",
				"lib-y 2.1.0 -> lib-x ^1", "lib-y 2.0.0",
			},
			roots: []string{"lib-x"},
			want:  "lib-x 1.0.0, lib-y 2.0.0",
			order: "lib-y lib-x",
		},
		{
			name: "core satisfied, in every spelling",
			catalog: []string{
				"lib-x 1.0.0 -> @uDOS/core >=1.4; core ^1; lib-core ~1.4",
			},
			roots: []string{"lib-x", "@uDOS/core >=1.0"},
			opts:  Options{CoreVersion: v146},
			want:  "lib-x 1.0.0",
		},
		{
			name:    "core constraint picks an older version",
			catalog: []string{"lib-x 1.1.0 -> @uDOS/core >=1.5.0", "lib-x 1.0.0 -> @uDOS/core >=1.4.0"},
			roots:   []string{"lib-x"},
			opts:    Options{CoreVersion: v146},
			want:    "lib-x 1.0.0",
		},
		{
			name:    "pre-release core installation compares by precedence",
			catalog: []string{"lib-x 1.0.0 -> @uDOS/core >=1.4"},
			roots:   []string{"lib-x"},
			opts:    Options{CoreVersion: semver.MustParse("1.5.0-rc.1")},
			want:    "lib-x 1.0.0",
		},
		{
			name:    "pre-releases excluded by default",
			catalog: []string{"lib-a 1.0.0", "lib-a 1.1.0-beta.1"},
			roots:   []string{"lib-a ^1"},
			want:    "lib-a 1.0.0",
		},
		{
			name:    "pre-releases allowed",
			catalog: []string{"lib-a 1.0.0", "lib-a 1.1.0-beta.1"},
			roots:   []string{"lib-a ^1"},
			opts:    Options{AllowPrerelease: true},
			want:    "lib-a 1.1.0-beta.1",
		},
		{
			// npm's includePrerelease: an x-range's lower bound admits the
			// bound's own pre-releases, a full version's does not.
			name:    "pre-releases allowed: 2.x admits 2.0.0-pre.0",
			catalog: []string{"lib-a 1.9.0", "lib-a 2.0.0-pre.0", "lib-b 1.0.0-rc1", "lib-b 0.9.0"},
			roots:   []string{"lib-a 2.x", "lib-b ^0.9.0 || ^1.0.0"},
			opts:    Options{AllowPrerelease: true},
			want:    "lib-a 2.0.0-pre.0, lib-b 0.9.0",
		},
		{
			name:    "pre-releases allowed reach dependencies too, inside their ranges",
			catalog: []string{"lib-a 1.0.0 -> lib-b <2.0.0", "lib-b 1.0.0", "lib-b 1.5.0-rc.1", "lib-b 2.0.0-rc.1"},
			roots:   []string{"lib-a"},
			opts:    Options{AllowPrerelease: true},
			want:    "lib-a 1.0.0, lib-b 2.0.0-rc.1",
		},
		{
			name:    "pre-release named by the constraint",
			catalog: []string{"lib-a 1.0.0", "lib-a 1.1.0-beta.1"},
			roots:   []string{"lib-a >=1.1.0-beta"},
			want:    "lib-a 1.1.0-beta.1",
		},
		{
			name:    "pre-release dependency of a dependency stays excluded",
			catalog: []string{"lib-a 1.0.0 -> lib-b ^1", "lib-b 1.0.0", "lib-b 1.5.0-rc.1"},
			roots:   []string{"lib-a"},
			want:    "lib-a 1.0.0, lib-b 1.0.0",
		},
		{
			name:    "locked version preferred",
			catalog: []string{"lib-a 1.0.0", "lib-a 1.1.0", "lib-a 1.2.0", "lib-b 1.0.0", "lib-b 1.1.0"},
			roots:   []string{"lib-a ^1", "lib-b ^1"},
			opts:    Options{Locked: map[string]*semver.Version{"lib-a": semver.MustParse("1.1.0"), "@uDOS/b": semver.MustParse("1.0.0")}},
			want:    "lib-a 1.1.0, lib-b 1.0.0",
		},
		{
			name:    "locked version outside the constraint is ignored",
			catalog: []string{"lib-a 1.0.0", "lib-a 1.2.0", "lib-a 2.0.0"},
			roots:   []string{"lib-a ^2"},
			opts:    Options{Locked: map[string]*semver.Version{"lib-a": semver.MustParse("1.2.0")}},
			want:    "lib-a 2.0.0",
		},
		{
			name: "locked dependency kept while its dependent updates",
			catalog: []string{
				"lib-a 1.0.0 -> lib-b ^1", "lib-a 1.1.0 -> lib-b ^1.1",
				"lib-b 1.0.0", "lib-b 1.1.0", "lib-b 1.2.0",
			},
			roots: []string{"lib-a"},
			opts:  Options{Locked: map[string]*semver.Version{"lib-b": semver.MustParse("1.1.0")}},
			want:  "lib-a 1.1.0, lib-b 1.1.0",
		},
		{
			name:    "unknown dependency of the newest version falls back",
			catalog: []string{"lib-a 2.0.0 -> lib-gone ^1", "lib-a 1.0.0"},
			roots:   []string{"lib-a"},
			want:    "lib-a 1.0.0",
		},
		{
			name:    "unusable dependency constraint falls back",
			catalog: []string{"lib-a 2.0.0 -> lib-b 1.x.5", "lib-a 1.0.0 -> lib-b ^1", "lib-b 1.0.0"},
			roots:   []string{"lib-a"},
			want:    "lib-a 1.0.0, lib-b 1.0.0",
		},
		{
			name:    "duplicate versions differing in metadata",
			catalog: []string{"lib-a 1.0.0+b2", "lib-a 1.0.0+b1"},
			roots:   []string{"lib-a"},
			want:    "lib-a 1.0.0+b1",
		},
		{
			name: "soft conflict with an earlier choice is undone",
			catalog: []string{
				"lib-c 1.0.0", "lib-c 1.9.0",
				"lib-k 1.0.0 -> lib-z ^1", "lib-k 1.1.0 -> lib-z ^1", "lib-k 1.2.0 -> lib-z ^1",
				"lib-z 1.0.0 -> lib-c <1.5",
			},
			roots: []string{"lib-c ^1", "lib-k"},
			want:  "lib-c 1.0.0, lib-k 1.2.0, lib-z 1.0.0",
		},
		{
			name:    "names in any form are canonical ids",
			catalog: []string{"lib-app 1.0.0 -> @uDOS/grid ^1; base", "lib-grid 1.0.0", "lib-base 1.0.0"},
			roots:   []string{"app", "@uDOS/grid ^1"},
			want:    "lib-app 1.0.0, lib-base 1.0.0, lib-grid 1.0.0",
		},
		{
			name:    "invalid dependency name falls back",
			catalog: []string{"lib-a 2.0.0 -> Lib_B ^1", "lib-a 1.0.0"},
			roots:   []string{"lib-a"},
			want:    "lib-a 1.0.0",
		},
		{
			name:    "nothing required",
			catalog: []string{"lib-a 1.0.0"},
			want:    "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, reversed := range []bool{false, true} {
				src := catalog(t, tt.catalog...)
				src.reversed = reversed
				sol, err := Resolve(context.Background(), src, reqs(tt.roots...), tt.opts)
				if err != nil {
					t.Fatalf("Resolve: %v", err)
				}
				if got := versions(sol); got != tt.want {
					t.Errorf("Resolve = %s, want %s", got, tt.want)
				}
				if tt.order != "" {
					if got := strings.Join(sol.Order, " "); got != tt.order {
						t.Errorf("Order = %s, want %s", got, tt.order)
					}
				}
				for id, n := range src.calls {
					if n > 1 {
						t.Errorf("Versions(%s) called %d times", id, n)
					}
				}
				if err := checkSolution(sol, src, reqs(tt.roots...), tt.opts); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

func TestResolveErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		catalog []string
		roots   []string
		opts    Options
		unknown bool // want errors.Is(err, ErrUnknown)
	}{
		{
			name: "conflict between two dependents",
			catalog: []string{
				"lib-e 1.0.0 -> lib-a ^2.0.0", "lib-b 1.0.0 -> lib-a ^1.1.0",
				"lib-a 1.1.0", "lib-a 1.2.0", "lib-a 2.0.0",
			},
			roots: []string{"lib-e", "lib-b"},
		},
		{
			// The issue's case: the backtracking search said only "lib-b
			// 2.0.0 requires lib-a 1.0.0 but lib-a 2.0.0 was chosen"; the
			// derivation covers every version of lib-b and why lib-a 1.0.0
			// is no way out.
			name: "every version fails for a different reason",
			catalog: []string{
				"lib-b 2.0.0 -> lib-a 1.0.0", "lib-b 1.0.0 -> lib-c ^2",
				"lib-a 1.0.0 -> lib-d ^5", "lib-a 2.0.0",
				"lib-c 1.0.0", "lib-d 1.0.0",
			},
			roots: []string{"lib-b", "lib-a"},
		},
		{
			name: "conflict at depth 2",
			catalog: []string{
				"lib-e 1.0.0 -> lib-x ^1", "lib-x 1.0.0 -> lib-a ^2.0.0",
				"lib-b 1.0.0 -> lib-a ^1.1.0",
				"lib-a 1.1.0", "lib-a 1.2.0", "lib-a 2.0.0",
			},
			roots: []string{"lib-e ^1", "lib-b ^1"},
		},
		{
			name: "conflict at depth 2 after backtracking through every version",
			catalog: []string{
				"lib-e 1.1.0 -> lib-x ^2", "lib-e 1.0.0 -> lib-x ^1",
				"lib-x 2.0.0 -> lib-a ^2.0.0", "lib-x 1.0.0 -> lib-a >=2.0.0",
				"lib-b 1.0.0 -> lib-a ^1.1.0",
				"lib-a 1.1.0", "lib-a 1.2.0", "lib-a 2.0.0",
				"lib-z 1.0.0", "lib-z 2.0.0", "lib-z 3.0.0",
			},
			roots: []string{"lib-e ^1", "lib-b ^1", "lib-z"},
		},
		{
			name: "conflict at depth 3 below a root clash",
			catalog: []string{
				"lib-top 1.0.0 -> lib-mid ^1", "lib-mid 1.0.0 -> lib-low ^1", "lib-low 1.0.0 -> lib-c ^2",
				"lib-c 1.0.0", "lib-c 2.0.0",
			},
			roots: []string{"lib-top", "lib-c ^1"},
		},
		{
			name:    "two root requirements clash",
			catalog: []string{"lib-a 1.0.0", "lib-a 2.0.0"},
			roots:   []string{"lib-a ^1", "lib-a ^2"},
		},
		{
			name: "three requirements clash only together",
			catalog: []string{
				"lib-b 1.0.0 -> lib-a <2", "lib-c 1.0.0 -> lib-a !=1.5.0",
				"lib-a 0.5.0", "lib-a 1.5.0", "lib-a 2.0.0",
			},
			roots: []string{"lib-a >=1", "lib-b", "lib-c"},
		},
		{
			name:    "root asks for a version that does not exist",
			catalog: []string{"lib-a 1.0.0", "lib-a 2.4.1"},
			roots:   []string{"lib-a ^3.0.0"},
		},
		{
			name:    "dependency asks for a version that does not exist",
			catalog: []string{"lib-x 1.0.0 -> lib-a ^3", "lib-a 1.0.0", "lib-a 2.4.1"},
			roots:   []string{"lib-x"},
		},
		{
			name:    "long version list is elided",
			catalog: []string{"lib-a 1.0.0", "lib-a 1.1.0", "lib-a 1.2.0", "lib-a 1.3.0", "lib-a 1.4.0", "lib-a 1.5.0", "lib-a 1.6.0", "lib-a 1.7.0", "lib-a 1.8.0", "lib-a 1.9.0"},
			roots:   []string{"lib-a ^2"},
		},
		{
			name:    "only pre-releases match",
			catalog: []string{"lib-a 0.9.0", "lib-a 1.1.0-beta.1"},
			roots:   []string{"lib-a ^1.0"},
		},
		{
			name:    "library without installable versions",
			catalog: []string{"lib-x 1.0.0 -> lib-a"},
			roots:   []string{"lib-x"},
			unknown: true,
		},
		{
			name:    "unknown root library",
			catalog: []string{"lib-a 1.0.0"},
			roots:   []string{"lib-q ^1"},
			unknown: true,
		},
		{
			name:    "unknown dependency",
			catalog: []string{"lib-a 1.0.0 -> lib-q ^1"},
			roots:   []string{"lib-a"},
			unknown: true,
		},
		{
			name:    "core too old",
			catalog: []string{"lib-x 1.0.0 -> @uDOS/core >=1.5.0"},
			roots:   []string{"lib-x"},
			opts:    Options{CoreVersion: v146},
		},
		{
			name:    "core written as lib-core",
			catalog: []string{"lib-x 1.0.0 -> lib-core >=1.5.0"},
			roots:   []string{"lib-x"},
			opts:    Options{CoreVersion: v146},
		},
		{
			name:    "pre-release core installation is below its release",
			catalog: []string{"lib-x 1.0.0 -> @uDOS/core >=1.5.0"},
			roots:   []string{"lib-x"},
			opts:    Options{CoreVersion: semver.MustParse("1.5.0-rc.1")},
		},
		{
			name:    "core version unknown",
			catalog: []string{"lib-x 1.0.0 -> @uDOS/core >=1.5.0"},
			roots:   []string{"lib-x"},
		},
		{
			name:    "root requires a newer core",
			catalog: []string{"lib-x 1.0.0"},
			roots:   []string{"lib-x", "@uDOS/core >=1.5.0"},
			opts:    Options{CoreVersion: v146},
		},
		{
			name: "core too old deep down, every version",
			catalog: []string{
				"lib-a 1.0.0 -> lib-b ^1", "lib-b 1.1.0 -> @uDOS/core >=1.6", "lib-b 1.0.0 -> @uDOS/core >=1.5",
			},
			roots: []string{"lib-a"},
			opts:  Options{CoreVersion: v146},
		},
		{
			name:    "cycle of two",
			catalog: []string{"lib-x 1.0.0 -> lib-y ^2", "lib-y 2.1.0 -> lib-x ^1"},
			roots:   []string{"lib-x"},
		},
		{
			name:    "cycle of two found from the other end",
			catalog: []string{"lib-x 1.0.0 -> lib-y ^2", "lib-y 2.1.0 -> lib-x ^1"},
			roots:   []string{"lib-y"},
		},
		{
			name:    "cycle of three starts at the smallest id",
			catalog: []string{"lib-z 1.0.0 -> lib-m ^1", "lib-m 1.0.0 -> lib-b ^1", "lib-b 1.0.0 -> lib-z ^1"},
			roots:   []string{"lib-z"},
		},
		{
			name:    "library depends on itself",
			catalog: []string{"lib-x 1.0.0 -> lib-x ^1"},
			roots:   []string{"lib-x"},
		},
		{
			name:    "invalid dependency name",
			catalog: []string{"lib-a 2.0.0 -> Lib_B ^1"},
			roots:   []string{"lib-a"},
		},
		{
			name:    "unusable dependency constraint",
			catalog: []string{"lib-a 2.0.0 -> lib-b 1.x.5", "lib-b 1.0.0"},
			roots:   []string{"lib-a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var first string
			for _, reversed := range []bool{false, true} {
				src := catalog(t, tt.catalog...)
				src.reversed = reversed
				sol, err := Resolve(context.Background(), src, reqs(tt.roots...), tt.opts)
				if err == nil {
					t.Fatalf("Resolve = %s, want an error", versions(sol))
				}
				goldentest.Compare(t, filepath.Join("testdata", "errors", fileName(tt.name)+".golden"), []byte(err.Error()+"\n"))
				if first == "" {
					first = err.Error()
				} else if err.Error() != first {
					t.Errorf("error depends on the Source's order: %q vs %q", first, err)
				}
				var fe *ConflictError
				if !errors.As(err, &fe) {
					t.Errorf("error %T, want *ConflictError", err)
				}
				if got := errors.Is(err, ErrUnknown); got != tt.unknown {
					t.Errorf("errors.Is(err, ErrUnknown) = %v, want %v", got, tt.unknown)
				}
			}
		})
	}
}

func TestResolveWhy(t *testing.T) {
	t.Parallel()
	src := catalog(t,
		"lib-app 1.0.0 -> lib-left ^1; lib-right ^1; @uDOS/core >=1",
		"lib-left 1.0.0 -> lib-base ^1",
		"lib-right 1.0.0 -> lib-base ^1",
		"lib-base 1.0.0",
	)
	sol, err := Resolve(context.Background(), src, reqs("lib-app", "lib-base"), Options{CoreVersion: v146})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"lib-app":   {Root},
		"lib-base":  {Root, "lib-left", "lib-right"},
		"lib-left":  {"lib-app"},
		"lib-right": {"lib-app"},
	}
	for id, w := range want {
		if !slices.Equal(sol.Why[id], w) {
			t.Errorf("Why[%s] = %v, want %v", id, sol.Why[id], w)
		}
	}
	if len(sol.Why) != len(want) {
		t.Errorf("Why = %v", sol.Why)
	}
}

func TestResolveInputErrors(t *testing.T) {
	t.Parallel()
	boom := errors.New("connection reset")
	tests := []struct {
		name  string
		src   *memSource
		roots []Requirement
		opts  Options
		want  string
		is    error
	}{
		{"invalid locked id", catalog(t, "lib-a 1.0.0"), reqs("lib-a"), Options{Locked: map[string]*semver.Version{"a/b": semver.MustParse("1.0.0")}},
			`locked version: invalid library name "a/b"`, libid.ErrInvalid},
		{"invalid root constraint", catalog(t, "lib-a 1.0.0"), reqs("lib-a ^^1"), Options{}, `requirement on lib-a: invalid constraint "^^1"`, nil},
		{"empty root id", catalog(t, "lib-a 1.0.0"), []Requirement{{ID: " ", Constraint: "^1"}}, Options{}, `requirement: invalid library name " ": empty name`, libid.ErrInvalid},
		{"invalid root id", catalog(t, "lib-a 1.0.0"), reqs("lib-A ^1"), Options{}, `requirement: invalid library name "lib-A"`, libid.ErrInvalid},
		{"source failure", func() *memSource {
			s := catalog(t, "lib-a 1.0.0 -> lib-b ^1", "lib-b 1.0.0")
			s.fail = map[string]error{"lib-b": boom}
			return s
		}(), reqs("lib-a"), Options{}, "looking up versions of lib-b: connection reset", boom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Resolve(context.Background(), tt.src, tt.roots, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v does not wrap %v", err, tt.is)
			}
		})
	}
}

// hardCatalog needs every combination of n libraries tried by a search
// that does not learn: each library has versions 1..m, library i requires
// any version of lib-(i+1), every version of the last library but 1.0.0
// requires a library that does not exist, and the roots ask for the last
// library at >=2.
func hardCatalog(t testing.TB, n, m int) (*memSource, []Requirement) {
	lines := chain("lib-p", n, m, func(v int) string {
		if v > 1 {
			return "lib-missing-dep *"
		}
		return ""
	})
	return catalog(t, lines...), reqs("lib-p00", fmt.Sprintf("lib-p%02d >=2", n-1))
}

func TestResolveBudget(t *testing.T) {
	t.Parallel()
	src, roots := pigeonhole(t, 8)
	_, err := Resolve(context.Background(), src, roots, Options{MaxSteps: 3})
	if !errors.Is(err, ErrTooComplex) || !strings.Contains(err.Error(), "gave up after 3 steps") {
		t.Fatalf("error %v, want ErrTooComplex after 3 steps", err)
	}
	// What the backtracking search needed every combination for, PubGrub
	// learns in a few steps, and explains.
	src, roots = hardCatalog(t, 4, 5)
	sol, err := Resolve(context.Background(), src, roots, Options{MaxSteps: 10})
	if err == nil || !strings.Contains(err.Error(), "lib-p03 >=2.0.0 depends on lib-missing-dep which is not in the catalog") {
		t.Fatalf("Resolve = %v, %v", sol, err)
	}
}

func TestResolveContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Resolve(ctx, catalog(t, "lib-a 1.0.0"), reqs("lib-a"), Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

// checkSolution verifies a solution independently of the solver: every
// requirement is met, nothing unneeded is chosen, nothing is missing, the
// graph has no cycle and Order puts dependencies first.
func checkSolution(sol *Solution, src Source, roots []Requirement, opts Options) error {
	chosen := map[string]Candidate{}
	for id, v := range sol.Versions {
		cands, err := src.Versions(id)
		if err != nil {
			return fmt.Errorf("chosen %s: %v", id, err)
		}
		i := slices.IndexFunc(cands, func(c Candidate) bool { return c.Version.Equal(v) })
		if i < 0 {
			return fmt.Errorf("chosen %s %s is not in the catalog", id, v)
		}
		chosen[id] = cands[i]
	}
	if err := validAssignment(chosen, roots, opts, sol.Order); err != nil {
		return err
	}
	// Why names exactly the user (first) and the chosen libraries that
	// depend on each library, sorted.
	want := map[string][]string{}
	add := func(id, by string) {
		ref, err := libid.Parse(id)
		if err != nil || ref.Core || slices.Contains(want[ref.ID], by) {
			return
		}
		want[ref.ID] = append(want[ref.ID], by)
	}
	for _, r := range roots {
		add(r.ID, Root)
	}
	for _, id := range slices.Sorted(maps.Keys(chosen)) {
		for _, d := range chosen[id].Deps {
			add(d.ID, id)
		}
	}
	if len(want) != len(sol.Why) {
		return fmt.Errorf("Why = %v, want %v", sol.Why, want)
	}
	for id, w := range want {
		if !slices.Equal(sol.Why[id], w) {
			return fmt.Errorf("Why[%s] = %v, want %v", id, sol.Why[id], w)
		}
	}
	return nil
}

func validAssignment(chosen map[string]Candidate, roots []Requirement, opts Options, order []string) error {
	check := func(who string, r Requirement) error {
		c, err := parseForTest(r.Constraint)
		if err != nil {
			return fmt.Errorf("%s: %v", who, err)
		}
		if libid.IsCore(r.ID) {
			if opts.CoreVersion == nil || !c.CheckWith(opts.CoreVersion, true) {
				return fmt.Errorf("%s requires core %s, installed %v", who, r.Constraint, opts.CoreVersion)
			}
			return nil
		}
		ref, err := libid.Parse(r.ID)
		if err != nil {
			return fmt.Errorf("%s: %v", who, err)
		}
		got, ok := chosen[ref.ID]
		if !ok {
			return fmt.Errorf("%s requires %s, which was not chosen", who, r.ID)
		}
		if !c.CheckWith(got.Version, opts.AllowPrerelease) {
			return fmt.Errorf("%s requires %s %s, chosen %s", who, r.ID, r.Constraint, got.Version)
		}
		return nil
	}
	reached := map[string]bool{}
	var reach func(id string)
	reach = func(id string) {
		if ref, err := libid.Parse(id); err == nil {
			id = ref.ID
		}
		if reached[id] || libid.IsCore(id) {
			return
		}
		reached[id] = true
		for _, d := range chosen[id].Deps {
			reach(d.ID)
		}
	}
	for _, r := range roots {
		if err := check("root", r); err != nil {
			return err
		}
		reach(r.ID)
	}
	for id, c := range chosen {
		for _, d := range c.Deps {
			if err := check(id+" "+c.Version.String(), d); err != nil {
				return err
			}
		}
	}
	if order == nil {
		return acyclic(chosen)
	}
	if len(reached) != len(chosen) {
		return fmt.Errorf("chose %d libraries, %d are needed", len(chosen), len(reached))
	}
	if len(order) != len(chosen) {
		return fmt.Errorf("order %v does not list every chosen library", order)
	}
	pos := map[string]int{}
	for i, id := range order {
		pos[id] = i
	}
	for id, c := range chosen {
		for _, d := range c.Deps {
			if ref, _ := libid.Parse(d.ID); !ref.Core && pos[ref.ID] >= pos[id] {
				return fmt.Errorf("order %v puts %s before its dependency %s", order, id, d.ID)
			}
		}
	}
	return nil
}

func acyclic(chosen map[string]Candidate) error {
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(id string) error
	visit = func(id string) error {
		switch state[id] {
		case 1:
			return fmt.Errorf("cycle through %s", id)
		case 2:
			return nil
		}
		state[id] = 1
		for _, d := range chosen[id].Deps {
			if _, ok := chosen[d.ID]; ok {
				if err := visit(d.ID); err != nil {
					return err
				}
			}
		}
		state[id] = 2
		return nil
	}
	for id := range chosen {
		if err := visit(id); err != nil {
			return err
		}
	}
	return nil
}
