package sbom

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"golang.org/x/mod/modfile"
)

// Component is one package a variant's tree pins or declares.
type Component struct {
	Ecosystem string // "pypi", "golang", "npm"
	Name      string // as the ecosystem spells it (PEP 503 normalized for pypi)
	Version   string // "" when only a range is declared
	PURL      string
	// Hashes of the package's distributions as the lock records them:
	// SHA-256 (uv.lock: the sdist and every wheel) or SHA-512 (npm).
	Hashes []Hash
	// Optional marks development-only packages (npm "dev").
	Optional bool
	// Files are the variant's files that pin or declare the package.
	Files []string
	// Specs are the declared requirements ("rich>=13.0.0").
	Specs []string
	// DependsOn are the purls of the components it depends on, as the
	// lock records them.
	DependsOn []string
	// Project marks the tree's own projects (uv.lock's editable source,
	// go.mod's module, package-lock.json's root): they are not
	// third-party packages, and what they depend on is direct.
	Project bool
	// Direct marks a package the tree depends on directly (declared in a
	// pyproject or requirements file, required by a project).
	Direct bool
}

// Hash is one digest of a component.
type Hash struct {
	Alg   string // "SHA-256", "SHA-512"
	Value string // lower-case hex
}

// Inventory collects the components of every dependency file a variant
// ships.
type Inventory struct {
	locked   map[string]*Component // by purl
	declared []Requirement
}

// NewInventory returns an empty inventory.
func NewInventory() *Inventory { return &Inventory{locked: map[string]*Component{}} }

var requirementsName = regexp.MustCompile(`^requirements([-_.][A-Za-z0-9_.-]+)?\.txt$`)

// IsInventoryFile reports whether a file (a path in the variant) is one
// Read understands.
func IsInventoryFile(p string) bool {
	switch base := path.Base(p); {
	case base == "uv.lock", base == "pyproject.toml", base == "pyproject.udos.toml", base == "go.mod", base == "package-lock.json":
		return true
	default:
		return requirementsName.MatchString(base)
	}
}

// Read adds the components of one dependency file; name is its path in the
// variant, which picks the format.
func (inv *Inventory) Read(name string, data []byte) error {
	var err error
	switch base := path.Base(name); {
	case base == "uv.lock":
		err = inv.readUVLock(name, data)
	case base == "pyproject.toml" || base == "pyproject.udos.toml":
		err = inv.readPyproject(name, data)
	case base == "go.mod":
		err = inv.readGoMod(name, data)
	case base == "package-lock.json":
		err = inv.readPackageLock(name, data)
	case requirementsName.MatchString(base):
		var reqs []Requirement
		reqs, err = ParseRequirements(bytes.NewReader(data), name)
		inv.declared = append(inv.declared, reqs...)
	default:
		return fmt.Errorf("sbom: %s is not a dependency file udos-dist reads", name)
	}
	if err != nil {
		return fmt.Errorf("sbom: reading %s: %w", name, err)
	}
	return nil
}

func (inv *Inventory) add(c *Component) *Component {
	if prev, ok := inv.locked[c.PURL]; ok {
		prev.Files = appendNew(prev.Files, c.Files...)
		prev.DependsOn = appendNew(prev.DependsOn, c.DependsOn...)
		for _, h := range c.Hashes {
			if !containsHash(prev.Hashes, h) {
				prev.Hashes = append(prev.Hashes, h)
			}
		}
		prev.Direct = prev.Direct || c.Direct
		prev.Project = prev.Project || c.Project
		return prev
	}
	inv.locked[c.PURL] = c
	return c
}

func containsHash(hs []Hash, h Hash) bool {
	for _, x := range hs {
		if x == h {
			return true
		}
	}
	return false
}

func pypiPURL(name, version string) string {
	p := "pkg:pypi/" + Normalize(name)
	if version != "" {
		p += "@" + url.PathEscape(version)
	}
	return p
}

// uv.lock: https://docs.astral.sh/uv/concepts/projects/layout/#the-lockfile
type uvLock struct {
	Version  int `toml:"version"`
	Packages []struct {
		Name    string            `toml:"name"`
		Version string            `toml:"version"`
		Source  map[string]string `toml:"source"`
		Deps    []uvDep           `toml:"dependencies"`
		// optional-dependencies and dev-dependencies: extra name → deps
		OptDeps map[string][]uvDep `toml:"optional-dependencies"`
		DevDeps map[string][]uvDep `toml:"dev-dependencies"`
		Sdist   *struct {
			Hash string `toml:"hash"`
		} `toml:"sdist"`
		Wheels []struct {
			Hash string `toml:"hash"`
		} `toml:"wheels"`
	} `toml:"package"`
}

type uvDep struct {
	Name    string `toml:"name"`
	Version string `toml:"version"`
}

func (inv *Inventory) readUVLock(name string, data []byte) error {
	var lock uvLock
	if err := toml.Unmarshal(data, &lock); err != nil {
		return err
	}
	if lock.Version != 1 {
		return fmt.Errorf("uv.lock version %d is not 1", lock.Version)
	}
	versions := map[string][]string{} // normalized name → versions in the lock
	for _, p := range lock.Packages {
		if p.Name == "" || p.Version == "" && p.Source["editable"] == "" && p.Source["virtual"] == "" {
			return fmt.Errorf("a [[package]] without name or version (%q)", p.Name)
		}
		versions[Normalize(p.Name)] = append(versions[Normalize(p.Name)], p.Version)
	}
	ref := func(d uvDep) []string {
		n := Normalize(d.Name)
		if d.Version != "" {
			return []string{pypiPURL(n, d.Version)}
		}
		var out []string
		for _, v := range versions[n] {
			out = append(out, pypiPURL(n, v))
		}
		return out
	}
	for _, p := range lock.Packages {
		c := &Component{Ecosystem: "pypi", Name: Normalize(p.Name), Version: p.Version, PURL: pypiPURL(p.Name, p.Version), Files: []string{name}}
		c.Project = p.Source["editable"] != "" || p.Source["virtual"] != ""
		var hashes []string
		if p.Sdist != nil {
			hashes = append(hashes, p.Sdist.Hash)
		}
		for _, w := range p.Wheels {
			hashes = append(hashes, w.Hash)
		}
		for _, h := range hashes {
			alg, v, ok := strings.Cut(h, ":")
			if !ok || alg != "sha256" {
				return fmt.Errorf("package %s %s: hash %q is not sha256:<hex>", p.Name, p.Version, h)
			}
			if b, err := hex.DecodeString(v); err != nil || len(b) != 32 {
				return fmt.Errorf("package %s %s: hash %q is not 64 hex digits", p.Name, p.Version, h)
			}
			if hh := (Hash{Alg: "SHA-256", Value: strings.ToLower(v)}); !containsHash(c.Hashes, hh) {
				c.Hashes = append(c.Hashes, hh)
			}
		}
		deps := append([]uvDep(nil), p.Deps...)
		for _, extra := range sortedKeys(p.OptDeps) {
			deps = append(deps, p.OptDeps[extra]...)
		}
		for _, d := range deps {
			c.DependsOn = appendNew(c.DependsOn, ref(d)...)
		}
		inv.add(c)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// PyprojectDependencies returns a pyproject file's [project] dependencies
// as written (pyproject.udos.toml: core's requirements).
func PyprojectDependencies(data []byte) ([]string, error) {
	var doc struct {
		Project struct {
			Dependencies []string `toml:"dependencies"`
		} `toml:"project"`
	}
	if err := toml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("reading pyproject: %w", err)
	}
	return doc.Project.Dependencies, nil
}

func (inv *Inventory) readPyproject(name string, data []byte) error {
	var doc struct {
		Project struct {
			Dependencies []string            `toml:"dependencies"`
			Optional     map[string][]string `toml:"optional-dependencies"`
		} `toml:"project"`
		DependencyGroups map[string][]any `toml:"dependency-groups"`
	}
	if err := toml.Unmarshal(data, &doc); err != nil {
		return err
	}
	lines := append([]string(nil), doc.Project.Dependencies...)
	for _, extra := range sortedKeys(doc.Project.Optional) {
		lines = append(lines, doc.Project.Optional[extra]...)
	}
	reqs, err := ParseRequirements(strings.NewReader(strings.Join(lines, "\n")), name)
	if err != nil {
		return err
	}
	for i := range reqs {
		reqs[i].Line = 0 // a list entry, not a line of the file
	}
	inv.declared = append(inv.declared, reqs...)
	return nil
}

func golangPURL(mod, version string) string {
	p := "pkg:golang/" + mod
	if version != "" {
		p += "@" + url.PathEscape(version)
	}
	return p
}

func (inv *Inventory) readGoMod(name string, data []byte) error {
	f, err := modfile.ParseLax(name, data, nil)
	if err != nil {
		return err
	}
	if f.Module == nil {
		return fmt.Errorf("no module line")
	}
	root := &Component{Ecosystem: "golang", Name: f.Module.Mod.Path, PURL: golangPURL(f.Module.Mod.Path, ""), Files: []string{name}, Project: true}
	replaced := map[string]string{}
	for _, r := range f.Replace {
		if r.New.Version != "" {
			replaced[r.Old.Path] = r.New.Path + "@" + r.New.Version
		}
	}
	for _, r := range f.Require {
		mod, ver := r.Mod.Path, r.Mod.Version
		if to, ok := replaced[mod]; ok {
			mod, ver, _ = strings.Cut(to, "@")
		}
		c := inv.add(&Component{Ecosystem: "golang", Name: mod, Version: ver, PURL: golangPURL(mod, ver), Files: []string{name}, Direct: !r.Indirect})
		if !r.Indirect { // go.mod lists indirect modules without saying who needs them
			root.DependsOn = appendNew(root.DependsOn, c.PURL)
		}
	}
	inv.add(root)
	return nil
}

func npmPURL(name, version string) string {
	p := "pkg:npm/" + strings.Replace(name, "@", "%40", 1)
	if version != "" {
		p += "@" + url.PathEscape(version)
	}
	return p
}

type npmPackage struct {
	Version   string `json:"version"`
	Integrity string `json:"integrity"`
	Dev       bool   `json:"dev"`
	Link      bool   `json:"link"`
}

func (inv *Inventory) readPackageLock(name string, data []byte) error {
	var doc struct {
		Name            string                `json:"name"`
		Version         string                `json:"version"`
		LockfileVersion int                   `json:"lockfileVersion"`
		Packages        map[string]npmPackage `json:"packages"`
		Dependencies    map[string]npmV1      `json:"dependencies"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return err
	}
	root := &Component{Ecosystem: "npm", Name: doc.Name, Version: doc.Version, PURL: npmPURL(orDefault(doc.Name, "package"), doc.Version), Files: []string{name}, Project: true}
	add := func(pkgName, version, integrity string, dev, top bool) error {
		c := &Component{Ecosystem: "npm", Name: pkgName, Version: version, PURL: npmPURL(pkgName, version), Files: []string{name}, Optional: dev}
		if integrity != "" {
			h, err := sriHash(integrity)
			if err != nil {
				return fmt.Errorf("%s %s: %w", pkgName, version, err)
			}
			if h.Alg != "" {
				c.Hashes = []Hash{h}
			}
		}
		c = inv.add(c)
		c.Optional = c.Optional && dev
		if top {
			root.DependsOn = appendNew(root.DependsOn, c.PURL)
		}
		return nil
	}
	switch {
	case doc.LockfileVersion >= 2 && doc.Packages != nil:
		for _, key := range sortedKeys(doc.Packages) {
			p := doc.Packages[key]
			if key == "" || p.Link {
				continue
			}
			i := strings.LastIndex(key, "node_modules/")
			if i < 0 {
				continue // a workspace folder, not an installed package
			}
			pkgName := key[i+len("node_modules/"):]
			if p.Version == "" {
				return fmt.Errorf("%s has no version", key)
			}
			if err := add(pkgName, p.Version, p.Integrity, p.Dev, i == 0); err != nil {
				return err
			}
		}
	case doc.Dependencies != nil: // lockfileVersion 1: nested dependencies
		var walk func(deps map[string]npmV1, top bool) error
		walk = func(deps map[string]npmV1, top bool) error {
			for _, n := range sortedKeys(deps) {
				d := deps[n]
				if err := add(n, d.Version, d.Integrity, d.Dev, top); err != nil {
					return err
				}
				if err := walk(d.Dependencies, false); err != nil {
					return err
				}
			}
			return nil
		}
		if err := walk(doc.Dependencies, true); err != nil {
			return err
		}
	default:
		return fmt.Errorf("lockfileVersion %d without packages", doc.LockfileVersion)
	}
	inv.add(root)
	return nil
}

type npmV1 struct {
	Version      string           `json:"version"`
	Integrity    string           `json:"integrity"`
	Dev          bool             `json:"dev"`
	Dependencies map[string]npmV1 `json:"dependencies"`
}

// sriHash turns a Subresource Integrity value ("sha512-<base64>") into a
// hex digest; sha1 integrity (old npm) is ignored: CycloneDX readers should
// not rely on it.
func sriHash(sri string) (Hash, error) {
	alg, b64, ok := strings.Cut(strings.Fields(sri)[0], "-")
	if !ok {
		return Hash{}, fmt.Errorf("integrity %q is not <alg>-<base64>", sri)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return Hash{}, fmt.Errorf("integrity %q: %w", sri, err)
	}
	switch {
	case alg == "sha512" && len(raw) == 64:
		return Hash{Alg: "SHA-512", Value: hex.EncodeToString(raw)}, nil
	case alg == "sha256" && len(raw) == 32:
		return Hash{Alg: "SHA-256", Value: hex.EncodeToString(raw)}, nil
	case alg == "sha1":
		return Hash{}, nil
	}
	return Hash{}, fmt.Errorf("integrity %q: unsupported or malformed digest", sri)
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// Components returns the inventory, sorted by purl: every locked package
// with what declares it, and every declared package no lock pins.
func (inv *Inventory) Components() []Component {
	all := map[string]*Component{}
	for k, c := range inv.locked {
		cp := *c
		cp.Files = append([]string(nil), c.Files...)
		cp.DependsOn = append([]string(nil), c.DependsOn...)
		all[k] = &cp
	}
	byName := map[string][]*Component{}
	for _, c := range all {
		if c.Ecosystem == "pypi" {
			byName[c.Name] = append(byName[c.Name], c)
		}
	}
	for _, c := range all {
		if c.Project {
			for _, d := range c.DependsOn {
				if dc, ok := all[d]; ok {
					dc.Direct = true
				}
			}
		}
	}
	// Exact pins first, so that a range declared elsewhere (pyproject's
	// "rich>=13.7" beside requirements.txt's "rich==13.7.1") describes the
	// pinned package rather than adding an unpinned one.
	declared := append([]Requirement(nil), inv.declared...)
	sort.SliceStable(declared, func(i, j int) bool { return declared[i].Version != "" && declared[j].Version == "" })
	for _, r := range declared {
		spec := r.Name
		if r.Extras != "" {
			spec += "[" + r.Extras + "]"
		}
		spec += r.Spec
		if r.Marker != "" {
			spec += "; " + r.Marker
		}
		matched := false
		for _, c := range byName[r.Normalized] {
			if r.Version == "" || r.Version == c.Version {
				c.Specs = appendNew(c.Specs, spec)
				c.Files = appendNew(c.Files, r.File)
				c.Direct = true
				matched = true
			}
		}
		if matched {
			continue
		}
		c := &Component{Ecosystem: "pypi", Name: r.Normalized, Version: r.Version, PURL: r.PURL(), Direct: true,
			Specs: []string{spec}, Files: []string{r.File}}
		all[c.PURL] = c
		byName[c.Name] = append(byName[c.Name], c)
	}
	out := make([]Component, 0, len(all))
	for _, c := range all {
		sort.Strings(c.Files)
		sort.Strings(c.Specs)
		var deps []string
		for _, d := range c.DependsOn {
			if _, ok := all[d]; ok && d != c.PURL {
				deps = append(deps, d)
			}
		}
		sort.Strings(deps)
		c.DependsOn = deps
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PURL < out[j].PURL })
	return out
}
