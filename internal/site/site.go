// Package site turns a library catalog into the source of the registry's
// Jekyll site: the template from /site, the catalog as Jekyll data
// (_data/catalog.json), one page per library (libraries/<id>.md), and the
// files clients fetch next to it (catalog.json, its signature, the
// per-library index files). GitHub Pages, or `jekyll build`, then renders it.
//
// The catalog is taken as the exact bytes that were signed: the site serves
// those bytes unchanged, and this package reads only the few fields it needs
// (ids, names, repositories, dependencies), so fields it does not know
// survive. What the catalog does not hold comes through Options: each
// library's README (rendered by RenderReadme into _data/readmes.json) and
// the keys clients should trust (keys.asc, fingerprints in
// _data/registry.json).
package site

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/fredbook/udos-dist/internal/canonjson"
	"github.com/fredbook/udos-dist/internal/catalog"
	"github.com/fredbook/udos-dist/internal/libid"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	tmpl "github.com/fredbook/udos-dist/site"
)

// Options tunes Write.
type Options struct {
	// Template is the Jekyll template to copy (default: the embedded /site).
	Template fs.FS
	// Files are extra files to serve verbatim, by slash path relative to the
	// site root, e.g. "catalog.json.asc" or "index/lib-x.json".
	Files map[string][]byte
	// Readmes are the libraries' docs/README.md (Markdown, by library id),
	// of the version the catalog lists as current.
	Readmes map[string][]byte
	// Keys, when set, are the public keys a client of this registry must
	// trust: served as keys.asc and shown by fingerprint on the home page.
	Keys *Keys
}

// Keys are the registry's public keys.
type Keys struct {
	// Armored holds the keys (one or more armored OpenPGP public key blocks).
	Armored []byte
	// CatalogSigner is the fingerprint of the key that signs catalog.json;
	// the other keys sign packages.
	CatalogSigner string
}

// KeysFile is where the site serves Options.Keys.
const KeysFile = "keys.asc"

// idPattern is what a library id may look like: it becomes a file name and a
// URL path segment, so nothing that could escape the directory is allowed.
var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// library is the part of a catalog entry this package reads.
type library struct {
	ID           string            `json:"id"`
	Name         string            `json:"name"`
	Description  string            `json:"description"`
	Repository   string            `json:"repository"`
	URL          string            `json:"url"`
	Dependencies map[string]string `json:"dependencies"`
}

// dependent is a library that requires another (in its current version).
type dependent struct {
	ID       string `json:"id"`
	Requires string `json:"requires"`
}

// catalogHead is the part of the catalog this package reads; Libraries stay
// raw so index files carry every field verbatim.
type catalogHead struct {
	Libraries []json.RawMessage `json:"libraries"`
}

// Write replaces dir with the Jekyll source of the site for catalogJSON. The
// site is assembled in a sibling temporary folder and renamed into place, so
// a failure leaves the previous site untouched. An existing dir that does not
// look like a generated site (no _config.yml) is refused rather than deleted.
func Write(dir string, catalogJSON []byte, opts Options) error {
	libs, err := libraries(catalogJSON)
	if err != nil {
		return err
	}
	if err := checkReplaceable(dir); err != nil {
		return err
	}
	template := opts.Template
	if template == nil {
		template = tmpl.Template
	}
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("creating %q: %w", parent, err)
	}
	tmp, err := os.MkdirTemp(parent, ".site-*")
	if err != nil {
		return fmt.Errorf("creating temporary site folder: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("setting mode of %q: %w", tmp, err)
	}

	if err := copyTemplate(template, tmp); err != nil {
		return err
	}
	files := map[string][]byte{
		"_data/catalog.json": catalogJSON,
		"catalog.json":       catalogJSON,
	}
	dependents := dependentsOf(libs)
	for _, lib := range libs {
		page, err := Page(lib.ID, lib.Name, lib.Description, dependents[lib.ID])
		if err != nil {
			return err
		}
		files["libraries/"+lib.ID+".md"] = page
	}
	readmes, err := readmeData(libs, opts.Readmes)
	if err != nil {
		return err
	}
	files["_data/readmes.json"] = readmes
	if opts.Keys != nil {
		reg, err := registryData(opts.Keys)
		if err != nil {
			return err
		}
		files["_data/registry.json"] = reg
		files[KeysFile] = opts.Keys.Armored
	}
	for name, data := range opts.Files {
		clean := path.Clean(name)
		if clean != name || path.IsAbs(name) || strings.HasPrefix(name, "../") || name == ".." || strings.HasPrefix(path.Base(name), "_") {
			return fmt.Errorf("site file %q: not a plain relative path", name)
		}
		if _, taken := files[name]; taken {
			return fmt.Errorf("site file %q: generated by the site already", name)
		}
		files[name] = data
	}
	names := slices.Sorted(maps.Keys(files))
	for _, name := range names {
		if err := writeFile(filepath.Join(tmp, filepath.FromSlash(name)), files[name]); err != nil {
			return err
		}
	}

	old := ""
	if _, err := os.Stat(dir); err == nil {
		old = tmp + ".old"
		if err := os.Rename(dir, old); err != nil {
			return fmt.Errorf("moving the previous site %q aside: %w", dir, err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if old != "" {
			_ = os.Rename(old, dir)
		}
		return fmt.Errorf("moving the new site into %q: %w", dir, err)
	}
	if old != "" {
		if err := os.RemoveAll(old); err != nil {
			return fmt.Errorf("removing the previous site %q: %w", old, err)
		}
	}
	return nil
}

// Page renders the Jekyll page of one library: front matter only, the
// "library" layout finds the entry in _data/catalog.json by library_id.
// dependents are the libraries that require it, listed on the page.
func Page(id, name, description string, dependents []dependent) ([]byte, error) {
	if !idPattern.MatchString(id) {
		return nil, fmt.Errorf("library id %q: not usable as a page name (want %s)", id, idPattern)
	}
	if name == "" {
		name = id
	}
	var b bytes.Buffer
	b.WriteString("---\n")
	b.WriteString("# Generated by registry-gen from catalog.json; edits are overwritten.\n")
	fmt.Fprintf(&b, "layout: library\n")
	fmt.Fprintf(&b, "library_id: %s\n", yamlString(id))
	fmt.Fprintf(&b, "title: %s\n", yamlString(name))
	if description != "" {
		fmt.Fprintf(&b, "description: %s\n", yamlString(description))
	}
	fmt.Fprintf(&b, "permalink: /libraries/%s/\n", id)
	if len(dependents) > 0 {
		b.WriteString("dependents:\n")
		for _, d := range dependents {
			fmt.Fprintf(&b, "  - id: %s\n    requires: %s\n", yamlString(d.ID), yamlString(d.Requires))
		}
	}
	b.WriteString("---\n")
	return b.Bytes(), nil
}

// LibraryIndexes returns the per-library index files (index/<id>.json) of a
// catalog, for clients that need a single library: each holds that library
// alone, as catalog.MarshalLibrary writes it. The catalog must be valid.
func LibraryIndexes(catalogJSON []byte) (map[string][]byte, error) {
	cat, err := catalog.Parse(catalogJSON)
	if err != nil {
		return nil, fmt.Errorf("reading catalog: %w", err)
	}
	out := make(map[string][]byte, len(cat.Libraries))
	for i := range cat.Libraries {
		lib := &cat.Libraries[i]
		if !idPattern.MatchString(lib.ID) {
			return nil, fmt.Errorf("catalog library %d: id %q not usable as a file name", i, lib.ID)
		}
		data, err := catalog.MarshalLibrary(lib)
		if err != nil {
			return nil, fmt.Errorf("writing index of %q: %w", lib.ID, err)
		}
		out["index/"+lib.ID+".json"] = data
	}
	return out, nil
}

// dependentsOf maps each library id to the libraries of the catalog whose
// current version requires it, by id.
func dependentsOf(libs []library) map[string][]dependent {
	known := map[string]bool{}
	for _, l := range libs {
		known[l.ID] = true
	}
	out := map[string][]dependent{}
	for _, l := range libs {
		for name, req := range l.Dependencies {
			ref, err := libid.Parse(name)
			if err != nil || ref.ID == l.ID || !known[ref.ID] {
				continue
			}
			out[ref.ID] = append(out[ref.ID], dependent{ID: l.ID, Requires: req})
		}
	}
	for _, ds := range out {
		sort.Slice(ds, func(i, j int) bool { return ds[i].ID < ds[j].ID })
	}
	return out
}

// readmeData renders the READMEs into _data/readmes.json: by library id,
// "html" (safe to output unescaped) or "note" (why there is none to show).
// Liquid outputs data as is, never parsing it as a template, so "{{" in a
// README stays text.
func readmeData(libs []library, readmes map[string][]byte) ([]byte, error) {
	type entry struct {
		HTML string `json:"html,omitempty"`
		Note string `json:"note,omitempty"`
	}
	out := map[string]entry{}
	for _, l := range libs {
		md, ok := readmes[l.ID]
		if !ok {
			continue
		}
		html, err := RenderReadme(md, l.Repository, ReleaseTag(l.URL, l.Repository))
		if err != nil {
			out[l.ID] = entry{Note: err.Error() + "; not shown"}
			continue
		}
		out[l.ID] = entry{HTML: html}
	}
	data, err := canonjson.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encoding READMEs: %w", err)
	}
	return data, nil
}

// registryData is _data/registry.json: the keys file and its fingerprints,
// the catalog signer's first.
func registryData(k *Keys) ([]byte, error) {
	kr, err := pgpsign.LoadKeyring(k.Armored)
	if err != nil {
		return nil, fmt.Errorf("registry keys: %w", err)
	}
	type key struct {
		Fingerprint string `json:"fingerprint"`
		Signs       string `json:"signs"`
	}
	var keys []key
	found := false
	for _, fp := range kr.Fingerprints() {
		if fp == k.CatalogSigner {
			found = true
			keys = append([]key{{Fingerprint: fp, Signs: "the catalog"}}, keys...)
			continue
		}
		keys = append(keys, key{Fingerprint: fp, Signs: "packages"})
	}
	if k.CatalogSigner != "" && !found {
		return nil, fmt.Errorf("registry keys: the catalog signer %s is not among them", k.CatalogSigner)
	}
	data, err := canonjson.Marshal(map[string]any{"keys_file": KeysFile, "keys": keys})
	if err != nil {
		return nil, fmt.Errorf("encoding registry keys: %w", err)
	}
	return data, nil
}

func libraries(catalogJSON []byte) ([]library, error) {
	var head catalogHead
	if err := json.Unmarshal(catalogJSON, &head); err != nil {
		return nil, fmt.Errorf("reading catalog: %w", err)
	}
	libs := make([]library, 0, len(head.Libraries))
	seen := map[string]bool{}
	for i, raw := range head.Libraries {
		var lib library
		if err := json.Unmarshal(raw, &lib); err != nil {
			return nil, fmt.Errorf("reading catalog library %d: %w", i, err)
		}
		if !idPattern.MatchString(lib.ID) {
			return nil, fmt.Errorf("catalog library %d: id %q not usable as a page name", i, lib.ID)
		}
		if seen[lib.ID] {
			return nil, fmt.Errorf("catalog lists library %q twice", lib.ID)
		}
		seen[lib.ID] = true
		libs = append(libs, lib)
	}
	return libs, nil
}

// yamlString quotes s as a YAML double-quoted scalar; JSON's string syntax
// is a subset of it.
func yamlString(s string) string {
	b, _ := canonjson.Compact(s) // a string always encodes
	return string(b)
}

func checkReplaceable(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading site folder %q: %w", dir, err)
	}
	if len(entries) == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, "_config.yml")); err != nil {
		return fmt.Errorf("site folder %q is not empty and holds no _config.yml: refusing to replace it", dir)
	}
	return nil
}

func copyTemplate(template fs.FS, dst string) error {
	return fs.WalkDir(template, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("reading site template %q: %w", p, err)
		}
		if p == "." {
			return nil
		}
		target := filepath.Join(dst, filepath.FromSlash(p))
		if d.IsDir() {
			if err := os.MkdirAll(target, 0o755); err != nil {
				return fmt.Errorf("creating %q: %w", target, err)
			}
			return nil
		}
		if strings.HasSuffix(p, ".go") {
			return nil
		}
		data, err := fs.ReadFile(template, p)
		if err != nil {
			return fmt.Errorf("reading site template %q: %w", p, err)
		}
		return writeFile(target, data)
	})
}

func writeFile(name string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return fmt.Errorf("creating %q: %w", filepath.Dir(name), err)
	}
	if err := os.WriteFile(name, data, 0o644); err != nil {
		return fmt.Errorf("writing %q: %w", name, err)
	}
	return nil
}
