package resolve

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fredbook/udos-dist/internal/goldentest"
)

// The worked examples of Dart pub's doc/solver.md, with library ids for
// package names ("foo" is lib-foo) and the user's requirements for root's
// dependencies. Each golden file holds the catalog, the solver's trace
// (the assignments and incompatibilities of solver.md's tables, with pub's
// decision levels: root's decision is level 1) and the outcome, so a
// change in the algorithm's steps shows in review.
var solverMD = []struct {
	name    string
	catalog []string
	roots   []string
}{
	{
		name:    "no-conflicts",
		catalog: []string{"lib-foo 1.0.0 -> lib-bar ^1.0.0", "lib-bar 1.0.0", "lib-bar 2.0.0"},
		roots:   []string{"lib-foo ^1.0.0"},
	},
	{
		name: "avoiding-conflict-during-decision-making",
		catalog: []string{
			"lib-foo 1.1.0 -> lib-bar ^2.0.0", "lib-foo 1.0.0",
			"lib-bar 1.0.0", "lib-bar 1.1.0", "lib-bar 2.0.0",
		},
		roots: []string{"lib-foo ^1.0.0", "lib-bar ^1.0.0"},
	},
	{
		name: "performing-conflict-resolution",
		catalog: []string{
			"lib-foo 2.0.0 -> lib-bar ^1.0.0", "lib-foo 1.0.0",
			"lib-bar 1.0.0 -> lib-foo ^1.0.0",
		},
		roots: []string{"lib-foo >=1.0.0"},
	},
	{
		name: "conflict-resolution-with-a-partial-satisfier",
		catalog: []string{
			"lib-foo 1.1.0 -> lib-left ^1.0.0; lib-right ^1.0.0", "lib-foo 1.0.0",
			"lib-left 1.0.0 -> lib-shared >=1.0.0",
			"lib-right 1.0.0 -> lib-shared <2.0.0",
			"lib-shared 2.0.0", "lib-shared 1.0.0 -> lib-target ^1.0.0",
			"lib-target 2.0.0", "lib-target 1.0.0",
		},
		roots: []string{"lib-foo ^1.0.0", "lib-target ^2.0.0"},
	},
	{
		// On listed versions, "lib-shared <2.0.0" above is exactly 1.0.0 and
		// satisfies "lib-shared 1.0.0" alone; a 0.9.0 makes the two
		// assignments satisfy it only together, as in solver.md's table.
		name: "conflict-resolution-with-a-partial-satisfier-0.9.0",
		catalog: []string{
			"lib-foo 1.1.0 -> lib-left ^1.0.0; lib-right ^1.0.0", "lib-foo 1.0.0",
			"lib-left 1.0.0 -> lib-shared >=1.0.0",
			"lib-right 1.0.0 -> lib-shared <2.0.0",
			"lib-shared 2.0.0", "lib-shared 1.0.0 -> lib-target ^1.0.0", "lib-shared 0.9.0",
			"lib-target 2.0.0", "lib-target 1.0.0",
		},
		roots: []string{"lib-foo ^1.0.0", "lib-target ^2.0.0"},
	},
	{
		name: "linear-error-reporting",
		catalog: []string{
			"lib-foo 1.0.0 -> lib-bar ^2.0.0",
			"lib-bar 2.0.0 -> lib-baz ^3.0.0",
			"lib-baz 1.0.0", "lib-baz 3.0.0",
		},
		roots: []string{"lib-foo ^1.0.0", "lib-baz ^1.0.0"},
	},
	{
		name: "branching-error-reporting",
		catalog: []string{
			"lib-foo 1.0.0 -> lib-a ^1.0.0; lib-b ^1.0.0",
			"lib-foo 1.1.0 -> lib-x ^1.0.0; lib-y ^1.0.0",
			"lib-a 1.0.0 -> lib-b ^2.0.0",
			"lib-b 1.0.0", "lib-b 2.0.0",
			"lib-x 1.0.0 -> lib-y ^2.0.0",
			"lib-y 1.0.0", "lib-y 2.0.0",
		},
		roots: []string{"lib-foo ^1.0.0"},
	},
}

func TestSolverMDExamples(t *testing.T) {
	t.Parallel()
	for _, ex := range solverMD {
		t.Run(ex.name, func(t *testing.T) {
			t.Parallel()
			var b strings.Builder
			b.WriteString("# catalog\n")
			for _, l := range ex.catalog {
				b.WriteString(l + "\n")
			}
			b.WriteString("# you require\n")
			for _, r := range ex.roots {
				b.WriteString(r + "\n")
			}
			b.WriteString("# trace\n")
			sol, err := solve(context.Background(), catalog(t, ex.catalog...), reqs(ex.roots...), Options{}, func(s string) {
				b.WriteString(s + "\n")
			})
			if err != nil {
				b.WriteString("# error\n" + err.Error() + "\n")
			} else {
				b.WriteString("# solution\n" + versions(sol) + "\n")
				if err := checkSolution(sol, catalog(t, ex.catalog...), reqs(ex.roots...), Options{}); err != nil {
					t.Error(err)
				}
			}
			goldentest.Compare(t, filepath.Join("testdata", "solver-md", ex.name+".golden"), []byte(b.String()))
		})
	}
}
