package resolve

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/Masterminds/semver/v3"
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
// or at one of its versions) satisfies everything without a cycle.
func bruteForce(src *memSource, roots []Requirement, opts Options) bool {
	var ids []string
	for id := range src.libs {
		ids = append(ids, id)
	}
	chosen := map[string]Candidate{}
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

func FuzzResolve(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{2, 1, 5, 1, 0, 3, 1, 1, 2, 0, 1, 1, 5, 2, 2})
	f.Add([]byte{4, 3, 1, 2, 1, 3, 2, 3, 1, 0, 4, 6, 2, 2, 1, 2, 3, 9, 1, 1, 0, 1, 7, 2, 2, 0, 3, 1, 1})
	f.Add([]byte{3, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		src, roots, opts := genGraph(data)
		src.t = t
		sol, err := Resolve(context.Background(), src, roots, opts)
		possible := bruteForce(src, roots, opts)
		if err != nil {
			var ce *ConflictError
			var cy *CycleError
			if !errors.As(err, &ce) && !errors.As(err, &cy) {
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
		// Same inputs, same answer.
		again, err := Resolve(context.Background(), src, roots, opts)
		if err != nil || versions(again) != versions(sol) {
			t.Fatalf("second run gave %v, %v; first %s", again, err, versions(sol))
		}
	})
}
