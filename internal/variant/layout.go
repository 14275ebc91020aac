package variant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/fredbook/udos-dist/internal/tarball"
)

// Options are the settings of one layout.
type Options struct {
	// Version is the uDOS version being released ("1.4.6").
	Version string
	// Compose settings for the generated docker-compose.yml; set fields
	// win over the variants file's.
	Compose ComposeOptions
	// Catalog is the registry's signed catalog to ship as
	// distribution/local-library-catalog.json when the checkout has none;
	// without it an empty valid catalog is supplied.
	Catalog []byte
	// Time stamps what the toolkit supplies (the empty catalog's
	// last_updated): SOURCE_DATE_EPOCH.
	Time time.Time
}

// Missing is a declared path the checkout does not have.
type Missing struct {
	Path       string
	Looked     []string
	Required   bool
	EntryPoint bool
	Note       string
}

func (m Missing) kind() string {
	if m.EntryPoint {
		return "entry point"
	}
	return "path"
}

func (m Missing) String() string {
	what := m.kind()
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
	// Sources maps each regular file (relative to Root) to its path on
	// disk; generated and supplied files map to "".
	Sources map[string]string
	// Closure are the Python modules shipped because shipped code or an
	// entry point imports them, beyond the declared paths.
	Closure []string
	// Git reports whether the checkout was a git work tree (only tracked
	// files shipped).
	Git bool
	// Warnings are what Stage returned.
	Warnings []Warning
	// Compose are the settings of the generated docker-compose.yml: the
	// options given over the variants file's, else the Dockerfile's
	// HEALTHCHECK endpoint, else the spec's defaults (zero fields).
	Compose ComposeOptions
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

// Layout is Stage without a context, for callers that read the warnings
// from Layout.Warnings.
func (v *Variant) Layout(src string, opts Options) (*Layout, error) {
	l, w, err := v.Stage(context.Background(), src, opts)
	if err != nil {
		return nil, err
	}
	l.Warnings = w
	return l, nil
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
