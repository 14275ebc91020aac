package coreinst

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/fredbook/udos-dist/internal/constraint"
	"github.com/fredbook/udos-dist/internal/lockfile"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/store"
	"github.com/fredbook/udos-dist/internal/tarball"
)

// Installer manages one prefix.
type Installer struct {
	Paths   Paths
	Keyring *pgpsign.Keyring
	Fetcher Fetcher
	// OpenSource parses a SOURCE (ParseSource with the command's fetcher
	// and GitHub client).
	OpenSource func(spec string) (Source, error)
	Now        func() time.Time
	// Hook is called at named points of a transaction (tests kill the
	// process there); nil in the shipped binary.
	Hook func(point string)
	// Info receives progress messages for humans.
	Info func(string)
	// Progress starts a progress bar for one download; nil means none.
	// The total is what remains to download.
	Progress    func(label string, total int64) ProgressSink
	LockTimeout time.Duration
	// Keep is the number of versions kept for rollback (default 3).
	Keep int
	// Libraries opens the prefix's library client (nil: upgrades cannot
	// update libraries, only name them).
	Libraries func() (Libraries, error)

	lock *store.FileLock
	// libs and libIDs: the libraries the running upgrade moves.
	libs   Libraries
	libIDs []string
}

func (in *Installer) hook(p string) {
	if in.Hook != nil {
		in.Hook(p)
	}
}

func (in *Installer) info(m string) {
	if in.Info != nil {
		in.Info(m)
	}
}

func (in *Installer) now() time.Time {
	if in.Now != nil {
		return in.Now()
	}
	return time.Now()
}

// Begin takes the prefix's lock and recovers an interrupted transaction.
// End releases the lock.
func (in *Installer) Begin(ctx context.Context) (Outcome, error) {
	if err := os.MkdirAll(in.Paths.State(), 0o755); err != nil {
		return Nothing, fmt.Errorf("preparing %s: %w", in.Paths.Prefix, err)
	}
	timeout := in.LockTimeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	l, err := store.Lock(ctx, in.Paths.Mutex(), timeout, func(holder string) {
		in.info(fmt.Sprintf("waiting for another udos-lib core (%s) to finish with %s", holder, in.Paths.Prefix))
	})
	if err != nil {
		return Nothing, err
	}
	in.lock = l
	out, j, err := in.recover(ctx)
	if err != nil {
		in.End()
		return Nothing, err
	}
	switch out {
	case Finished:
		in.info(fmt.Sprintf("finished the interrupted %s of %s", j.Op, j.Dir))
	case Undone:
		in.info(fmt.Sprintf("undid the interrupted %s of %s; %s is unchanged", j.Op, j.Dir, orNothing(j.Previous)))
	}
	return out, nil
}

func orNothing(dir string) string {
	if dir == "" {
		return "the prefix"
	}
	return dir
}

// End releases the lock.
func (in *Installer) End() {
	if in.lock != nil {
		_ = in.lock.Unlock()
		in.lock = nil
	}
}

// Kept is one installed version.
type Kept struct {
	Dir         string    `json:"dir"`
	Variant     string    `json:"variant"`
	Version     string    `json:"version"`
	InstalledAt time.Time `json:"installed_at"`
	Active      bool      `json:"active"`
	Source      string    `json:"source,omitempty"`
}

// Record is a version folder's .udos-core/install.json.
type Record struct {
	Variant        string    `json:"variant"`
	Version        string    `json:"version"`
	InstalledAt    time.Time `json:"installed_at"`
	Source         string    `json:"source"`
	Archive        string    `json:"archive"`
	ArchiveSHA256  string    `json:"archive_sha256"`
	ManifestSHA256 string    `json:"manifest_sha256,omitempty"`
	Signer         string    `json:"signer"`
}

// Kept lists the installed versions, oldest install first.
func (p Paths) Kept() ([]Kept, error) {
	ents, err := os.ReadDir(p.Versions())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", p.Versions(), err)
	}
	active, err := p.Active()
	if err != nil {
		return nil, err
	}
	var out []Kept
	for _, e := range ents {
		variant, version, ok := ParseDirName(e.Name())
		if !ok || !e.IsDir() {
			continue
		}
		var r Record
		if ok, err := p.readJSON(p.InstallRecord(e.Name()), &r); err != nil || !ok {
			continue // not (yet) a complete version folder
		}
		out = append(out, Kept{Dir: e.Name(), Variant: variant, Version: version, InstalledAt: r.InstalledAt, Active: e.Name() == active, Source: r.Source})
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].InstalledAt.Equal(out[j].InstalledAt) {
			return out[i].InstalledAt.Before(out[j].InstalledAt)
		}
		return out[i].Dir < out[j].Dir
	})
	return out, nil
}

// checkPrefix refuses a folder that holds something other than a prefix.
func (p Paths) checkPrefix() error {
	ents, err := os.ReadDir(p.Prefix)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the prefix %s: %w", p.Prefix, err)
	}
	for _, e := range ents {
		switch e.Name() {
		case ".udos-core", "versions", "current", "version.json", "library", "memory", "vault":
		default:
			return fmt.Errorf("the prefix %s holds %q, so it is not a uDOS prefix made by udos-lib core: choose an empty or new folder", p.Prefix, e.Name())
		}
	}
	return nil
}

// Result describes what a command did (or, with --check, would do).
type Result struct {
	Action   string   `json:"action"` // installed, upgraded, rolled-back, unchanged, available, up-to-date
	Variant  string   `json:"variant"`
	From     string   `json:"from,omitempty"`
	To       string   `json:"to"`
	Dir      string   `json:"dir"`
	Signer   string   `json:"signer,omitempty"`
	Notes    []string `json:"notes,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
	// Blocked lists the libraries the new version would break.
	Blocked []Blocker `json:"blocked,omitempty"`
	// Libraries are the libraries upgraded along with uDOS.
	Libraries []LibraryUpdate `json:"libraries,omitempty"`
}

// InstallOptions of one install.
type InstallOptions struct {
	Variant string
	Version string // "" for the newest release
	Source  string
}

// Install installs a variant into a new prefix (or switches a prefix to
// another variant or version, keeping the user's data). Call Begin first.
func (in *Installer) Install(ctx context.Context, o InstallOptions) (*Result, error) {
	if err := in.Paths.checkPrefix(); err != nil {
		return nil, err
	}
	src, err := in.OpenSource(o.Source)
	if err != nil {
		return nil, err
	}
	version := strings.TrimPrefix(o.Version, "v")
	if version == "" {
		if version, err = Newest(ctx, src, nil); err != nil {
			return nil, err
		}
		if version == "" {
			return nil, fmt.Errorf("%s offers no release", src)
		}
	}
	active, err := in.Paths.Active()
	if err != nil {
		return nil, err
	}
	dir := DirName(o.Variant, version)
	res := &Result{Action: "installed", Variant: o.Variant, To: version, Dir: dir}
	if active != "" {
		_, res.From, _ = ParseDirName(active)
	}
	if active == dir {
		res.Action = "unchanged"
		return res, nil
	}
	if err := in.transact(ctx, "install", src, version, o.Variant, active, res); err != nil {
		return nil, err
	}
	return res, nil
}

// transact brings version (fetched and verified, unless kept) into
// versions/ and switches to it.
func (in *Installer) transact(ctx context.Context, op string, src Source, version, variant, active string, res *Result) error {
	dir := DirName(variant, version)
	j := &Journal{Op: op, Dir: dir, Previous: active, Source: src.String()}
	if _, err := os.Stat(in.Paths.InstallRecord(dir)); err == nil {
		in.info(fmt.Sprintf("%s is kept in the prefix: switching to it", dir))
		if err := in.begin(j); err != nil {
			return err
		}
		return in.commit(j)
	}
	rel, err := in.FetchRelease(ctx, src, version)
	if err != nil {
		return err
	}
	res.Signer = rel.Signer.Fingerprint
	a, err := rel.Variant(variant)
	if err != nil {
		return err
	}
	path, err := in.download(ctx, src, version, a)
	if err != nil {
		return err
	}
	sig, err := in.AssetSignature(ctx, src, version, a)
	if err != nil {
		return err
	}
	if _, err := VerifyFile(path, a, sig, in.Keyring); err != nil {
		if derr := discard(path); derr != nil {
			return fmt.Errorf("%w (and %v)", err, derr)
		}
		return err
	}
	in.hook("verified")
	if err := in.Paths.saveRelease(rel); err != nil {
		return err
	}
	j.Created = true
	if len(in.libIDs) > 0 {
		j.Libraries, j.Core = in.libIDs, version
		if j.LockBefore, err = in.Paths.lockDigest(); err != nil {
			return err
		}
	}
	if err := in.begin(j); err != nil {
		return err
	}
	rec := Record{Variant: variant, Version: version, InstalledAt: in.now().UTC(), Source: src.String(),
		Archive: a.Filename, ArchiveSHA256: a.SHA256, ManifestSHA256: sha256Hex(rel.Raw), Signer: rel.Signer.Fingerprint}
	if err := in.unpack(path, dir, rec); err != nil {
		return err
	}
	if len(j.Libraries) > 0 {
		if err := in.libs.Update(ctx, semver.MustParse(version), j.Libraries); err != nil {
			// The library client left the libraries as they were: undo.
			if _, _, rerr := in.recover(ctx); rerr != nil {
				return fmt.Errorf("%w (and undoing: %v)", err, rerr)
			}
			return fmt.Errorf("updating the libraries for %s: %w", version, err)
		}
		in.hook("libraries")
	}
	if err := in.commit(j); err != nil {
		return err
	}
	// The archive is in versions/ now; a kept download would only use space.
	_ = os.RemoveAll(filepath.Join(in.Paths.Downloads(), version))
	return nil
}

// unpack extracts a verified archive under staging/ and renames its one
// top folder into versions/<dir>, with the user's data folders replaced by
// links to the prefix's.
func (in *Installer) unpack(archive, dir string, rec Record) error {
	stage := filepath.Join(in.Paths.Staging(), dir)
	if err := os.RemoveAll(stage); err != nil {
		return err
	}
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := tarball.Extract(f, stage, tarball.DefaultLimits); err != nil {
		return fmt.Errorf("unpacking %s: %w", filepath.Base(archive), err)
	}
	in.hook("extracted")
	ents, err := os.ReadDir(stage)
	if err != nil {
		return err
	}
	if len(ents) != 1 || !ents[0].IsDir() {
		return fmt.Errorf("unpacking %s: a variant archive holds one top folder, this one holds %d entries", filepath.Base(archive), len(ents))
	}
	top := filepath.Join(stage, ents[0].Name())
	if _, err := os.Stat(filepath.Join(top, "version.json")); err != nil {
		return fmt.Errorf("unpacking %s: it has no version.json, so it is not a uDOS variant", filepath.Base(archive))
	}
	own := filepath.Join(top, ".udos-core")
	if _, err := os.Lstat(own); err == nil {
		return fmt.Errorf("unpacking %s: it holds .udos-core/, the name udos-lib core keeps for itself", filepath.Base(archive))
	}
	for _, d := range DataDirs {
		p := filepath.Join(top, d)
		fi, err := os.Lstat(p)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("unpacking %s: %s is not a folder", filepath.Base(archive), d)
			}
			if err := os.MkdirAll(filepath.Join(own, "seed"), 0o755); err != nil {
				return err
			}
			if err := os.Rename(p, filepath.Join(own, "seed", d)); err != nil {
				return err
			}
		}
		if err := os.Symlink(filepath.Join("..", "..", d), p); err != nil {
			return err
		}
	}
	if err := writeJSON(filepath.Join(own, "install.json"), rec); err != nil {
		return err
	}
	if err := os.MkdirAll(in.Paths.Versions(), 0o755); err != nil {
		return err
	}
	if err := os.Rename(top, in.Paths.VersionDir(dir)); err != nil {
		return fmt.Errorf("moving %s into place: %w", dir, err)
	}
	syncDir(in.Paths.Versions())
	in.hook("unpacked")
	return nil
}

// Newest returns the highest release version of src above floor (any
// when floor is nil); pre-releases only when floor is one.
func Newest(ctx context.Context, src Source, floor *semver.Version) (string, error) {
	vs, err := src.Versions(ctx)
	if err != nil {
		return "", err
	}
	var best *semver.Version
	for _, s := range vs {
		v, err := semver.StrictNewVersion(s)
		if err != nil || (v.Prerelease() != "" && (floor == nil || floor.Prerelease() == "")) {
			continue
		}
		if floor != nil && !v.GreaterThan(floor) {
			continue
		}
		if best == nil || v.GreaterThan(best) {
			best = v
		}
	}
	if best == nil {
		return "", nil
	}
	return best.Original(), nil
}

// Libraries is what an upgrade needs of the library client: which
// blocking libraries the catalog can move to a version that works with
// the new core, and doing so.
type Libraries interface {
	// Compatible returns the version of each of ids the catalog would
	// install with @uDOS/core at core; an error when it cannot.
	Compatible(ctx context.Context, core *semver.Version, ids []string) (map[string]string, error)
	// Update moves ids to such versions, in the library client's own
	// transaction.
	Update(ctx context.Context, core *semver.Version, ids []string) error
	// Recover finishes or undoes an interrupted library transaction.
	Recover(ctx context.Context) error
}

// LibraryUpdate is one library an upgrade moves along with uDOS.
type LibraryUpdate struct {
	ID   string `json:"id"`
	From string `json:"from"`
	To   string `json:"to"`
}

// Blocker is an installed library whose @uDOS/core constraint excludes a
// version.
type Blocker struct {
	ID         string `json:"id"`
	Namespace  string `json:"namespace"`
	Version    string `json:"version"`
	Constraint string `json:"constraint"`
}

func (b Blocker) String() string {
	return fmt.Sprintf("%s@%s needs @uDOS/core %s", b.Namespace, b.Version, b.Constraint)
}

// Blockers lists the installed libraries whose @uDOS/core constraint
// excludes version.
func (p Paths) Blockers(version string) ([]Blocker, error) {
	v, err := semver.StrictNewVersion(version)
	if err != nil {
		return nil, fmt.Errorf("version %q: %w", version, err)
	}
	lock, err := lockfile.Read(filepath.Join(p.Prefix, filepath.FromSlash(lockfile.Path)))
	if err != nil {
		return nil, err
	}
	var out []Blocker
	for id, e := range lock.Libraries {
		text, ok := e.Dependencies["@uDOS/core"]
		if !ok {
			continue
		}
		c, err := constraint.Parse(text)
		if err != nil {
			return nil, fmt.Errorf("%s@%s: its @uDOS/core constraint %q: %w", id, e.Version, text, err)
		}
		if !c.Check(v) {
			out = append(out, Blocker{ID: id, Namespace: e.Namespace, Version: e.Version, Constraint: text})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// UpgradeOptions of one upgrade.
type UpgradeOptions struct {
	To     string // "" for the newest release above the active one
	Source string // "" for the one the prefix was installed from
	Check  bool   // report only
	Force  bool   // upgrade even when libraries would break
}

// ErrBlocked: libraries would break; Result.Blocked names them.
var ErrBlocked = errors.New("the upgrade would break installed libraries")

// Upgrade moves the prefix to a newer release of its variant. Call Begin
// first.
func (in *Installer) Upgrade(ctx context.Context, o UpgradeOptions) (*Result, error) {
	active, err := in.Paths.Active()
	if err != nil {
		return nil, err
	}
	if active == "" {
		return nil, fmt.Errorf("nothing is installed in %s: run 'udos-lib core install VARIANT --prefix %s' first", in.Paths.Prefix, in.Paths.Prefix)
	}
	variant, cur, _ := ParseDirName(active)
	curV, err := semver.StrictNewVersion(cur)
	if err != nil {
		return nil, err
	}
	spec := o.Source
	if spec == "" {
		st, err := in.Paths.ReadState()
		if err != nil {
			return nil, err
		}
		spec = st.Source
	}
	src, err := in.OpenSource(spec)
	if err != nil {
		return nil, err
	}
	res := &Result{Action: "upgraded", Variant: variant, From: cur}
	target := strings.TrimPrefix(o.To, "v")
	if target == "" {
		if target, err = Newest(ctx, src, curV); err != nil {
			return nil, err
		}
		if target == "" {
			res.Action, res.To, res.Dir = "up-to-date", cur, active
			return res, nil
		}
	}
	tv, err := semver.StrictNewVersion(target)
	if err != nil {
		return nil, fmt.Errorf("--to %q is not a version", o.To)
	}
	if !tv.GreaterThan(curV) {
		return nil, fmt.Errorf("%s is not newer than the installed %s: use 'udos-lib core rollback --to %s' to go back", target, cur, target)
	}
	res.To, res.Dir = target, DirName(variant, target)
	rel, err := in.FetchRelease(ctx, src, target)
	if err != nil {
		return nil, err
	}
	if _, err := rel.Variant(variant); err != nil {
		return nil, err
	}
	res.Notes = in.notes(rel, cur)
	if res.Blocked, err = in.Paths.Blockers(target); err != nil {
		return nil, err
	}
	var libs Libraries
	if len(res.Blocked) > 0 && !o.Force && in.Libraries != nil {
		if libs, err = in.Libraries(); err != nil {
			return nil, err
		}
		if res.Blocked, res.Libraries, err = fixable(ctx, libs, tv, res.Blocked); err != nil {
			return nil, err
		}
	}
	if o.Check {
		res.Action = "available"
		return res, nil
	}
	if len(res.Blocked) > 0 && !o.Force {
		return res, ErrBlocked
	}
	for _, b := range res.Blocked {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%s (upgraded anyway: --force)", b))
	}
	in.libs, in.libIDs = libs, nil
	for _, u := range res.Libraries {
		in.libIDs = append(in.libIDs, u.ID)
	}
	defer func() { in.libs, in.libIDs = nil, nil }()
	if err := in.transact(ctx, "upgrade", src, target, variant, active, res); err != nil {
		return nil, err
	}
	return res, nil
}

// fixable splits blockers into those the catalog can move to a version
// that works with core (updated in the upgrade's transaction) and those
// it cannot.
func fixable(ctx context.Context, libs Libraries, core *semver.Version, blocked []Blocker) ([]Blocker, []LibraryUpdate, error) {
	ids := make([]string, len(blocked))
	for i, b := range blocked {
		ids[i] = b.ID
	}
	wanted, err := libs.Compatible(ctx, core, ids)
	if err != nil {
		// No catalog answer that satisfies every library: they all block.
		return blocked, nil, nil
	}
	var still []Blocker
	var moves []LibraryUpdate
	for _, b := range blocked {
		if w := wanted[b.ID]; w != "" && w != b.Version {
			moves = append(moves, LibraryUpdate{ID: b.ID, From: b.Version, To: w})
		} else {
			still = append(still, b)
		}
	}
	if len(still) > 0 {
		return blocked, nil, nil // one transaction: all or nothing
	}
	return nil, moves, nil
}

// notes are the upgrade notes of a release: the version it upgrades from
// and what changed for the variants against the installed release.
func (in *Installer) notes(rel *Release, cur string) []string {
	var out []string
	if pv := rel.Manifest.PreviousVersion; pv != "" {
		line := "upgrades from " + pv
		if pv != cur {
			line += " (installed: " + cur + ")"
		}
		out = append(out, line)
	}
	if prev, err := in.Paths.loadRelease(cur, in.Keyring); err == nil {
		for _, c := range relmanifestDiff(prev, rel) {
			out = append(out, c)
		}
	}
	return out
}

// RollbackOptions of one rollback.
type RollbackOptions struct {
	To string // "" for the version active before the last switch
}

// Rollback switches to a kept version, offline. Call Begin first.
func (in *Installer) Rollback(_ context.Context, o RollbackOptions) (*Result, error) {
	active, err := in.Paths.Active()
	if err != nil {
		return nil, err
	}
	if active == "" {
		return nil, fmt.Errorf("nothing is installed in %s", in.Paths.Prefix)
	}
	variant, cur, _ := ParseDirName(active)
	kept, err := in.Paths.Kept()
	if err != nil {
		return nil, err
	}
	var target string
	to := strings.TrimPrefix(o.To, "v")
	if to == "" {
		st, err := in.Paths.ReadState()
		if err != nil {
			return nil, err
		}
		for _, k := range kept {
			if k.Dir == st.Previous && !k.Active {
				target = k.Dir
			}
		}
		if target == "" {
			return nil, fmt.Errorf("no earlier version is kept in %s (kept: %s)", in.Paths.Prefix, keptList(kept))
		}
	} else {
		for _, k := range kept {
			if k.Version == to && (target == "" || k.Variant == variant) {
				target = k.Dir
			}
		}
		if target == "" {
			return nil, fmt.Errorf("version %s is not kept in %s (kept: %s); install it with 'udos-lib core install %s@%s'", to, in.Paths.Prefix, keptList(kept), variant, to)
		}
	}
	tVariant, tVersion, _ := ParseDirName(target)
	res := &Result{Action: "rolled-back", Variant: tVariant, From: cur, To: tVersion, Dir: target}
	if target == active {
		res.Action = "unchanged"
		return res, nil
	}
	blocked, err := in.Paths.Blockers(tVersion)
	if err != nil {
		return nil, err
	}
	for _, b := range blocked {
		res.Warnings = append(res.Warnings, b.String()+": it may not work with "+tVersion)
	}
	j := &Journal{Op: "rollback", Dir: target, Previous: active}
	if err := in.begin(j); err != nil {
		return nil, err
	}
	if err := in.commit(j); err != nil {
		return nil, err
	}
	return res, nil
}

func keptList(kept []Kept) string {
	if len(kept) == 0 {
		return "none"
	}
	var s []string
	for _, k := range kept {
		s = append(s, k.Version)
	}
	return strings.Join(s, ", ")
}

// Status is the state of a prefix.
type Status struct {
	Prefix    string   `json:"prefix"`
	Installed bool     `json:"installed"`
	Variant   string   `json:"variant,omitempty"`
	Version   string   `json:"version,omitempty"`
	Source    string   `json:"source,omitempty"`
	Kept      []Kept   `json:"kept"`
	Newer     []string `json:"newer"`
	// NewerError says why newer releases could not be listed (offline).
	NewerError string `json:"newer_error,omitempty"`
}

// Status reports the prefix; with online, the newer releases of its
// source too. Call Begin first.
func (in *Installer) Status(ctx context.Context, online bool, source string) (*Status, error) {
	st := &Status{Prefix: in.Paths.Prefix, Kept: []Kept{}, Newer: []string{}}
	active, err := in.Paths.Active()
	if err != nil {
		return nil, err
	}
	if st.Kept, err = in.Paths.Kept(); err != nil {
		return nil, err
	}
	if st.Kept == nil {
		st.Kept = []Kept{}
	}
	if active == "" {
		return st, nil
	}
	st.Installed = true
	st.Variant, st.Version, _ = ParseDirName(active)
	state, err := in.Paths.ReadState()
	if err != nil {
		return nil, err
	}
	st.Source = state.Source
	if source != "" {
		st.Source = source
	}
	if !online {
		return st, nil
	}
	src, err := in.OpenSource(st.Source)
	if err == nil {
		var vs []string
		if vs, err = src.Versions(ctx); err == nil {
			cur := semver.MustParse(st.Version)
			var newer semver.Collection
			for _, s := range vs {
				if v, perr := semver.StrictNewVersion(s); perr == nil && v.GreaterThan(cur) && v.Prerelease() == "" {
					newer = append(newer, v)
				}
			}
			sort.Sort(newer)
			for _, v := range newer {
				st.Newer = append(st.Newer, v.Original())
			}
		}
	}
	if err != nil {
		st.NewerError = err.Error()
	}
	return st, nil
}
