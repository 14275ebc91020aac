package resolve

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/fredbook/udos-dist/internal/constraint"
	"github.com/fredbook/udos-dist/internal/libid"
)

// pkg is one library as the solver sees it: its versions (loaded once per
// resolution), its incompatibilities and its state in the partial solution.
type pkg struct {
	id       string
	root     bool
	versions []*semver.Version // ascending, distinct
	cands    []*cand           // aligned with versions
	unknown  error             // the Source's ErrUnknown error

	incompats []*incompat // every incompatibility that mentions it, oldest first

	// Partial solution state.
	full     vset  // every state, shared (never modified)
	cur      vset  // intersection of its assignments (nil: no assignment)
	assigned []int // indices of its assignments, in order
	decided  int   // index of the decided version, -1 if none
}

func (p *pkg) n() int { return len(p.versions) }

func (p *pkg) state() vset {
	if p.cur == nil {
		if p.full == nil {
			p.full = fullSet(p.n())
		}
		return p.full
	}
	return p.cur
}

type cand struct {
	raw    []Requirement
	parsed bool
	deps   []dep
	bad    string // why a dependency cannot be used; "" when all can
	// incs are this version's incompatibilities, built when it is first
	// considered for a decision.
	incs  []*incompat
	built bool
}

type dep struct {
	id   string
	core bool
	text string // the constraint as written ("*" for an empty one)
	c    *constraint.Constraint
}

type assignment struct {
	t        term
	decision bool
	level    int
	cause    *incompat // nil for a decision
}

type solver struct {
	ctx      context.Context
	src      Source
	opts     Options
	maxSteps int
	steps    int
	work     int // incompatibilities examined, see charge
	trace    func(string)

	pkgs     map[string]*pkg
	ids      []string // loaded ids, sorted
	root     *pkg
	locked   map[string]*semver.Version
	parsed   map[string]*constraint.Constraint
	depIncs  map[string]*incompat // dependency incompatibilities by depender run and dependency
	seq      int
	last     *incompat // the latest learned incompatibility, for the budget error
	assigns  []assignment
	nDecided int
	order    []string // decided ids in decision order
}

// failure ends the search with an explanation.
type failure struct{ in *incompat }

func (f *failure) Error() string { return "version solving failed" }

func solve(ctx context.Context, src Source, roots []Requirement, opts Options, trace func(string)) (*Solution, error) {
	s := &solver{
		ctx: ctx, src: src, opts: opts, maxSteps: opts.MaxSteps, trace: trace,
		pkgs: map[string]*pkg{}, parsed: map[string]*constraint.Constraint{}, depIncs: map[string]*incompat{},
	}
	if s.maxSteps <= 0 {
		s.maxSteps = DefaultMaxSteps
	}
	s.locked = make(map[string]*semver.Version, len(opts.Locked))
	for id, v := range opts.Locked {
		ref, err := libid.Parse(id)
		if err != nil {
			return nil, fmt.Errorf("locked version: %w", err)
		}
		if v != nil {
			s.locked[ref.ID] = v
		}
	}
	// The user's requirements are the one version of a root package.
	s.root = &pkg{id: Root, root: true, versions: []*semver.Version{semver.New(1, 0, 0, "", "")}, decided: -1}
	rc := &cand{parsed: true}
	for _, r := range roots {
		ref, err := libid.Parse(r.ID)
		if err != nil {
			return nil, fmt.Errorf("requirement: %w", err)
		}
		text, c, err := s.parse(r.Constraint)
		if err != nil {
			return nil, fmt.Errorf("requirement on %s: %w", r.ID, err)
		}
		rc.deps = append(rc.deps, dep{id: ref.ID, core: ref.Core, text: text, c: c})
	}
	slices.SortStableFunc(rc.deps, func(a, b dep) int { return strings.Compare(a.id, b.id) })
	s.root.cands = []*cand{rc}

	err := s.run()
	var f *failure
	switch {
	case errors.As(err, &f):
		return nil, explain(f.in)
	case err != nil:
		return nil, err
	}
	return s.solution(), nil
}

// logf traces; msg is only called when tracing, so the search pays
// nothing for it otherwise.
func (s *solver) logf(msg func() string) {
	if s.trace != nil {
		s.trace(msg())
	}
}

func (s *solver) parse(text string) (string, *constraint.Constraint, error) {
	if strings.TrimSpace(text) == "" {
		text = "*"
	}
	if c, ok := s.parsed[text]; ok {
		return text, c, nil
	}
	c, err := constraint.Parse(text)
	if err != nil {
		return text, nil, err
	}
	s.parsed[text] = c
	return text, c, nil
}

// load returns the library id, asking the Source once.
func (s *solver) load(id string) (*pkg, error) {
	if p, ok := s.pkgs[id]; ok {
		return p, nil
	}
	p := &pkg{id: id, decided: -1}
	list, err := s.src.Versions(id)
	switch {
	case errors.Is(err, ErrUnknown):
		p.unknown = err
	case err != nil:
		return nil, fmt.Errorf("looking up versions of %s: %w", id, err)
	}
	type vc struct {
		v *semver.Version
		c Candidate
	}
	var all []vc
	for _, c := range list {
		if c.Version == nil {
			return nil, fmt.Errorf("looking up versions of %s: a candidate has no version", id)
		}
		all = append(all, vc{c.Version, c})
	}
	// Equal versions (differing in build metadata only) keep the one whose
	// text sorts first, so the Source's order never matters.
	slices.SortStableFunc(all, func(a, b vc) int {
		if c := a.v.Compare(b.v); c != 0 {
			return c
		}
		return strings.Compare(a.v.Original(), b.v.Original())
	})
	all = slices.CompactFunc(all, func(a, b vc) bool { return a.v.Equal(b.v) })
	for _, x := range all {
		p.versions = append(p.versions, x.v)
		p.cands = append(p.cands, &cand{raw: x.c.Deps})
	}
	s.pkgs[id] = p
	i, _ := slices.BinarySearch(s.ids, id)
	s.ids = slices.Insert(s.ids, i, id)
	return p, nil
}

func (s *solver) depsOf(c *cand) []dep {
	if c.parsed {
		return c.deps
	}
	c.parsed = true
	for _, r := range c.raw {
		ref, err := libid.Parse(r.ID)
		if err == nil {
			var text string
			var pc *constraint.Constraint
			if text, pc, err = s.parse(r.Constraint); err == nil {
				c.deps = append(c.deps, dep{id: ref.ID, core: ref.Core, text: text, c: pc})
				continue
			}
		}
		c.bad = fmt.Sprintf("has an unusable dependency on %s: %v", r.ID, err)
		c.deps = nil
		return nil
	}
	// Dependencies in id order keep explanations independent of how a
	// manifest happens to list them.
	slices.SortStableFunc(c.deps, func(a, b dep) int { return strings.Compare(a.id, b.id) })
	return c.deps
}

// matching is the set of q's versions that c admits, as a positive term's
// states.
func (s *solver) matching(q *pkg, c *constraint.Constraint) vset {
	set := newSet(q.n())
	for i, v := range q.versions {
		if c.CheckWith(v, s.opts.AllowPrerelease) {
			set.add(i)
		}
	}
	return set
}

func (s *solver) coreOK(c *constraint.Constraint) bool {
	return s.opts.CoreVersion != nil && c.CheckWith(s.opts.CoreVersion, true)
}

func (s *solver) newIncompat(in *incompat) *incompat {
	s.seq++
	in.seq = s.seq
	return in
}

// add puts an incompatibility into the set, indexed by its libraries.
func (s *solver) add(in *incompat) {
	if in.added {
		return
	}
	in.added = true
	s.logf(func() string { return fmt.Sprintf("incompatibility %s", in.traceString()) })
	for _, t := range in.terms {
		t.p.incompats = append(t.p.incompats, in)
	}
}

// --- the partial solution ---

func (s *solver) assign(a assignment) {
	p := a.t.p
	p.assigned = append(p.assigned, len(s.assigns))
	s.assigns = append(s.assigns, a)
	p.cur = p.state().and(a.t.set)
	if a.decision {
		for i := range p.versions {
			if a.t.set.has(i) {
				p.decided = i
			}
		}
	}
}

func (s *solver) decide(p *pkg, i int) {
	set := newSet(p.n())
	set.add(i)
	// Like pub, a decision opens its level: the root's is 1, derivations
	// before it are at 0.
	s.nDecided++
	s.logf(func() string {
		return fmt.Sprintf("decide %s %s at level %d", p.traceName(), p.versions[i], s.nDecided)
	})
	s.assign(assignment{t: term{p: p, set: set}, decision: true, level: s.nDecided})
	s.order = append(s.order, p.id)
}

func (s *solver) derive(t term, cause *incompat) {
	s.logf(func() string { return fmt.Sprintf("derive %s at level %d from %s", t, s.nDecided, cause.traceString()) })
	s.assign(assignment{t: t, level: s.nDecided, cause: cause})
}

func (p *pkg) traceName() string {
	if p.root {
		return "root"
	}
	return p.id
}

// backtrack removes every assignment above level.
func (s *solver) backtrack(level int) {
	s.logf(func() string { return fmt.Sprintf("backtrack to level %d", level) })
	touched := map[*pkg]bool{}
	for len(s.assigns) > 0 && s.assigns[len(s.assigns)-1].level > level {
		a := s.assigns[len(s.assigns)-1]
		s.assigns = s.assigns[:len(s.assigns)-1]
		touched[a.t.p] = true
		if a.decision {
			s.nDecided--
			s.order = s.order[:len(s.order)-1]
		}
	}
	for p := range touched {
		p.cur, p.decided = nil, -1
		kept := p.assigned[:0]
		for _, i := range p.assigned {
			if i < len(s.assigns) {
				kept = append(kept, i)
				p.cur = p.state().and(s.assigns[i].t.set)
				if s.assigns[i].decision {
					for v := range p.versions {
						if s.assigns[i].t.set.has(v) {
							p.decided = v
						}
					}
				}
			}
		}
		p.assigned = kept
	}
}

type relation int

const (
	satisfied relation = iota
	contradicted
	inconclusive
)

func (s *solver) relation(t term) relation {
	cur := t.p.state()
	switch {
	case cur.subset(t.set):
		return satisfied
	case cur.disjoint(t.set):
		return contradicted
	}
	return inconclusive
}

// satisfier is the index of the first assignment after which the partial
// solution satisfies t.
func (s *solver) satisfier(t term) int {
	acc := fullSet(t.p.n())
	for _, i := range t.p.assigned {
		acc = acc.and(s.assigns[i].t.set)
		if acc.subset(t.set) {
			return i
		}
	}
	panic(fmt.Sprintf("resolve: %s is not satisfied", t)) // conflict resolution only asks for satisfied terms
}

// --- the algorithm ---

func (s *solver) run() error {
	s.add(s.newIncompat(&incompat{terms: []term{{p: s.root, set: singleton(s.root, 0).not(1)}}, kind: causeRoot}))
	next := s.root
	for next != nil {
		if err := s.propagate(next); err != nil {
			return err
		}
		var err error
		if next, err = s.choose(); err != nil {
			return err
		}
	}
	return nil
}

func singleton(p *pkg, i int) vset {
	set := newSet(p.n())
	set.add(i)
	return set
}

// propagate is solver.md's unit propagation, starting from p.
func (s *solver) propagate(p *pkg) error {
	changed := []*pkg{p}
	for len(changed) > 0 {
		p := changed[0]
		changed = changed[1:]
		// Newest first: conflict resolution's incompatibilities are the
		// more general ones.
		for i := len(p.incompats) - 1; i >= 0; i-- {
			if err := s.charge(); err != nil {
				return err
			}
			in := p.incompats[i]
			q, conflict := s.propagateOne(in)
			if conflict {
				cause, err := s.resolveConflict(in)
				if err != nil {
					return err
				}
				// The learned cause is almost satisfied after the backjump:
				// propagation continues from the library it derives.
				changed = changed[:0]
				if q, _ = s.propagateOne(cause); q != nil {
					changed = append(changed, q)
				}
				break
			}
			if q != nil && !slices.Contains(changed, q) {
				changed = append(changed, q)
			}
		}
	}
	return nil
}

// workPerStep bounds the propagation work per step: the learned
// incompatibilities of a pathological input (a pigeonhole) make each step
// costlier than the last, and the budget should bound time, not only
// decisions.
const workPerStep = 1000

func (s *solver) tooComplex() error {
	last := ""
	if s.last != nil {
		last = "; the latest conflict: " + s.last.describe() // a sentence, not the whole derivation
	}
	return fmt.Errorf("%w: gave up after %d steps (narrow the constraints or raise the step budget)%s", ErrTooComplex, min(s.steps, s.maxSteps), last)
}

// charge counts propagation work, checking the budget and the context now
// and then.
func (s *solver) charge() error {
	s.work++
	if s.work%1024 != 0 {
		return nil
	}
	if s.work > s.maxSteps*workPerStep {
		return s.tooComplex()
	}
	if err := s.ctx.Err(); err != nil {
		return fmt.Errorf("resolving dependencies: %w", err)
	}
	return nil
}

// propagateOne derives the negation of in's one inconclusive term when the
// partial solution satisfies all the others, and returns its library; it
// reports a conflict when the partial solution satisfies every term.
func (s *solver) propagateOne(in *incompat) (*pkg, bool) {
	var open *term
	for i := range in.terms {
		switch s.relation(in.terms[i]) {
		case contradicted:
			return nil, false
		case inconclusive:
			if open != nil {
				return nil, false
			}
			open = &in.terms[i]
		}
	}
	if open == nil {
		return nil, true
	}
	s.derive(open.negate(), in)
	return open.p, false
}

// resolveConflict is solver.md's conflict resolution: it derives the root
// cause of in (satisfied by the partial solution), backjumps to where it
// took hold and returns it, or fails when the cause rules out the root.
func (s *solver) resolveConflict(in *incompat) (*incompat, error) {
	s.logf(func() string { return fmt.Sprintf("conflict %s", in.traceString()) })
	learned := false
	for !in.isFailure() {
		mostRecent := -1
		var mostRecentTerm term
		var difference vset // satisfier minus its term, nil when empty
		prevLevel := 1
		for _, t := range in.terms {
			sat := s.satisfier(t)
			switch {
			case mostRecent < 0:
				mostRecent, mostRecentTerm = sat, t
			case mostRecent < sat:
				prevLevel = max(prevLevel, s.assigns[mostRecent].level)
				mostRecent, mostRecentTerm = sat, t
				difference = nil
			default:
				prevLevel = max(prevLevel, s.assigns[sat].level)
			}
			if mostRecentTerm.p == t.p {
				// The satisfier may satisfy t only together with earlier
				// assignments; then those matter too.
				difference = s.assigns[mostRecent].t.set.and(t.set.not(t.p.n()))
				if difference.empty() {
					difference = nil
				} else {
					prevLevel = max(prevLevel, s.assigns[s.satisfier(term{p: t.p, set: difference.not(t.p.n())})].level)
				}
			}
		}
		sat := s.assigns[mostRecent]
		if prevLevel < sat.level || sat.cause == nil {
			s.backtrack(prevLevel)
			if learned {
				s.add(in)
				s.last = in
			}
			return in, nil
		}
		var terms []term
		for _, t := range in.terms {
			if t.p != sat.t.p {
				terms = append(terms, t)
			}
		}
		for _, t := range sat.cause.terms {
			if t.p != sat.t.p {
				terms = append(terms, t)
			}
		}
		if difference != nil {
			terms = append(terms, term{p: sat.t.p, set: difference.not(sat.t.p.n())})
		}
		in = s.newIncompat(newDerived(terms, in, sat.cause))
		learned = true
		s.logf(func() string { return fmt.Sprintf("derived %s", in.traceString()) })
	}
	return nil, &failure{in: in}
}

// choose is solver.md's decision making: it picks the undecided library
// with a positive derivation and the fewest versions left (ties by id), and
// its most preferred version, adds that version's incompatibilities, and
// decides it unless they (or a dependency cycle) already rule it out. It
// returns the library to propagate from, nil when everything is decided.
func (s *solver) choose() (*pkg, error) {
	var best *pkg
	bestN := 0
	consider := func(p *pkg) {
		if p.decided >= 0 || p.cur == nil || !p.positiveState() {
			return
		}
		if n := p.cur.count(p.n()); best == nil || n < bestN {
			best, bestN = p, n
		}
	}
	consider(s.root)
	for _, id := range s.ids {
		consider(s.pkgs[id])
	}
	if best == nil {
		return nil, nil
	}
	p := best
	if !p.root {
		s.steps++
	}
	if s.steps > s.maxSteps {
		return nil, s.tooComplex()
	}
	if err := s.ctx.Err(); err != nil {
		return nil, fmt.Errorf("resolving dependencies: %w", err)
	}
	vi := -1
	if lv := s.locked[p.id]; lv != nil {
		for i, v := range p.versions {
			if v.Equal(lv) && p.cur.has(i) {
				vi = i
			}
		}
	}
	for i := p.n() - 1; i >= 0 && vi < 0; i-- {
		if p.cur.has(i) {
			vi = i
		}
	}
	if vi < 0 {
		// Cannot happen (a positive state always holds a version), but if
		// it did, this records it and lets conflict resolution explain.
		s.add(s.newIncompat(&incompat{terms: []term{{p: p, set: p.cur}}, kind: causeNoVersions, available: p.versions}))
		return p, nil
	}
	incs, err := s.incompatsFor(p, vi)
	if err != nil {
		return nil, err
	}
	conflict := false
	for _, in := range incs {
		s.add(in)
		all := true
		for _, t := range in.terms {
			if t.p != p && s.relation(t) != satisfied {
				all = false
				break
			}
		}
		conflict = conflict || all
	}
	if !conflict {
		if cyc := s.cycleThrough(p, vi); cyc != nil {
			s.add(cyc)
			conflict = true
		}
	}
	if !conflict {
		s.decide(p, vi)
	}
	return p, nil
}

func (p *pkg) positiveState() bool { return !p.cur.has(p.n()) }

// incompatsFor builds (once) the incompatibilities of version i of p: one
// per dependency, over the neighbouring versions with the same dependency;
// or a single one ruling the version out (an unusable manifest, a core it
// does not fit, a dependency on itself).
func (s *solver) incompatsFor(p *pkg, i int) ([]*incompat, error) {
	c := p.cands[i]
	if c.built {
		return c.incs, nil
	}
	c.built = true
	deps := s.depsOf(c)
	if c.bad != "" {
		c.incs = []*incompat{s.newIncompat(&incompat{terms: []term{{p: p, set: singleton(p, i)}}, kind: causeBroken, detail: c.bad})}
		return c.incs, nil
	}
	for _, d := range deps {
		switch {
		case d.core && !s.coreOK(d.c):
			run := s.neighbours(p, i, func(o []dep) bool {
				return slices.ContainsFunc(o, func(x dep) bool { return x.core && x.text == d.text })
			})
			c.incs = []*incompat{s.newIncompat(&incompat{terms: []term{{p: p, set: run}}, kind: causeCore, constraint: d.text, installed: s.opts.CoreVersion})}
			return c.incs, nil
		case !d.core && d.id == p.id:
			run := s.neighbours(p, i, func(o []dep) bool { return slices.ContainsFunc(o, func(x dep) bool { return x.id == p.id }) })
			t := term{p: p, set: run}
			c.incs = []*incompat{s.newIncompat(&incompat{terms: []term{t}, kind: causeCycle, cycle: []term{t}})}
			return c.incs, nil
		}
	}
	for _, d := range deps {
		if d.core {
			continue
		}
		run := s.neighbours(p, i, func(o []dep) bool {
			return slices.ContainsFunc(o, func(x dep) bool { return x.id == d.id && x.text == d.text })
		})
		key := fmt.Sprintf("%s\x00%v\x00%s\x00%s", p.id, run, d.id, d.text)
		if in, ok := s.depIncs[key]; ok {
			c.incs = append(c.incs, in)
			continue
		}
		in, err := s.dependency(term{p: p, set: run}, d)
		if err != nil {
			return nil, err
		}
		s.depIncs[key] = in
		c.incs = append(c.incs, in)
	}
	return c.incs, nil
}

// neighbours is the positive set of the versions next to i (i included) whose
// dependencies pass same: pub's "foo >=1.0.0 <2.0.0 depends on bar ^1.0.0".
func (s *solver) neighbours(p *pkg, i int, same func([]dep) bool) vset {
	ok := func(j int) bool {
		c := p.cands[j]
		deps := s.depsOf(c)
		return c.bad == "" && same(deps)
	}
	set := newSet(p.n())
	set.add(i)
	for j := i - 1; j >= 0 && ok(j); j-- {
		set.add(j)
	}
	for j := i + 1; j < p.n() && ok(j); j++ {
		set.add(j)
	}
	return set
}

// dependency builds {depender, not d}. When d matches nothing (or is not in
// the catalog), the solver learns the consequence at once: the depender is
// ruled out, derived from the dependency and a "no versions" fact, so the
// explanation still shows both.
func (s *solver) dependency(depender term, d dep) (*incompat, error) {
	q, err := s.load(d.id)
	if err != nil {
		return nil, err
	}
	pos := term{p: q, set: s.matching(q, d.c), label: d.text}
	in := s.newIncompat(&incompat{terms: []term{depender, pos.negate()}, kind: causeDependency})
	if q.unknown == nil && !pos.set.empty() {
		return in, nil
	}
	why := &incompat{terms: []term{pos}, kind: causeNoVersions, available: q.versions}
	if q.unknown != nil {
		why.kind, why.srcErr = causeUnknown, q.unknown
	} else if !s.opts.AllowPrerelease {
		for _, v := range q.versions {
			if v.Prerelease() != "" && d.c.CheckWith(v, true) {
				why.prerelease = append(why.prerelease, v)
			}
		}
	}
	s.newIncompat(why)
	return s.newIncompat(&incompat{terms: []term{depender}, kind: causeConflict, conflict: in, other: why}), nil
}

// cycleThrough returns the incompatibility of a dependency cycle that
// deciding version i of p would close, or nil. Each member's term is every
// version of it that depends on the next member, so one learned fact rules
// out the whole family of such cycles.
func (s *solver) cycleThrough(p *pkg, i int) *incompat {
	version := func(q *pkg) int {
		if q == p {
			return i
		}
		return q.decided
	}
	var path []*pkg
	seen := map[*pkg]bool{}
	var walk func(q *pkg) bool
	walk = func(q *pkg) bool {
		path = append(path, q)
		for _, d := range s.depsOf(q.cands[version(q)]) {
			if d.core {
				continue
			}
			r := s.pkgs[d.id]
			if r == p {
				return true
			}
			if r == nil || r.decided < 0 || seen[r] {
				continue
			}
			seen[r] = true
			if walk(r) {
				return true
			}
		}
		path = path[:len(path)-1]
		return false
	}
	if !walk(p) {
		return nil
	}
	// Start the cycle at its smallest id so the text does not depend on
	// where the search closed it.
	start := 0
	for k, q := range path {
		if q.id < path[start].id {
			start = k
		}
	}
	path = append(slices.Clone(path[start:]), path[:start]...)
	var terms []term
	for k, q := range path {
		next := path[(k+1)%len(path)]
		set := newSet(q.n())
		for j, c := range q.cands {
			deps := s.depsOf(c)
			if c.bad == "" && slices.ContainsFunc(deps, func(x dep) bool { return x.id == next.id }) {
				set.add(j)
			}
		}
		terms = append(terms, term{p: q, set: set})
	}
	return s.newIncompat(&incompat{terms: terms, kind: causeCycle, cycle: terms})
}

func (s *solver) solution() *Solution {
	sol := &Solution{Versions: map[string]*semver.Version{}, Why: map[string][]string{}, Steps: s.steps}
	for _, id := range s.order {
		if id != Root {
			sol.decisions = append(sol.decisions, id)
		}
	}
	decided := map[string][]dep{}
	for _, id := range s.ids {
		p := s.pkgs[id]
		if p.decided >= 0 {
			sol.Versions[id] = p.versions[p.decided]
			decided[id] = s.depsOf(p.cands[p.decided])
		}
	}
	addWhy := func(by string, deps []dep) {
		for _, d := range deps {
			if d.core || slices.Contains(sol.Why[d.id], by) {
				continue
			}
			sol.Why[d.id] = append(sol.Why[d.id], by)
		}
	}
	addWhy(Root, s.root.cands[0].deps)
	for _, id := range s.ids { // sorted, so each Why list is too after Root
		if deps, ok := decided[id]; ok {
			addWhy(id, deps)
		}
	}
	// Kahn's algorithm, smallest id first among the ready ones.
	waiting := map[string]int{}
	dependents := map[string][]string{}
	for id, deps := range decided {
		seen := map[string]bool{}
		for _, d := range deps {
			if d.core || seen[d.id] {
				continue
			}
			seen[d.id] = true
			waiting[id]++
			dependents[d.id] = append(dependents[d.id], id)
		}
	}
	var ready []string
	for id := range decided {
		if waiting[id] == 0 {
			ready = append(ready, id)
		}
	}
	for len(ready) > 0 {
		slices.Sort(ready)
		id := ready[0]
		ready = ready[1:]
		sol.Order = append(sol.Order, id)
		for _, up := range dependents[id] {
			if waiting[up]--; waiting[up] == 0 {
				ready = append(ready, up)
			}
		}
	}
	return sol
}
