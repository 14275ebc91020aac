package resolve

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/Masterminds/semver/v3"
)

// benchCatalog generates libs libraries with 10 versions each (1.0.0-1.4.0,
// 2.0.0-2.4.0). Libraries come in groups of 25; a version depends on 0-3
// later libraries of its group with the kinds of ranges real manifests use,
// 2.x versions leaning to ^2 and 1.x to ^1, so some choices clash and the
// search has to back up now and then.
func benchCatalog(b *testing.B, libs int) *memSource {
	rng := rand.New(rand.NewPCG(1, 2))
	src := &memSource{t: b, libs: make(map[string][]Candidate, libs), calls: map[string]int{}}
	const group = 25
	ranges := [][]string{
		{"^1", ">=1.2.0", "^1 || ^2", "*", "~1.3"},
		{"^2", ">=1.2.0", "^1 || ^2", "*", "~2.1"},
	}
	for i := 0; i < libs; i++ {
		id := fmt.Sprintf("lib-bench%05d", i)
		end := (i/group + 1) * group
		for major := 1; major <= 2; major++ {
			for minor := 0; minor < 5; minor++ {
				c := Candidate{Version: semver.New(uint64(major), uint64(minor), 0, "", "")}
				if left := end - i - 1; left > 0 {
					seen := map[int]bool{}
					for k := rng.IntN(4); k > 0; k-- {
						j := i + 1 + rng.IntN(min(left, 6))
						if seen[j] {
							continue
						}
						seen[j] = true
						set := ranges[major-1]
						c.Deps = append(c.Deps, Requirement{ID: fmt.Sprintf("lib-bench%05d", j), Constraint: set[rng.IntN(len(set))]})
					}
				}
				src.libs[id] = append(src.libs[id], c)
			}
		}
	}
	return src
}

func BenchmarkSolve(b *testing.B) {
	src := benchCatalog(b, 10_000)
	// Groups from the middle of the catalog whose graph pulls in at least
	// 20 libraries: "typical" is the first, "backtracking" the first whose
	// search had to give up versions it had chosen.
	type pick struct {
		roots       []Requirement
		size, steps int
	}
	picks := map[string]*pick{}
	for g := 200; g < 400 && len(picks) < 2; g++ {
		roots := []Requirement{
			{ID: fmt.Sprintf("lib-bench%05d", g*25), Constraint: "*"},
			{ID: fmt.Sprintf("lib-bench%05d", g*25+1), Constraint: "^2"},
			{ID: fmt.Sprintf("lib-bench%05d", g*25+2), Constraint: ">=1.0.0"},
		}
		sol, err := Resolve(context.Background(), src, roots, Options{})
		if err != nil || len(sol.Versions) < 20 {
			continue
		}
		p := &pick{roots, len(sol.Versions), sol.Steps}
		if picks["typical"] == nil {
			picks["typical"] = p
		}
		if picks["backtracking"] == nil && sol.Steps > len(sol.Versions) {
			picks["backtracking"] = p
		}
	}
	for _, name := range []string{"typical", "backtracking"} {
		p := picks[name]
		if p == nil {
			b.Fatalf("no %s group in the generated catalog", name)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sol, err := Resolve(context.Background(), src, p.roots, Options{})
				if err != nil {
					b.Fatal(err)
				}
				if len(sol.Versions) != p.size || sol.Steps != p.steps {
					b.Fatalf("solution changed: %d libraries in %d steps, want %d in %d", len(sol.Versions), sol.Steps, p.size, p.steps)
				}
			}
			b.ReportMetric(float64(p.size), "libs/op")
			b.ReportMetric(float64(p.steps), "steps/op")
		})
	}
}
