// Package vulngate is the release's vulnerability gate for the Wizard
// image: it runs the real Trivy over the image (an OCI layout, no Docker
// needed) and fails on fixable HIGH and CRITICAL findings that a reviewed
// ignore file does not excuse. Every ignore entry carries a reason and an
// expiry; an expired entry excuses nothing, so a waiver is looked at
// again instead of hiding a finding for ever.
package vulngate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v4"
)

// Finding is one vulnerability Trivy reported.
type Finding struct {
	ID               string `json:"id"`
	Package          string `json:"package"`
	InstalledVersion string `json:"installed_version"`
	FixedVersion     string `json:"fixed_version,omitempty"`
	Severity         string `json:"severity"`
	Title            string `json:"title,omitempty"`
	Target           string `json:"target"`
}

func (f Finding) String() string {
	s := fmt.Sprintf("%s %s in %s %s", f.ID, f.Severity, f.Package, f.InstalledVersion)
	if f.FixedVersion != "" {
		s += fmt.Sprintf(" (fixed in %s)", f.FixedVersion)
	}
	if f.Title != "" {
		s += ": " + f.Title
	}
	return s
}

// Fixable reports whether a fixed version exists.
func (f Finding) Fixable() bool { return f.FixedVersion != "" }

// ScanOptions tell Scan how to run Trivy.
type ScanOptions struct {
	// Trivy is the program; "" finds trivy on PATH.
	Trivy string
	// Input is the image: an OCI layout folder, or an OCI or docker
	// archive (trivy image --input).
	Input string
	// CacheDir holds Trivy's vulnerability DB (CacheDir/db/trivy.db).
	CacheDir string
	// Offline scans with the DB in CacheDir as it is: no download, no
	// update, nothing over the network.
	Offline bool
	// Env is the environment Trivy runs with (nil: an empty one, so
	// that no proxy or token of the caller leaks into it).
	Env []string
}

// Scan runs Trivy's vulnerability scanner over the image and returns
// every finding, of every severity, sorted by id then package.
func Scan(ctx context.Context, o ScanOptions) ([]Finding, error) {
	bin := o.Trivy
	if bin == "" {
		p, err := exec.LookPath("trivy")
		if err != nil {
			return nil, errors.New("trivy is not on PATH: install it (go install github.com/aquasecurity/trivy/cmd/trivy@v0.74.0)")
		}
		bin = p
	}
	if strings.ContainsAny(o.Input, ":@") {
		// Trivy reads "path:tag" and "path@digest" from --input.
		return nil, fmt.Errorf("image input %q: the path must not contain ':' or '@'", o.Input)
	}
	if _, err := os.Stat(o.Input); err != nil {
		return nil, fmt.Errorf("image input: %w", err)
	}
	args := []string{"image", "--input", o.Input, "--format", "json", "--scanners", "vuln",
		"--quiet", "--no-progress", "--exit-code", "0", "--list-all-pkgs=false"}
	if o.CacheDir != "" {
		args = append(args, "--cache-dir", o.CacheDir)
	}
	if o.Offline {
		args = append(args, "--skip-db-update", "--skip-java-db-update", "--offline-scan", "--skip-version-check")
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = o.Env
	if cmd.Env == nil {
		cmd.Env = []string{"HOME=" + os.TempDir()}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("trivy image --input %s: %w\n%s", o.Input, err, strings.TrimSpace(stderr.String()))
	}
	return parseReport(stdout.Bytes())
}

// report is the part of Trivy's JSON report the gate reads.
type report struct {
	SchemaVersion int `json:"SchemaVersion"`
	Results       []struct {
		Target          string `json:"Target"`
		Vulnerabilities []struct {
			VulnerabilityID  string `json:"VulnerabilityID"`
			PkgName          string `json:"PkgName"`
			InstalledVersion string `json:"InstalledVersion"`
			FixedVersion     string `json:"FixedVersion"`
			Severity         string `json:"Severity"`
			Title            string `json:"Title"`
		} `json:"Vulnerabilities"`
	} `json:"Results"`
}

func parseReport(b []byte) ([]Finding, error) {
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("reading trivy's JSON report: %w", err)
	}
	if r.SchemaVersion != 2 {
		return nil, fmt.Errorf("trivy's report has schema version %d; the gate reads version 2", r.SchemaVersion)
	}
	var out []Finding
	for _, res := range r.Results {
		for _, v := range res.Vulnerabilities {
			out = append(out, Finding{ID: v.VulnerabilityID, Package: v.PkgName, InstalledVersion: v.InstalledVersion,
				FixedVersion: v.FixedVersion, Severity: strings.ToUpper(v.Severity), Title: v.Title, Target: res.Target})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].ID != out[j].ID {
			return out[i].ID < out[j].ID
		}
		return out[i].Package < out[j].Package
	})
	return out, nil
}

// Ignore is one reviewed waiver. The file is Trivy's own
// .trivyignore.yaml shape, so `trivy --ignorefile` reads it too, with
// statement and expired_at required.
type Ignore struct {
	ID string `yaml:"id"`
	// Statement is why the finding does not apply or cannot be fixed yet.
	Statement string `yaml:"statement"`
	// ExpiredAt is when the waiver stops hiding the finding.
	ExpiredAt string `yaml:"expired_at"`
	// Purls narrows the waiver to packages (optional; Trivy's field).
	Purls []string `yaml:"purls,omitempty"`
	// Paths narrows it to files (optional; Trivy's field).
	Paths []string `yaml:"paths,omitempty"`

	expires time.Time
	line    int
}

// Expires is the parsed expiry (the end of that day, UTC, for a date).
func (ig Ignore) Expires() time.Time { return ig.expires }

// IgnoreFile is a parsed ignore file.
type IgnoreFile struct {
	Path    string
	Entries []Ignore
}

type ignoreDoc struct {
	Vulnerabilities   []Ignore    `yaml:"vulnerabilities"`
	Misconfigurations []yaml.Node `yaml:"misconfigurations,omitempty"`
	Secrets           []yaml.Node `yaml:"secrets,omitempty"`
	Licenses          []yaml.Node `yaml:"licenses,omitempty"`
}

// ParseIgnoreFile reads and checks an ignore file: every entry needs an
// id, a statement (the reason) and an expiry; unknown keys and duplicate
// ids are refused, each with its line.
func ParseIgnoreFile(path string) (*IgnoreFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ignore file: %w", err)
	}
	return ParseIgnore(path, b)
}

// ParseIgnore is ParseIgnoreFile for content already read.
func ParseIgnore(path string, b []byte) (*IgnoreFile, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var doc ignoreDoc
	dec, err := yaml.NewLoader(bytes.NewReader(b), yaml.WithKnownFields(true))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := dec.Load(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %v", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	lines := entryLines(&root)
	f := &IgnoreFile{Path: path}
	seen := map[string]int{}
	for i, ig := range doc.Vulnerabilities {
		if i < len(lines) {
			ig.line = lines[i]
		}
		where := fmt.Sprintf("%s:%d", path, ig.line)
		switch {
		case strings.TrimSpace(ig.ID) == "":
			return nil, fmt.Errorf("%s: an entry without id", where)
		case strings.TrimSpace(ig.Statement) == "":
			return nil, fmt.Errorf("%s: %s has no statement: say why it is ignored", where, ig.ID)
		case strings.TrimSpace(ig.ExpiredAt) == "":
			return nil, fmt.Errorf("%s: %s has no expired_at: every waiver needs an expiry (YYYY-MM-DD)", where, ig.ID)
		}
		if prev, dup := seen[ig.ID]; dup && len(ig.Purls) == 0 && len(ig.Paths) == 0 {
			return nil, fmt.Errorf("%s: %s is ignored twice (first at line %d)", where, ig.ID, prev)
		}
		seen[ig.ID] = ig.line
		t, err := parseExpiry(ig.ExpiredAt)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: expired_at %q: want YYYY-MM-DD or RFC 3339", where, ig.ID, ig.ExpiredAt)
		}
		ig.expires = t
		f.Entries = append(f.Entries, ig)
	}
	return f, nil
}

// entryLines returns the line of each item of vulnerabilities:.
func entryLines(root *yaml.Node) []int {
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return nil
	}
	m := root.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "vulnerabilities" {
			var out []int
			for _, it := range m.Content[i+1].Content {
				out = append(out, it.Line)
			}
			return out
		}
	}
	return nil
}

func parseExpiry(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		// A date waives through the end of that day.
		return t.Add(24*time.Hour - time.Nanosecond), nil
	}
	return time.Parse(time.RFC3339, s)
}

// Verdict is the gate's decision.
type Verdict struct {
	// Failing are the fixable HIGH/CRITICAL findings nothing excuses.
	Failing []Finding `json:"failing"`
	// Ignored are the ones an unexpired entry excuses.
	Ignored []Finding `json:"ignored"`
	// Expired are entries whose expiry has passed (they excused nothing).
	Expired []string `json:"expired,omitempty"`
	// Unused are entries that matched no finding (worth removing).
	Unused []string `json:"unused,omitempty"`
	// Below are the findings the gate does not fail on (lower severity,
	// or no fix yet).
	Below int `json:"below"`
}

// Failed reports whether the release must stop.
func (v Verdict) Failed() bool { return len(v.Failing) > 0 }

// GateError is a failed gate; its message names every failing finding.
type GateError struct{ Verdict Verdict }

func (e *GateError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "vulnerability gate: %d fixable HIGH/CRITICAL finding(s):", len(e.Verdict.Failing))
	for _, f := range e.Verdict.Failing {
		fmt.Fprintf(&b, "\n  %s", f)
	}
	for _, x := range e.Verdict.Expired {
		fmt.Fprintf(&b, "\n  (ignore entry %s has expired and no longer hides its finding)", x)
	}
	b.WriteString("\nupdate the packages (rebuild on a newer base image), or add a reviewed entry with a statement and an expiry to the ignore file")
	return b.String()
}

// Gated are the severities the gate fails on.
var Gated = map[string]bool{"HIGH": true, "CRITICAL": true}

// Decide applies the gate at time now: a fixable HIGH or CRITICAL finding
// fails unless an unexpired ignore entry names it (and, when the entry
// lists purls, its package). The error is a *GateError when it fails.
func Decide(findings []Finding, ig *IgnoreFile, now time.Time) (Verdict, error) {
	var v Verdict
	var entries []Ignore
	if ig != nil {
		entries = ig.Entries
	}
	used := map[int]bool{}
	expiredHit := map[int]bool{}
	for _, f := range findings {
		if !Gated[f.Severity] || !f.Fixable() {
			v.Below++
			continue
		}
		excused := false
		for i, e := range entries {
			if e.ID != f.ID || !purlMatch(e.Purls, f.Package) {
				continue
			}
			if now.After(e.expires) {
				expiredHit[i] = true
				continue
			}
			used[i] = true
			excused = true
		}
		if excused {
			v.Ignored = append(v.Ignored, f)
		} else {
			v.Failing = append(v.Failing, f)
		}
	}
	for i, e := range entries {
		switch {
		case now.After(e.expires):
			v.Expired = append(v.Expired, fmt.Sprintf("%s (expired %s, %s:%d)", e.ID, e.ExpiredAt, ig.Path, e.line))
		case !used[i] && !expiredHit[i]:
			v.Unused = append(v.Unused, e.ID)
		}
	}
	if v.Failed() {
		return v, &GateError{Verdict: v}
	}
	return v, nil
}

// purlMatch: no purls means any package; otherwise one must name it
// (pkg:TYPE/[NAMESPACE/]NAME[@VERSION]).
func purlMatch(purls []string, pkg string) bool {
	if len(purls) == 0 {
		return true
	}
	for _, p := range purls {
		rest, _, _ := strings.Cut(strings.TrimPrefix(p, "pkg:"), "@")
		if i := strings.LastIndex(rest, "/"); i >= 0 {
			rest = rest[i+1:]
		}
		if rest == pkg {
			return true
		}
	}
	return false
}
