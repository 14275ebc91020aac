package resolve

import (
	"math/bits"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// vset is a set over one library's states: bit i for its i-th version
// (ascending), and the bit after the last version for "not selected". The
// catalog lists every version that can be chosen, so a constraint is
// exactly the set of listed versions it admits: intersection, complement
// and inclusion are then plain bit operations, with no interval algebra
// that could disagree with internal/constraint's matching.
type vset []uint64

func newSet(n int) vset { return make(vset, (n+1+63)/64) }

func (s vset) has(i int) bool { return s[i/64]&(1<<(i%64)) != 0 }
func (s vset) add(i int)      { s[i/64] |= 1 << (i % 64) }

// fullSet is every state of a library with n versions.
func fullSet(n int) vset {
	s := newSet(n)
	for i := 0; i <= n; i++ {
		s.add(i)
	}
	return s
}

func (s vset) and(o vset) vset {
	out := make(vset, len(s))
	for i := range s {
		out[i] = s[i] & o[i]
	}
	return out
}

// not complements s within the n+1 states.
func (s vset) not(n int) vset {
	out := make(vset, len(s))
	for i := range s {
		out[i] = ^s[i]
	}
	if r := (n + 1) % 64; r != 0 {
		out[len(out)-1] &= 1<<r - 1
	}
	return out
}

func (s vset) empty() bool {
	for _, w := range s {
		if w != 0 {
			return false
		}
	}
	return true
}

// subset reports s ⊆ o.
func (s vset) subset(o vset) bool {
	for i := range s {
		if s[i]&^o[i] != 0 {
			return false
		}
	}
	return true
}

func (s vset) disjoint(o vset) bool {
	for i := range s {
		if s[i]&o[i] != 0 {
			return false
		}
	}
	return true
}

func (s vset) equal(o vset) bool {
	for i := range s {
		if s[i] != o[i] {
			return false
		}
	}
	return true
}

// count is how many versions (not "not selected") s holds.
func (s vset) count(n int) int {
	c := 0
	for _, w := range s {
		c += bits.OnesCount64(w)
	}
	if s.has(n) {
		c--
	}
	return c
}

// term is a statement about one library, as in solver.md: positive ("lib-a
// ^1": selected, at a version in the set) or negative ("not lib-a ^1": not
// selected, or at a version outside it). set holds the states the term
// allows; label is how its versions were written (a constraint's text) so
// messages quote the user's words, "" to describe them from the versions.
type term struct {
	p     *pkg
	set   vset
	label string
}

// positive reports whether the term requires the library to be selected.
func (t term) positive() bool { return !t.set.has(t.p.n()) }

// versions is the set of versions the term is about: those it allows when
// positive, those it excludes when negative (so "not lib-a ^1" prints as
// lib-a ^1, like pub).
func (t term) versions() vset {
	if t.positive() {
		return t.set
	}
	return t.set.not(t.p.n())
}

func (t term) negate() term { return term{p: t.p, set: t.set.not(t.p.n()), label: t.label} }

// intersect is the term allowing what both allow; it keeps a label when its
// versions are those of one side.
func (t term) intersect(o term) term {
	r := term{p: t.p, set: t.set.and(o.set)}
	rv := r.versions()
	switch {
	case rv.equal(t.versions()):
		r.label = t.label
	case rv.equal(o.versions()):
		r.label = o.label
	}
	return r
}

// isAny reports whether the term's versions are all of the library's.
func (t term) isAny() bool { return t.versions().count(t.p.n()) == t.p.n() }

// constraintText renders the term's versions: its label, or the versions
// as ranges over the catalog ("1.0.0", ">=1.1.0 <2.0.0", ">=2.0.0"), "any"
// when they are all of them.
func (t term) constraintText() string {
	if t.label != "" {
		return t.label
	}
	return describe(t.p.versions, t.versions())
}

func describe(vs []*semver.Version, s vset) string {
	n := len(vs)
	if s.count(n) == n {
		return "any"
	}
	var runs []string
	for i := 0; i < n; {
		if !s.has(i) {
			i++
			continue
		}
		j := i
		for j+1 < n && s.has(j+1) {
			j++
		}
		switch {
		case i == j:
			runs = append(runs, vs[i].String())
		case i == 0:
			runs = append(runs, "<"+vs[j+1].String())
		case j == n-1:
			runs = append(runs, ">="+vs[i].String())
		default:
			runs = append(runs, ">="+vs[i].String()+" <"+vs[j+1].String())
		}
		i = j + 1
	}
	if len(runs) == 0 {
		return "<0.0.0-0" // no version: node-semver's empty range
	}
	return strings.Join(runs, " || ")
}

// String renders the term as the trace shows it: "lib-a ^1", "not lib-a
// any", "root".
func (t term) String() string {
	var b strings.Builder
	if !t.positive() {
		b.WriteString("not ")
	}
	if t.p.root {
		b.WriteString("root")
		return b.String()
	}
	b.WriteString(t.p.id + " " + t.constraintText())
	return b.String()
}

type causeKind int

const (
	causeRoot       causeKind = iota // the user's requirements must hold: {not root}
	causeDependency                  // {p S, not q C}
	causeNoVersions                  // {q C}: C matches no version of q
	causeUnknown                     // {q any}: q is not in the catalog
	causeCore                        // {p S}: p S requires a core this installation is not
	causeBroken                      // {p v}: a dependency of p v cannot be read
	causeCycle                       // {p1 S1, …}: the versions would depend on each other in a circle
	causeConflict                    // derived from two others by conflict resolution
)

// incompat is a set of terms that must not all hold (solver.md's
// incompatibility), with why.
type incompat struct {
	terms []term
	kind  causeKind
	// causeConflict: the two incompatibilities it was derived from.
	conflict, other *incompat
	// External details for messages.
	constraint string            // causeCore: the core constraint
	installed  *semver.Version   // causeCore: the installed core (nil: unknown)
	detail     string            // causeBroken: the dependency and what is wrong
	srcErr     error             // causeUnknown: the Source's error
	available  []*semver.Version // causeNoVersions: q's versions, ascending
	prerelease []*semver.Version // causeNoVersions: pre-releases that would match with them allowed
	cycle      []term            // causeCycle: the members in order, from the smallest id

	added bool // in the solver's set
	seq   int  // creation order, for the trace
}

// newDerived builds a derived incompatibility the way pub does: a positive
// root term is dropped (it always holds, and error messages read better
// without it), terms about the same library are intersected, terms that
// always hold are dropped.
func newDerived(terms []term, conflict, other *incompat) *incompat {
	if len(terms) != 1 {
		kept := terms[:0:0]
		for _, t := range terms {
			if !(t.p.root && t.positive()) {
				kept = append(kept, t)
			}
		}
		terms = kept
	}
	var out []term
	for _, t := range terms {
		merged := false
		for i := range out {
			if out[i].p == t.p {
				out[i] = out[i].intersect(t)
				merged = true
				break
			}
		}
		if !merged {
			out = append(out, t)
		}
	}
	kept := out[:0]
	for _, t := range out {
		if !t.set.equal(fullSet(t.p.n())) {
			kept = append(kept, t)
		}
	}
	return &incompat{terms: kept, kind: causeConflict, conflict: conflict, other: other}
}

// isFailure reports whether the incompatibility says the user's
// requirements cannot all hold.
func (in *incompat) isFailure() bool {
	return len(in.terms) == 0 || (len(in.terms) == 1 && in.terms[0].p.root && in.terms[0].positive())
}

func (in *incompat) termFor(p *pkg) (term, bool) {
	for _, t := range in.terms {
		if t.p == p {
			return t, true
		}
	}
	return term{}, false
}

// traceString renders {t1, t2} for the trace.
func (in *incompat) traceString() string {
	parts := make([]string, len(in.terms))
	for i, t := range in.terms {
		parts[i] = t.String()
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
