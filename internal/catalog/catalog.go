// Package catalog reads, checks and writes a registry's catalog.json: every
// library with every published version, their archives' URLs and digests
// (docs/FORMATS.md, "Catalog"). Verify adds the client's trust rules: a
// good signature from the keyring, no serial rollback, not expired.
package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/fredbook/udos-dist/internal/canonjson"
	"github.com/fredbook/udos-dist/internal/checksum"
	"github.com/fredbook/udos-dist/internal/clip"
	"github.com/fredbook/udos-dist/internal/constraint"
	"github.com/fredbook/udos-dist/internal/libid"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/resolve"
	"github.com/fredbook/udos-dist/internal/strictjson"
	"github.com/fredbook/udos-dist/internal/udospkg"
)

// FormatVersion is the catalog_version written; Parse accepts any "1.x".
const FormatVersion = "1.0"

// FileName is the catalog's name in a registry; SignatureName its signature.
const (
	FileName      = "catalog.json"
	SignatureName = "catalog.json.asc"
)

// Catalog is catalog.json.
type Catalog struct {
	CatalogVersion string    `json:"catalog_version"`
	Serial         int64     `json:"serial"`
	LastUpdated    time.Time `json:"last_updated"`
	Expires        time.Time `json:"expires"`
	Libraries      []Library `json:"libraries"`

	// Signer is who signed the catalog, set by Verify; never serialised.
	Signer *pgpsign.Verified `json:"-"`
}

// Library is one library: the newest version's metadata and every version.
type Library struct {
	ID           string            `json:"id"`
	Namespace    string            `json:"namespace"`
	Name         string            `json:"name"`
	Version      string            `json:"version"`
	Description  string            `json:"description,omitempty"`
	Author       string            `json:"author,omitempty"`
	License      string            `json:"license,omitempty"`
	Tags         []string          `json:"tags,omitempty"`
	Homepage     string            `json:"homepage,omitempty"`
	Repository   string            `json:"repository,omitempty"`
	EntryPoint   string            `json:"entry_point,omitempty"`
	InstallPath  string            `json:"install_path"`
	Dependencies map[string]string `json:"dependencies"`
	// Archive is the current version's package.
	Archive
	PublishedAt time.Time `json:"published_at"`
	// Downloads is the seed's field: how often the library's packages
	// (every version) were downloaded, where the host counts it (GitHub
	// Releases); omitted when unknown.
	Downloads int64     `json:"downloads,omitempty"`
	Versions  []Version `json:"versions"`
}

// Archive is where a version's package is and what it must hash to, with
// its signature and manifest beside it: the same fields in a Version and,
// for the current version, in its Library.
type Archive struct {
	URL          string `json:"url"`
	Size         int64  `json:"size"`
	SHA256       string `json:"sha256"`
	SHA512       string `json:"sha512"`
	SignatureURL string `json:"signature_url,omitempty"`
	ManifestURL  string `json:"manifest_url,omitempty"`
}

// Version is one published version of a library.
type Version struct {
	Version string `json:"version"`
	Archive
	Dependencies map[string]string `json:"dependencies"`
	PublishedAt  time.Time         `json:"published_at"`
	Yanked       bool              `json:"yanked"`
	// Downloads counts this version's package downloads (omitted when
	// unknown); Library.Downloads is their sum.
	Downloads int64 `json:"downloads,omitempty"`
}

// Trust errors returned (wrapped) by Verify and ParseUnverified.
var (
	// ErrBadSignature wraps the pgpsign error: bad, unknown-signer or malformed signature.
	ErrBadSignature = errors.New("catalog signature does not verify")
	// ErrSerialRollback: the catalog is older than one already seen.
	ErrSerialRollback = errors.New("catalog serial rolled back")
	// ErrExpired: the catalog's expires time has passed.
	ErrExpired = errors.New("catalog expired")
	// ErrNoKeyring: Verify was called without a keyring (use ParseUnverified).
	ErrNoKeyring = errors.New("no trusted keyring to verify the catalog with")
	// ErrInvalid wraps every validation failure of Parse.
	ErrInvalid = errors.New("invalid catalog")
)

// TrustState is what a client remembers about a registry between runs.
type TrustState struct {
	Serial int64 `json:"serial"` // highest serial seen; 0 = none yet
}

// Parse decodes and validates catalog.json. Libraries are sorted by id and
// versions newest first, whatever order the file had. Errors wrap
// ErrInvalid and name the library, version and field at fault.
func Parse(data []byte) (*Catalog, error) {
	var c Catalog
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrInvalid)
	}
	// encoding/json keeps the last of two equal keys; a signed catalog must
	// not read one way here and another way elsewhere.
	if err := strictjson.CheckKeys(data); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	c.sort()
	// Times are kept as Marshal writes them, so Parse and Marshal agree.
	c.LastUpdated, c.Expires = utc(c.LastUpdated), utc(c.Expires)
	for i := range c.Libraries {
		l := &c.Libraries[i]
		l.PublishedAt = utc(l.PublishedAt)
		for j := range l.Versions {
			l.Versions[j].PublishedAt = utc(l.Versions[j].PublishedAt)
		}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// ParseUnverified is Parse plus the serial and expiry checks of Verify,
// for a registry used without a keyring (a local folder, a test).
func ParseUnverified(data []byte, seen TrustState, now time.Time) (*Catalog, error) {
	c, err := Parse(data)
	if err != nil {
		return nil, err
	}
	if err := c.CheckFreshness(seen, now); err != nil {
		return nil, err
	}
	return c, nil
}

// Verify checks sigASC over the exact bytes catalogJSON against kr, then
// parses the catalog and refuses it when its serial is lower than
// seen.Serial or it has expired at now. The returned catalog's Signer says
// who signed it; the caller should remember c.Serial as the new TrustState.
func Verify(catalogJSON, sigASC []byte, kr *pgpsign.Keyring, seen TrustState, now time.Time) (*Catalog, error) {
	if kr == nil || kr.Len() == 0 {
		return nil, ErrNoKeyring
	}
	who, err := kr.VerifyDetached(bytes.NewReader(catalogJSON), bytes.NewReader(sigASC))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	c, err := ParseUnverified(catalogJSON, seen, now)
	if err != nil {
		return nil, err
	}
	c.Signer = &who
	return c, nil
}

// CheckFreshness applies the rollback and expiry rules.
func (c *Catalog) CheckFreshness(seen TrustState, now time.Time) error {
	if c.Serial < seen.Serial {
		return fmt.Errorf("%w: catalog serial %d is lower than serial %d already seen (an old or replayed catalog)", ErrSerialRollback, c.Serial, seen.Serial)
	}
	if !now.Before(c.Expires) {
		return fmt.Errorf("%w at %s (now %s): the registry has not been regenerated in time", ErrExpired, c.Expires.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

// compareVersions orders version strings by semver, newest first; strings
// that do not parse sort last (Validate reports them).
func newer(a, b string) bool {
	va, ea := semver.StrictNewVersion(a)
	vb, eb := semver.StrictNewVersion(b)
	switch {
	case ea != nil || eb != nil:
		if (ea == nil) != (eb == nil) {
			return ea == nil
		}
		return a > b
	case !va.Equal(vb):
		return va.GreaterThan(vb)
	default:
		return a > b
	}
}

func (c *Catalog) sort() {
	sort.SliceStable(c.Libraries, func(i, j int) bool { return c.Libraries[i].ID < c.Libraries[j].ID })
	for i := range c.Libraries {
		vs := c.Libraries[i].Versions
		sort.SliceStable(vs, func(a, b int) bool { return newer(vs[a].Version, vs[b].Version) })
	}
}

// Validate checks the whole catalog; the error wraps ErrInvalid and lists
// every problem, one per line.
func (c *Catalog) Validate() error {
	var probs []string
	add := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	if !strings.HasPrefix(c.CatalogVersion, "1.") {
		add("catalog_version %s is not supported (want %s)", clip.Quote(c.CatalogVersion), FormatVersion)
	}
	if c.Serial < 1 {
		add("serial %d: must be 1 or more", c.Serial)
	}
	if c.LastUpdated.IsZero() {
		add("last_updated is missing")
	}
	if c.Expires.IsZero() {
		add("expires is missing")
	} else if !c.Expires.After(c.LastUpdated) {
		add("expires %s is not after last_updated %s", c.Expires.Format(time.RFC3339), c.LastUpdated.Format(time.RFC3339))
	}
	seen := map[string]bool{}
	for i := range c.Libraries {
		l := &c.Libraries[i]
		where := fmt.Sprintf("libraries[%d] (%s)", i, clip.String(l.ID))
		ref, err := libid.Parse(l.ID)
		switch {
		case err != nil:
			add("%s: id: %v", where, err)
			continue
		case ref.Core:
			add("%s: id %s is uDOS itself, not a library", where, clip.Quote(l.ID))
			continue
		case ref.ID != l.ID:
			add("%s: id %s is not in id form (want %s)", where, clip.Quote(l.ID), clip.Quote(ref.ID))
			continue
		}
		if seen[l.ID] {
			add("%s: duplicate id", where)
		}
		seen[l.ID] = true
		if l.Namespace != ref.Namespace {
			add("%s: namespace %s does not match the id (want %s)", where, clip.Quote(l.Namespace), ref.Namespace)
		}
		if l.InstallPath != ref.InstallPath {
			add("%s: install_path %s must be %q", where, clip.Quote(l.InstallPath), ref.InstallPath)
		}
		if strings.TrimSpace(l.Name) == "" {
			add("%s: name is missing", where)
		}
		if l.Downloads < 0 {
			add("%s: downloads %d must not be negative", where, l.Downloads)
		}
		if len(l.Versions) == 0 {
			add("%s: versions is empty", where)
			continue
		}
		vseen := map[string]bool{}
		for j := range l.Versions {
			v := &l.Versions[j]
			vw := fmt.Sprintf("%s version %s", where, clip.Quote(v.Version))
			sv, err := semver.StrictNewVersion(v.Version)
			if err != nil {
				add("%s: not a semantic version (want MAJOR.MINOR.PATCH)", vw)
			} else {
				canon := sv.String()
				if vseen[canon] {
					add("%s: listed twice", vw)
				}
				vseen[canon] = true
			}
			if v.URL == "" {
				add("%s: url is missing", vw)
			} else if _, err := url.Parse(v.URL); err != nil {
				add("%s: url %s: %v", vw, clip.Quote(v.URL), urlProblem(err))
			}
			if v.Size <= 0 {
				add("%s: size %d must be positive", vw, v.Size)
			}
			if v.Downloads < 0 {
				add("%s: downloads %d must not be negative", vw, v.Downloads)
			}
			if !checksum.SHA256.Valid(v.SHA256) {
				add("%s: sha256 %s is not 64 lower-case hex digits", vw, clip.Quote(v.SHA256))
			}
			if !checksum.SHA512.Valid(v.SHA512) {
				add("%s: sha512 %s is not 128 lower-case hex digits", vw, clip.Quote(v.SHA512))
			}
			for _, name := range slices.Sorted(maps.Keys(v.Dependencies)) {
				if _, err := libid.Parse(name); err != nil {
					add("%s: dependencies: unknown dependency name %s: %v", vw, clip.Quote(name), err)
				}
				if _, err := constraint.Parse(v.Dependencies[name]); err != nil {
					add("%s: dependencies: %s: %v", vw, clip.Quote(name), err)
				}
			}
		}
		if cur, ok := l.Current(); ok {
			if l.Version != cur.Version {
				add("%s: version %s is not the newest stable version %s", where, clip.Quote(l.Version), clip.Quote(cur.Version))
			} else if l.URL != cur.URL || l.Size != cur.Size || l.SHA256 != cur.SHA256 || l.SHA512 != cur.SHA512 {
				add("%s: url, size, sha256 and sha512 must be those of version %s", where, clip.String(cur.Version))
			}
		}
	}
	if len(probs) == 0 {
		return nil
	}
	if len(probs) == 1 {
		return fmt.Errorf("%w: %s", ErrInvalid, probs[0])
	}
	return fmt.Errorf("%w: %d problems:\n  %s", ErrInvalid, len(probs), strings.Join(probs, "\n  "))
}

// urlProblem is url.Parse's reason without the URL, which the caller
// quotes shortened.
func urlProblem(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Marshal returns the catalog as deterministic JSON: libraries sorted by
// id, versions newest first, keys sorted, times in UTC to the second.
func (c *Catalog) Marshal() ([]byte, error) {
	cp := *c
	cp.LastUpdated = utc(c.LastUpdated)
	cp.Expires = utc(c.Expires)
	cp.Libraries = make([]Library, len(c.Libraries))
	for i, l := range c.Libraries {
		l.PublishedAt = utc(l.PublishedAt)
		l.Versions = append([]Version(nil), l.Versions...)
		for j := range l.Versions {
			l.Versions[j].PublishedAt = utc(l.Versions[j].PublishedAt)
			if l.Versions[j].Dependencies == nil {
				l.Versions[j].Dependencies = map[string]string{}
			}
		}
		if l.Dependencies == nil {
			l.Dependencies = map[string]string{}
		}
		cp.Libraries[i] = l
	}
	if cp.Libraries == nil {
		cp.Libraries = []Library{}
	}
	cp.sort()
	return canonjson.Marshal(&cp)
}

// MarshalLibrary returns one library as deterministic JSON (the
// registry's index/<id>.json).
func MarshalLibrary(l *Library) ([]byte, error) {
	c := Catalog{Libraries: []Library{*l}}
	data, err := c.Marshal()
	if err != nil {
		return nil, err
	}
	var wrapper struct {
		Libraries []json.RawMessage `json:"libraries"`
	}
	if err := json.Unmarshal(data, &wrapper); err != nil {
		return nil, err
	}
	return canonjson.Marshal(wrapper.Libraries[0])
}

func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

// Find looks a library up by id, namespace or short name.
func (c *Catalog) Find(name string) (*Library, bool) {
	ref, err := libid.Parse(name)
	if err != nil {
		return nil, false
	}
	i := sort.Search(len(c.Libraries), func(i int) bool { return c.Libraries[i].ID >= ref.ID })
	if i < len(c.Libraries) && c.Libraries[i].ID == ref.ID {
		return &c.Libraries[i], true
	}
	// Tolerate a catalog built by hand and not sorted.
	for i := range c.Libraries {
		if c.Libraries[i].ID == ref.ID {
			return &c.Libraries[i], true
		}
	}
	return nil, false
}

// FindVersion returns the entry of version v (a method cannot be named Version:
// that is the field holding the current version) ("1.2.3" or "v1.2.3"; semver
// equality, so build metadata does not matter), yanked or not.
func (l *Library) FindVersion(v string) (*Version, bool) {
	want, err := semver.NewVersion(v)
	if err != nil {
		return nil, false
	}
	for i := range l.Versions {
		got, err := semver.StrictNewVersion(l.Versions[i].Version)
		if err == nil && got.Equal(want) {
			return &l.Versions[i], true
		}
	}
	return nil, false
}

// Newest returns the newest version that is not yanked; pre-releases count
// only when allowPre is true.
func (l *Library) Newest(allowPre bool) (*Version, bool) {
	var best *Version
	var bestV *semver.Version
	for i := range l.Versions {
		v := &l.Versions[i]
		if v.Yanked {
			continue
		}
		sv, err := semver.StrictNewVersion(v.Version)
		if err != nil || (!allowPre && sv.Prerelease() != "") {
			continue
		}
		if bestV == nil || sv.GreaterThan(bestV) {
			best, bestV = v, sv
		}
	}
	return best, best != nil
}

// Current is the version the per-library fields describe: the newest stable
// non-yanked version, else the newest non-yanked one, else the newest.
func (l *Library) Current() (*Version, bool) {
	if v, ok := l.Newest(false); ok {
		return v, true
	}
	if v, ok := l.Newest(true); ok {
		return v, true
	}
	var best *Version
	for i := range l.Versions {
		if best == nil || newer(l.Versions[i].Version, best.Version) {
			best = &l.Versions[i]
		}
	}
	return best, best != nil
}

// AddVersion records version v of the library m describes, replacing an
// entry of the same version. The library's own fields follow the manifest
// of whichever version is Current afterwards, so versions may be added in
// any order. v.Version and v.Dependencies are taken from m.
func (c *Catalog) AddVersion(m *udospkg.Manifest, v Version) error {
	if err := m.Validate(); err != nil {
		return err
	}
	v.Version = m.Version
	v.Dependencies = make(map[string]string, len(m.Dependencies))
	for k, d := range m.Dependencies {
		v.Dependencies[k] = d
	}
	l, ok := c.Find(m.ID)
	if !ok {
		c.Libraries = append(c.Libraries, Library{ID: m.ID})
		l = &c.Libraries[len(c.Libraries)-1]
	}
	if old, ok := l.FindVersion(m.Version); ok {
		*old = v
	} else {
		l.Versions = append(l.Versions, v)
	}
	vs := l.Versions
	sort.SliceStable(vs, func(a, b int) bool { return newer(vs[a].Version, vs[b].Version) })
	if cur, ok := l.Current(); ok && cur.Version == m.Version {
		l.setFrom(m, cur)
	}
	c.sort()
	return nil
}

// setFrom copies the per-library fields from the manifest and archive of
// the current version.
func (l *Library) setFrom(m *udospkg.Manifest, v *Version) {
	l.Namespace, l.Name, l.Version = m.Namespace, m.Name, m.Version
	l.Description, l.Author, l.License = m.Description, m.Author, m.License
	l.Tags = append([]string(nil), m.Tags...)
	l.Homepage, l.Repository = m.Homepage, m.Repository
	l.EntryPoint, l.InstallPath = m.EntryPoint, m.InstallPath
	l.Dependencies = v.Dependencies
	l.Archive, l.PublishedAt = v.Archive, v.PublishedAt
}

// Source adapts the catalog to the resolver: every non-yanked version of a
// library with its dependencies, names normalised to ids.
func (c *Catalog) Source() resolve.Source { return catalogSource{c} }

type catalogSource struct{ c *Catalog }

func (s catalogSource) Versions(name string) ([]resolve.Candidate, error) {
	l, ok := s.c.Find(name)
	if !ok {
		return nil, fmt.Errorf("%w: %s is not in the catalog", resolve.ErrUnknown, clip.Quote(name))
	}
	var out []resolve.Candidate
	for _, v := range l.Versions {
		if v.Yanked {
			continue
		}
		sv, err := semver.StrictNewVersion(v.Version)
		if err != nil {
			return nil, fmt.Errorf("%s: version %s: %w", l.ID, clip.Quote(v.Version), err)
		}
		cand, err := Candidate(l.ID, sv, v.Dependencies)
		if err != nil {
			return nil, err
		}
		out = append(out, cand)
	}
	return out, nil
}

// Candidate is one version with its dependencies as the resolver takes it:
// names normalised to ids, sorted by id.
func Candidate(id string, v *semver.Version, deps map[string]string) (resolve.Candidate, error) {
	cand := resolve.Candidate{Version: v}
	for _, dep := range slices.Sorted(maps.Keys(deps)) {
		ref, err := libid.Parse(dep)
		if err != nil {
			return resolve.Candidate{}, fmt.Errorf("%s %s: dependency %s: %w", id, clip.String(v.Original()), clip.Quote(dep), err)
		}
		cand.Deps = append(cand.Deps, resolve.Requirement{ID: ref.ID, Constraint: deps[dep]})
	}
	sort.SliceStable(cand.Deps, func(i, j int) bool { return cand.Deps[i].ID < cand.Deps[j].ID })
	return cand, nil
}
