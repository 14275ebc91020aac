package resolve

import (
	"fmt"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/fredbook/udos-dist/internal/constraint"
)

// Cause is one requirement named in a ConflictError.
type Cause struct {
	By         string          // requiring library id; "" for the user's own requirement
	Version    *semver.Version // version of By; nil for the user
	Constraint string          // as written
}

// ConflictError says why no set of versions works. Its message is one of
// (ids, versions and constraints as in the inputs; requirers sorted with the
// user first, then by id and version):
//
//	A 1.0.0 requires lib-a ^2.0.0 and B 1.0.0 requires lib-a ^1.1.0; no version of lib-a satisfies both
//	you require lib-a >=1, B 1.0.0 requires lib-a <2 and C 1.0.0 requires lib-a !=1.5.0; no version of lib-a satisfies all of them
//	you require lib-a ^3.0.0 but no version matches (available: 1.0.0, 2.4.1)
//	A 1.0.0 requires lib-a ^3.0.0 but no version matches (available: 1.0.0, 2.4.1; 3.0.0-rc.1 would match if pre-releases were allowed)
//	you require lib-q, which is not in the catalog
//	A 1.0.0 requires @uDOS/core >=1.5.0 but this installation is 1.4.6
//	A 1.0.0 requires @uDOS/core >=1.5.0 but the installed uDOS version is unknown
//	A 1.0.0 has an unusable dependency on lib-b: invalid constraint "^x": …
//	A 1.0.0 requires lib-a <1.5.0 but lib-a 1.9.0 was chosen
//
// ("you require lib-a" with no constraint when the constraint is "*" or
// empty). The last form only appears when every alternative failed that
// way; the search reports definite clashes in preference.
type ConflictError struct {
	Library   string            // the library no version of which fits; "@uDOS/core" for the core
	Causes    []Cause           // the requirements that together leave nothing
	Available []*semver.Version // every version of Library, ascending (for "no version matches")
	Installed *semver.Version   // the installed core, for core conflicts (nil: unknown)

	msg string
	err error
}

func (e *ConflictError) Error() string { return e.msg }

// Unwrap returns the Source's error when a library is unknown (so
// errors.Is(err, ErrUnknown) holds), else nil.
func (e *ConflictError) Unwrap() error { return e.err }

// Step is one library version on a dependency cycle.
type Step struct {
	ID      string
	Version *semver.Version
}

// CycleError reports libraries that depend on each other in a circle. Its
// message lists the cycle from the smallest id, each id with its version,
// and closes with the first id again:
//
//	dependency cycle: lib-x 1.0.0 -> lib-y 2.1.0 -> lib-x
type CycleError struct {
	Cycle []Step // starts at the smallest id; the last step depends on the first
}

func (e *CycleError) Error() string {
	var b strings.Builder
	b.WriteString("dependency cycle: ")
	for _, st := range e.Cycle {
		fmt.Fprintf(&b, "%s %s -> ", st.ID, st.Version)
	}
	if len(e.Cycle) > 0 {
		b.WriteString(e.Cycle[0].ID)
	}
	return b.String()
}

type kind int

const (
	kindClash   kind = iota // requirements with no common version
	kindNoMatch             // one requirement matches no version
	kindUnknown             // a library the Source does not know
	kindCore                // the installed uDOS does not fit
	kindCycle               // chosen versions depend on each other in a circle
	kindBroken              // a dependency that cannot be parsed
	kindChosen              // clashes with a decision another choice could undo
)

type cause struct {
	by         string
	byVer      *semver.Version
	constraint *constraint.Constraint
}

type explanation struct {
	kind       kind
	id         string
	causes     []cause
	available  []*semver.Version
	prerelease []*semver.Version
	installed  *semver.Version
	chosen     *semver.Version
	cycle      []Step
	srcErr     error
	detail     string
}

// who renders "you require" or "A 1.0.0 requires".
func (c cause) who() string {
	if c.by == "" {
		return "you require"
	}
	return fmt.Sprintf("%s %s requires", c.by, c.byVer)
}

// sentence renders "you require X C" or "A 1.0.0 requires X C", leaving out
// a constraint that allows anything.
func (c cause) sentence(id string) string {
	if c.constraint == nil {
		return c.who() + " " + id
	}
	if t := strings.TrimSpace(c.constraint.String()); t == "*" || t == "" {
		return c.who() + " " + id
	}
	return fmt.Sprintf("%s %s %s", c.who(), id, c.constraint)
}

func (e *explanation) err() error {
	if e.kind == kindCycle {
		return &CycleError{Cycle: rotate(e.cycle)}
	}
	ce := &ConflictError{Library: e.id, Available: e.available, Installed: e.installed, err: e.srcErr}
	for _, c := range e.causes {
		cc := Cause{By: c.by, Version: c.byVer}
		if c.constraint != nil {
			cc.Constraint = c.constraint.String()
		}
		ce.Causes = append(ce.Causes, cc)
	}
	switch e.kind {
	case kindClash:
		parts := make([]string, len(e.causes))
		for i, c := range e.causes {
			parts[i] = c.sentence(e.id)
		}
		tail := "both"
		if len(parts) > 2 {
			tail = "all of them"
		}
		ce.msg = fmt.Sprintf("%s and %s; no version of %s satisfies %s",
			strings.Join(parts[:len(parts)-1], ", "), parts[len(parts)-1], e.id, tail)
	case kindNoMatch:
		ce.msg = fmt.Sprintf("%s but no version matches (%s", e.causes[0].sentence(e.id), listVersions(e.available))
		if len(e.prerelease) > 0 {
			ce.msg += fmt.Sprintf("; %s would match if pre-releases were allowed", joinVersions(e.prerelease, 3))
		}
		ce.msg += ")"
	case kindUnknown:
		ce.msg = fmt.Sprintf("%s %s, which is not in the catalog", e.causes[0].who(), e.id)
	case kindCore:
		if e.installed == nil {
			ce.msg = e.causes[0].sentence(e.id) + " but the installed uDOS version is unknown"
		} else {
			ce.msg = fmt.Sprintf("%s but this installation is %s", e.causes[0].sentence(e.id), e.installed)
		}
	case kindBroken:
		c := e.causes[0]
		ce.msg = fmt.Sprintf("%s %s has an unusable dependency on %s: %s", c.by, c.byVer, e.id, e.detail)
	case kindChosen:
		ce.msg = fmt.Sprintf("%s but %s %s was chosen", e.causes[0].sentence(e.id), e.id, e.chosen)
	}
	return ce
}

// listVersions renders "available: 1.0.0, 2.4.1", eliding the middle of
// long lists, or says there is nothing installable.
func listVersions(vs []*semver.Version) string {
	if len(vs) == 0 {
		return "no installable versions"
	}
	return "available: " + joinVersions(vs, 8)
}

func joinVersions(vs []*semver.Version, max int) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = v.String()
	}
	if len(s) > max {
		s = append([]string{s[0], fmt.Sprintf("… %d more …", len(s)-max)}, s[len(s)-max+1:]...)
	}
	return strings.Join(s, ", ")
}

// rotate starts a cycle at its smallest id so the text does not depend on
// where the search closed it.
func rotate(cyc []Step) []Step {
	if len(cyc) == 0 {
		return cyc
	}
	i := 0
	for j, st := range cyc {
		if st.ID < cyc[i].ID {
			i = j
		}
	}
	return append(slices.Clone(cyc[i:]), cyc[:i]...)
}
