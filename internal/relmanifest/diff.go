package relmanifest

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// ChangeKind says how a variant changed between two releases.
type ChangeKind string

// The kinds of change Diff reports.
const (
	Added   ChangeKind = "added"
	Removed ChangeKind = "removed"
	Changed ChangeKind = "changed"
)

// Change is one difference between two manifests. For Changed, Field names
// the field ("size", "minimum_python", ...) and From/To hold its values as
// text; Added and Removed concern a whole variant.
type Change struct {
	Variant string
	Kind    ChangeKind
	Field   string
	From    string
	To      string
}

func (c Change) String() string {
	switch c.Kind {
	case Added:
		return fmt.Sprintf("%s: new variant", c.Variant)
	case Removed:
		return fmt.Sprintf("%s: variant removed", c.Variant)
	}
	return fmt.Sprintf("%s: %s %s → %s", c.Variant, c.Field, orNone(c.From), orNone(c.To))
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// Diff lists what changed for users upgrading from prev to cur: variants
// added or removed, and for the others the fields that matter to an upgrade
// (size, requirements, platforms, boot flags, SBOM format). Digests and URLs
// always change between versions and are not reported. The result is sorted
// by variant, then in field order.
func Diff(prev, cur *Manifest) []Change {
	var out []Change
	names := map[string]bool{}
	for _, n := range prev.Names() {
		names[n] = true
	}
	for _, n := range cur.Names() {
		names[n] = true
	}
	all := slices.Sorted(maps.Keys(names))
	for _, n := range all {
		p, inPrev := prev.Variants[n]
		c, inCur := cur.Variants[n]
		switch {
		case !inPrev:
			out = append(out, Change{Variant: n, Kind: Added})
		case !inCur:
			out = append(out, Change{Variant: n, Kind: Removed})
		default:
			out = append(out, fieldChanges(n, p, c)...)
		}
	}
	return out
}

func fieldChanges(name string, p, c Variant) []Change {
	var out []Change
	add := func(field, from, to string) {
		if from != to {
			out = append(out, Change{Variant: name, Kind: Changed, Field: field, From: from, To: to})
		}
	}
	add("size", strconv.FormatInt(p.Size, 10), strconv.FormatInt(c.Size, 10))
	add("minimum_python", p.MinimumPython, c.MinimumPython)
	add("requires_docker", strconv.FormatBool(p.RequiresDocker), strconv.FormatBool(c.RequiresDocker))
	add("platforms", strings.Join(p.Platforms, ", "), strings.Join(c.Platforms, ", "))
	add("bootable", boolText(p.Bootable), boolText(c.Bootable))
	add("uefi_supported", boolText(p.UEFISupported), boolText(c.UEFISupported))
	add("bios_fallback", boolText(p.BIOSFallback), boolText(c.BIOSFallback))
	add("sbom", sbomText(p.SBOM), sbomText(c.SBOM))
	return out
}

func boolText(b *bool) string {
	if b == nil {
		return ""
	}
	return strconv.FormatBool(*b)
}

func sbomText(s *SBOM) string {
	if s == nil {
		return ""
	}
	return strings.TrimSpace(s.Format + " " + s.SpecVersion)
}

// Notes renders the upgrade section of release notes in Markdown: the
// variants of cur with their sizes, then what changed since prev (nil when
// there is no previous release).
func Notes(prev, cur *Manifest) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## uDOS v%s\n\n", cur.Version)
	b.WriteString("| variant | file | size | platforms | python | docker |\n| --- | --- | ---: | --- | --- | --- |\n")
	for _, n := range cur.Names() {
		v := cur.Variants[n]
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s | %s |\n", n, v.Filename, humanSize(v.Size),
			strings.Join(v.Platforms, ", "), orDash(v.MinimumPython), yesNo(v.RequiresDocker))
	}
	b.WriteString("\n")
	if prev == nil {
		b.WriteString("### Upgrade path\n\nNo previous release manifest was found: this is the first release with one.\n")
		return b.String()
	}
	fmt.Fprintf(&b, "### Upgrade path from v%s\n\n", prev.Version)
	changes := Diff(prev, cur)
	if len(changes) == 0 {
		b.WriteString("No variant changed its requirements, platforms or layout flags.\n")
		return b.String()
	}
	for _, c := range changes {
		if c.Kind == Changed && c.Field == "size" {
			from, _ := strconv.ParseInt(c.From, 10, 64)
			to, _ := strconv.ParseInt(c.To, 10, 64)
			fmt.Fprintf(&b, "- %s: size %s → %s (%+.1f%%)\n", c.Variant, humanSize(from), humanSize(to), pct(from, to))
			continue
		}
		fmt.Fprintf(&b, "- %s\n", c)
	}
	return b.String()
}

func pct(from, to int64) float64 {
	if from == 0 {
		return 0
	}
	return float64(to-from) * 100 / float64(from)
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return "≥ " + s
}

func yesNo(b bool) string {
	if b {
		return "required"
	}
	return "no"
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
