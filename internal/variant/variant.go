// Package variant defines the uDOS release variants (core-slim, wizard-full,
// dev-complete) and lays a variant out from a uDOS checkout as the list of
// archive entries it is made of.
//
// A definition says which paths of the checkout go where in the variant,
// which are required, which are entry points (made executable), which files
// are generated (version.json, the hardened docker-compose.yml) and what the
// variant needs to run (Python, Docker, platforms). The built-in definitions
// (builtin.json, in the same format) follow the spec's trees and accept the
// real repository's spellings as alternatives; a uDOS repository can
// override or add definitions with a variants file (udos-variants.json).
package variant

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// FileName is the variants file a uDOS repository may hold at its root to
// override the built-in definitions.
const FileName = "udos-variants.json"

//go:embed builtin.json
var builtinJSON []byte

// Path is one path of a variant.
type Path struct {
	// Path is where it goes in the variant, slash-separated; a trailing "/"
	// marks a directory, copied whole (minus the excluded names).
	Path string `json:"path"`
	// From lists where to find it in the checkout, first match wins; empty
	// means the same as Path. Several entries let one definition accept both
	// the spec's layout and the repository's (themes/genre or core/themes/genre).
	From []string `json:"from,omitempty"`
	// Required makes a missing path an error; otherwise it is a warning.
	Required bool `json:"required,omitempty"`
	// EntryPoint marks an executable the variant declares: it is archived
	// with mode 0755 and a missing one is named as a missing entry point.
	EntryPoint bool `json:"entry_point,omitempty"`
	// Note explains the path, shown when it is missing.
	Note string `json:"note,omitempty"`
	// IfPresent ships the path when the checkout has it and says nothing
	// when it does not (uv.lock, .python-version).
	IfPresent bool `json:"if_present,omitempty"`
	// AliasOf names another path of the variant (an entry point) this one
	// is an alias of: when the checkout lacks this path it is generated as
	// a wrapper running that one (bin/ucli runs bin/ucode).
	AliasOf string `json:"alias_of,omitempty"`
	// Supply names the toolkit-owned contents used when the checkout lacks
	// the path (see Supplies).
	Supply string `json:"supply,omitempty"`
}

// IsDir reports whether p names a directory.
func (p Path) IsDir() bool { return strings.HasSuffix(p.Path, "/") }

// Sources returns the candidate locations in the checkout.
func (p Path) Sources() []string {
	if len(p.From) > 0 {
		return p.From
	}
	return []string{p.Path}
}

// Definition is one variant as written in a variants file. Pointer fields
// distinguish "not set" (inherit from Extends) from false/empty.
type Definition struct {
	Name           string   `json:"-"`
	Extends        string   `json:"extends,omitempty"`
	Description    string   `json:"description,omitempty"`
	Paths          []Path   `json:"paths"`
	Generate       []string `json:"generate,omitempty"`
	Exclude        []string `json:"exclude,omitempty"`
	Requirements   []string `json:"requirements,omitempty"`
	MinimumPython  string   `json:"minimum_python,omitempty"`
	RequiresDocker *bool    `json:"requires_docker,omitempty"`
	Platforms      []string `json:"platforms,omitempty"`
}

// Variant is a resolved definition: its parents' paths and settings merged
// in, ready to lay out.
type Variant struct {
	Name           string
	Description    string
	Paths          []Path
	Generate       []string
	Exclude        []string
	Requirements   []string
	MinimumPython  string
	RequiresDocker bool
	Platforms      []string
	// Compose and AllowSecrets come from the variants file.
	Compose      ComposeOptions
	AllowSecrets []string
}

// File is a variants file: definitions by name, and the settings every
// variant shares.
type File struct {
	Variants map[string]*Definition `json:"variants"`
	// Compose sets the Wizard's port and health path in the generated
	// docker-compose.yml (the real Wizard: 8765 and /health).
	Compose *ComposeOptions `json:"compose,omitempty"`
	// AllowSecrets lists paths of the checkout that look like secrets but
	// are not (a test key, a placeholder): the secrets scan lets them ship.
	AllowSecrets []string `json:"allow_secrets,omitempty"`
}

// Set is a collection of resolvable definitions.
type Set struct {
	defs         map[string]*Definition
	compose      ComposeOptions
	allowSecrets []string
	// Origin says where the definitions came from, for messages.
	Origin string
}

var nameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// Generators known to Layout.
var knownGenerated = map[string]bool{"version.json": true, "docker-compose.yml": true}

// ParseFile decodes a variants file, refusing unknown fields so that a typo
// in an override does not silently change a release.
func ParseFile(data []byte, origin string) (*File, error) {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("variants file %s: %w", origin, err)
	}
	for name, d := range f.Variants {
		if d == nil {
			return nil, fmt.Errorf("variants file %s: variant %q is null", origin, name)
		}
		d.Name = name
		if err := d.check(); err != nil {
			return nil, fmt.Errorf("variants file %s: %w", origin, err)
		}
	}
	return &f, nil
}

func (d *Definition) check() error {
	if !nameRe.MatchString(d.Name) {
		return fmt.Errorf("variant name %q: want lower-case letters, digits and dashes", d.Name)
	}
	for _, p := range d.Paths {
		for _, s := range append([]string{p.Path}, p.From...) {
			if err := cleanRel(s); err != nil {
				return fmt.Errorf("variant %s: path %q: %w", d.Name, s, err)
			}
		}
		for _, s := range p.From {
			if strings.HasSuffix(s, "/") != p.IsDir() {
				return fmt.Errorf("variant %s: path %q and its source %q must both be directories (trailing /) or both files", d.Name, p.Path, s)
			}
		}
		if p.EntryPoint && p.IsDir() {
			return fmt.Errorf("variant %s: entry point %q is a directory", d.Name, p.Path)
		}
		if p.IfPresent && (p.Required || p.EntryPoint) {
			return fmt.Errorf("variant %s: path %q: if_present cannot be required or an entry point", d.Name, p.Path)
		}
		if p.AliasOf != "" && (p.IsDir() || cleanRel(p.AliasOf) != nil || strings.HasSuffix(p.AliasOf, "/")) {
			return fmt.Errorf("variant %s: path %q: alias_of %q must name another file of the variant", d.Name, p.Path, p.AliasOf)
		}
		if p.Supply != "" {
			if err := checkSupply(p); err != nil {
				return fmt.Errorf("variant %s: %w", d.Name, err)
			}
		}
	}
	for _, g := range d.Generate {
		if !knownGenerated[g] {
			return fmt.Errorf("variant %s: cannot generate %q (known: docker-compose.yml, version.json)", d.Name, g)
		}
	}
	for _, e := range d.Exclude {
		if _, err := path.Match(e, "x"); err != nil {
			return fmt.Errorf("variant %s: exclude pattern %q: %w", d.Name, e, err)
		}
	}
	return nil
}

func cleanRel(s string) error {
	c := strings.TrimSuffix(s, "/")
	if c == "" || path.IsAbs(c) || path.Clean(c) != c || c == ".." || strings.HasPrefix(c, "../") || strings.Contains(c, "\\") {
		return errors.New("not a clean relative slash path")
	}
	return nil
}

// Builtin returns the built-in definitions.
func Builtin() *Set {
	f, err := ParseFile(builtinJSON, "builtin")
	if err != nil {
		panic(err) // builtin.json is part of the program; its test catches this
	}
	return &Set{defs: f.Variants, Origin: "built-in definitions"}
}

// Load returns the built-in definitions overridden by the variants file at
// path, when there is one. A definition in the file replaces the built-in of
// the same name entirely (it may extend another); new names add variants.
func Load(path string) (*Set, error) {
	s := Builtin()
	if path == "" {
		return s, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading variants file: %w", err)
	}
	f, err := ParseFile(data, path)
	if err != nil {
		return nil, err
	}
	for name, d := range f.Variants {
		s.defs[name] = d
	}
	if f.Compose != nil {
		if err := f.Compose.check(); err != nil {
			return nil, fmt.Errorf("variants file %s: compose: %w", path, err)
		}
		s.compose = *f.Compose
	}
	for _, a := range f.AllowSecrets {
		if err := cleanRel(a); err != nil {
			return nil, fmt.Errorf("variants file %s: allow_secrets %q: %w", path, a, err)
		}
	}
	s.allowSecrets = f.AllowSecrets
	s.Origin = "built-in definitions overridden by " + path
	for name := range s.defs { // every chain must resolve
		if _, err := s.Get(name); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Names returns the defined variant names, sorted.
func (s *Set) Names() []string {
	var out []string
	for n := range s.defs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Get resolves the named variant, following extends.
func (s *Set) Get(name string) (*Variant, error) {
	var chain []*Definition
	seen := map[string]bool{}
	for n := name; n != ""; {
		if seen[n] {
			return nil, fmt.Errorf("variant %s: extends loop through %q", name, n)
		}
		seen[n] = true
		d, ok := s.defs[n]
		if !ok {
			if n == name {
				return nil, fmt.Errorf("unknown variant %q (%s define: %s)", name, s.Origin, strings.Join(s.Names(), ", "))
			}
			return nil, fmt.Errorf("variant %s extends unknown variant %q", name, n)
		}
		chain = append(chain, d)
		n = d.Extends
	}
	v := &Variant{Name: name, Compose: s.compose, AllowSecrets: s.allowSecrets}
	byPath := map[string]int{}
	for i := len(chain) - 1; i >= 0; i-- { // root ancestor first
		d := chain[i]
		if d.Description != "" {
			v.Description = d.Description
		}
		for _, p := range d.Paths {
			if j, ok := byPath[p.Path]; ok {
				v.Paths[j] = p // a child redefines its parent's path
				continue
			}
			byPath[p.Path] = len(v.Paths)
			v.Paths = append(v.Paths, p)
		}
		v.Generate = appendNew(v.Generate, d.Generate...)
		v.Exclude = appendNew(v.Exclude, d.Exclude...)
		v.Requirements = appendNew(v.Requirements, d.Requirements...)
		if d.MinimumPython != "" {
			v.MinimumPython = d.MinimumPython
		}
		if d.RequiresDocker != nil {
			v.RequiresDocker = *d.RequiresDocker
		}
		if len(d.Platforms) > 0 {
			v.Platforms = append([]string(nil), d.Platforms...)
		}
	}
	return v, nil
}

func appendNew(list []string, add ...string) []string {
	for _, a := range add {
		found := false
		for _, x := range list {
			if x == a {
				found = true
				break
			}
		}
		if !found {
			list = append(list, a)
		}
	}
	return list
}

// ArchiveName returns the variant's archive file name:
// "udos-core-slim-v1.4.6.tar.gz".
func ArchiveName(variant, version string) string {
	return "udos-" + variant + "-v" + strings.TrimPrefix(version, "v") + ".tar.gz"
}

// RootDir returns the single top-level directory of the archive:
// "udos-core-slim-v1.4.6".
func RootDir(variant, version string) string {
	return "udos-" + variant + "-v" + strings.TrimPrefix(version, "v")
}

// excluded reports whether a base name matches an exclude pattern without
// a slash.
func (v *Variant) excluded(base string) bool {
	for _, e := range v.Exclude {
		if strings.Contains(e, "/") {
			continue
		}
		if ok, _ := path.Match(e, base); ok {
			return true
		}
	}
	return false
}

// excludedPath reports whether p (slash-separated, relative) or one of its
// parent directories matches an exclude pattern naming a path ("core/dist",
// "docs/.compost"): patterns with a slash match whole paths from the root.
func (v *Variant) excludedPath(p string) bool {
	for _, e := range v.Exclude {
		if !strings.Contains(e, "/") {
			continue
		}
		e = strings.TrimSuffix(e, "/")
		for q := p; q != "." && q != ""; q = path.Dir(q) {
			if ok, _ := path.Match(e, q); ok {
				return true
			}
		}
	}
	return false
}

// fromSlash joins a slash path onto a directory.
func fromSlash(root, rel string) string {
	return filepath.Join(root, filepath.FromSlash(strings.TrimSuffix(rel, "/")))
}
