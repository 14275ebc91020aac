// Package relmanifest reads, merges and writes the release manifest
// `releases/v<version>-manifest.json` (names: internal/assetname) in the
// seed's schema: `variants` is an array with one entry per uDOS variant (the
// tar.gz variants built by build-variant and the bootable sonic-iso) with
// its name, file name, size, digests, armored signature, platforms, download
// URL and requirements; the release-wide SBOM and the release notes' URL
// stand at the top. Manifests of the earlier form (variants as an object
// keyed by name, with size/sha256/sha512/signature) are still read.
//
// Several jobs contribute to one manifest (a matrix leg per variant, then the
// sonic-iso job), so merging is the central operation and the written bytes
// depend only on the content: keys sorted, two-space indentation, a final
// newline. Fields this package does not know are kept through a read-merge-
// write cycle, so that an older toolkit never drops what a newer one wrote.
package relmanifest

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/fredbook/udos-dist/internal/atomicfile"
	"github.com/fredbook/udos-dist/internal/canonjson"
)

// Manifest is the whole release manifest.
type Manifest struct {
	// Version is the uDOS version without the "v" ("1.4.6").
	Version string `json:"version"`
	// ReleaseDate is the release's time, UTC RFC 3339 ("2026-11-25T12:00:00Z";
	// manifests of the earlier form may hold a date alone).
	ReleaseDate string `json:"release_date,omitempty"`
	// PreviousVersion is the release this one upgrades from, when known.
	PreviousVersion string `json:"previous_version,omitempty"`
	// Variants maps a variant name ("core-slim", "sonic-iso") to its entry;
	// it is written as the seed's array, sorted by name.
	Variants map[string]Variant `json:"-"`
	// SBOM is the release-wide software bill of materials {format, url}.
	SBOM *SBOM `json:"sbom,omitempty"`
	// ReleaseNotes is the URL of the release's notes (its GitHub page).
	ReleaseNotes string `json:"release_notes,omitempty"`
	// Artifacts lists every file of the release users download (the
	// variants' files and whatever else the release carries: SBOMs,
	// formulas, image statements, delta indexes), sorted by name. The
	// release job verifies each against it before publishing.
	Artifacts []File `json:"artifacts,omitempty"`
	// Extra holds top-level fields this package does not know.
	Extra map[string]json.RawMessage `json:"-"`
}

// Variant is one downloadable variant. The first group of fields is common
// to every variant; the flags that only make sense for some are pointers so
// that "false" and "not applicable" differ (sonic-iso sets Bootable,
// UEFISupported and BIOSFallback; the tar.gz variants leave them nil).
type Variant struct {
	// Name is the variant's name; Set and the decoder fill it in from the
	// entry's key.
	Name     string `json:"name"`
	Filename string `json:"filename"`
	Size     int64  `json:"size_bytes"`
	SHA256   string `json:"checksum_sha256"`
	SHA512   string `json:"checksum_sha512"`
	// GPGSignature is the armored detached signature of the file, as the
	// seed carries it; empty in a job's fragment, where Signature names it.
	GPGSignature string `json:"gpg_signature,omitempty"`
	// Signature is the file name or URL of the detached .asc.
	Signature string `json:"signature_url,omitempty"`
	// Platforms are in the seed's form: macos-amd64, macos-arm64,
	// linux-amd64, linux-arm64 (see Platforms).
	Platforms []string `json:"platforms"`
	URL       string   `json:"url"` // absolute in a release

	MinimumPython  string `json:"minimum_python,omitempty"`
	RequiresDocker bool   `json:"requires_docker"`

	Bootable      *bool `json:"bootable,omitempty"`
	UEFISupported *bool `json:"uefi_supported,omitempty"`
	BIOSFallback  *bool `json:"bios_fallback,omitempty"`

	SBOM *SBOM `json:"sbom,omitempty"`

	// Extra holds fields of this variant this package does not know.
	Extra map[string]json.RawMessage `json:"-"`
}

// SBOM points at a variant's software bill of materials.
type SBOM struct {
	Format      string `json:"format"`                 // "CycloneDX"
	SpecVersion string `json:"spec_version,omitempty"` // "1.6"
	Filename    string `json:"filename,omitempty"`
	URL         string `json:"url"`
	SHA256      string `json:"sha256,omitempty"`
}

// File is one downloadable file of the release.
type File struct {
	Name string `json:"name"`
	// Type is the producer's artifact type ("archive", "sbom", …).
	Type string `json:"type"`
	// Variant is the variant the file belongs to; "" for the release.
	Variant        string `json:"variant,omitempty"`
	SizeBytes      int64  `json:"size_bytes"`
	ChecksumSHA256 string `json:"checksum_sha256"`
	ChecksumSHA512 string `json:"checksum_sha512"`
	URL            string `json:"url"`
	// SignatureURL is the detached .asc's URL, when the file is signed.
	SignatureURL string `json:"signature_url,omitempty"`
}

func (f File) validate() error {
	if f.Name == "" || strings.ContainsAny(f.Name, "/\\") {
		return fmt.Errorf("artifact name %q must be a plain file name", f.Name)
	}
	if f.Type == "" {
		return fmt.Errorf("artifact %s has no type", f.Name)
	}
	if err := checkHex(f.ChecksumSHA256, 64); err != nil {
		return fmt.Errorf("artifact %s: checksum_sha256: %w", f.Name, err)
	}
	if err := checkHex(f.ChecksumSHA512, 128); err != nil {
		return fmt.Errorf("artifact %s: checksum_sha512: %w", f.Name, err)
	}
	return nil
}

// File returns the listed artifact named name.
func (m *Manifest) File(name string) (File, bool) {
	for _, f := range m.Artifacts {
		if f.Name == name {
			return f, true
		}
	}
	return File{}, false
}

// SetFile adds or replaces (by name) one listed artifact, keeping the list
// sorted.
func (m *Manifest) SetFile(f File) error {
	if err := f.validate(); err != nil {
		return err
	}
	for i, x := range m.Artifacts {
		if x.Name == f.Name {
			m.Artifacts[i] = f
			return nil
		}
	}
	m.Artifacts = append(m.Artifacts, f)
	sort.Slice(m.Artifacts, func(i, j int) bool { return m.Artifacts[i].Name < m.Artifacts[j].Name })
	return nil
}

// Bool returns a pointer to b, for the optional flags.
func Bool(b bool) *bool { return &b }

var (
	variantName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	versionRe   = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
)

// New returns an empty manifest for version ("1.4.6" or "v1.4.6").
func New(version string) *Manifest {
	return &Manifest{Version: strings.TrimPrefix(version, "v"), Variants: map[string]Variant{}}
}

// Validate checks what every consumer relies on: a version, and for each
// variant a file name, a size and well-formed digests.
func (m *Manifest) Validate() error {
	if !versionRe.MatchString(m.Version) {
		return fmt.Errorf("release manifest: version %q is not a semantic version", m.Version)
	}
	names := m.Names()
	for _, name := range names {
		if err := m.Variants[name].validate(name); err != nil {
			return fmt.Errorf("release manifest %s: %w", m.Version, err)
		}
	}
	seen := map[string]bool{}
	for _, f := range m.Artifacts {
		if err := f.validate(); err != nil {
			return fmt.Errorf("release manifest %s: %w", m.Version, err)
		}
		if seen[f.Name] {
			return fmt.Errorf("release manifest %s: artifact %s is listed twice", m.Version, f.Name)
		}
		seen[f.Name] = true
	}
	return nil
}

func (v Variant) validate(name string) error {
	if !variantName.MatchString(name) {
		return fmt.Errorf("variant name %q: want lower-case letters, digits and dashes", name)
	}
	if v.Filename == "" || strings.ContainsAny(v.Filename, "/\\") {
		return fmt.Errorf("variant %s: filename %q must be a plain file name", name, v.Filename)
	}
	if v.Size <= 0 {
		return fmt.Errorf("variant %s: size %d must be positive", name, v.Size)
	}
	if err := checkHex(v.SHA256, 64); err != nil {
		return fmt.Errorf("variant %s: sha256: %w", name, err)
	}
	if err := checkHex(v.SHA512, 128); err != nil {
		return fmt.Errorf("variant %s: sha512: %w", name, err)
	}
	if v.SBOM != nil && (v.SBOM.Format == "" || v.SBOM.URL == "") {
		return fmt.Errorf("variant %s: sbom needs a format and a url", name)
	}
	return nil
}

func checkHex(s string, n int) error {
	if len(s) != n {
		return fmt.Errorf("%q has %d hex digits, want %d", s, len(s), n)
	}
	if _, err := hex.DecodeString(s); err != nil || strings.ToLower(s) != s {
		return fmt.Errorf("%q is not lower-case hex", s)
	}
	return nil
}

// Names returns the variant names, sorted.
func (m *Manifest) Names() []string {
	names := make([]string, 0, len(m.Variants))
	for n := range m.Variants {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Set adds or replaces one variant after validating it.
func (m *Manifest) Set(name string, v Variant) error {
	if err := v.validate(name); err != nil {
		return err
	}
	v.Name = name
	if m.Variants == nil {
		m.Variants = map[string]Variant{}
	}
	m.Variants[name] = v
	return nil
}

// Merge folds other into m: other's variants replace m's of the same name
// (a rebuilt variant), the rest are kept; top-level fields other sets win.
// Both must describe the same version.
func (m *Manifest) Merge(other *Manifest) error {
	if other.Version != m.Version {
		return fmt.Errorf("merging release manifests: version %s into %s", other.Version, m.Version)
	}
	for _, name := range other.Names() {
		if err := m.Set(name, other.Variants[name]); err != nil {
			return fmt.Errorf("merging release manifests: %w", err)
		}
	}
	for _, f := range other.Artifacts {
		if err := m.SetFile(f); err != nil {
			return fmt.Errorf("merging release manifests: %w", err)
		}
	}
	if other.ReleaseDate != "" {
		m.ReleaseDate = other.ReleaseDate
	}
	if other.SBOM != nil {
		m.SBOM = other.SBOM
	}
	if other.ReleaseNotes != "" {
		m.ReleaseNotes = other.ReleaseNotes
	}
	if other.PreviousVersion != "" {
		m.PreviousVersion = other.PreviousVersion
	}
	for k, raw := range other.Extra {
		if m.Extra == nil {
			m.Extra = map[string]json.RawMessage{}
		}
		m.Extra[k] = raw
	}
	return nil
}

// Parse decodes and validates a manifest.
func Parse(data []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("decoding release manifest: %w", err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Read reads and validates the manifest at path.
func Read(path string) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading release manifest: %w", err)
	}
	m, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", path, err)
	}
	return m, nil
}

// ReadOrNew reads the manifest at path, or returns New(version) when there is
// none yet. An existing manifest for another version is an error.
func ReadOrNew(path, version string) (*Manifest, error) {
	m, err := Read(path)
	if errors.Is(err, os.ErrNotExist) {
		return New(version), nil
	}
	if err != nil {
		return nil, err
	}
	if want := strings.TrimPrefix(version, "v"); m.Version != want {
		return nil, fmt.Errorf("%q is the manifest of %s, not %s", path, m.Version, want)
	}
	return m, nil
}

// Marshal returns the deterministic encoding: keys sorted at every level,
// two-space indentation, a final newline.
func (m *Manifest) Marshal() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return canonjson.Reformat(raw)
}

// Write writes the manifest to path atomically, creating its directory.
func (m *Manifest) Write(path string) error {
	data, err := m.Marshal()
	if err != nil {
		return fmt.Errorf("writing %q: %w", path, err)
	}
	if err := atomicfile.WriteFile(path, data, 0o644); err != nil {
		return err
	}
	return nil
}

// MergeFile reads the manifest at path (or starts a new one), sets the given
// variant and writes it back: the operation one build job performs.
func MergeFile(path, version, name string, v Variant) (*Manifest, error) {
	m, err := ReadOrNew(path, version)
	if err != nil {
		return nil, err
	}
	if err := m.Set(name, v); err != nil {
		return nil, fmt.Errorf("merging into %q: %w", path, err)
	}
	if err := m.Write(path); err != nil {
		return nil, err
	}
	return m, nil
}

// The JSON methods below keep unknown fields in Extra.

var manifestKnown = []string{"version", "release_date", "previous_version", "variants", "sbom", "release_notes", "artifacts"}

// MarshalJSON encodes the known fields, the variants as the seed's array
// sorted by name, and the unknown fields kept in Extra.
func (m Manifest) MarshalJSON() ([]byte, error) {
	type plain Manifest
	type wire struct {
		plain
		Variants []Variant `json:"variants"`
	}
	w := wire{plain: plain(m), Variants: []Variant{}}
	for _, n := range m.Names() {
		v := m.Variants[n]
		v.Name = n
		w.Variants = append(w.Variants, v)
	}
	return withExtra(w, m.Extra, manifestKnown)
}

// UnmarshalJSON decodes the known fields and keeps the others in Extra.
// variants may be the seed's array or, in manifests of the earlier form,
// an object keyed by name (whose platforms "linux" and "macos" are read as
// the seed's linux-amd64, linux-arm64, macos-amd64, macos-arm64).
func (m *Manifest) UnmarshalJSON(data []byte) error {
	type plain Manifest
	var p plain
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	var raw struct {
		Variants json.RawMessage `json:"variants"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	extra, err := extraFields(data, manifestKnown)
	if err != nil {
		return err
	}
	*m = Manifest(p)
	m.Extra = extra
	m.Variants = map[string]Variant{}
	trimmed := strings.TrimSpace(string(raw.Variants))
	switch {
	case trimmed == "" || trimmed == "null":
	case strings.HasPrefix(trimmed, "["):
		var list []Variant
		if err := json.Unmarshal(raw.Variants, &list); err != nil {
			return fmt.Errorf("variants: %w", err)
		}
		for i, v := range list {
			if v.Name == "" {
				return fmt.Errorf("variants[%d] has no name", i)
			}
			if _, dup := m.Variants[v.Name]; dup {
				return fmt.Errorf("variant %s is listed twice", v.Name)
			}
			m.Variants[v.Name] = v
		}
	default:
		var byName map[string]Variant
		if err := json.Unmarshal(raw.Variants, &byName); err != nil {
			return fmt.Errorf("variants: %w", err)
		}
		for n, v := range byName {
			v.Name = n
			v.Platforms = Platforms(v.Platforms)
			m.Variants[n] = v
		}
	}
	return nil
}

// The earlier form's names of fields the seed renamed; they are read, and
// never written.
var variantLegacy = []string{"size", "sha256", "sha512", "signature"}

var variantKnown = append([]string{"name", "filename", "size_bytes", "checksum_sha256", "checksum_sha512", "gpg_signature",
	"signature_url", "platforms", "url", "minimum_python", "requires_docker", "bootable", "uefi_supported", "bios_fallback", "sbom"},
	variantLegacy...)

// MarshalJSON encodes the known fields and the unknown ones kept in Extra.
func (v Variant) MarshalJSON() ([]byte, error) {
	type plain Variant
	if v.Platforms == nil {
		v.Platforms = []string{}
	}
	return withExtra(plain(v), v.Extra, variantKnown)
}

// UnmarshalJSON decodes the known fields (and the earlier form's names of
// them) and keeps the others in Extra.
func (v *Variant) UnmarshalJSON(data []byte) error {
	type plain Variant
	var p plain
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	var legacy struct {
		Size      int64  `json:"size"`
		SHA256    string `json:"sha256"`
		SHA512    string `json:"sha512"`
		Signature string `json:"signature"`
	}
	if err := json.Unmarshal(data, &legacy); err != nil {
		return err
	}
	extra, err := extraFields(data, variantKnown)
	if err != nil {
		return err
	}
	*v = Variant(p)
	v.Extra = extra
	if v.Size == 0 {
		v.Size = legacy.Size
	}
	if v.SHA256 == "" {
		v.SHA256 = legacy.SHA256
	}
	if v.SHA512 == "" {
		v.SHA512 = legacy.SHA512
	}
	if v.Signature == "" {
		v.Signature = legacy.Signature
	}
	return nil
}

// Platforms returns platform names in the seed's form
// (macos-amd64, macos-arm64, linux-amd64, linux-arm64): "linux" and
// "macos" (or "darwin") stand for both architectures of the system; names
// already in the seed's form, and any others, are kept. The result is
// sorted, without repeats.
func Platforms(names []string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, n := range names {
		switch strings.ToLower(n) {
		case "linux":
			add("linux-amd64")
			add("linux-arm64")
		case "macos", "darwin":
			add("macos-amd64")
			add("macos-arm64")
		default:
			add(n)
		}
	}
	sort.Strings(out)
	return out
}

func withExtra(known any, extra map[string]json.RawMessage, knownKeys []string) ([]byte, error) {
	raw, err := json.Marshal(known)
	if err != nil {
		return nil, err
	}
	if len(extra) == 0 {
		return raw, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, err
	}
	for k, val := range extra {
		if contains(knownKeys, k) {
			continue // a known field always comes from the struct
		}
		fields[k] = val
	}
	return json.Marshal(fields)
}

func extraFields(data []byte, knownKeys []string) (map[string]json.RawMessage, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return nil, err
	}
	var extra map[string]json.RawMessage
	for k, val := range fields {
		if contains(knownKeys, k) {
			continue
		}
		if extra == nil {
			extra = map[string]json.RawMessage{}
		}
		extra[k] = val
	}
	return extra, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
