// Package homebrew writes the Homebrew formula of a uDOS variant for the
// fredbook/udos tap (`brew tap fredbook/udos && brew install udos-core-slim`):
// the release archive's URL and sha256, the version, and install steps that
// keep the tree under libexec, give it its own Python virtualenv with the
// variant's requirements, and link the variant's entry points into bin.
//
// The virtualenv is libexec/.venv because that is where uDOS's own
// bin/udos looks for its Python (REPO_ROOT/.venv/bin/python, else `uv
// run`): a venv anywhere else leaves the installed commands exiting 127.
// The install steps are data (Steps), rendered into the formula's Ruby and
// carried out as they are by the tests in a temporary prefix.
package homebrew

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"
)

// Formula describes one formula.
type Formula struct {
	// Name is the formula name, also its file name without ".rb": "udos-core-slim".
	Name        string
	Description string
	Homepage    string
	URL         string
	SHA256      string
	Version     string
	License     string // SPDX id; empty leaves the line out
	// MinimumPython is the variant's minimum Python ("3.9"); the formula
	// depends on a Homebrew Python at least that new.
	MinimumPython string
	// EntryPoints are the executables to link into bin, relative to the
	// archive root ("bin/udos"). Python scripts (*.py) are left in libexec.
	EntryPoints []string
	// Requirements are the pip requirement files to install into the
	// formula's virtualenv, relative to the archive root.
	Requirements []string
	// Packages are requirement specifiers to install as well (core's
	// dependencies from pyproject.udos.toml: "rich>=13.0.0").
	Packages []string
}

// VenvDir is the formula's virtualenv, relative to libexec: where uDOS's
// bin/udos looks for its Python.
const VenvDir = ".venv"

// Step is one install step of the formula, in the order brew runs them.
type Step struct {
	// Op is "install-tree" (the archive's contents into libexec), "venv"
	// (a virtualenv at libexec/Path), "pip" (pip install Args into the
	// venv) or "env-script" (bin/Name runs libexec/Path with the venv's
	// bin first on PATH and UDOS_ROOT set to libexec).
	Op   string
	Path string
	Name string
	Args []string
}

// Steps returns the install steps.
func (f Formula) Steps() []Step {
	steps := []Step{{Op: "install-tree"}, {Op: "venv", Path: VenvDir}}
	for _, r := range f.Requirements {
		steps = append(steps, Step{Op: "pip", Args: []string{"-r", r}})
	}
	if len(f.Packages) > 0 {
		steps = append(steps, Step{Op: "pip", Args: append([]string(nil), f.Packages...)})
	}
	for _, l := range f.links() {
		steps = append(steps, Step{Op: "env-script", Name: l.Name, Path: l.Path})
	}
	return steps
}

func (f Formula) links() []link {
	var links []link
	seen := map[string]bool{}
	eps := append([]string(nil), f.EntryPoints...)
	sort.Strings(eps)
	for _, ep := range eps {
		name := path.Base(ep)
		if strings.HasSuffix(name, ".py") || seen[name] {
			continue
		}
		seen[name] = true
		links = append(links, link{Name: name, Path: ep})
	}
	return links
}

// FileName returns "<name>.rb".
func (f Formula) FileName() string { return f.Name + ".rb" }

// ClassName turns a formula name into Homebrew's class name:
// "udos-core-slim" → "UdosCoreSlim", "python@3.12" → "PythonAT312".
func ClassName(name string) string {
	var b strings.Builder
	upper := true
	for _, r := range strings.ReplaceAll(name, "@", "AT") {
		switch {
		case r == '-' || r == '_' || r == '.':
			upper = true
		case upper:
			b.WriteString(strings.ToUpper(string(r)))
			upper = false
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// defaultPython is the Homebrew Python the formula uses unless the variant
// needs a newer one.
const defaultPython = "3.12"

// PythonFormula returns the Homebrew Python formula for a minimum version.
func PythonFormula(minimum string) (string, error) {
	if minimum == "" {
		return "python@" + defaultPython, nil
	}
	if !regexp.MustCompile(`^3\.[0-9]+$`).MatchString(minimum) {
		return "", fmt.Errorf("minimum python %q: want 3.N", minimum)
	}
	minor, _ := strconv.Atoi(strings.TrimPrefix(minimum, "3."))
	def, _ := strconv.Atoi(strings.TrimPrefix(defaultPython, "3."))
	if minor > def {
		return "python@" + minimum, nil
	}
	return "python@" + defaultPython, nil
}

var (
	nameRe    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	versionRe = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$`)
	relRe     = regexp.MustCompile(`^[A-Za-z0-9._/-]+$`)
	// A PEP 508 requirement (markers allowed) without a URL or an option.
	packageRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._\[\],<>=!~*+;'" ()-]*$`)
)

func (f Formula) validate() error {
	if !nameRe.MatchString(f.Name) {
		return fmt.Errorf("formula name %q: want lower-case letters, digits and dashes", f.Name)
	}
	if !versionRe.MatchString(f.Version) {
		return fmt.Errorf("formula %s: version %q is not X.Y.Z", f.Name, f.Version)
	}
	if !strings.HasPrefix(f.URL, "https://") && !strings.HasPrefix(f.URL, "http://") && !strings.HasPrefix(f.URL, "file://") {
		return fmt.Errorf("formula %s: url %q must be absolute", f.Name, f.URL)
	}
	if b, err := hex.DecodeString(f.SHA256); err != nil || len(b) != 32 || strings.ToLower(f.SHA256) != f.SHA256 {
		return fmt.Errorf("formula %s: sha256 %q is not 64 lower-case hex digits", f.Name, f.SHA256)
	}
	for _, p := range append(append([]string{}, f.EntryPoints...), f.Requirements...) {
		if !relRe.MatchString(p) || strings.HasPrefix(p, "/") || strings.Contains(p, "..") {
			return fmt.Errorf("formula %s: path %q is not a plain relative path", f.Name, p)
		}
	}
	for _, p := range f.Packages {
		if !packageRe.MatchString(p) || strings.Contains(p, "://") {
			return fmt.Errorf("formula %s: package %q is not a plain requirement specifier", f.Name, p)
		}
	}
	return nil
}

// rubyString quotes s as a Ruby double-quoted literal without interpolation.
func rubyString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `#`, `\#`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

var tmpl = template.Must(template.New("formula").Funcs(template.FuncMap{"q": rubyString, "pipArgs": pipArgs}).Parse(
	`# Generated by udos-dist (build-variant) for uDOS v{{.Version}}; the release
# workflow rewrites it on every release.
class {{.Class}} < Formula
  include Language::Python::Virtualenv

  desc {{q .Description}}
  homepage {{q .Homepage}}
  url {{q .URL}}
  sha256 {{q .SHA256}}
  version {{q .Version}}
{{- if .License}}
  license {{q .License}}
{{- end}}

  depends_on {{q .Python}}

  def install
{{- range .Steps}}
{{- if eq .Op "install-tree"}}
    libexec.install Dir["*"]
{{- else if eq .Op "venv"}}
    # bin/udos runs libexec/.venv/bin/python when it exists (else uv)
    venv = virtualenv_create(libexec/{{q .Path}}, {{q $.PythonBin}})
{{- else if eq .Op "pip"}}
    system venv.root/"bin/python", "-m", "pip", "install", "--no-cache-dir", {{pipArgs .Args}}
{{- else if eq .Op "env-script"}}
    (bin/{{q .Name}}).write_env_script libexec/{{q .Path}}, PATH: "#{venv.root}/bin:$PATH", UDOS_ROOT: libexec
{{- end}}
{{- end}}
  end

  test do
    assert_predicate libexec/"version.json", :exist?
    assert_match version.to_s, (libexec/"version.json").read
{{- range .Links}}
    assert_predicate bin/{{q .Name}}, :executable?
{{- end}}
  end
end
`))

type link struct{ Name, Path string }

// pipArgs renders a pip step's arguments: a requirements file lives in
// libexec, specifiers are plain strings.
func pipArgs(args []string) string {
	if len(args) == 2 && args[0] == "-r" {
		return `"-r", libexec/` + rubyString(args[1])
	}
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = rubyString(a)
	}
	return strings.Join(q, ", ")
}

// Render returns the formula's Ruby source.
func Render(f Formula) ([]byte, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	py, err := PythonFormula(f.MinimumPython)
	if err != nil {
		return nil, fmt.Errorf("formula %s: %w", f.Name, err)
	}
	links := f.links()
	if f.Description == "" {
		f.Description = "uDOS " + strings.TrimPrefix(f.Name, "udos-")
	}
	if f.Homepage == "" {
		f.Homepage = "https://github.com/fredbook/uDOS"
	}
	var b bytes.Buffer
	err = tmpl.Execute(&b, struct {
		Formula
		Class, Python, PythonBin string
		Links                    []link
		Steps                    []Step
	}{f, ClassName(f.Name), py, "python" + strings.TrimPrefix(py, "python@"), links, f.Steps()})
	if err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
