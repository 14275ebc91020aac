package resolve

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/Masterminds/semver/v3"

	"github.com/fredbook/udos-dist/internal/libid"
)

// byteReader hands out small numbers from the fuzzer's bytes, then zeros.
type byteReader struct {
	b []byte
	i int
}

func (r *byteReader) n(max int) int {
	if r.i >= len(r.b) {
		return 0
	}
	r.i++
	return int(r.b[r.i-1]) % max
}

var (
	fuzzVersions = []string{"0.1.0", "1.0.0", "1.1.0", "1.2.0-beta.1", "1.2.0", "2.0.0", "2.1.0"}
	fuzzRanges   = []string{"*", "^1", "^2", "~1.1", "<2", ">=1.1.0", "1.0.0", "^0.1", ">=1.2.0-beta.1", "^1 || ^2", "!=1.1.0", ">=1.0, <2.1", ""}
	fuzzCore     = []string{">=1.4", ">=1.5.0", "^1", "<1.5"}
)

// genGraph builds a small catalog (up to 5 libraries, 4 versions each, 2
// dependencies per version, some on the core, on themselves or on a
// library the catalog lacks), 1-3 root requirements and options.
func genGraph(data []byte) (*memSource, []Requirement, Options) {
	r := &byteReader{b: data}
	src := &memSource{libs: map[string][]Candidate{}, calls: map[string]int{}}
	nLibs := 1 + r.n(5)
	name := func(i int) string { return fmt.Sprintf("lib-%c", 'a'+i) }
	target := func() string {
		switch k := r.n(nLibs + 2); {
		case k < nLibs:
			return name(k)
		case k == nLibs:
			return "@uDOS/core"
		default:
			return "lib-missing"
		}
	}
	for i := 0; i < nLibs; i++ {
		nv := 1 + r.n(4)
		used := map[int]bool{}
		for j := 0; j < nv; j++ {
			vi := r.n(len(fuzzVersions))
			if used[vi] {
				continue
			}
			used[vi] = true
			c := Candidate{Version: semver.MustParse(fuzzVersions[vi])}
			for k := r.n(3); k > 0; k-- {
				id := target()
				con := fuzzRanges[r.n(len(fuzzRanges))]
				if id == "@uDOS/core" {
					con = fuzzCore[r.n(len(fuzzCore))]
				}
				c.Deps = append(c.Deps, Requirement{ID: id, Constraint: con})
			}
			src.libs[name(i)] = append(src.libs[name(i)], c)
		}
	}
	var roots []Requirement
	for k := 1 + r.n(3); k > 0; k-- {
		id := target()
		con := fuzzRanges[r.n(len(fuzzRanges))]
		if id == "@uDOS/core" {
			con = fuzzCore[r.n(len(fuzzCore))]
		}
		roots = append(roots, Requirement{ID: id, Constraint: con})
	}
	opts := Options{AllowPrerelease: r.n(2) == 1}
	if k := r.n(3); k > 0 {
		opts.CoreVersion = semver.MustParse([]string{"", "1.4.6", "1.5.0"}[k])
	}
	if r.n(2) == 1 {
		opts.Locked = map[string]*semver.Version{name(r.n(nLibs)): semver.MustParse(fuzzVersions[r.n(len(fuzzVersions))])}
	}
	return src, roots, opts
}

// bruteForce reports whether any choice of versions (each library absent
// or at one of its versions) satisfies everything without a cycle, with
// the choices in fixed kept.
func bruteForce(src *memSource, roots []Requirement, opts Options, fixed map[string]Candidate) bool {
	var ids []string
	for id := range src.libs {
		if _, ok := fixed[id]; !ok {
			ids = append(ids, id)
		}
	}
	chosen := maps.Clone(fixed)
	if chosen == nil {
		chosen = map[string]Candidate{}
	}
	var rec func(i int) bool
	rec = func(i int) bool {
		if i == len(ids) {
			return validAssignment(chosen, roots, opts, nil) == nil
		}
		if rec(i + 1) {
			return true
		}
		for _, c := range src.libs[ids[i]] {
			chosen[ids[i]] = c
			if rec(i + 1) {
				return true
			}
		}
		delete(chosen, ids[i])
		return false
	}
	return rec(0)
}

// preferred lists a library's versions in the order the solver prefers
// them: the locked one first, then newest to oldest.
func preferred(cands []Candidate, locked *semver.Version) []Candidate {
	out := slices.Clone(cands)
	slices.SortStableFunc(out, func(a, b Candidate) int {
		if locked != nil && a.Version.Equal(locked) != b.Version.Equal(locked) {
			if a.Version.Equal(locked) {
				return -1
			}
			return 1
		}
		return b.Version.Compare(a.Version)
	})
	return out
}

// greedyOracle is the solution brute force finds when it takes the
// libraries in the order the solver decided them and gives each the most
// preferred version that still leaves some valid completion. The solver
// must have found exactly it: every version it passed over was ruled out
// by the choices before it, never by a guess.
func greedyOracle(src *memSource, roots []Requirement, opts Options, order []string) map[string]*semver.Version {
	fixed := map[string]Candidate{}
	for _, id := range order {
		var locked *semver.Version
		for name, v := range opts.Locked {
			if ref, err := libid.Parse(name); err == nil && ref.ID == id {
				locked = v
			}
		}
		for _, c := range preferred(src.libs[id], locked) {
			fixed[id] = c
			if bruteForce(src, roots, opts, fixed) {
				break
			}
			delete(fixed, id)
		}
	}
	out := map[string]*semver.Version{}
	for id, c := range fixed {
		out[id] = c.Version
	}
	return out
}

// checkAgainstBruteForce runs the solver on one generated problem and
// compares it with brute force: the same answer to "is there a solution",
// a valid solution, and the greedy oracle's solution for the solver's
// decision order.
func checkAgainstBruteForce(t *testing.T, src *memSource, roots []Requirement, opts Options) {
	t.Helper()
	sol, err := Resolve(context.Background(), src, roots, opts)
	possible := bruteForce(src, roots, opts, nil)
	if err != nil {
		var ce *ConflictError
		if !errors.As(err, &ce) {
			t.Fatalf("unexpected error type %T: %v", err, err)
		}
		if possible {
			t.Fatalf("Resolve failed (%v) but a solution exists\ncatalog %v\nroots %v\nopts %+v", err, src.libs, roots, opts)
		}
		return
	}
	if err := checkSolution(sol, src, roots, opts); err != nil {
		t.Fatalf("invalid solution %s: %v\ncatalog %v\nroots %v", versions(sol), err, src.libs, roots)
	}
	if !possible {
		t.Fatalf("Resolve found %s where brute force found nothing", versions(sol))
	}
	want := greedyOracle(src, roots, opts, sol.decisions)
	if !maps.EqualFunc(want, sol.Versions, func(a, b *semver.Version) bool { return a.Equal(b) }) {
		t.Fatalf("Resolve = %s (decided in order %v); brute force in that order prefers %v\ncatalog %v\nroots %v\nopts %+v",
			versions(sol), sol.decisions, want, src.libs, roots, opts)
	}
	// Same inputs, same answer.
	again, err := Resolve(context.Background(), src, roots, opts)
	if err != nil || versions(again) != versions(sol) {
		t.Fatalf("second run gave %v, %v; first %s", again, err, versions(sol))
	}
}

// TestResolveAgainstBruteForce runs the fuzz target's comparison on a
// thousand generated problems, so every test run covers it.
func TestResolveAgainstBruteForce(t *testing.T) {
	t.Parallel()
	n := 1000
	if testing.Short() {
		n = 300
	}
	rng := rand.New(rand.NewPCG(10, 10))
	solved := 0
	for i := 0; i < n; i++ {
		data := make([]byte, 48)
		for j := range data {
			data[j] = byte(rng.IntN(256))
		}
		src, roots, opts := genGraph(data)
		src.t = t
		checkAgainstBruteForce(t, src, roots, opts)
		if _, err := Resolve(context.Background(), src, roots, opts); err == nil {
			solved++
		}
	}
	// Both outcomes must be well represented for the comparison to mean much.
	if solved < n/5 || solved > n*4/5 {
		t.Errorf("%d of %d generated problems are solvable; the generator is off balance", solved, n)
	}
}

func FuzzResolve(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{2, 1, 5, 1, 0, 3, 1, 1, 2, 0, 1, 1, 5, 2, 2})
	f.Add([]byte{4, 3, 1, 2, 1, 3, 2, 3, 1, 0, 4, 6, 2, 2, 1, 2, 3, 9, 1, 1, 0, 1, 7, 2, 2, 0, 3, 1, 1})
	f.Add([]byte{3, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		src, roots, opts := genGraph(data)
		src.t = t
		checkAgainstBruteForce(t, src, roots, opts)
	})
}
