// Package sbom writes the CycloneDX 1.6 JSON software bill of materials of a
// uDOS variant: the variant archive as the subject; the packages its
// dependency files pin and declare (uv.lock with its hashes and dependency
// graph, pyproject.toml / pyproject.udos.toml, requirements files, go.mod,
// package-lock.json) as components with package URLs; and every file of the
// archive with its SHA-256.
//
// The output is deterministic: the serial number is a name-based UUID of
// the archive's digest, the timestamp is SOURCE_DATE_EPOCH, components are
// sorted and object keys are sorted, so that the same archive always has the
// same SBOM and the SBOM can be signed and checksummed like any artifact.
package sbom

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/google/uuid"

	"github.com/fredbook/udos-dist/internal/canonjson"
)

// SpecVersion is the CycloneDX version written.
const SpecVersion = "1.6"

// Format is the value of the release manifest's sbom.format.
const Format = "CycloneDX"

// FileName returns the SBOM's file name for a variant archive:
// "udos-core-slim-v1.4.6.cdx.json".
func FileName(variant, version string) string {
	return "udos-" + variant + "-v" + strings.TrimPrefix(version, "v") + ".cdx.json"
}

// Requirement is one line of a pip requirements file.
type Requirement struct {
	// Name as written ("PyYAML"); Normalized is the PEP 503 form ("pyyaml").
	Name       string
	Normalized string
	// Version is set when the line pins one exact version (==X); Spec is the
	// whole specifier as written (">=0.27.0", "==2.31.0").
	Version string
	Spec    string
	Extras  string // "standard" for uvicorn[standard]
	Marker  string // environment marker after ";"
	File    string // the requirements file, relative to the variant root
	Line    int
}

// PURL returns the package URL: pkg:pypi/<normalized>[@<version>].
func (r Requirement) PURL() string {
	p := "pkg:pypi/" + strings.ReplaceAll(r.Normalized, "_", "-")
	if r.Version != "" {
		p += "@" + url.PathEscape(r.Version)
	}
	return p
}

var (
	reqLine    = regexp.MustCompile(`^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[([^\]]*)\])?\s*(.*)$`)
	exactPin   = regexp.MustCompile(`^===?\s*([A-Za-z0-9][A-Za-z0-9.+!_-]*)$`)
	normalizer = regexp.MustCompile(`[-_.]+`)
)

// Normalize returns the PEP 503 normalized project name.
func Normalize(name string) string {
	return strings.ToLower(normalizer.ReplaceAllString(name, "-"))
}

// ParseRequirements reads a pip requirements file. Options (-r, -c,
// --index-url, -e ...) and URLs are skipped: they name no PyPI package of
// their own. A line that is neither is an error naming file and line.
func ParseRequirements(r io.Reader, file string) ([]Requirement, error) {
	var out []Requirement
	sc := bufio.NewScanner(r)
	var cont string
	n := 0
	for sc.Scan() {
		n++
		line := cont + sc.Text()
		cont = ""
		if strings.HasSuffix(line, "\\") {
			cont = strings.TrimSuffix(line, "\\")
			continue
		}
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "-") || strings.Contains(line, "://") {
			continue
		}
		marker := ""
		if i := strings.Index(line, ";"); i >= 0 {
			marker = strings.TrimSpace(line[i+1:])
			line = strings.TrimSpace(line[:i])
		}
		m := reqLine.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("%s:%d: not a requirement: %q", file, n, sc.Text())
		}
		req := Requirement{Name: m[1], Normalized: Normalize(m[1]), Extras: strings.TrimSpace(m[2]),
			Spec: strings.ReplaceAll(m[3], " ", ""), Marker: marker, File: file, Line: n}
		if req.Spec != "" && !strings.ContainsAny(req.Spec[:1], "=<>!~") {
			return nil, fmt.Errorf("%s:%d: not a version specifier: %q", file, n, m[3])
		}
		if p := exactPin.FindStringSubmatch(req.Spec); p != nil && !strings.Contains(p[1], "*") {
			req.Version = p[1]
		}
		out = append(out, req)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	return out, nil
}

// File is one file of the archive and its SHA-256.
type File struct {
	Path   string // relative to the archive's root directory
	SHA256 string
}

// Input is everything an SBOM says.
type Input struct {
	Variant string // "core-slim"
	Version string // "1.4.6"
	// Archive is the file name and digests of the variant archive (the SBOM's subject).
	Archive       string
	ArchiveSHA256 string
	ArchiveSHA512 string
	// Inventory holds what the variant's dependency files pin and declare
	// (uv.lock, pyproject, requirements, go.mod, package-lock.json).
	Inventory *Inventory
	// Requirements are declared requirements read elsewhere; they join
	// the inventory's.
	Requirements []Requirement
	Files        []File
	// Time is the BOM's timestamp: SOURCE_DATE_EPOCH.
	Time time.Time
	// ToolVersion is the version of udos-dist that wrote the SBOM.
	ToolVersion string
}

// Generate returns the CycloneDX 1.6 JSON document, keys sorted, two-space
// indentation, a final newline.
func Generate(in Input) ([]byte, error) {
	if in.Variant == "" || in.Version == "" || in.ArchiveSHA256 == "" {
		return nil, fmt.Errorf("sbom: variant, version and archive digest are required")
	}
	version := strings.TrimPrefix(in.Version, "v")
	subjectRef := "pkg:generic/udos-" + in.Variant + "@" + version
	bom := cdx.NewBOM()
	bom.SpecVersion = cdx.SpecVersion1_6
	bom.JSONSchema = "http://cyclonedx.org/schema/bom-1.6.schema.json"
	bom.SerialNumber = "urn:uuid:" + uuid.NewSHA1(uuid.NameSpaceURL, []byte("udos-dist:sbom:"+in.Archive+":"+in.ArchiveSHA256)).String()
	bom.Version = 1

	hashes := []cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: in.ArchiveSHA256}}
	if in.ArchiveSHA512 != "" {
		hashes = append(hashes, cdx.Hash{Algorithm: cdx.HashAlgoSHA512, Value: in.ArchiveSHA512})
	}
	toolVersion := in.ToolVersion
	if toolVersion == "" {
		toolVersion = "dev"
	}
	bom.Metadata = &cdx.Metadata{
		Timestamp: in.Time.UTC().Truncate(time.Second).Format(time.RFC3339),
		Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{{
			Type: cdx.ComponentTypeApplication, Group: "fredbook", Name: "udos-dist", Version: toolVersion,
			Description: "build-variant action",
		}}},
		Component: &cdx.Component{
			BOMRef:      subjectRef,
			Type:        cdx.ComponentTypeApplication,
			Group:       "fredbook",
			Name:        "udos-" + in.Variant,
			Version:     version,
			Description: "uDOS " + in.Variant + " release archive " + in.Archive,
			PackageURL:  subjectRef,
			Hashes:      &hashes,
			Properties:  &[]cdx.Property{{Name: "udos:archive", Value: in.Archive}, {Name: "udos:variant", Value: in.Variant}},
		},
	}

	inv := NewInventory()
	if in.Inventory != nil {
		inv.locked = in.Inventory.locked
		inv.declared = append(inv.declared, in.Inventory.declared...)
	}
	inv.declared = append(inv.declared, in.Requirements...)
	var comps []cdx.Component
	var direct []string
	depList := []cdx.Dependency{}
	inventory := inv.Components()
	for _, ic := range inventory {
		c := cdx.Component{
			BOMRef:     ic.PURL,
			Type:       cdx.ComponentTypeLibrary,
			Name:       ic.Name,
			Version:    ic.Version,
			PackageURL: ic.PURL,
			Scope:      cdx.ScopeRequired,
		}
		if ic.Project {
			c.Type = cdx.ComponentTypeApplication
			c.Scope = ""
		}
		if ic.Optional {
			c.Scope = cdx.ScopeOptional
		}
		if len(ic.Hashes) > 0 {
			hs := make([]cdx.Hash, len(ic.Hashes))
			for i, h := range ic.Hashes {
				hs[i] = cdx.Hash{Algorithm: cdx.HashAlgorithm(h.Alg), Value: h.Value}
			}
			c.Hashes = &hs
		}
		props := []cdx.Property{{Name: "udos:declared-in", Value: strings.Join(ic.Files, ", ")}}
		if len(ic.Specs) > 0 {
			props = append(props, cdx.Property{Name: "udos:requirement", Value: strings.Join(ic.Specs, ", ")})
		}
		c.Properties = &props
		comps = append(comps, c)
		if ic.Direct || ic.Project {
			direct = append(direct, ic.PURL)
		}
		dep := cdx.Dependency{Ref: ic.PURL}
		if len(ic.DependsOn) > 0 {
			d := append([]string(nil), ic.DependsOn...)
			dep.Dependencies = &d
		}
		depList = append(depList, dep)
	}
	if len(direct) == 0 {
		for _, ic := range inventory {
			direct = append(direct, ic.PURL)
		}
	}
	depList = append([]cdx.Dependency{{Ref: subjectRef, Dependencies: &direct}}, depList...)
	files := append([]File(nil), in.Files...)
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	for i, f := range files {
		if i > 0 && files[i-1].Path == f.Path {
			return nil, fmt.Errorf("sbom: file %q listed twice", f.Path)
		}
		comps = append(comps, cdx.Component{
			BOMRef: "file:" + f.Path,
			Type:   cdx.ComponentTypeFile,
			Name:   f.Path,
			Hashes: &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: f.SHA256}},
		})
	}
	if len(comps) > 0 {
		bom.Components = &comps
	}
	bom.Dependencies = &depList

	var raw bytes.Buffer
	enc := cdx.NewBOMEncoder(&raw, cdx.BOMFileFormatJSON)
	enc.SetEscapeHTML(false)
	if err := enc.EncodeVersion(bom, cdx.SpecVersion1_6); err != nil {
		return nil, fmt.Errorf("encoding sbom: %w", err)
	}
	return canonjson.Reformat(raw.Bytes())
}

func appendNew(list []string, add ...string) []string {
	for _, s := range add {
		found := false
		for _, x := range list {
			if x == s {
				found = true
				break
			}
		}
		if !found {
			list = append(list, s)
		}
	}
	return list
}

// Package is a pypi component read back from an SBOM.
type Package struct {
	Name    string
	Version string
	PURL    string
}

// Packages returns the pypi components of an SBOM, sorted by name: what
// release notes compare between two releases.
func Packages(data []byte) ([]Package, error) {
	var doc struct {
		BOMFormat   string `json:"bomFormat"`
		SpecVersion string `json:"specVersion"`
		Components  []struct {
			Name    string `json:"name"`
			Version string `json:"version"`
			PURL    string `json:"purl"`
		} `json:"components"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("reading sbom: %w", err)
	}
	if doc.BOMFormat != "CycloneDX" {
		return nil, fmt.Errorf("reading sbom: bomFormat %q is not CycloneDX", doc.BOMFormat)
	}
	var out []Package
	for _, c := range doc.Components {
		if strings.HasPrefix(c.PURL, "pkg:pypi/") {
			out = append(out, Package{Name: c.Name, Version: c.Version, PURL: c.PURL})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Version < out[j].Version
	})
	return out, nil
}

// PackageChange is a difference in Python packages between two SBOMs.
type PackageChange struct {
	Name     string
	From, To string // "" when added or removed
}

// DiffPackages compares the pypi components of two SBOMs.
func DiffPackages(prev, cur []Package) []PackageChange {
	pv := map[string]string{}
	for _, p := range prev {
		pv[p.Name] = joinVersion(pv[p.Name], p.Version)
	}
	cv := map[string]string{}
	for _, p := range cur {
		cv[p.Name] = joinVersion(cv[p.Name], p.Version)
	}
	names := map[string]bool{}
	for n := range pv {
		names[n] = true
	}
	for n := range cv {
		names[n] = true
	}
	var out []PackageChange
	for n := range names {
		from, inP := pv[n]
		to, inC := cv[n]
		if inP && inC && from == to {
			continue
		}
		if inP && from == "" {
			from = "unpinned"
		}
		if inC && to == "" {
			to = "unpinned"
		}
		out = append(out, PackageChange{Name: n, From: from, To: to})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func joinVersion(a, b string) string {
	if a == "" {
		return b
	}
	return a + ", " + b
}
