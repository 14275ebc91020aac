package library

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/fredbook/udos-dist/internal/catalog"
	"github.com/fredbook/udos-dist/internal/constraint"
	"github.com/fredbook/udos-dist/internal/libid"
	"github.com/fredbook/udos-dist/internal/lockfile"
	"github.com/fredbook/udos-dist/internal/resolve"
	"github.com/fredbook/udos-dist/internal/store"
	"github.com/fredbook/udos-dist/internal/udospkg"
)

// Change is one library's move in a transaction (the --json result).
type Change struct {
	ID        string `json:"id"`
	Namespace string `json:"namespace"`
	Action    string `json:"action"` // installed, updated, downgraded, removed, unchanged
	From      string `json:"from,omitempty"`
	To        string `json:"to,omitempty"`
	Path      string `json:"install_path"`
}

// Spec is one "name@constraint" the user typed, parsed.
type Spec struct {
	ID         string
	Constraint string // as written; "" for none
}

// ParseSpec parses NAME[@CONSTRAINT].
func ParseSpec(s string) (Spec, error) {
	name, c, err := libid.SplitSpec(s)
	if err != nil {
		return Spec{}, err
	}
	ref, err := libid.Parse(name)
	if err != nil {
		return Spec{}, err
	}
	if ref.Core {
		return Spec{}, fmt.Errorf("%s is uDOS itself; it is not installed with udos-lib", name)
	}
	if c != "" {
		if _, err := constraint.Parse(c); err != nil {
			return Spec{}, err
		}
	}
	return Spec{ID: ref.ID, Constraint: c}, nil
}

func (c *Client) sourceFor(cat *Catalog, id string, version *semver.Version) (source, error) {
	lib, ok := cat.Find(id)
	if !ok {
		return source{}, fmt.Errorf("library %s is not in the catalog", id)
	}
	v, ok := lib.FindVersion(version.Original())
	if !ok {
		return source{}, fmt.Errorf("%s has no version %s in the catalog", id, version)
	}
	u, su, err := catalogRefs(cat, v)
	if err != nil {
		return source{}, fmt.Errorf("%s %s: %w", id, version, err)
	}
	return source{ID: id, Version: version, URL: u, SignatureURL: su, Size: v.Size, SHA256: v.SHA256, SHA512: v.SHA512,
		Dependencies: v.Dependencies, InstallPath: lib.InstallPath, Namespace: lib.Namespace,
		Ref: cat.Base.Relative(u), SigRef: cat.Base.Relative(su)}, nil
}

// catalogRefs resolves a version's package and signature references under
// the registry's rules (internal/regref).
func catalogRefs(cat *Catalog, v *catalog.Version) (pkg, sig string, err error) {
	if pkg, err = cat.Base.Resolve(v.URL); err != nil {
		return "", "", err
	}
	sigRef := v.SignatureURL
	if sigRef == "" {
		sigRef = v.URL + ".asc"
	}
	if sig, err = cat.Base.Resolve(sigRef); err != nil {
		return "", "", err
	}
	return pkg, sig, nil
}

// plan is an install being prepared.
type plan struct {
	op      string
	old     *lockfile.Lock
	cat     *Catalog
	in      resolveInput
	direct  map[string][]string // id -> requested constraints of new direct roots (all must hold)
	local   map[string]source   // packages given as files
	targets map[string]bool     // libraries named by the user
}

func (c *Client) newPlan(op string, old *lockfile.Lock, cat *Catalog) *plan {
	p := &plan{op: op, old: old, cat: cat, direct: map[string][]string{}, local: map[string]source{}, targets: map[string]bool{}}
	p.in = resolveInput{Catalog: cat, Core: c.coreVersion(), Prefer: map[string]*semver.Version{}, Extra: map[string]extraVersion{}, Prerelease: c.Prerelease}
	for id, e := range old.Libraries {
		v, err := semver.NewVersion(e.Version)
		if err != nil {
			continue // lockfile.Read validated it; nothing to prefer otherwise
		}
		p.in.Prefer[id] = v
		// Installed versions stay candidates even if the catalog dropped them.
		p.in.Extra[id] = extraVersion{Version: v, Dependencies: e.Dependencies}
	}
	return p
}

// resolve asks the resolver for the plan: the installed direct libraries'
// requests, replaced by what this command asks for the libraries it names
// (every spec for one library is a requirement of its own: they all hold).
func (p *plan) resolve(ctx context.Context) (*resolve.Solution, error) {
	roots := map[string][]string{}
	for id, e := range p.old.Libraries {
		if e.Direct {
			roots[id] = []string{e.Requested}
		}
	}
	for id, cons := range p.direct {
		roots[id] = cons
	}
	ids := slices.Sorted(maps.Keys(roots))
	for _, id := range ids {
		for _, con := range roots[id] {
			p.in.Roots = append(p.in.Roots, resolve.Requirement{ID: id, Constraint: con})
		}
	}
	res, err := resolveAll(ctx, p.in)
	if err != nil {
		return nil, fmt.Errorf("resolving dependencies: %w", err)
	}
	return res, nil
}

// requested is what the lock records as a direct library's request: the
// constraint when there is one, all of them when several were given
// (npm's AND of comparators, distributed over "||"), "" for none.
func requested(cons []string) (string, error) {
	var given []string
	for _, con := range cons {
		if strings.TrimSpace(con) != "" && !slices.Contains(given, con) {
			given = append(given, con)
		}
	}
	if len(given) <= 1 {
		return strings.Join(given, ""), nil // as written
	}
	var alts [][]string // OR of AND-groups
	for _, con := range given {
		if strings.TrimSpace(con) == "" {
			continue
		}
		c, err := constraint.Parse(con)
		if err != nil {
			return "", err
		}
		var next [][]string
		for _, alt := range strings.Split(c.String(), "||") {
			alt = strings.TrimSpace(alt)
			if strings.Contains(alt, " - ") {
				// A hyphen range stands alone in its alternative: use the
				// comparators it means.
				alt = constraint.MustParse(alt).Canonical()
			}
			if len(alts) == 0 {
				next = append(next, []string{alt})
				continue
			}
			for _, group := range alts {
				next = append(next, append(slices.Clone(group), alt))
			}
		}
		alts = next
	}
	if len(alts) > constraint.MaxAlternatives {
		return "", fmt.Errorf("the constraints %s cannot be recorded as one (more than %d alternatives): give one constraint", strings.Join(cons, ", "), constraint.MaxAlternatives)
	}
	parts := make([]string, len(alts))
	for i, group := range alts {
		parts[i] = strings.Join(slices.Compact(group), " ")
	}
	return strings.Join(parts, " || "), nil
}

// run resolves, downloads, verifies, extracts and commits.
func (c *Client) run(ctx context.Context, p *plan) ([]Change, error) {
	res, err := p.resolve(ctx)
	if err != nil {
		return nil, err
	}
	next := lockfile.New()
	if cv := p.in.Core; cv != nil {
		next.CoreVersion = cv.String()
	}
	for _, id := range res.Order {
		v := res.Versions[id]
		var meta *store.Meta
		if s, ok := p.local[id]; ok && s.Version.Equal(v) {
			meta, err = c.ensureStored(ctx, s)
		} else if o, ok := p.old.Libraries[id]; ok && o.Version == v.Original() {
			if m, ok := c.Paths.HasVersion(id, o.Version); ok {
				meta = m
				meta.Entry = o
			} else {
				meta, err = c.storeLocked(ctx, &catalogOnce{cat: p.cat}, id, v, o, p.old.FromV1())
			}
		} else {
			var s source
			s, err = c.sourceFor(p.cat, id, v)
			if err == nil {
				meta, err = c.ensureStored(ctx, s)
			}
		}
		if err != nil {
			// ensureStored's errors name the package file (id and version).
			return nil, err
		}
		e := meta.Entry
		e.Direct, e.Requested = false, ""
		if o, ok := p.old.Libraries[id]; ok {
			e.Direct, e.Requested = o.Direct, o.Requested
		}
		e.Source, e.Signature = c.recordedRefs(p.cat, id, e, p.old.FromV1())
		if cons, ok := p.direct[id]; ok {
			con, err := requested(cons)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", id, err)
			}
			e.Direct = true
			e.Requested = con
			if con == "" {
				e.Requested = "^" + v.Original()
			}
		}
		next.Libraries[id] = e
	}
	for _, id := range next.IDs() {
		if _, had := p.old.Libraries[id]; had || p.targets[id] {
			continue
		}
		// Not asked for, not there before, but something already installed
		// needs it: the install puts back what an 'uninstall --force' took.
		if users := dependents(p.old, id); len(users) > 0 {
			c.warnOnce(fmt.Sprintf("putting %s %s back: %s need(s) it (it was missing, e.g. after 'uninstall --force')", id, next.Libraries[id].Version, strings.Join(users, ", ")))
		}
	}
	// Interrupted before the switch: nothing has changed yet, so stop here
	// (once the journal is written, the transaction completes).
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := c.Paths.Switch(p.op, p.old, next, c.hook); err != nil {
		return nil, err
	}
	return diff(p.old, next), nil
}

func diff(old, next *lockfile.Lock) []Change {
	var out []Change
	ids := map[string]bool{}
	for id := range old.Libraries {
		ids[id] = true
	}
	for id := range next.Libraries {
		ids[id] = true
	}
	for id := range ids {
		o, hadOld := old.Libraries[id]
		n, hasNew := next.Libraries[id]
		ch := Change{ID: id}
		switch {
		case !hadOld:
			ch.Action, ch.To, ch.Namespace, ch.Path = "installed", n.Version, n.Namespace, n.InstallPath
		case !hasNew:
			ch.Action, ch.From, ch.Namespace, ch.Path = "removed", o.Version, o.Namespace, o.InstallPath
		default:
			ch.From, ch.To, ch.Namespace, ch.Path = o.Version, n.Version, n.Namespace, n.InstallPath
			ov, err1 := semver.NewVersion(o.Version)
			nv, err2 := semver.NewVersion(n.Version)
			switch {
			case o.Version == n.Version || err1 != nil || err2 != nil:
				continue
			case nv.GreaterThan(ov):
				ch.Action = "updated"
			default:
				ch.Action = "downgraded"
			}
		}
		out = append(out, ch)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Install installs the named libraries (and what they need) from the registry.
func (c *Client) Install(ctx context.Context, specs []Spec) ([]Change, error) {
	old, err := c.Paths.ReadLock()
	if err != nil {
		return nil, err
	}
	sr, err := c.LoadCatalog(ctx, true)
	if err != nil {
		return nil, err
	}
	for _, s := range specs {
		if _, ok := sr.Catalog.Find(s.ID); !ok && old.Libraries[s.ID].Version == "" {
			// Said here, with a suggestion, rather than as a resolver failure.
			return nil, fmt.Errorf("resolving dependencies: library %s is not in the catalog%s (try 'udos-lib search')", s.ID, suggest(s.ID, sr.Catalog.ids()))
		}
	}
	p := c.newPlan("install", old, sr.Catalog)
	for _, s := range specs {
		p.direct[s.ID] = append(p.direct[s.ID], s.Constraint)
		p.targets[s.ID] = true
		if s.Constraint != "" || old.Libraries[s.ID].Version == "" {
			// An explicit request may move an installed library.
			delete(p.in.Prefer, s.ID)
		}
	}
	return c.run(ctx, p)
}

// InstallFile installs a package file; its dependencies come from the
// registry. A signature next to it (FILE.asc) is checked like a registry's.
func (c *Client) InstallFile(ctx context.Context, path string) ([]Change, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	raw, err := os.ReadFile(abs)
	if err != nil {
		return nil, fmt.Errorf("reading package: %w", err)
	}
	sig, err := os.ReadFile(abs + ".asc")
	if err != nil {
		sig = nil
	}
	// The signature is checked before the archive is parsed at all.
	if _, _, err := c.Trust.Check(raw, sig); err != nil {
		return nil, fmt.Errorf("signature check failed for %s: %w", filepath.Base(abs), err)
	}
	pkg, err := udospkg.Read(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("reading package %s: %w", path, err)
	}
	m := pkg.Manifest
	old, err := c.Paths.ReadLock()
	if err != nil {
		return nil, err
	}
	cat := emptyCatalog()
	if c.Registry != "" {
		sr, err := c.LoadCatalog(ctx, true)
		if err != nil {
			return nil, err
		}
		cat = sr.Catalog
	}
	p := c.newPlan("install", old, cat)
	mv, err := semver.StrictNewVersion(m.Version)
	if err != nil {
		return nil, fmt.Errorf("reading package %s: version %q: %w", path, m.Version, err)
	}
	// The lock file records the file's name: installing from the lock
	// elsewhere finds the package in the registry by version and digest.
	s := source{ID: m.ID, Version: mv, URL: abs, Local: pkg, LocalSig: sig, InstallPath: m.InstallPath, Namespace: m.Namespace,
		Ref: filepath.Base(abs)}
	if sig != nil {
		s.SignatureURL, s.SigRef = abs+".asc", filepath.Base(abs)+".asc"
	}
	p.local[m.ID] = s
	p.in.Extra[m.ID] = extraVersion{Version: mv, Dependencies: m.Dependencies}
	p.direct[m.ID] = []string{"=" + m.Version}
	delete(p.in.Prefer, m.ID)
	changes, err := c.run(ctx, p)
	if err != nil && c.Registry == "" && strings.Contains(err.Error(), "not in the catalog") {
		return nil, fmt.Errorf("%w (no registry is configured to fetch dependencies from: pass --registry)", err)
	}
	return changes, err
}

// InstallLocked installs exactly what library/lock.json pins, checking each
// archive against the digests recorded there (no resolution, like npm ci).
func (c *Client) InstallLocked(ctx context.Context) ([]Change, error) {
	lock, err := c.Paths.ReadLock()
	if err != nil {
		return nil, err
	}
	if len(lock.Libraries) == 0 {
		return nil, fmt.Errorf("%s pins no library: nothing to install (name libraries to install them)", c.Paths.LockFile())
	}
	ids := slices.Sorted(maps.Keys(lock.Libraries))
	var changes []Change
	next := lock.Clone()
	cats := &catalogOnce{}
	for _, id := range ids {
		e := lock.Libraries[id]
		action := "unchanged"
		v, err := semver.NewVersion(e.Version)
		if err != nil {
			return nil, fmt.Errorf("%s: version %q in %s: %w", id, e.Version, c.Paths.LockFile(), err)
		}
		if _, ok := c.Paths.HasVersion(id, e.Version); !ok {
			action = "installed"
			m, err := c.storeLocked(ctx, cats, id, v, e, lock.FromV1())
			if err != nil {
				return nil, err
			}
			if lock.FromV1() {
				e.Source, e.Signature = m.Entry.Source, m.Entry.Signature
			}
		}
		var cat *Catalog
		if lock.FromV1() && c.Registry != "" {
			// The v1 sources name the registry as it was; the one given now
			// decides (same version, same digest), so the lock travels
			// from here on. Best effort: without it the sources are kept.
			cat, _ = cats.get(ctx, c)
		}
		e.Source, e.Signature = c.recordedRefs(cat, id, e, lock.FromV1())
		next.Libraries[id] = e
		link, target, err := c.Paths.LinkTarget(e.InstallPath, id, e.Version)
		if err != nil {
			return nil, err
		}
		if cur, err := os.Readlink(link); err != nil || cur != target {
			action = "installed"
		}
		changes = append(changes, Change{ID: id, Namespace: e.Namespace, Action: action, To: e.Version, Path: e.InstallPath})
	}
	// Links into the store that the lock does not name (left from an
	// earlier state of this machine) go, so the tree is exactly the lock.
	current := lockfile.New()
	stray, err := c.Paths.StrayLinks(lock)
	if err != nil {
		return nil, err
	}
	for _, s := range stray {
		current.Libraries[s.ID] = lockfile.Entry{InstallPath: s.InstallPath, Version: s.Version, Namespace: s.Namespace}
		changes = append(changes, Change{ID: s.ID, Namespace: s.Namespace, Action: "removed", From: s.Version, Path: s.InstallPath})
	}
	if cv := c.coreVersion(); cv != nil && lock.CoreVersion != "" && lock.CoreVersion != cv.String() {
		c.warnOnce(fmt.Sprintf("%s was resolved against uDOS %s; this installation is %s", c.Paths.LockFile(), lock.CoreVersion, cv))
	}
	// Every library the lock names is relinked if needed; stray links removed.
	// Interrupted before the switch: nothing has changed yet, so stop here
	// (once the journal is written, the transaction completes).
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := c.Paths.Switch("install", current, next, c.hook); err != nil {
		return nil, err
	}
	return changes, nil
}

// Update moves the named libraries (or all) to the newest versions their
// requested constraints allow; the others keep their versions if they can.
func (c *Client) Update(ctx context.Context, names []string, all bool) ([]Change, error) {
	old, err := c.Paths.ReadLock()
	if err != nil {
		return nil, err
	}
	if len(old.Libraries) == 0 {
		return nil, fmt.Errorf("nothing is installed")
	}
	targets := map[string]bool{}
	for _, n := range names {
		id, _, err := c.FindInstalled(old, n)
		if err != nil {
			return nil, err
		}
		targets[id] = true
	}
	sr, err := c.LoadCatalog(ctx, true)
	if err != nil {
		return nil, err
	}
	return c.run(ctx, c.updatePlan(old, sr.Catalog, targets, all))
}

// updatePlan is what update asks the resolver: the named libraries (or all)
// lose their preference for the installed version; the others keep it if
// they can. check-updates asks the same, so WANTED is what update installs.
func (c *Client) updatePlan(old *lockfile.Lock, cat *Catalog, targets map[string]bool, all bool) *plan {
	p := c.newPlan("update", old, cat)
	for id := range old.Libraries {
		if all || targets[id] {
			delete(p.in.Prefer, id)
		}
	}
	ids := slices.Sorted(maps.Keys(targets))
	for _, id := range ids {
		if !old.Libraries[id].Direct {
			// Make the resolver consider it even though nothing pins it
			// directly; it stays a dependency in the lock file.
			p.in.Roots = append(p.in.Roots, resolve.Requirement{ID: id})
		}
	}
	return p
}

// UpdateInfo is one line of check-updates.
type UpdateInfo struct {
	ID        string `json:"id"`
	Namespace string `json:"namespace"`
	Current   string `json:"current"`
	Wanted    string `json:"wanted"` // what update --all would install
	Latest    string `json:"latest"` // newest published (pre-releases only with Prerelease)
	Requested string `json:"requested,omitempty"`
	Update    bool   `json:"update_available"`
}

// CheckUpdates compares the installed versions with the catalog. WANTED is
// what 'update --all' would install, from the same resolver call: every
// requested constraint and every installed dependent's constraint holds.
func (c *Client) CheckUpdates(ctx context.Context) ([]UpdateInfo, error) {
	lock, err := c.Paths.ReadLock()
	if err != nil {
		return nil, err
	}
	sr, err := c.LoadCatalog(ctx, true)
	if err != nil {
		return nil, err
	}
	var wanted map[string]*semver.Version
	if len(lock.Libraries) > 0 {
		sol, err := c.updatePlan(lock, sr.Catalog, nil, true).resolve(ctx)
		if err != nil {
			return nil, fmt.Errorf("working out what update would install: %w", err)
		}
		wanted = sol.Versions
	}
	var out []UpdateInfo
	src := resolveSource{&resolveInput{Catalog: sr.Catalog}}
	for id, e := range lock.Libraries {
		u := UpdateInfo{ID: id, Namespace: e.Namespace, Current: e.Version, Wanted: e.Version, Latest: e.Version, Requested: e.Requested}
		if w := wanted[id]; w != nil {
			u.Wanted = w.Original()
		}
		cur, _ := semver.NewVersion(e.Version)
		if cands, err := src.Versions(id); err == nil {
			for _, cand := range cands { // newest first
				if cand.Version.Prerelease() == "" || c.Prerelease {
					u.Latest = cand.Version.Original()
					break
				}
			}
			latest, _ := semver.NewVersion(u.Latest)
			u.Update = cur != nil && latest != nil && latest.GreaterThan(cur)
		}
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Uninstall removes a library from the live tree and the lock file (its
// store copy stays for rollback), and prunes dependencies nothing needs.
func (c *Client) Uninstall(name string, force bool) ([]Change, error) {
	old, err := c.Paths.ReadLock()
	if err != nil {
		return nil, err
	}
	id, _, err := c.FindInstalled(old, name)
	if err != nil {
		return nil, err
	}
	users := dependents(old, id)
	if len(users) > 0 && !force {
		return nil, fmt.Errorf("%s is needed by %s: uninstall those first, or pass --force", id, strings.Join(users, ", "))
	}
	next := old.Clone()
	delete(next.Libraries, id)
	// Prune dependencies that were only there for what was removed.
	for changed := true; changed; {
		changed = false
		for dep, e := range next.Libraries {
			if e.Direct {
				continue
			}
			needed := false
			for _, o := range next.Libraries {
				if _, ok := o.Dependencies[dep]; ok {
					needed = true
					break
				}
			}
			if !needed {
				delete(next.Libraries, dep)
				changed = true
			}
		}
	}
	if err := c.Paths.Switch("uninstall", old, next, c.hook); err != nil {
		return nil, err
	}
	if len(users) > 0 {
		// --force: say what is now broken, and how to mend it.
		c.warnOnce(fmt.Sprintf("%s is uninstalled although %s depend(s) on it: they are broken until it is back ('udos-lib install %s'); 'udos-lib list' shows the unmet dependencies",
			id, strings.Join(users, ", "), strings.TrimPrefix(id, "lib-")))
	}
	return diff(old, next), nil
}

// Rollback switches a library back to a version installed before. It works
// offline when that version is still in the store; otherwise it is fetched
// from the registry.
func (c *Client) Rollback(ctx context.Context, name, version string) ([]Change, error) {
	old, err := c.Paths.ReadLock()
	if err != nil {
		return nil, err
	}
	id, cur, err := c.FindInstalled(old, name)
	if err != nil {
		return nil, err
	}
	version = strings.TrimPrefix(version, "v")
	if cur.Version == version {
		return nil, nil
	}
	meta, ok := c.Paths.HasVersion(id, version)
	if !ok {
		kept := listOrNone(c.Paths.StoredVersions(id))
		if c.Registry == "" {
			return nil, fmt.Errorf("%s@%s was never installed here (kept versions: %s) and no registry is configured to fetch it", id, version, kept)
		}
		sr, err := c.LoadCatalog(ctx, true)
		if err != nil {
			return nil, fmt.Errorf("%s@%s is not in the local store (kept versions: %s) and the registry failed: %w", id, version, kept, err)
		}
		v, err := semver.NewVersion(version)
		if err != nil {
			return nil, fmt.Errorf("%s@%s: %w", id, version, err)
		}
		s, err := c.sourceFor(sr.Catalog, id, v)
		if err != nil {
			return nil, err
		}
		if meta, err = c.ensureStored(ctx, s); err != nil {
			return nil, err
		}
	}
	core := c.coreVersion()
	for dep, con := range meta.Entry.Dependencies {
		cc, err := constraint.Parse(con)
		if err != nil {
			return nil, fmt.Errorf("%s@%s: dependency %s: %w", id, version, dep, err)
		}
		if libid.IsCore(dep) {
			if core != nil && !cc.CheckWith(core, true) {
				return nil, fmt.Errorf("%s@%s needs uDOS %s, this installation is %s", id, version, con, core)
			}
			continue
		}
		e, ok := old.Libraries[dep]
		if !ok {
			return nil, fmt.Errorf("%s@%s needs %s %s, which is not installed: use 'udos-lib install %s@%s' instead", id, version, dep, con, id, version)
		}
		if sv, err := semver.NewVersion(e.Version); err != nil || !cc.Check(sv) {
			return nil, fmt.Errorf("%s@%s needs %s %s but %s is installed: use 'udos-lib install %s@%s' instead", id, version, dep, con, e.Version, id, version)
		}
	}
	next := old.Clone()
	e := meta.Entry
	e.Direct, e.Requested = cur.Direct, cur.Requested
	next.Libraries[id] = e
	if err := c.Paths.Switch("rollback", old, next, c.hook); err != nil {
		return nil, err
	}
	return diff(old, next), nil
}

func listOrNone(vs []*semver.Version) string {
	if len(vs) == 0 {
		return "none"
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.Original()
	}
	return strings.Join(out, ", ")
}

// Search returns the catalog libraries matching every word of query in
// their id, namespace, name, description or tags (case-insensitive).
func Search(cat *Catalog, query string) []catalog.Library {
	words := strings.Fields(strings.ToLower(query))
	var out []catalog.Library
	for _, l := range cat.Libraries {
		hay := strings.ToLower(strings.Join(append([]string{l.ID, l.Namespace, l.Name, l.Description}, l.Tags...), "\n"))
		ok := true
		for _, w := range words {
			if !strings.Contains(hay, w) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}
