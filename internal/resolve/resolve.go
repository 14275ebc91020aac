// Package resolve chooses library versions: given what the user asks for
// and a Source of every installable version with its dependencies, it picks
// the newest versions that satisfy every constraint, transitively, or
// explains why none exist.
//
// The solver is PubGrub, the algorithm of Dart's pub (doc/solver.md in
// dart-lang/pub; also pubgrub-rs and uv): it keeps a partial solution of
// decisions and derivations, and a set of incompatibilities (sets of terms
// that must not all hold, such as "lib-a 1.x depends on lib-b ^2"). Unit
// propagation derives what the incompatibilities force; a decision takes
// the newest allowed version (a locked one first) of the library with the
// fewest versions left, ties by id; a conflict is resolved to its root
// cause, a new incompatibility that is learned, and the search jumps back
// to where that cause took hold. Dependencies of neighbouring versions that
// are the same become one incompatibility over those versions.
//
// Terms are sets over the versions a library lists (see vset): a
// constraint stands for exactly the listed versions internal/constraint
// says it admits, so the solver and the matcher cannot disagree.
//
// uDOS refuses dependency cycles, which pub allows: deciding a version that
// would close one adds the incompatibility "these versions would form a
// cycle" (every version of each member that depends on the next), which
// the solver then learns from like any other.
//
// When no solution exists, the error (a *ConflictError) is the derivation
// of the failure over incompatibilities, as pub writes it: "Because every
// version of lib-foo depends on lib-bar ^2.0.0 which depends on lib-baz
// ^3.0.0, every version of lib-foo requires lib-baz ^3.0.0. So, because
// you require lib-baz ^1.0.0 and lib-foo ^1.0.0, version solving failed.",
// with numbered lines where the derivation branches. It covers every
// version that was ruled out, not only the newest. docs/RESOLUTION.md
// describes the wording. The search is bounded by the context and by
// Options.MaxSteps. The same inputs always give the same solution and the
// same error text, whatever order the Source lists versions in.
package resolve

import (
	"context"
	"errors"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// ErrUnknown is wrapped by a Source's error for an id it does not know.
var ErrUnknown = errors.New("unknown library")

// ErrTooComplex is wrapped by the error returned when the search exceeds
// Options.MaxSteps.
var ErrTooComplex = errors.New("dependency resolution is too complex")

// DefaultMaxSteps bounds the search when Options.MaxSteps is zero. A step is
// one library version tried; the propagation work is bounded too, at a
// thousand incompatibilities examined per allowed step. Typical graphs
// take tens of steps, and PubGrub's learning settles most conflicts in a
// few more.
const DefaultMaxSteps = 5_000

// Root names the user's own requirements in Solution.Why.
const Root = "(root)"

// Source lists what can be installed.
type Source interface {
	// Versions returns every installable (non-yanked) version of id, in any
	// order. For an id it does not know it returns an error wrapping
	// ErrUnknown; any other error aborts the resolution.
	Versions(id string) ([]Candidate, error)
}

// Candidate is one version of a library and what it needs.
type Candidate struct {
	Version *semver.Version
	Deps    []Requirement
}

// Requirement asks for a library within a constraint. ID may be written in
// any form package libid accepts (id, namespace or short name); Resolve
// works with, asks the Source for and reports the canonical id. An ID for
// which libid.IsCore is true means uDOS itself and is checked against
// Options.CoreVersion. An empty Constraint means any version. Several
// requirements on one library all hold (they are ANDed).
type Requirement struct {
	ID         string
	Constraint string
}

// Options tune a resolution.
type Options struct {
	// CoreVersion is the installed uDOS version (from version.json). When
	// nil, any requirement on the core fails with a clear error. It is
	// compared by plain semver precedence: a pre-release installation
	// counts as what it is.
	CoreVersion *semver.Version
	// Locked versions, by library name in any libid form, are tried first
	// when they are still allowed (used to update one library while keeping
	// the others).
	Locked map[string]*semver.Version
	// AllowPrerelease lets pre-release versions match every constraint
	// whose range contains them, with npm's includePrerelease meaning (see
	// package constraint); without it only constraints that name a
	// pre-release admit them.
	AllowPrerelease bool
	// MaxSteps bounds the search; 0 means DefaultMaxSteps.
	MaxSteps int
}

// Solution is a consistent choice of versions.
type Solution struct {
	// Versions maps each library id to its chosen version (the core is not
	// included: it is not installed from the catalog).
	Versions map[string]*semver.Version
	// Order lists the ids so that every library comes after its
	// dependencies (ties in id order).
	Order []string
	// Why lists, for each id, who required it: Root for the user's own
	// requirements, then the ids of the chosen libraries that depend on it,
	// sorted.
	Why map[string][]string
	// Steps is how many library versions the search tried.
	Steps int

	// decisions are the libraries in the order they were decided (tests
	// check that each got the most preferred version the earlier ones
	// allowed).
	decisions []string
}

// Resolve chooses a version for every library the roots need, directly or
// not. Failures are a *ConflictError (errors.Is(err, ErrUnknown) holds when
// a library the explanation relies on is missing), an error wrapping
// ErrTooComplex, the context's error, a Source error, or an invalid root
// requirement.
func Resolve(ctx context.Context, src Source, roots []Requirement, opts Options) (*Solution, error) {
	return solve(ctx, src, roots, opts, nil)
}

// ConflictError says why no set of versions works: the derivation of the
// failure, one sentence per line, as pub writes it (see the package
// comment and docs/RESOLUTION.md).
type ConflictError struct {
	// Lines are the explanation's lines; numbered ones start "(n) ", a
	// blank line separates independent branches, and notices (such as the
	// installed uDOS version) come first.
	Lines []string

	err error
}

func (e *ConflictError) Error() string { return strings.Join(e.Lines, "\n") }

// Unwrap returns the Source's error when a library the explanation relies
// on is unknown (so errors.Is(err, ErrUnknown) holds), else nil.
func (e *ConflictError) Unwrap() error { return e.err }
