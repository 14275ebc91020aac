// Package resolve chooses library versions: given what the user asks for
// and a Source of every installable version with its dependencies, it picks
// the newest versions that satisfy every constraint, transitively, or
// explains why none exist.
//
// The search is depth-first with backtracking. At each step it decides the
// library with the fewest versions left (ties by id), trying its versions
// newest first (a locked version, if still allowed, before the others).
// Before a version is accepted, each of its dependencies is checked against
// the versions still open for that library (forward checking), against the
// installed uDOS for "@uDOS/core", and for cycles. Every failure carries the
// set of decisions that caused it; when a subtree fails for reasons that do
// not involve the library decided at this level, the search jumps straight
// back past it (conflict-directed backjumping), which keeps the work small
// and keeps the reported culprits the real ones. A version whose failure
// involves no other decision is remembered as hopeless and not tried again,
// so a dead end below a long chain of libraries costs one visit, not one per
// combination of the chain's versions. Harder inputs (conflicts that need
// several decisions together, as in a pigeonhole) can still take
// exponential time: the step budget turns them into a clear error.
//
// When a library runs out of versions, the explanation reported is the one
// of its newest version that failed for a definite reason (a clash of
// constraints, a missing version, the core, a cycle), so the error names the
// requirements that actually collide; see ConflictError and CycleError for
// the exact wording. The search is bounded by the context and by
// Options.MaxSteps. The same inputs always give the same solution and the
// same error text.
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

// ErrUnknown is wrapped by a Source's error for an id it does not know.
var ErrUnknown = errors.New("unknown library")

// ErrTooComplex is wrapped by the error returned when the search exceeds
// Options.MaxSteps.
var ErrTooComplex = errors.New("dependency resolution is too complex")

// DefaultMaxSteps bounds the search when Options.MaxSteps is zero. A step is
// one library version tried; typical graphs take tens of steps.
const DefaultMaxSteps = 100_000

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
// Options.CoreVersion. An empty Constraint means any version.
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
	// whose range contains them; without it only constraints that name a
	// pre-release admit them (see package constraint).
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
}

// Resolve chooses a version for every library the roots need, directly or
// not. Failures are a *ConflictError or a *CycleError (errors.Is(err,
// ErrUnknown) holds when a library is missing), an error wrapping
// ErrTooComplex, the context's error, a Source error, or an invalid root
// requirement.
func Resolve(ctx context.Context, src Source, roots []Requirement, opts Options) (*Solution, error) {
	s := &solver{
		ctx:      ctx,
		src:      src,
		opts:     opts,
		maxSteps: opts.MaxSteps,
		pkgs:     map[string]*pkg{},
		reqs:     map[string][]req{},
		decided:  map[string]*cand{},
		parsed:   map[string]*constraint.Constraint{},
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
	for _, r := range roots {
		ref, err := libid.Parse(r.ID)
		if err != nil {
			return nil, fmt.Errorf("requirement: %w", err)
		}
		c, err := s.parse(r.Constraint)
		if err != nil {
			return nil, fmt.Errorf("requirement on %s: %w", r.ID, err)
		}
		if ref.Core {
			if e := s.checkCore(cause{constraint: c}); e != nil {
				return nil, e.err()
			}
			continue
		}
		s.reqs[ref.ID] = append(s.reqs[ref.ID], req{c: c})
	}
	if f := s.solve(); f != nil {
		if f.fatal != nil {
			return nil, f.fatal
		}
		return nil, f.expl.err()
	}
	return s.solution(), nil
}

// pkg is what the Source said about one id, loaded once per resolution.
type pkg struct {
	id      string
	cands   []*cand // newest first, distinct versions
	unknown error   // the Source's ErrUnknown error
}

type cand struct {
	v      *semver.Version
	raw    []Requirement
	parsed bool
	deps   []dep
	bad    *explanation // a dependency that cannot even be parsed
	// doomed is set once this version has failed for reasons that involve
	// no other decision (only itself and the user's requirements): it can
	// never be part of a solution, so it is not tried again. Without this,
	// a dead end below a long chain of libraries is re-explored for every
	// combination of the chain's versions.
	doomed *explanation
}

type dep struct {
	id   string
	core bool
	c    *constraint.Constraint
}

// req is one constraint on a library, from a decided library or the root.
type req struct {
	by    string          // "" for the root
	byVer *semver.Version // nil for the root
	c     *constraint.Constraint
}

// failure says why a subtree has no solution: the decisions (by id) that,
// kept as they are, make it unsolvable, and an explanation for the user.
type failure struct {
	set   map[string]bool
	expl  *explanation
	fatal error // stops the search: budget, context, Source error
}

type solver struct {
	ctx      context.Context
	src      Source
	opts     Options
	steps    int
	maxSteps int

	pkgs    map[string]*pkg
	reqs    map[string][]req // stack per id: pushed and popped with decisions
	decided map[string]*cand // the version chosen for each decided id
	parsed  map[string]*constraint.Constraint
	locked  map[string]*semver.Version // Options.Locked by canonical id
	last    *explanation               // the latest definite conflict, for the budget error
}

func (s *solver) parse(text string) (*constraint.Constraint, error) {
	if strings.TrimSpace(text) == "" {
		text = "*"
	}
	if c, ok := s.parsed[text]; ok {
		return c, nil
	}
	c, err := constraint.Parse(text)
	if err != nil {
		return nil, err
	}
	s.parsed[text] = c
	return c, nil
}

func (s *solver) allows(c *constraint.Constraint, v *semver.Version) bool {
	return c.CheckWith(v, s.opts.AllowPrerelease)
}

func (s *solver) load(id string) (*pkg, error) {
	if p, ok := s.pkgs[id]; ok {
		return p, nil
	}
	p := &pkg{id: id}
	list, err := s.src.Versions(id)
	switch {
	case errors.Is(err, ErrUnknown):
		p.unknown = err
	case err != nil:
		return nil, fmt.Errorf("looking up versions of %s: %w", id, err)
	}
	for _, c := range list {
		if c.Version == nil {
			return nil, fmt.Errorf("looking up versions of %s: a candidate has no version", id)
		}
		p.cands = append(p.cands, &cand{v: c.Version, raw: c.Deps})
	}
	// Newest first; equal versions (differing in build metadata only) keep
	// the one whose text sorts first, so the Source's order never matters.
	slices.SortStableFunc(p.cands, func(a, b *cand) int {
		if c := b.v.Compare(a.v); c != 0 {
			return c
		}
		return strings.Compare(a.v.Original(), b.v.Original())
	})
	p.cands = slices.CompactFunc(p.cands, func(a, b *cand) bool { return a.v.Equal(b.v) })
	s.pkgs[id] = p
	return p, nil
}

func (s *solver) depsOf(id string, c *cand) ([]dep, *explanation) {
	if c.parsed {
		return c.deps, c.bad
	}
	c.parsed = true
	for _, r := range c.raw {
		ref, err := libid.Parse(r.ID)
		if err == nil {
			var pc *constraint.Constraint
			if pc, err = s.parse(r.Constraint); err == nil {
				c.deps = append(c.deps, dep{id: ref.ID, core: ref.Core, c: pc})
				continue
			}
		}
		c.bad = &explanation{kind: kindBroken, id: r.ID, causes: []cause{{by: id, byVer: c.v}}, detail: err.Error()}
		return nil, c.bad
	}
	// Checking dependencies in id order keeps explanations independent of
	// how a manifest happens to list them.
	slices.SortStableFunc(c.deps, func(a, b dep) int { return strings.Compare(a.id, b.id) })
	return c.deps, nil
}

func (s *solver) step() error {
	s.steps++
	if s.steps > s.maxSteps {
		last := ""
		if s.last != nil {
			last = "; the latest conflict: " + s.last.err().Error()
		}
		return fmt.Errorf("%w: gave up after %d steps (narrow the constraints or raise the step budget)%s", ErrTooComplex, s.maxSteps, last)
	}
	if err := s.ctx.Err(); err != nil {
		return fmt.Errorf("resolving dependencies: %w", err)
	}
	return nil
}

// domain returns the versions of p that every current requirement allows,
// newest first, with the locked version (if allowed) moved to the front.
func (s *solver) domain(p *pkg, reqs []req) []*cand {
	var out []*cand
	for _, c := range p.cands {
		if c.doomed == nil && s.allowedByAll(c.v, reqs) {
			out = append(out, c)
		}
	}
	if lv := s.locked[p.id]; lv != nil {
		if i := slices.IndexFunc(out, func(c *cand) bool { return c.v.Equal(lv) }); i > 0 {
			c := out[i]
			copy(out[1:i+1], out[:i])
			out[0] = c
		}
	}
	return out
}

func (s *solver) allowedByAll(v *semver.Version, reqs []req) bool {
	for _, r := range reqs {
		if !s.allows(r.c, v) {
			return false
		}
	}
	return true
}

// next picks the undecided, required library with the fewest allowed
// versions (ties: smallest id).
func (s *solver) next() (*pkg, []*cand, *failure) {
	var (
		best    *pkg
		bestDom []*cand
	)
	ids := make([]string, 0, len(s.reqs))
	for id, rs := range s.reqs {
		if len(rs) > 0 && s.decided[id] == nil {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		p, err := s.load(id)
		if err != nil {
			return nil, nil, &failure{fatal: err}
		}
		rs := s.reqs[id]
		if p.unknown != nil {
			causes := causesOf(rs)
			return nil, nil, &failure{set: setOf(causes), expl: &explanation{kind: kindUnknown, id: id, causes: causes[:1], srcErr: p.unknown}}
		}
		dom := s.domain(p, rs)
		if len(dom) == 0 {
			return nil, nil, s.emptyFailure(p, rs)
		}
		if best == nil || len(dom) < len(bestDom) {
			best, bestDom = p, dom
		}
	}
	return best, bestDom, nil
}

func (s *solver) solve() *failure {
	p, dom, f := s.next()
	if f != nil {
		return f
	}
	if p == nil {
		return nil // everything required is decided
	}
	acc := &failure{set: map[string]bool{}}
	for _, r := range s.reqs[p.id] {
		if r.by != "" {
			acc.set[r.by] = true
		}
	}
	var soft *explanation
	for _, c := range dom {
		if err := s.step(); err != nil {
			return &failure{fatal: err}
		}
		f := s.try(p, c)
		if f == nil {
			return nil
		}
		if f.fatal != nil || !f.set[p.id] {
			return f // p's choice is not to blame: jump back past it
		}
		if len(f.set) == 1 {
			c.doomed = f.expl
		}
		if f.expl.kind != kindChosen {
			s.last = f.expl
		}
		for id := range f.set {
			if id != p.id {
				acc.set[id] = true
			}
		}
		switch {
		case acc.expl == nil && f.expl.kind != kindChosen:
			acc.expl = f.expl
		case soft == nil && f.expl.kind == kindChosen:
			soft = f.expl
		}
	}
	if acc.expl == nil {
		acc.expl = soft
	}
	return acc
}

// try checks version c of p against its dependencies, decides it and goes
// on; it undoes everything it pushed before returning.
func (s *solver) try(p *pkg, c *cand) *failure {
	me := cause{by: p.id, byVer: c.v}
	deps, bad := s.depsOf(p.id, c)
	if bad != nil {
		return &failure{set: map[string]bool{p.id: true}, expl: bad}
	}
	for _, d := range deps {
		me.constraint = d.c
		if d.core {
			if e := s.checkCore(me); e != nil {
				return &failure{set: map[string]bool{p.id: true}, expl: e}
			}
			continue
		}
		if d.id == p.id {
			return &failure{set: map[string]bool{p.id: true}, expl: &explanation{kind: kindCycle, cycle: []Step{{ID: p.id, Version: c.v}}}}
		}
		q, err := s.load(d.id)
		if err != nil {
			return &failure{fatal: err}
		}
		if q.unknown != nil {
			return &failure{set: map[string]bool{p.id: true}, expl: &explanation{kind: kindUnknown, id: d.id, causes: []cause{me}, srcErr: q.unknown}}
		}
		rs := append(slices.Clip(s.reqs[d.id]), req{by: p.id, byVer: c.v, c: d.c})
		if len(s.domain(q, rs)) == 0 {
			f := s.emptyFailure(q, rs)
			f.set[p.id] = true
			return f
		}
		if dd := s.decided[d.id]; dd != nil {
			if !s.allows(d.c, dd.v) {
				return &failure{set: map[string]bool{p.id: true, d.id: true}, expl: &explanation{kind: kindChosen, id: d.id, causes: []cause{me}, chosen: dd.v}}
			}
			if path := s.pathTo(d.id, p.id); path != nil {
				cyc := append([]Step{{ID: p.id, Version: c.v}}, path...)
				set := map[string]bool{}
				for _, st := range cyc {
					set[st.ID] = true
				}
				return &failure{set: set, expl: &explanation{kind: kindCycle, cycle: cyc}}
			}
		}
	}
	// Accept c: push the decision and its requirements, recurse, pop.
	s.decided[p.id] = c
	for _, d := range deps {
		if !d.core {
			s.reqs[d.id] = append(s.reqs[d.id], req{by: p.id, byVer: c.v, c: d.c})
		}
	}
	f := s.solve()
	if f == nil {
		return nil
	}
	for i := len(deps) - 1; i >= 0; i-- {
		if d := deps[i]; !d.core {
			s.reqs[d.id] = s.reqs[d.id][:len(s.reqs[d.id])-1]
		}
	}
	delete(s.decided, p.id)
	return f
}

// pathTo finds a path from the decided library from to target along the
// dependencies of decided versions, as steps from "from" onwards (target
// excluded), or nil. Neighbours are visited in id order, so the cycle
// reported is always the same one.
func (s *solver) pathTo(from, target string) []Step {
	seen := map[string]bool{}
	var walk func(id string) []Step
	walk = func(id string) []Step {
		if seen[id] {
			return nil
		}
		seen[id] = true
		d := s.decided[id]
		if d == nil {
			return nil
		}
		here := Step{ID: id, Version: d.v}
		for _, dp := range d.deps {
			if dp.core {
				continue
			}
			if dp.id == target {
				return []Step{here}
			}
			if rest := walk(dp.id); rest != nil {
				return append([]Step{here}, rest...)
			}
		}
		return nil
	}
	return walk(from)
}

func (s *solver) checkCore(c cause) *explanation {
	if s.opts.CoreVersion != nil && c.constraint.CheckWith(s.opts.CoreVersion, true) {
		return nil
	}
	return &explanation{kind: kindCore, id: libid.Core, causes: []cause{c}, installed: s.opts.CoreVersion}
}

// emptyFailure explains why p has no version left under rs: either the
// requirements leave nothing (explainEmpty), or everything they leave is
// doomed, in which case the newest doomed version's reason is given and
// every requirement is to blame.
func (s *solver) emptyFailure(p *pkg, rs []req) *failure {
	for _, c := range p.cands {
		if s.allowedByAll(c.v, rs) {
			return &failure{set: setOf(causesOf(rs)), expl: c.doomed}
		}
	}
	e := s.explainEmpty(p, rs)
	return &failure{set: setOf(e.causes), expl: e}
}

// explainEmpty explains why no version of p satisfies rs: a single
// requirement that matches nothing, or a smallest clashing group (a pair
// when there is one).
func (s *solver) explainEmpty(p *pkg, rs []req) *explanation {
	all := make([]*semver.Version, len(p.cands))
	for i, c := range p.cands {
		all[len(all)-1-i] = c.v // ascending for display
	}
	causes := causesOf(rs)
	matches := func(group []cause) bool {
		for _, c := range p.cands {
			ok := true
			for _, g := range group {
				if !s.allows(g.constraint, c.v) {
					ok = false
					break
				}
			}
			if ok {
				return true
			}
		}
		return false
	}
	for _, c := range causes {
		if !matches([]cause{c}) {
			e := &explanation{kind: kindNoMatch, id: p.id, causes: []cause{c}, available: all}
			if !s.opts.AllowPrerelease {
				for i := len(p.cands) - 1; i >= 0; i-- {
					if v := p.cands[i].v; v.Prerelease() != "" && c.constraint.CheckWith(v, true) {
						e.prerelease = append(e.prerelease, v)
					}
				}
			}
			return e
		}
	}
	for i := range causes {
		for j := i + 1; j < len(causes); j++ {
			if !matches([]cause{causes[i], causes[j]}) {
				return &explanation{kind: kindClash, id: p.id, causes: []cause{causes[i], causes[j]}}
			}
		}
	}
	// No pair clashes: drop requirements one by one while the rest still
	// leaves nothing, which ends at a group where each member matters.
	group := slices.Clone(causes)
	for i := 0; i < len(group); {
		without := slices.Delete(slices.Clone(group), i, i+1)
		if !matches(without) {
			group = without
			continue
		}
		i++
	}
	return &explanation{kind: kindClash, id: p.id, causes: group}
}

func causesOf(rs []req) []cause {
	out := make([]cause, len(rs))
	for i, r := range rs {
		out[i] = cause{by: r.by, byVer: r.byVer, constraint: r.c}
	}
	slices.SortStableFunc(out, compareCauses)
	return slices.CompactFunc(out, func(a, b cause) bool { return compareCauses(a, b) == 0 })
}

func compareCauses(a, b cause) int {
	if c := strings.Compare(a.by, b.by); c != 0 { // "" (root) sorts first
		return c
	}
	if a.byVer != nil && b.byVer != nil {
		if c := a.byVer.Compare(b.byVer); c != 0 {
			return c
		}
	}
	return strings.Compare(a.constraint.String(), b.constraint.String())
}

func setOf(causes []cause) map[string]bool {
	set := map[string]bool{}
	for _, c := range causes {
		if c.by != "" {
			set[c.by] = true
		}
	}
	return set
}

func (s *solver) solution() *Solution {
	sol := &Solution{Versions: map[string]*semver.Version{}, Why: map[string][]string{}, Steps: s.steps}
	for id, d := range s.decided {
		sol.Versions[id] = d.v
		var why []string
		for _, r := range s.reqs[id] {
			by := r.by
			if by == "" {
				by = Root
			}
			why = append(why, by)
		}
		slices.SortFunc(why, func(a, b string) int {
			if (a == Root) != (b == Root) {
				if a == Root {
					return -1
				}
				return 1
			}
			return strings.Compare(a, b)
		})
		sol.Why[id] = slices.Compact(why)
	}
	// Kahn's algorithm, smallest id first among the ready ones.
	waiting := map[string]int{}
	dependents := map[string][]string{}
	for id, d := range s.decided {
		seen := map[string]bool{}
		for _, dp := range d.deps {
			if dp.core || seen[dp.id] {
				continue
			}
			seen[dp.id] = true
			waiting[id]++
			dependents[dp.id] = append(dependents[dp.id], id)
		}
	}
	var ready []string
	for id := range s.decided {
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
