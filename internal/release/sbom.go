package release

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/google/uuid"

	"github.com/fredbook/udos-dist/internal/canonjson"
	"github.com/fredbook/udos-dist/internal/relmanifest"
)

// releaseSBOM is the release-wide CycloneDX 1.6 document the manifest's
// top-level sbom points at: uDOS <version> made of its variants (each with
// its file's digests), and the union of the packages the variants' own
// SBOMs list, with their dependency graphs merged. Files stay in the
// per-variant SBOMs. The bytes depend only on the inputs: serial number
// from the manifest's digests, timestamp from the release date, keys
// sorted.
func releaseSBOM(m *relmanifest.Manifest, variantSBOMs map[string][]byte, when time.Time, toolVersion string) ([]byte, error) {
	version := m.Version
	root := "pkg:generic/udos@" + version
	var seed strings.Builder
	for _, n := range m.Names() {
		seed.WriteString(n + ":" + m.Variants[n].SHA256 + ";")
	}
	bom := cdx.NewBOM()
	bom.SpecVersion = cdx.SpecVersion1_6
	bom.JSONSchema = "http://cyclonedx.org/schema/bom-1.6.schema.json"
	bom.SerialNumber = "urn:uuid:" + uuid.NewSHA1(uuid.NameSpaceURL, []byte("udos-dist:release-sbom:"+version+":"+seed.String())).String()
	bom.Version = 1
	if toolVersion == "" {
		toolVersion = "dev"
	}
	bom.Metadata = &cdx.Metadata{
		Timestamp: when.UTC().Truncate(time.Second).Format(time.RFC3339),
		Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{{
			Type: cdx.ComponentTypeApplication, Group: "fredbook", Name: "udos-dist", Version: toolVersion,
			Description: "release job of the build-variant action",
		}}},
		Component: &cdx.Component{
			BOMRef: root, Type: cdx.ComponentTypeApplication, Group: "fredbook", Name: "udos", Version: version,
			Description: "uDOS " + version + " release", PackageURL: root,
		},
	}

	comps := map[string]cdx.Component{}
	deps := map[string]map[string]bool{}
	depend := func(from string, to ...string) {
		if deps[from] == nil {
			deps[from] = map[string]bool{}
		}
		for _, t := range to {
			deps[from][t] = true
		}
	}
	for _, name := range m.Names() {
		v := m.Variants[name]
		ref := "pkg:generic/udos-" + name + "@" + version
		c := cdx.Component{BOMRef: ref, Type: cdx.ComponentTypeApplication, Group: "fredbook", Name: "udos-" + name,
			Version: version, PackageURL: ref, Description: "uDOS " + name + " " + v.Filename,
			Hashes:     &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: v.SHA256}, {Algorithm: cdx.HashAlgoSHA512, Value: v.SHA512}},
			Properties: &[]cdx.Property{{Name: "udos:file", Value: v.Filename}, {Name: "udos:variant", Value: name}}}
		if v.Bootable != nil && *v.Bootable {
			c.Type = cdx.ComponentTypeOS
		}
		depend(root, ref)
		depend(ref)
		if data, ok := variantSBOMs[name]; ok {
			var vb cdx.BOM
			if err := cdx.NewBOMDecoder(bytes.NewReader(data), cdx.BOMFileFormatJSON).Decode(&vb); err != nil {
				return nil, fmt.Errorf("reading the SBOM of %s: %w", name, err)
			}
			subject := ""
			if vb.Metadata != nil && vb.Metadata.Component != nil {
				subject = vb.Metadata.Component.BOMRef
			}
			if vb.Components != nil {
				for _, lc := range *vb.Components {
					if lc.Type == cdx.ComponentTypeFile || lc.BOMRef == "" {
						continue
					}
					if _, seen := comps[lc.BOMRef]; !seen {
						comps[lc.BOMRef] = lc
					}
				}
			}
			if vb.Dependencies != nil {
				for _, d := range *vb.Dependencies {
					var on []string
					if d.Dependencies != nil {
						for _, x := range *d.Dependencies {
							if _, ok := comps[x]; ok {
								on = append(on, x)
							}
						}
					}
					from := d.Ref
					if from == subject {
						from = ref
					} else if _, ok := comps[from]; !ok {
						continue
					}
					depend(from, on...)
				}
			}
		}
		comps[ref] = c
	}
	refs := make([]string, 0, len(comps))
	for r := range comps {
		refs = append(refs, r)
	}
	sort.Strings(refs)
	list := make([]cdx.Component, 0, len(refs))
	for _, r := range refs {
		list = append(list, comps[r])
	}
	bom.Components = &list
	from := make([]string, 0, len(deps))
	for f := range deps {
		from = append(from, f)
	}
	sort.Strings(from)
	var dl []cdx.Dependency
	for _, f := range from {
		on := make([]string, 0, len(deps[f]))
		for t := range deps[f] {
			on = append(on, t)
		}
		sort.Strings(on)
		d := cdx.Dependency{Ref: f}
		if len(on) > 0 {
			d.Dependencies = &on
		}
		dl = append(dl, d)
	}
	bom.Dependencies = &dl

	// The BOM is built as 1.6: no version conversion is needed, and
	// canonjson fixes the bytes.
	raw, err := json.Marshal(bom)
	if err != nil {
		return nil, fmt.Errorf("encoding the release SBOM: %w", err)
	}
	return canonjson.Reformat(raw)
}
