// Package udospkg reads, writes and checks `.udos-package` files: the
// reproducible gzip tar of one library version, manifest.json first, then
// lib/, docs/, examples/ and requirements.txt (docs/FORMATS.md).
//
// Pack turns a library source folder into a package; Open/Read load one,
// Verify checks every byte of it against its manifest, and ExtractTo
// installs it with the hardened extractor of internal/tarball.
package udospkg

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/fredbook/udos-dist/internal/canonjson"
	"github.com/fredbook/udos-dist/internal/checksum"
	"github.com/fredbook/udos-dist/internal/clip"
	"github.com/fredbook/udos-dist/internal/constraint"
	"github.com/fredbook/udos-dist/internal/libid"
	"github.com/fredbook/udos-dist/internal/strictjson"
)

// ManifestName is the archive's first entry and the source folder's manifest.
const ManifestName = "manifest.json"

// ManifestVersion is the only manifest_version this package reads and writes.
const ManifestVersion = 1

// Extension ends every package file name.
const Extension = ".udos-package"

// PayloadRoots are the top-level folders a package may carry, in archive
// order; RequirementsFile is the one top-level payload file.
var PayloadRoots = []string{"lib", "docs", "examples"}

// RequirementsFile holds the library's Python requirements (optional).
const RequirementsFile = "requirements.txt"

// Manifest is manifest.json (docs/FORMATS.md, ".udos-package").
type Manifest struct {
	ManifestVersion int               `json:"manifest_version"`
	ID              string            `json:"id"`
	Namespace       string            `json:"namespace"`
	Name            string            `json:"name"`
	Version         string            `json:"version"`
	Description     string            `json:"description,omitempty"`
	Author          string            `json:"author"`
	License         string            `json:"license"`
	Tags            []string          `json:"tags,omitempty"`
	Homepage        string            `json:"homepage,omitempty"`
	Repository      string            `json:"repository,omitempty"`
	EntryPoint      string            `json:"entry_point"`
	InstallPath     string            `json:"install_path"`
	Dependencies    map[string]string `json:"dependencies"`
	// Files maps every payload file (all but manifest.json) to its sha256.
	Files map[string]string `json:"files,omitempty"`
	// Checksums.SHA256 is the payload digest (PayloadDigest of Files).
	Checksums Checksums `json:"checksums"`
}

// Checksums holds the payload digest.
type Checksums struct {
	SHA256 string `json:"sha256,omitempty"`
}

// Problem is one thing wrong with a manifest.
type Problem struct {
	Field   string // JSON field name, e.g. "version" or "dependencies"
	Message string
}

func (p Problem) String() string {
	if p.Field == "" {
		return p.Message
	}
	return fmt.Sprintf("field %q: %s", p.Field, p.Message)
}

// ValidationError lists every problem found in one manifest.
type ValidationError struct {
	File     string // usually "manifest.json", or the path it was read from
	Problems []Problem
}

func (e *ValidationError) Error() string {
	file := e.File
	if file == "" {
		file = ManifestName
	}
	if len(e.Problems) == 1 {
		return file + ": " + e.Problems[0].String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d problems:", file, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  " + p.String())
	}
	return b.String()
}

// ParseManifest reads and validates the manifest.json of a package: every
// field of the format, including files and checksums, must be present and
// consistent. Errors are a *ValidationError (or a JSON syntax error).
func ParseManifest(data []byte) (*Manifest, error) {
	m, err := decode(data)
	if err != nil {
		return nil, err
	}
	if probs := m.validate(true); len(probs) > 0 {
		return nil, &ValidationError{Problems: probs}
	}
	return m, nil
}

// ParseSourceManifest reads the manifest.json of a library source folder.
// There, manifest_version, namespace and install_path may be left out (they
// follow from id), and files/checksums are ignored: Pack computes them.
func ParseSourceManifest(data []byte) (*Manifest, error) {
	m, err := decode(data)
	if err != nil {
		return nil, err
	}
	m.Files, m.Checksums = nil, Checksums{}
	m.fillDefaults()
	if probs := m.validate(false); len(probs) > 0 {
		return nil, &ValidationError{Problems: probs}
	}
	return m, nil
}

func decode(data []byte) (*Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, &ValidationError{Problems: []Problem{{Message: "not a valid manifest: " + err.Error()}}}
	}
	if dec.More() {
		return nil, &ValidationError{Problems: []Problem{{Message: "not a valid manifest: data after the JSON object"}}}
	}
	// Two "files" objects (or two digests for one path): encoding/json keeps
	// the last, another reader the first.
	if err := strictjson.CheckKeys(data); err != nil {
		return nil, &ValidationError{Problems: []Problem{{Message: "not a valid manifest: " + err.Error()}}}
	}
	return &m, nil
}

func (m *Manifest) fillDefaults() {
	if m.ManifestVersion == 0 {
		m.ManifestVersion = ManifestVersion
	}
	if ref, err := libid.Parse(m.ID); err == nil && !ref.Core && strings.HasPrefix(m.ID, libid.IDPrefix) {
		if m.Namespace == "" {
			m.Namespace = ref.Namespace
		}
		if m.InstallPath == "" {
			m.InstallPath = ref.InstallPath
		}
	}
	if m.Dependencies == nil {
		m.Dependencies = map[string]string{}
	}
}

// Validate checks a complete (packaged) manifest.
func (m *Manifest) Validate() error {
	if probs := m.validate(true); len(probs) > 0 {
		return &ValidationError{Problems: probs}
	}
	return nil
}

// FileName is the package file name, "<id>-v<version>.udos-package".
func (m *Manifest) FileName() string {
	return FileName(m.ID, m.Version)
}

// FileName is "<id>-v<version>.udos-package".
func FileName(id, version string) string {
	return id + "-v" + version + Extension
}

// SemVer returns the parsed version (the manifest must be valid).
func (m *Manifest) SemVer() (*semver.Version, error) {
	return semver.StrictNewVersion(m.Version)
}

// IsPayloadPath reports whether p (slash-separated, no trailing slash) may be
// a payload file: clean, relative, under lib/, docs/ or examples/, or
// requirements.txt.
func IsPayloadPath(p string) bool {
	if p == "" || path.IsAbs(p) || path.Clean(p) != p || strings.Contains(p, `\`) || strings.HasPrefix(p, "../") || p == ".." {
		return false
	}
	if p == RequirementsFile {
		return true
	}
	for _, r := range PayloadRoots {
		if strings.HasPrefix(p, r+"/") {
			return true
		}
	}
	return false
}

func (m *Manifest) validate(packaged bool) []Problem {
	var probs []Problem
	add := func(field, format string, args ...any) {
		probs = append(probs, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if m.ManifestVersion != ManifestVersion {
		add("manifest_version", "%d is not supported (want %d)", m.ManifestVersion, ManifestVersion)
	}
	var short string
	switch ref, err := libid.Parse(m.ID); {
	case m.ID == "":
		add("id", "missing (want lib-<name>, e.g. lib-grid-extensions)")
	case err != nil:
		add("id", "%v", err)
	case ref.Core:
		add("id", "%s is uDOS itself, not a library", clip.Quote(m.ID))
	case m.ID != ref.ID:
		add("id", "%s is not an id (want %s)", clip.Quote(m.ID), clip.Quote(ref.ID))
	default:
		short = ref.Short
	}
	if short != "" {
		if want := libid.Scope + "/" + short; m.Namespace != want {
			add("namespace", "%s does not match id %s (want %s)", clip.Quote(m.Namespace), clip.Quote(m.ID), clip.Quote(want))
		}
		if want := libid.InstallDir + "/" + short; m.InstallPath != want {
			add("install_path", "%s must be %s", clip.Quote(m.InstallPath), clip.Quote(want))
		}
	}
	if strings.TrimSpace(m.Name) == "" {
		add("name", "missing (a human-readable name, e.g. \"Grid Extensions\")")
	}
	if m.Version == "" {
		add("version", "missing (want MAJOR.MINOR.PATCH)")
	} else if _, err := semver.StrictNewVersion(m.Version); err != nil {
		add("version", "%s is not a semantic version (want MAJOR.MINOR.PATCH)", clip.Quote(m.Version))
	}
	if strings.TrimSpace(m.Author) == "" {
		add("author", "missing")
	}
	if strings.TrimSpace(m.License) == "" {
		add("license", "missing (an SPDX identifier such as MIT)")
	}
	switch {
	case m.EntryPoint == "":
		add("entry_point", "missing (the library's main module, e.g. lib/<package>/__init__.py)")
	case !IsPayloadPath(m.EntryPoint) || !strings.HasPrefix(m.EntryPoint, "lib/"):
		add("entry_point", "%s must be a clean relative path under lib/", clip.Quote(m.EntryPoint))
	case packaged && m.Files != nil && m.Files[m.EntryPoint] == "":
		add("entry_point", "%s is not among the package's files", clip.Quote(m.EntryPoint))
	}
	deps := slices.Sorted(maps.Keys(m.Dependencies))
	seenDep := map[string]string{}
	for _, name := range deps {
		ref, err := libid.Parse(name)
		if err != nil {
			add("dependencies", "unknown dependency name %s: %v", clip.Quote(name), err)
			continue
		}
		if ref.ID == m.ID {
			add("dependencies", "%s is the library itself", clip.Quote(name))
		}
		if prev, ok := seenDep[ref.ID]; ok {
			add("dependencies", "%s and %s name the same library", clip.Quote(prev), clip.Quote(name))
		}
		seenDep[ref.ID] = name
		if _, err := constraint.Parse(m.Dependencies[name]); err != nil {
			add("dependencies", "%s: %v", clip.Quote(name), err)
		}
	}
	if !packaged {
		return probs
	}
	if len(m.Files) == 0 {
		add("files", "missing (every payload file with its sha256)")
	}
	paths := slices.Sorted(maps.Keys(m.Files))
	for _, p := range paths {
		if !IsPayloadPath(p) {
			add("files", "%s is not a payload path (lib/, docs/, examples/ or requirements.txt)", clip.Quote(p))
		}
		if !checksum.SHA256.Valid(m.Files[p]) {
			add("files", "%s: %s is not a lower-case hex sha256", clip.Quote(p), clip.Quote(m.Files[p]))
		}
	}
	switch {
	case m.Checksums.SHA256 == "":
		add("checksums", "missing sha256 (the payload digest)")
	case !checksum.SHA256.Valid(m.Checksums.SHA256):
		add("checksums", "sha256 %s is not a lower-case hex sha256", clip.Quote(m.Checksums.SHA256))
	case len(m.Files) > 0:
		if want := PayloadDigest(m.Files); m.Checksums.SHA256 != want {
			add("checksums", "sha256 %s does not match the files listed (payload digest %s)", clip.String(m.Checksums.SHA256), want)
		}
	}
	return probs
}

// PayloadDigest is the sha256 of the lines "<sha256>  <path>\n" for every
// file, sorted by path: what `sha256sum` prints for the payload files.
func PayloadDigest(files map[string]string) string {
	paths := slices.Sorted(maps.Keys(files))
	h := sha256.New()
	for _, p := range paths {
		fmt.Fprintf(h, "%s  %s\n", files[p], p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Marshal returns the manifest as deterministic JSON: keys sorted, two-space
// indent, no HTML escaping (">=" stays readable), final newline.
func (m *Manifest) Marshal() ([]byte, error) {
	return canonjson.Marshal(m)
}
