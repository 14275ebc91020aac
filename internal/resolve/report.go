package resolve

import (
	"fmt"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/fredbook/udos-dist/internal/libid"
)

// explain turns the incompatibility that rules out the root into the
// ConflictError: solver.md's error reporting (pub's failure.dart), with
// "you require" for the user's own requirements.
func explain(root *incompat) *ConflictError {
	w := &writer{root: root, derivations: map[*incompat]int{}, numbers: map[*incompat]int{}}
	w.count(root)
	e := &ConflictError{}
	var notices []string
	for _, ext := range root.externals() {
		if n := ext.notice(); n != "" && !slices.Contains(notices, n) {
			notices = append(notices, n)
		}
		if ext.kind == causeUnknown && e.err == nil {
			e.err = ext.srcErr
		}
	}
	slices.Sort(notices)
	if len(notices) > 0 {
		e.Lines = append(notices, "")
	}
	if root.kind == causeConflict {
		w.visit(root, false)
	} else {
		w.write(root, "Because "+root.describe()+", version solving failed.", false)
	}
	pad := 0
	if len(w.numbers) > 0 {
		pad = len(fmt.Sprintf("(%d) ", len(w.numbers)))
	}
	lastEmpty := false
	for _, l := range w.lines {
		if l.text == "" {
			if !lastEmpty {
				e.Lines = append(e.Lines, "")
			}
			lastEmpty = true
			continue
		}
		lastEmpty = false
		prefix := strings.Repeat(" ", pad)
		if l.number > 0 {
			prefix = fmt.Sprintf("%-*s", pad, fmt.Sprintf("(%d)", l.number))
		}
		e.Lines = append(e.Lines, prefix+l.text)
	}
	return e
}

type line struct {
	text   string
	number int
}

type writer struct {
	root        *incompat
	derivations map[*incompat]int // how often each appears in root's derivation
	lines       []line
	numbers     map[*incompat]int
}

func (w *writer) count(in *incompat) {
	w.derivations[in]++
	if w.derivations[in] == 1 && in.kind == causeConflict {
		w.count(in.conflict)
		w.count(in.other)
	}
}

func (w *writer) write(in *incompat, text string, numbered bool) {
	if numbered {
		n := len(w.numbers) + 1
		w.numbers[in] = n
		w.lines = append(w.lines, line{text, n})
		return
	}
	w.lines = append(w.lines, line{text: text})
}

func derived(in *incompat) bool { return in.kind == causeConflict }

func singleLine(in *incompat) bool { return !derived(in.conflict) && !derived(in.other) }

// visit writes the proof of in, solver.md's algorithm step by step.
func (w *writer) visit(in *incompat, conclusion bool) {
	numbered := conclusion || w.derivations[in] > 1
	conj := "And"
	if conclusion || in == w.root {
		conj = "So,"
	}
	text := in.describe()
	a, b := in.conflict, in.other
	switch {
	case derived(a) && derived(b):
		la, lb := w.numbers[a], w.numbers[b]
		switch {
		case la > 0 && lb > 0:
			w.write(in, fmt.Sprintf("Because %s, %s.", and(a, b, la, lb), text), numbered)
		case la > 0 || lb > 0:
			with, without, l := a, b, la
			if lb > 0 {
				with, without, l = b, a, lb
			}
			w.visit(without, false)
			w.write(in, fmt.Sprintf("%s because %s (%d), %s.", conj, with.describe(), l, text), numbered)
		default:
			if singleLine(a) || singleLine(b) {
				first, second := b, a
				if singleLine(b) {
					first, second = a, b
				}
				w.visit(first, false)
				w.visit(second, false)
				w.write(in, fmt.Sprintf("Thus, %s.", text), numbered)
			} else {
				w.visit(a, true)
				w.lines = append(w.lines, line{})
				w.visit(b, false)
				w.write(in, fmt.Sprintf("%s because %s (%d), %s.", conj, a.describe(), w.numbers[a], text), numbered)
			}
		}
	case derived(a) || derived(b):
		der, ext := a, b
		if derived(b) {
			der, ext = b, a
		}
		switch {
		case w.numbers[der] > 0:
			w.write(in, fmt.Sprintf("Because %s, %s.", and(ext, der, 0, w.numbers[der]), text), numbered)
		case w.collapsible(der):
			dd, de := der.conflict, der.other
			if derived(der.other) {
				dd, de = der.other, der.conflict
			}
			w.visit(dd, false)
			w.write(in, fmt.Sprintf("%s because %s, %s.", conj, and(de, ext, 0, 0), text), numbered)
		default:
			w.visit(der, false)
			w.write(in, fmt.Sprintf("%s because %s, %s.", conj, ext.describe(), text), numbered)
		}
	default:
		w.write(in, fmt.Sprintf("Because %s, %s.", and(a, b, 0, 0), text), numbered)
	}
}

// collapsible: in is used once, derived from one external and one derived
// incompatibility whose line is not numbered, so its step can be folded
// into the next sentence ("… which depends on …").
func (w *writer) collapsible(in *incompat) bool {
	if w.derivations[in] > 1 {
		return false
	}
	if derived(in.conflict) == derived(in.other) {
		return false
	}
	complex := in.conflict
	if derived(in.other) {
		complex = in.other
	}
	return w.numbers[complex] == 0
}

// externals lists the external incompatibilities of in's derivation, in
// order.
func (in *incompat) externals() []*incompat {
	if in.kind != causeConflict {
		return []*incompat{in}
	}
	return append(in.conflict.externals(), in.other.externals()...)
}

func (in *incompat) notice() string {
	if in.kind != causeCore {
		return ""
	}
	return coreNotice(in.installed)
}

func coreNotice(v *semver.Version) string {
	if v == nil {
		return "The installed uDOS version is unknown."
	}
	return "The installed uDOS is " + v.String() + "."
}

// --- rendering terms and incompatibilities (pub's incompatibility.dart) ---

// terse renders a term's library and versions: "lib-a ^1", "lib-a",
// "every version of lib-a" (when every is allowed and it is all of them).
func terse(t term, every bool) string {
	if t.p.root {
		return "you"
	}
	if every && t.isAny() {
		return "every version of " + t.p.id
	}
	c := t.constraintText()
	if c == "any" || c == "*" {
		return t.p.id
	}
	return t.p.id + " " + c
}

func (in *incompat) single(positive bool) (term, bool) {
	var found term
	n := 0
	for _, t := range in.terms {
		if t.positive() == positive {
			found = t
			n++
		}
	}
	return found, n == 1
}

// verb is what the single positive term of in does to the others.
func (in *incompat) verb(subject term) string {
	switch {
	case subject.p.root:
		return "require"
	case in.kind == causeDependency:
		return "depends on"
	}
	return "requires"
}

func negatives(in *incompat) string {
	var out []string
	for _, t := range in.terms {
		if !t.positive() {
			out = append(out, terse(t, false))
		}
	}
	return strings.Join(out, " or ")
}

// describe renders in as one clause ("lib-a ^1 depends on lib-b ^2").
func (in *incompat) describe() string {
	switch in.kind {
	case causeDependency:
		dep, dee := in.terms[0], in.terms[1]
		return fmt.Sprintf("%s %s %s", terse(dep, true), in.verb(dep), terse(dee, false))
	case causeCore:
		t := in.terms[0]
		return fmt.Sprintf("%s %s %s %s", terse(t, true), in.verb(t), libid.Core, in.constraint)
	case causeNoVersions:
		t := in.terms[0]
		return fmt.Sprintf("no version of %s matches %s%s", t.p.id, t.constraintText(), in.availability())
	case causeUnknown:
		return fmt.Sprintf("%s is not in the catalog", in.terms[0].p.id)
	case causeBroken:
		return fmt.Sprintf("%s %s", terse(in.terms[0], true), in.detail)
	case causeCycle:
		if len(in.cycle) == 1 {
			return terse(in.cycle[0], true) + " depends on itself"
		}
		return cycleText(in.cycle) + " would be a dependency cycle"
	case causeRoot:
		return "you require it"
	}
	if in.isFailure() {
		return "version solving failed"
	}
	if len(in.terms) == 1 {
		t := in.terms[0]
		state := "forbidden"
		if !t.positive() {
			state = "required"
		}
		return terse(t, false) + " is " + state
	}
	if len(in.terms) == 2 {
		t1, t2 := in.terms[0], in.terms[1]
		if t1.positive() == t2.positive() {
			if t1.positive() {
				return terse(t1, false) + " is incompatible with " + terse(t2, false)
			}
			return "either " + terse(t1, false) + " or " + terse(t2, false)
		}
	}
	var pos, neg []string
	for _, t := range in.terms {
		if t.positive() {
			pos = append(pos, terse(t, false))
		} else {
			neg = append(neg, terse(t, false))
		}
	}
	switch {
	case len(pos) == 1 && len(neg) > 0:
		p, _ := in.single(true)
		return terse(p, true) + " requires " + strings.Join(neg, " or ")
	case len(pos) > 0 && len(neg) > 0:
		return "if " + strings.Join(pos, " and ") + " then " + strings.Join(neg, " or ")
	case len(pos) > 0:
		return "one of " + strings.Join(pos, " or ") + " must be false"
	}
	return "one of " + strings.Join(neg, " or ") + " must be true"
}

func cycleText(members []term) string {
	parts := make([]string, 0, len(members)+1)
	for _, t := range members {
		parts = append(parts, terse(t, false))
	}
	return strings.Join(append(parts, members[0].p.id), " -> ")
}

// availability is the " (available: …)" note of a "no version" fact.
func (in *incompat) availability() string {
	if in.kind != causeNoVersions {
		return ""
	}
	s := " (" + listVersions(in.available)
	if len(in.prerelease) > 0 {
		s += fmt.Sprintf("; %s would match if pre-releases were allowed", joinVersions(in.prerelease, 3))
	}
	return s + ")"
}

func numberSuffix(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d)", n)
}

// and renders "a and b" with pub's shortcuts: "X requires both Y and Z",
// "X depends on Y which depends on Z", "X depends on Y which doesn't match
// any versions".
func and(a, b *incompat, la, lb int) string {
	if s, ok := requiresBoth(a, b, la, lb); ok {
		return s
	}
	if s, ok := requiresThrough(a, b, la, lb); ok {
		return s
	}
	if s, ok := requiresForbidden(a, b, la, lb); ok {
		return s
	}
	return a.describe() + numberSuffix(la) + " and " + b.describe() + numberSuffix(lb)
}

func requiresBoth(a, b *incompat, la, lb int) (string, bool) {
	if len(a.terms) == 1 || len(b.terms) == 1 {
		return "", false
	}
	pa, ok1 := a.single(true)
	pb, ok2 := b.single(true)
	if !ok1 || !ok2 || pa.p != pb.p {
		return "", false
	}
	verb := "requires"
	if a.kind == causeDependency && b.kind == causeDependency {
		verb = "depends on"
	}
	both := " both "
	if pa.p.root {
		verb, both = "require", " " // "you require lib-a ^1 and lib-b ^2"
	}
	return terse(pa, true) + " " + verb + both + negatives(a) + numberSuffix(la) + " and " + negatives(b) + numberSuffix(lb), true
}

func requiresThrough(a, b *incompat, la, lb int) (string, bool) {
	if len(a.terms) == 1 || len(b.terms) == 1 {
		return "", false
	}
	na, okNA := a.single(false)
	nb, okNB := b.single(false)
	if !okNA && !okNB {
		return "", false
	}
	pa, okPA := a.single(true)
	pb, okPB := b.single(true)
	var prior, latter *incompat
	var priorNeg term
	var priorLine, latterLine int
	switch {
	case okNA && okPB && na.p == pb.p && na.negate().set.subset(pb.set):
		prior, priorNeg, priorLine, latter, latterLine = a, na, la, b, lb
	case okNB && okPA && nb.p == pa.p && nb.negate().set.subset(pa.set):
		prior, priorNeg, priorLine, latter, latterLine = b, nb, lb, a, la
	default:
		return "", false
	}
	out, ok := prior.sentence()
	if !ok {
		return "", false
	}
	out.WriteString(terse(priorNeg, false) + numberSuffix(priorLine) + " which ")
	if latter.kind == causeDependency {
		out.WriteString("depends on ")
	} else {
		out.WriteString("requires ")
	}
	out.WriteString(negatives(latter) + numberSuffix(latterLine))
	return out.String(), true
}

// sentence is a line of the report begun with in's subject; false when
// in has none.
func (in *incompat) sentence() (*strings.Builder, bool) {
	subject, ok := in.subject()
	if !ok {
		return nil, false
	}
	out := &strings.Builder{}
	out.WriteString(subject)
	return out, true
}

// subject opens "X depends on …" or "if X or Y then …" from in's positive
// terms; false when it has none.
func (in *incompat) subject() (string, bool) {
	var pos []term
	for _, t := range in.terms {
		if t.positive() {
			pos = append(pos, t)
		}
	}
	switch len(pos) {
	case 0:
		return "", false
	case 1:
		return terse(pos[0], true) + " " + in.verb(pos[0]) + " ", true
	}
	parts := make([]string, len(pos))
	for i, t := range pos {
		parts[i] = terse(t, false)
	}
	return "if " + strings.Join(parts, " or ") + " then ", true
}

func requiresForbidden(a, b *incompat, la, lb int) (string, bool) {
	if len(a.terms) != 1 && len(b.terms) != 1 {
		return "", false
	}
	prior, latter, priorLine, latterLine := a, b, la, lb
	if len(a.terms) == 1 {
		prior, latter, priorLine, latterLine = b, a, lb, la
	}
	neg, ok := prior.single(false)
	if !ok || len(latter.terms) == 0 || !neg.negate().set.subset(latter.terms[0].set) {
		return "", false
	}
	out, ok := prior.sentence()
	if !ok {
		return "", false
	}
	out.WriteString(terse(latter.terms[0], false) + numberSuffix(priorLine) + " ")
	switch latter.kind {
	case causeCore:
		out.WriteString("which requires " + libid.Core + " " + latter.constraint)
	case causeNoVersions:
		out.WriteString("which doesn't match any versions" + latter.availability())
	case causeUnknown:
		out.WriteString("which is not in the catalog")
	case causeBroken:
		out.WriteString("which " + latter.detail)
	case causeCycle:
		if len(latter.cycle) == 1 {
			out.WriteString("which depends on itself")
		} else {
			out.WriteString("which would be a dependency cycle (" + cycleText(latter.cycle) + ")")
		}
	default:
		out.WriteString("which is forbidden")
	}
	out.WriteString(numberSuffix(latterLine))
	return out.String(), true
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
