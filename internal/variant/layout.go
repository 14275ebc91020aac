package variant

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/fredbook/udos-dist/internal/tarball"
)

// Options are the settings of one layout.
type Options struct {
	// Version is the uDOS version being released ("1.4.6").
	Version string
	// Compose settings for the generated docker-compose.yml.
	Compose ComposeOptions
}

// Missing is a declared path the checkout does not have.
type Missing struct {
	Path       string
	Looked     []string
	Required   bool
	EntryPoint bool
	Note       string
}

func (m Missing) String() string {
	what := "path"
	if m.EntryPoint {
		what = "entry point"
	}
	s := fmt.Sprintf("%s %s is missing (looked for %s)", what, m.Path, strings.Join(m.Looked, ", "))
	if m.Note != "" {
		s += ": " + m.Note
	}
	return s
}

// MissingError lists the required paths a checkout lacks.
type MissingError struct {
	Variant string
	Source  string
	Missing []Missing
	Origin  string // where the definition came from
}

func (e *MissingError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "variant %s: %d required path(s) missing from %s", e.Variant, len(e.Missing), e.Source)
	for _, m := range e.Missing {
		b.WriteString("\n  - " + m.String())
	}
	fmt.Fprintf(&b, "\n(add them to the checkout, or override the definition in %s)", FileName)
	return b.String()
}

// Layout is a variant laid out from a checkout.
type Layout struct {
	Variant *Variant
	Version string
	// Root is the archive's single top-level directory.
	Root string
	// Entries are the archive's entries, sorted, all under Root/.
	Entries []tarball.Entry
	// Missing are the optional paths the checkout lacks (warnings).
	Missing []Missing
	// Requirements are the Python requirement files present in the variant,
	// relative to Root, in definition order.
	Requirements []string
	// Sources maps each regular file (relative to Root) to its path in the
	// checkout; generated files map to "".
	Sources map[string]string
}

// Files returns the regular-file entries.
func (l *Layout) Files() []tarball.Entry {
	var out []tarball.Entry
	for _, e := range l.Entries {
		if !e.IsDir() {
			out = append(out, e)
		}
	}
	return out
}

// Layout lists the archive entries of the variant built from the checkout at
// src. Every required path must be found; the optional ones that are not are
// reported in Layout.Missing. The result depends only on the files' contents
// and executable bits, never on mtimes, owners or the order of directories.
func (v *Variant) Layout(src string, opts Options) (*Layout, error) {
	version := strings.TrimPrefix(opts.Version, "v")
	if version == "" {
		return nil, fmt.Errorf("variant %s: no version given", v.Name)
	}
	if fi, err := os.Stat(src); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("variant %s: source %q is not a directory", v.Name, src)
	}
	l := &Layout{Variant: v, Version: version, Root: RootDir(v.Name, version), Sources: map[string]string{}}
	entries := map[string]tarball.Entry{}
	var missingRequired []Missing

	add := func(e tarball.Entry, source string) error {
		name := strings.TrimSuffix(e.Name, "/")
		if prev, ok := entries[name]; ok {
			if prev.IsDir() && e.IsDir() {
				return nil
			}
			if l.Sources[name] == source && source != "" {
				return nil // declared twice from the same place (wizard/ and wizard/requirements.txt)
			}
			return fmt.Errorf("variant %s: %s would come from both %q and %q", v.Name, name, orGenerated(l.Sources[name]), orGenerated(source))
		}
		entries[name] = e
		if !e.IsDir() {
			l.Sources[name] = source
		}
		return nil
	}

	for _, p := range v.Paths {
		found := ""
		for _, cand := range p.Sources() {
			fi, err := os.Stat(fromSlash(src, cand))
			if err == nil && fi.IsDir() == p.IsDir() && (fi.IsDir() || fi.Mode().IsRegular()) {
				found = cand
				break
			}
		}
		if found == "" {
			m := Missing{Path: p.Path, Looked: p.Sources(), Required: p.Required, EntryPoint: p.EntryPoint, Note: p.Note}
			if p.Required {
				missingRequired = append(missingRequired, m)
			} else {
				l.Missing = append(l.Missing, m)
			}
			continue
		}
		dst := strings.TrimSuffix(p.Path, "/")
		if !p.IsDir() {
			disk := fromSlash(src, found)
			e, err := tarball.File(dst, disk)
			if err != nil {
				return nil, fmt.Errorf("variant %s: %w", v.Name, err)
			}
			if p.EntryPoint {
				e.Mode |= 0o755
			}
			if err := add(e, disk); err != nil {
				return nil, err
			}
			continue
		}
		root := fromSlash(src, found)
		list, err := tarball.FromDir(root, func(rel string, d fs.DirEntry) bool {
			return !v.excluded(d.Name())
		})
		if err != nil {
			return nil, fmt.Errorf("variant %s: copying %s: %w", v.Name, found, err)
		}
		if err := add(tarball.Dir(dst), ""); err != nil {
			return nil, err
		}
		for _, e := range list {
			disk := fromSlash(root, e.Name)
			e.Name = dst + "/" + e.Name
			if e.IsDir() {
				disk = ""
			}
			if err := add(e, disk); err != nil {
				return nil, err
			}
		}
	}
	if len(missingRequired) > 0 {
		return nil, &MissingError{Variant: v.Name, Source: src, Missing: missingRequired}
	}

	for _, g := range v.Generate {
		var data []byte
		var err error
		switch g {
		case "version.json":
			data, err = VersionFile(version, v.Name)
		case "docker-compose.yml":
			data, err = Compose(version, opts.Compose)
		default:
			err = fmt.Errorf("cannot generate %q", g)
		}
		if err != nil {
			return nil, fmt.Errorf("variant %s: generating %s: %w", v.Name, g, err)
		}
		if err := add(tarball.Bytes(g, 0o644, data), ""); err != nil {
			return nil, err
		}
	}

	// Every file's parent directories are entries too, so that extraction
	// does not depend on the umask for them.
	for name := range entries {
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			if _, ok := entries[d]; !ok {
				entries[d] = tarball.Dir(d)
			}
		}
	}
	list := make([]tarball.Entry, 0, len(entries))
	for _, e := range entries {
		list = append(list, e)
	}
	tarball.Sort(list)
	l.Entries = tarball.Prefix(l.Root, list)

	for _, r := range v.Requirements {
		if e, ok := entries[r]; ok && !e.IsDir() {
			l.Requirements = append(l.Requirements, r)
		}
	}
	sort.SliceStable(l.Missing, func(i, j int) bool { return l.Missing[i].Path < l.Missing[j].Path })
	return l, nil
}

func orGenerated(s string) string {
	if s == "" {
		return "(generated)"
	}
	return s
}

// VersionFile returns the variant's own version.json:
// {"variant": "core-slim", "version": "1.4.6"} (keys sorted, indented).
func VersionFile(version, variant string) ([]byte, error) {
	data, err := json.MarshalIndent(map[string]string{"version": version, "variant": variant}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// ReadVersion returns the version ("1.4.6") recorded in the checkout's
// version.json, which may have the repository's nested shape
// ({"version": {"major": 1, "minor": 4, "patch": 6}, ...}) or the spec's flat
// one ({"version": "1.4.6"}).
func ReadVersion(src string) (string, error) {
	p := fromSlash(src, "version.json")
	data, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("reading uDOS version: %w", err)
	}
	var doc struct {
		Version json.RawMessage `json:"version"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return "", fmt.Errorf("reading uDOS version from %q: %w", p, err)
	}
	var flat string
	if err := json.Unmarshal(doc.Version, &flat); err == nil && flat != "" {
		return strings.TrimPrefix(flat, "v"), nil
	}
	var nested struct {
		Major, Minor, Patch *int
	}
	if err := json.Unmarshal(doc.Version, &nested); err == nil && nested.Major != nil && nested.Minor != nil && nested.Patch != nil {
		return fmt.Sprintf("%d.%d.%d", *nested.Major, *nested.Minor, *nested.Patch), nil
	}
	return "", fmt.Errorf("reading uDOS version from %q: \"version\" is neither \"X.Y.Z\" nor {\"major\", \"minor\", \"patch\"}", p)
}

// ErrVersionMismatch is returned (wrapped) by CheckVersion.
var ErrVersionMismatch = errors.New("version mismatch")

// CheckVersion compares the version being released (from the tag) with the
// checkout's version.json, so that a tag on the wrong commit fails loudly.
func CheckVersion(src, version string) error {
	have, err := ReadVersion(src)
	if err != nil {
		return err
	}
	want := strings.TrimPrefix(version, "v")
	// A pre-release tag (v1.4.6-rc.1) of the version in version.json is fine:
	// version.json names the version being prepared.
	core, _, _ := strings.Cut(strings.SplitN(want, "+", 2)[0], "-")
	if have != want && have != core {
		return fmt.Errorf("%w: releasing %s but version.json says %s", ErrVersionMismatch, want, have)
	}
	return nil
}
