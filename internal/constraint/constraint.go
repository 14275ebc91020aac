// Package constraint parses version constraints such as "^1.2", "~1.2.3",
// ">=1.0.0 <2.0.0", ">=1.0, <2", "1.2.x" or "^1 || ^2" on top of
// github.com/Masterminds/semver/v3, and keeps the text the user wrote.
//
// The grammar and its meaning are Masterminds' (docs/CONSTRAINTS.md has the
// full table, each line of it checked by a test in this package):
//
//   - "^1.2.3" is >=1.2.3 <2.0.0; "^0.2.3" is >=0.2.3 <0.3.0; "^0.0.3" is
//     exactly 0.0.3; "^0" is <1.0.0; "^0.0" is <0.1.0.
//   - "~1.2.3" is >=1.2.3 <1.3.0; "~1.2" is <1.3.0; "~1" is >=1.0.0 <2.0.0.
//   - "1.2.3" and "=1.2.3" are exact; "1.2", "1.2.x" and "=1.2" mean 1.2.*.
//   - "*", "x" and "" inside a range are wildcards; "1.2 - 2.3" is a hyphen
//     range (>=1.2 <=2.3.*); a space or a comma is AND; "||" is OR.
//   - Build metadata is ignored when comparing.
//
// Pre-release rule: a pre-release version (1.3.0-beta) satisfies an
// OR-group only if some comparator in that same group carries a pre-release,
// or if pre-releases are allowed explicitly (CheckWith(v, true)). Unlike
// npm, Masterminds does not require the pre-release to be on the same
// major.minor.patch: ">=1.2.3-alpha <2" accepts 1.9.0-rc.1, which npm
// refuses. Parse refuses two constructs whose Masterminds meaning is a trap:
// "^*" (Masterminds: only 0.0.0, npm: anything) and "~0.0.0" (Masterminds:
// anything, npm: <0.1.0).
package constraint

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// Error reports a constraint that cannot be parsed: the text as given and
// what is wrong with it.
type Error struct {
	Text    string
	Problem string
}

func (e *Error) Error() string {
	return fmt.Sprintf("invalid constraint %q: %s", e.Text, e.Problem)
}

// Constraint is a parsed version constraint. The zero value is not usable;
// build one with Parse. A Constraint is immutable and safe for concurrent use.
type Constraint struct {
	text   string
	sv     *semver.Constraints
	hasPre bool
}

var (
	// "^*", "^x", "^X", with optional spaces, as a whole comparator.
	caretWildcard = regexp.MustCompile(`(^|[\s,|])\^\s*[xX*](\.[xX*]){0,2}($|[\s,|])`)
	// "~0.0.0" / "~>0.0.0" with any pre-release or metadata, as a whole comparator.
	tildeZero = regexp.MustCompile(`(^|[\s,|])~>?\s*v?0\.0\.0([-+][0-9A-Za-z.+-]*)?($|[\s,|])`)
	// A comparator's version carrying a pre-release, e.g. ">=1.2.3-beta".
	preInComparator = regexp.MustCompile(`[0-9xX*]-[0-9A-Za-z]`)
)

// Parse parses a constraint. The returned error is an *Error naming the
// constraint and the problem.
func Parse(text string) (*Constraint, error) {
	bad := func(problem string) (*Constraint, error) {
		return nil, &Error{Text: text, Problem: problem}
	}
	trimmed := strings.TrimSpace(text)
	switch {
	case trimmed == "":
		return bad(`empty constraint (write "*" for any version)`)
	case len(text) > semver.MaxConstraintLen:
		return bad(fmt.Sprintf("longer than %d bytes", semver.MaxConstraintLen))
	case strings.Contains(text, "&&"):
		return bad(`"&&" is not an operator (separate AND terms with a space or a comma)`)
	case strings.Contains(text, "|||"):
		return bad(`"|||" is not an operator (write "||" for OR)`)
	case strings.Contains(strings.ReplaceAll(text, "||", ""), "|"):
		return bad(`a single "|" is not an operator (write "||" for OR)`)
	case strings.Count(text, "||") >= semver.MaxConstraintGroups:
		return bad(fmt.Sprintf("more than %d alternatives joined by ||", semver.MaxConstraintGroups))
	case caretWildcard.MatchString(text):
		return bad(`"^*" matches only 0.0.0 in Masterminds semver but any version in npm (write "*" for any version)`)
	case tildeZero.MatchString(text):
		return bad(`"~0.0.0" matches any version in Masterminds semver but <0.1.0 in npm (write "*" or ">=0.0.0 <0.1.0")`)
	}
	for _, alt := range strings.Split(text, "||") {
		if strings.TrimSpace(alt) == "" {
			return bad(`empty alternative around "||"`)
		}
	}
	sv, err := semver.NewConstraint(text)
	if err != nil {
		return bad(describe(err))
	}
	return &Constraint{text: text, sv: sv, hasPre: preInComparator.MatchString(text)}, nil
}

// describe turns a Masterminds parse error into a sentence that says what
// to fix; Masterminds' own "constraint parser error" names nothing.
func describe(err error) string {
	msg := err.Error()
	switch {
	case errors.Is(err, semver.ErrConstraintTooLong):
		return fmt.Sprintf("longer than %d bytes", semver.MaxConstraintLen)
	case errors.Is(err, semver.ErrTooManyConstraintGroups):
		return fmt.Sprintf("more than %d alternatives joined by ||", semver.MaxConstraintGroups)
	case msg == "constraint parser error":
		return "a version number is malformed or too large"
	case strings.HasPrefix(msg, "improper constraint: "):
		return "cannot read " + strings.TrimPrefix(msg, "improper constraint: ") +
			` (expected comparators like "^1.2", "~1.2.3", ">=1.0 <2", "1.2.x", joined by spaces, commas or "||")`
	}
	return msg
}

// MustParse is Parse for constants in code and tests; it panics on error.
func MustParse(text string) *Constraint {
	c, err := Parse(text)
	if err != nil {
		panic(err)
	}
	return c
}

// String returns the constraint exactly as it was written.
func (c *Constraint) String() string { return c.text }

// Canonical returns Masterminds' normalised form (hyphen ranges expanded,
// commas and extra spaces dropped), e.g. ">=1.0 <2" for ">=1.0, <2".
func (c *Constraint) Canonical() string { return c.sv.String() }

// HasPrerelease reports whether some comparator names a pre-release version,
// which (per OR-group) lets pre-release versions match.
func (c *Constraint) HasPrerelease() bool { return c.hasPre }

// Check reports whether v satisfies the constraint under the default
// pre-release rule (see the package comment).
func (c *Constraint) Check(v *semver.Version) bool {
	return c.sv.Check(v)
}

// CheckWith is Check with pre-release versions allowed everywhere when
// includePrerelease is true (they must still be inside the range).
func (c *Constraint) CheckWith(v *semver.Version, includePrerelease bool) bool {
	if !includePrerelease {
		return c.sv.Check(v)
	}
	cp := *c.sv // Constraints.Check has a value receiver: a copy is safe to tweak.
	cp.IncludePrerelease = true
	return cp.Check(v)
}

// MarshalText returns the original text, so manifests round-trip.
func (c *Constraint) MarshalText() ([]byte, error) { return []byte(c.text), nil }

// UnmarshalText parses text into c.
func (c *Constraint) UnmarshalText(text []byte) error {
	p, err := Parse(string(text))
	if err != nil {
		return err
	}
	*c = *p
	return nil
}
