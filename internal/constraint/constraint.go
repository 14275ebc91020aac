// Package constraint parses version constraints in npm's range grammar —
// "^1.2", "~1.2.3", ">=1.0.0 <2.0.0", "1.2.x", "1 - 2", "^1 || ^2" — gives
// them npm's meaning, and keeps the text the user wrote.
//
// Versions are github.com/Masterminds/semver/v3's; the range layer is this
// package's own. Masterminds' constraints mean something else than npm's
// in enough places to surprise anyone who has used npm, pub or cargo: "^*"
// matches only 0.0.0, "~0.0.0" matches everything, "1.0.0 - x" and
// "1.x - x" match nothing (it reads "<=x" as 0.0.x), "1.x.5", "x.1" and
// ">01.02.03" are accepted, and with pre-releases allowed "2.x" does not
// admit 2.0.0-pre. So this package translates each range the way
// node-semver (npm's reference implementation) does, into sets of
// primitive comparators on Masterminds versions, and checks versions
// against those. node-semver's own range fixtures are run against it
// (npm_test.go); docs/CONSTRAINTS.md lists the grammar and every place
// where uDOS deliberately differs:
//
//   - a comma also joins comparators (">=1.0, <2"), and "!=1.2.3" excludes
//     a version: both are refused by npm;
//   - the empty constraint and an empty alternative around "||" are
//     refused (npm reads them as "*"): an empty string is far more often a
//     mistake (an unexpanded variable) than a wish for any version;
//   - there is no loose mode: "1.2.3beta" and "=1.2.3 - 2" are refused.
//
// Pre-release rule (npm's): a pre-release version (1.3.0-beta) satisfies
// an OR-alternative only if some comparator of that alternative names a
// pre-release of the same major.minor.patch (">=1.3.0-alpha"), or if
// pre-releases are allowed explicitly (CheckWith(v, true)); then partial,
// x-range, hyphen, tilde and caret lower bounds admit the pre-releases of
// the bound too ("2.x" admits 2.0.0-pre.0, like npm's includePrerelease).
package constraint

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/fredbook/udos-dist/internal/clip"
)

// Limits on a constraint's text. Parsing is linear; the limits keep error
// messages and manifests sane.
const (
	MaxLen          = 512 // bytes
	MaxAlternatives = 32  // joined by "||"
	// maxNumber is the largest version number npm can represent (a
	// JavaScript safe integer); a range with a bigger one is refused, as
	// npm refuses it.
	maxNumber = 1<<53 - 1
)

// Error reports a constraint that cannot be parsed: the text as given and
// what is wrong with it. Error() shortens a long text (Text keeps all of it).
type Error struct {
	Text    string
	Problem string
}

func (e *Error) Error() string {
	return fmt.Sprintf("invalid constraint %s: %s", clip.Quote(e.Text), e.Problem)
}

// Constraint is a parsed version constraint. The zero value is not usable;
// build one with Parse. A Constraint is immutable and safe for concurrent use.
type Constraint struct {
	text string
	// sets are the OR-alternatives as AND-sets of primitive comparators:
	// [0] as read normally, [1] as read with pre-releases allowed.
	sets   [2][][]comparator
	hasPre bool
}

type op uint8

const (
	opAny op = iota // matches every version; no operand
	opEQ
	opLT
	opLE
	opGT
	opGE
	opNE // uDOS extension: not v (or, with hi, not in [v, hi))
)

var opText = [...]string{opAny: "", opEQ: "", opLT: "<", opLE: "<=", opGT: ">", opGE: ">=", opNE: "!="}

// comparator is one primitive comparison, as node-semver desugars ranges.
type comparator struct {
	op   op
	v    *semver.Version
	hi   *semver.Version // opNE over an x-range: the excluded range's exclusive upper bound
	text string          // node-semver's form, e.g. ">=1.2.0-0"; "" for opAny
}

// nullText is node-semver's comparator that no version satisfies.
const nullText = "<0.0.0-0"

func (c comparator) test(v *semver.Version) bool {
	if c.op == opAny {
		return true
	}
	d := v.Compare(c.v)
	switch c.op {
	case opEQ:
		return d == 0
	case opLT:
		return d < 0
	case opLE:
		return d <= 0
	case opGT:
		return d > 0
	case opGE:
		return d >= 0
	case opNE:
		if c.hi == nil {
			return d != 0
		}
		return d < 0 || v.Compare(c.hi) >= 0
	}
	return false
}

// Parse parses a constraint. The returned error is an *Error naming the
// constraint and the problem.
func Parse(text string) (*Constraint, error) {
	bad := func(problem string) (*Constraint, error) {
		return nil, &Error{Text: text, Problem: problem}
	}
	switch {
	case strings.TrimSpace(text) == "":
		return bad(`empty constraint (write "*" for any version)`)
	case len(text) > MaxLen:
		return bad(fmt.Sprintf("longer than %d bytes", MaxLen))
	case strings.Contains(text, "&&"):
		return bad(`"&&" is not an operator (separate AND terms with a space or a comma)`)
	case strings.Contains(text, "|||"):
		return bad(`"|||" is not an operator (write "||" for OR)`)
	case strings.Contains(strings.ReplaceAll(text, "||", ""), "|"):
		return bad(`a single "|" is not an operator (write "||" for OR)`)
	case strings.Count(text, "||") >= MaxAlternatives:
		return bad(fmt.Sprintf("more than %d alternatives joined by ||", MaxAlternatives))
	}
	c := &Constraint{text: text}
	var alts [][]term
	for _, alt := range strings.Split(text, "||") {
		if strings.TrimSpace(alt) == "" {
			return bad(`empty alternative around "||"`)
		}
		terms, err := parseAlternative(alt)
		if err != nil {
			return bad(err.Error())
		}
		for _, t := range terms {
			c.hasPre = c.hasPre || t.namesPrerelease()
		}
		alts = append(alts, terms)
	}
	for mode, includePre := range []bool{false, true} {
		sets := make([][]comparator, 0, len(alts))
		for _, terms := range alts {
			var set []comparator
			for _, t := range terms {
				cs, err := t.desugar(includePre)
				if err != nil {
					return bad(err.Error())
				}
				set = append(set, cs...)
			}
			sets = append(sets, simplifySet(set, includePre))
		}
		c.sets[mode] = simplifyRange(sets)
	}
	return c, nil
}

// simplifySet applies node-semver's rules within one AND-set: ">=0.0.0" is
// any version, a set holding the null comparator is only that, repeated
// comparators count once, and "any" disappears beside others.
func simplifySet(set []comparator, includePre bool) []comparator {
	seen := map[string]bool{}
	out := make([]comparator, 0, len(set))
	for _, c := range set {
		// node-semver drops ">=0.0.0" only without pre-releases (and
		// ">=0.0.0-0" only with them); dropping both in both modes keeps
		// "allowing pre-releases never rejects what was matched without".
		if c.text == ">=0.0.0" || (includePre && c.text == ">=0.0.0-0") {
			c = comparator{op: opAny}
		}
		if c.text == nullText {
			return []comparator{c}
		}
		if seen[c.text] {
			continue
		}
		seen[c.text] = true
		out = append(out, c)
	}
	if len(out) > 1 && seen[""] {
		kept := out[:0]
		for _, c := range out {
			if c.op != opAny {
				kept = append(kept, c)
			}
		}
		out = kept
	}
	return out
}

// simplifyRange applies node-semver's rules across alternatives: null sets
// go when there are others, and an alternative that is "any" is the range.
func simplifyRange(sets [][]comparator) [][]comparator {
	if len(sets) < 2 {
		return sets
	}
	first := sets[0]
	kept := sets[:0:0]
	for _, s := range sets {
		if s[0].text != nullText {
			kept = append(kept, s)
		}
	}
	if len(kept) == 0 {
		return [][]comparator{first}
	}
	for _, s := range kept {
		if len(s) == 1 && s[0].op == opAny {
			return [][]comparator{s}
		}
	}
	return kept
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

// Canonical returns node-semver's normalised form of the constraint (its
// Range.range, "*" when that is empty): ">=1.2.0 <2.0.0-0" for "^1.2",
// "<0.0.0-0" for a range nothing satisfies. Parsing it again gives a
// constraint that checks every version the same way (without pre-releases
// allowed: that mode has its own form, see canonical).
func (c *Constraint) Canonical() string { return c.canonical(false) }

func (c *Constraint) canonical(includePre bool) string {
	var b strings.Builder
	for i, set := range c.sets[boolIndex(includePre)] {
		if i > 0 {
			b.WriteString("||")
		}
		for k, cmp := range set {
			if k > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(cmp.text)
		}
	}
	if b.Len() == 0 {
		return "*"
	}
	return b.String()
}

// HasPrerelease reports whether some comparator names a pre-release version
// (">=1.2.3-beta", "^1.0.0-0"), which lets pre-releases of that
// major.minor.patch match.
func (c *Constraint) HasPrerelease() bool { return c.hasPre }

// Check reports whether v satisfies the constraint under the default
// pre-release rule (see the package comment).
func (c *Constraint) Check(v *semver.Version) bool { return c.CheckWith(v, false) }

// CheckWith is Check with pre-release versions allowed everywhere when
// includePrerelease is true (they must still be inside the range), like
// npm's includePrerelease option.
func (c *Constraint) CheckWith(v *semver.Version, includePrerelease bool) bool {
	if v == nil {
		return false
	}
	for _, set := range c.sets[boolIndex(includePrerelease)] {
		if testSet(set, v, includePrerelease) {
			return true
		}
	}
	return false
}

func testSet(set []comparator, v *semver.Version, includePre bool) bool {
	for _, c := range set {
		if !c.test(v) {
			return false
		}
	}
	if v.Prerelease() == "" || includePre {
		return true
	}
	// ^1.2.3-pr.1 opens 1.2.3-pr.2, not 1.2.4-alpha: only a comparator
	// naming a pre-release of the same major.minor.patch lets one in.
	for _, c := range set {
		if c.op == opAny || c.op == opNE || c.v.Prerelease() == "" {
			continue
		}
		if c.v.Major() == v.Major() && c.v.Minor() == v.Minor() && c.v.Patch() == v.Patch() {
			return true
		}
	}
	return false
}

func boolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
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

// xver is a version as a range writes it: up to three numbers, where a
// missing number or an x/X/* stands for any; a pre-release only after all
// three. Build metadata is dropped when read.
type xver struct {
	n    [3]uint64
	k    int // how many leading numbers are given (3: a full version)
	pre  string
	text string // as written, for messages and "!=" forms
}

func (x xver) full() bool { return x.k == 3 }

// term is one comparator as written: an operator and an xver, or (hyphen)
// a "LOW - HIGH" range.
type term struct {
	op     string // "", "=", "<", "<=", ">", ">=", "~", "^", "!="
	v      xver
	hyphen bool
	to     xver // the hyphen range's HIGH
}

func (t term) namesPrerelease() bool {
	if t.hyphen {
		return (t.v.full() && t.v.pre != "") || (t.to.full() && t.to.pre != "")
	}
	return t.op != "!=" && t.v.full() && t.v.pre != ""
}

// operators, longest first so that ">=" is not read as ">".
var operators = []string{"<=", ">=", "!=", "~>", "<", ">", "=", "~", "^"}

func isOperator(s string) bool {
	for _, o := range operators {
		if s == o {
			return true
		}
	}
	return false
}

const grammarHint = `expected comparators like "^1.2", "~1.2.3", ">=1.0 <2", "1.2.x", "1 - 2", joined by spaces, commas or "||"`

// parseAlternative reads one OR-alternative: comparators joined by spaces
// or commas, or a lone hyphen range.
func parseAlternative(alt string) ([]term, error) {
	if strings.Contains(alt, ",") {
		pieces := strings.Split(alt, ",")
		for _, p := range pieces {
			if strings.TrimSpace(p) == "" {
				return nil, fmt.Errorf("cannot read %s: a comma must stand between two comparators", clip.Quote(strings.TrimSpace(alt)))
			}
		}
		alt = strings.Join(pieces, " ")
	}
	fields := strings.Fields(alt)
	if len(fields) == 3 && fields[1] == "-" {
		var ends [2]xver
		for i, f := range []string{fields[0], fields[2]} {
			v, why := parseXVer(f)
			if strings.ContainsAny(f[:1], "<>=~^!") {
				why = `the ends of a hyphen range take no operator ("1.2 - 2.3")`
			}
			if why != "" {
				return nil, fmt.Errorf("cannot read %s in the hyphen range %s: %s", clip.Quote(f), clip.Quote(strings.Join(fields, " ")), why)
			}
			ends[i] = v
		}
		return []term{{hyphen: true, v: ends[0], to: ends[1]}}, nil
	}
	var terms []term
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		if f == "-" {
			return nil, fmt.Errorf(`cannot read %s: a hyphen range stands alone between "||" ("1.2 - 2.3")`, clip.Quote(strings.Join(fields, " ")))
		}
		// ">= 1.2.3", "~ 1.2", "^ 1": an operator may stand apart from its version.
		if isOperator(f) && i+1 < len(fields) && !strings.ContainsAny(fields[i+1][:1], "<>=~^!") {
			f += fields[i+1]
			i++
		}
		t, err := parseTerm(f)
		if err != nil {
			return nil, err
		}
		terms = append(terms, t)
	}
	return terms, nil
}

func parseTerm(s string) (term, error) {
	var t term
	for _, o := range operators {
		if strings.HasPrefix(s, o) {
			t.op = o
			break
		}
	}
	rest := s[len(t.op):]
	if t.op == "~>" {
		t.op = "~"
	}
	if rest == "" {
		return t, fmt.Errorf("cannot read %s: an operator needs a version after it", clip.Quote(s))
	}
	v, why := parseXVer(rest)
	if why != "" {
		return t, fmt.Errorf("cannot read %s: %s", clip.Quote(s), why)
	}
	t.v = v
	return t, nil
}

// parseXVer reads "v1.2.3-pre+build", "1.2", "1.x", "*" and the like, or
// says what is wrong with s.
func parseXVer(s string) (x xver, why string) {
	x.text = s
	rest := strings.TrimPrefix(s, "v")
	if i := strings.IndexByte(rest, '+'); i >= 0 {
		if !validIdentifiers(rest[i+1:], false) {
			return x, "build metadata is dot-separated [0-9A-Za-z-] identifiers"
		}
		rest = rest[:i]
	}
	main, pre, hasPre := strings.Cut(rest, "-")
	parts := strings.Split(main, ".")
	if len(parts) > 3 {
		return x, "more than three numbers (" + grammarHint + ")"
	}
	sawX := false
	for i, p := range parts {
		switch {
		case p == "x" || p == "X" || p == "*":
			sawX = true
		case p != "" && strings.Trim(p, "0123456789") == "":
			if sawX {
				return x, `only x can follow an x (write "` + strings.Join(parts[:i], ".") + `")`
			}
			if len(p) > 1 && p[0] == '0' {
				return x, "a version number has a leading zero"
			}
			n, err := strconv.ParseUint(p, 10, 64)
			if err != nil || n > maxNumber {
				return x, fmt.Sprintf("a version number is malformed or too large (the largest is %d)", uint64(maxNumber))
			}
			x.n[i] = n
			x.k = i + 1
		default:
			return x, "not a version (" + grammarHint + ")"
		}
	}
	if hasPre {
		if len(parts) != 3 {
			return x, `a pre-release needs all three numbers ("1.2.0-rc.1", not "1.2-rc.1")`
		}
		if !validIdentifiers(pre, true) {
			return x, "a pre-release is dot-separated [0-9A-Za-z-] identifiers, numbers without leading zeros"
		}
		if x.full() {
			// "1.x.x-alpha": node-semver ignores a pre-release beside an x.
			x.pre = pre
		}
	}
	return x, ""
}

// validIdentifiers checks dot-separated SemVer identifiers; numeric ones
// may not have leading zeros in a pre-release.
func validIdentifiers(s string, pre bool) bool {
	for _, id := range strings.Split(s, ".") {
		if id == "" || strings.Trim(id, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-") != "" {
			return false
		}
		if pre && len(id) > 1 && id[0] == '0' && strings.Trim(id, "0123456789") == "" {
			return false
		}
	}
	return true
}

// desugar turns a term into node-semver's primitive comparators; with
// includePre, lower bounds of partial versions take "-0" (the lowest
// pre-release), so that "2.x" admits 2.0.0-pre.
func (t term) desugar(includePre bool) ([]comparator, error) {
	z := ""
	if includePre {
		z = "0"
	}
	var b builder
	if t.hyphen {
		from, to := t.v, t.to
		switch {
		case from.k == 0:
		case from.k == 1:
			b.add(opGE, from.n[0], 0, 0, z)
		case from.k == 2:
			b.add(opGE, from.n[0], from.n[1], 0, z)
		case from.pre != "":
			b.add(opGE, from.n[0], from.n[1], from.n[2], from.pre)
		default:
			b.add(opGE, from.n[0], from.n[1], from.n[2], z)
		}
		switch {
		case to.k == 0:
		case to.k == 1:
			b.add(opLT, to.n[0]+1, 0, 0, "0")
		case to.k == 2:
			b.add(opLT, to.n[0], to.n[1]+1, 0, "0")
		case to.pre != "":
			b.add(opLE, to.n[0], to.n[1], to.n[2], to.pre)
		case includePre:
			b.add(opLT, to.n[0], to.n[1], to.n[2]+1, "0")
		default:
			b.add(opLE, to.n[0], to.n[1], to.n[2], "")
		}
		if len(b.out) == 0 {
			b.any()
		}
		return b.done(t)
	}
	v := t.v
	M, m, p := v.n[0], v.n[1], v.n[2]
	switch t.op {
	case "^", "~":
		// ^1 and ~1 are both the major version; beyond it, ~ lets only the
		// patch part move and ^ all but the leftmost non-zero part.
		switch {
		case v.k == 0:
			b.any()
		case v.k == 1:
			b.add(opGE, M, 0, 0, z)
			b.add(opLT, M+1, 0, 0, "0")
		default:
			if v.k == 2 {
				b.add(opGE, M, m, 0, z)
			} else {
				b.add(opGE, M, m, p, v.pre)
			}
			switch {
			case t.op == "^" && M > 0:
				b.add(opLT, M+1, 0, 0, "0")
			case t.op == "^" && m == 0 && v.k > 2:
				b.add(opLT, 0, 0, p+1, "0")
			default:
				b.add(opLT, M, m+1, 0, "0")
			}
		}
	case "!=":
		switch {
		case v.k == 0:
			b.null()
		case v.k == 1:
			b.notRange(v, M, 0, 0, z, M+1, 0)
		case v.k == 2:
			b.notRange(v, M, m, 0, z, M, m+1)
		default:
			b.add(opNE, M, m, p, v.pre)
		}
	default: // a plain or x-range comparator
		o := map[string]op{"": opEQ, "=": opEQ, "<": opLT, "<=": opLE, ">": opGT, ">=": opGE}[t.op]
		switch {
		case v.full():
			b.add(o, M, m, p, v.pre)
		case v.k == 0:
			if o == opLT || o == opGT {
				b.null()
			} else {
				b.any()
			}
		case o != opEQ:
			pr := z
			if v.k == 1 {
				m = 0
			}
			p = 0
			switch o {
			case opGT: // >1 is >=2.0.0, >1.2 is >=1.3.0
				o = opGE
				if v.k == 1 {
					M, m = M+1, 0
				} else {
					m++
				}
			case opLE: // <=1.2 is <1.3.0-0: every 1.2.x passes
				o = opLT
				if v.k == 1 {
					M++
				} else {
					m++
				}
			}
			if o == opLT {
				pr = "0"
			}
			b.add(o, M, m, p, pr)
		case v.k == 1:
			b.add(opGE, M, 0, 0, z)
			b.add(opLT, M+1, 0, 0, "0")
		default:
			b.add(opGE, M, m, 0, z)
			b.add(opLT, M, m+1, 0, "0")
		}
	}
	return b.done(t)
}

// builder collects comparators and the first number that overflows.
type builder struct {
	out []comparator
	big bool
}

func (b *builder) version(M, m, p uint64, pre string) *semver.Version {
	if M > maxNumber || m > maxNumber || p > maxNumber {
		b.big = true
		return nil
	}
	return semver.New(M, m, p, pre, "")
}

func (b *builder) add(o op, M, m, p uint64, pre string) {
	v := b.version(M, m, p, pre)
	if v == nil {
		return
	}
	b.out = append(b.out, comparator{op: o, v: v, text: opText[o] + v.String()})
}

func (b *builder) any() { b.out = append(b.out, comparator{op: opAny}) }

func (b *builder) null() {
	b.out = append(b.out, comparator{op: opLT, v: semver.New(0, 0, 0, "0", ""), text: nullText})
}

// notRange excludes an x-range: "!=1.2" is neither 1.2.0 nor any 1.2.x.
func (b *builder) notRange(x xver, M, m, p uint64, pre string, hiM, him uint64) {
	lo, hi := b.version(M, m, p, pre), b.version(hiM, him, 0, "0")
	if lo == nil || hi == nil {
		return
	}
	form := fmt.Sprintf("!=%d.x.x", x.n[0])
	if x.k == 2 {
		form = fmt.Sprintf("!=%d.%d.x", x.n[0], x.n[1])
	}
	b.out = append(b.out, comparator{op: opNE, v: lo, hi: hi, text: form})
}

func (b *builder) done(t term) ([]comparator, error) {
	if b.big {
		what := t.op + t.v.text
		if t.hyphen {
			what = t.v.text + " - " + t.to.text
		}
		return nil, fmt.Errorf("cannot read %s: a version number is malformed or too large (the range's bound would be over %d)", clip.Quote(what), uint64(maxNumber))
	}
	return b.out, nil
}
