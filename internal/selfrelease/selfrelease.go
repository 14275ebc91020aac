// Package selfrelease builds udos-dist's own release: its programs
// (udos-lib, registry-gen and the three action programs) for Linux and
// macOS on amd64 and arm64, reproducibly (CGO off, -trimpath, no build id;
// the VCS stamp is the commit's own revision and time and, at a tag, its
// version, the same on every checkout: two builds of a tag give the same
// bytes), one tar.gz per
// program and platform, a CycloneDX SBOM of the Go modules read from the
// binaries' build info, SHA256SUMS and SHA512SUMS, a detached OpenPGP
// signature of every file, install.sh, which downloads a program, checks
// it against the key and the digests it embeds, and installs it, and a
// Homebrew formula for udos-lib.
package selfrelease

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"text/template"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/fredbook/udos-dist/internal/assetname"
	"github.com/fredbook/udos-dist/internal/atomicfile"
	"github.com/fredbook/udos-dist/internal/checksum"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/tarball"

	_ "embed"
)

// Program is one main package of the repository.
type Program struct {
	Name string // "udos-lib"
	Pkg  string // "./cmd/udos-lib"
}

// Programs are what a release ships.
var Programs = []Program{
	{"udos-lib", "./cmd/udos-lib"},
	{"registry-gen", "./cmd/registry-gen"},
	{"build-variant", "./actions/build-variant"},
	{"publish-library", "./actions/publish-library"},
	{"sonic-iso", "./actions/sonic-iso"},
}

// Platform is a GOOS/GOARCH pair.
type Platform struct{ OS, Arch string }

func (p Platform) String() string { return p.OS + "-" + p.Arch }

// Platforms are the release's targets.
var Platforms = []Platform{{"linux", "amd64"}, {"linux", "arm64"}, {"darwin", "amd64"}, {"darwin", "arm64"}}

// Config is one release build.
type Config struct {
	Version string // "0.9.0" (without "v")
	// Module is the repository's root (where go.mod is).
	Module    string
	Output    string
	Programs  []Program  // default Programs
	Platforms []Platform // default Platforms
	// Go is the go command (default "go"); Env the environment it runs
	// with (the caller's, passed in), to which GOOS, GOARCH and
	// CGO_ENABLED=0 are added.
	Go  string
	Env []string
	// SourceDate is every archive entry's mtime and the SBOM's timestamp.
	SourceDate time.Time
	// Signer signs every file; PublicKey (armored) is embedded in
	// install.sh. Without a Signer nothing is signed and no install.sh is
	// written.
	Signer    *pgpsign.Signer
	PublicKey []byte
	// BaseURL is where install.sh downloads from by default
	// (https://github.com/OWNER/REPO/releases/download/vVERSION).
	BaseURL string
	Log     io.Writer
}

// Result lists the files written, in order.
type Result struct {
	Archives []string
	SBOM     string
	Install  string
	Formula  string // udos-lib.rb, when udos-lib is built for macOS or Linux
	Sums     []string
	Files    []string // everything, signatures included
}

// ArchiveName is one program's archive: udos-lib-v0.9.0-linux-amd64.tar.gz.
func ArchiveName(program, version string, p Platform) string {
	return program + "-v" + strings.TrimPrefix(version, "v") + "-" + p.String() + ".tar.gz"
}

func (c *Config) logf(format string, args ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, format+"\n", args...)
	}
}

// Build runs the whole release build into cfg.Output.
func Build(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Version == "" || cfg.Output == "" || cfg.Module == "" {
		return nil, fmt.Errorf("selfrelease: Version, Module and Output are required")
	}
	cfg.Version = strings.TrimPrefix(cfg.Version, "v")
	if cfg.Programs == nil {
		cfg.Programs = Programs
	}
	if cfg.Platforms == nil {
		cfg.Platforms = Platforms
	}
	if cfg.Go == "" {
		cfg.Go = "go"
	}
	if err := os.MkdirAll(cfg.Output, 0o755); err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "selfrelease-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	res := &Result{}
	var infos []*buildinfo.BuildInfo
	for _, p := range cfg.Platforms {
		for _, prog := range cfg.Programs {
			bin := filepath.Join(work, p.String(), prog.Name)
			if err := cfg.goBuild(ctx, prog, p, bin); err != nil {
				return nil, err
			}
			bi, err := buildinfo.ReadFile(bin)
			if err != nil {
				return nil, fmt.Errorf("reading the build info of %s: %w", prog.Name, err)
			}
			infos = append(infos, bi)
			name := ArchiveName(prog.Name, cfg.Version, p)
			path := filepath.Join(cfg.Output, name)
			if err := writeArchive(path, prog.Name, bin, cfg.SourceDate); err != nil {
				return nil, err
			}
			cfg.logf("built %s", name)
			res.Archives = append(res.Archives, path)
		}
	}
	sbomPath := filepath.Join(cfg.Output, "udos-dist-v"+cfg.Version+".cdx.json")
	if err := writeSBOM(sbomPath, cfg.Version, cfg.SourceDate, infos); err != nil {
		return nil, err
	}
	res.SBOM = sbomPath
	payload := append(append([]string{}, res.Archives...), sbomPath)
	if cfg.Signer != nil {
		inst := filepath.Join(cfg.Output, "install.sh")
		if err := writeInstaller(inst, cfg, res.Archives); err != nil {
			return nil, err
		}
		res.Install = inst
		payload = append(payload, inst)
	}
	if f, err := writeFormula(cfg, res.Archives); err != nil {
		return nil, err
	} else if f != "" {
		res.Formula = f
		payload = append(payload, f)
	}
	if res.Sums, err = checksum.MergeFiles(cfg.Output, payload...); err != nil {
		return nil, err
	}
	res.Files = append(append([]string{}, payload...), res.Sums...)
	if cfg.Signer != nil {
		for _, f := range append(append([]string{}, payload...), res.Sums...) {
			asc, err := pgpsign.SignFile(cfg.Signer, f)
			if err != nil {
				return nil, err
			}
			res.Files = append(res.Files, asc)
		}
	}
	return res, nil
}

// goBuild compiles one program reproducibly: no cgo, no paths, no build
// id, stripped, the release version stamped.
func (c *Config) goBuild(ctx context.Context, prog Program, p Platform, out string) error {
	// The version is stamped so `udos-lib --version` names the release a
	// -trimpath build from a checkout would otherwise call "(devel)".
	cmd := exec.CommandContext(ctx, c.Go, "build", "-trimpath",
		"-ldflags=-buildid= -s -w -X github.com/fredbook/udos-dist/internal/cmd/version.stamped="+c.Version, "-o", out, prog.Pkg)
	cmd.Dir = c.Module
	cmd.Env = append(append([]string{}, c.Env...), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Arch, "GOFLAGS=-mod=readonly")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s for %s: %w\n%s", prog.Pkg, p, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

func writeArchive(path, name, bin string, mtime time.Time) error {
	e, err := tarball.File(name, bin)
	if err != nil {
		return err
	}
	e.Mode = 0o755
	return atomicfile.Write(path, 0o644, func(w io.Writer) error {
		return tarball.Write(w, []tarball.Entry{e}, tarball.Options{MTime: mtime, Level: 9})
	})
}

// writeSBOM lists the Go modules compiled into the binaries (the union of
// their build info), sorted, with the module checksums go.sum recorded.
func writeSBOM(path, version string, ts time.Time, infos []*buildinfo.BuildInfo) error {
	mods := map[string]*cdx.Component{}
	var mainPath, goVersion string
	for _, bi := range infos {
		mainPath, goVersion = bi.Main.Path, bi.GoVersion
		for _, d := range bi.Deps {
			m := d
			if d.Replace != nil {
				m = d.Replace
			}
			key := m.Path + "@" + m.Version
			if _, ok := mods[key]; ok {
				continue
			}
			c := &cdx.Component{Type: cdx.ComponentTypeLibrary, Name: m.Path, Version: m.Version,
				PackageURL: "pkg:golang/" + m.Path + "@" + m.Version, BOMRef: "pkg:golang/" + m.Path + "@" + m.Version}
			if m.Sum != "" {
				c.Properties = &[]cdx.Property{{Name: "go:sum", Value: m.Sum}}
			}
			mods[key] = c
		}
	}
	keys := slices.Sorted(maps.Keys(mods))
	comps := make([]cdx.Component, 0, len(keys))
	for _, k := range keys {
		comps = append(comps, *mods[k])
	}
	bom := cdx.NewBOM()
	bom.SerialNumber = ""
	bom.Metadata = &cdx.Metadata{
		Timestamp: ts.UTC().Format(time.RFC3339),
		Component: &cdx.Component{Type: cdx.ComponentTypeApplication, Name: mainPath, Version: "v" + version,
			BOMRef: "pkg:golang/" + mainPath + "@v" + version, PackageURL: "pkg:golang/" + mainPath + "@v" + version,
			Properties: &[]cdx.Property{{Name: "go:version", Value: goVersion}}},
	}
	bom.Components = &comps
	var buf bytes.Buffer
	enc := cdx.NewBOMEncoder(&buf, cdx.BOMFileFormatJSON)
	enc.SetPretty(true)
	if err := enc.EncodeVersion(bom, cdx.SpecVersion1_6); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, buf.Bytes(), 0o644)
}

//go:embed install.sh.tmpl
var installTemplate string

// writeInstaller writes install.sh with the release key and every
// archive's sha256 embedded.
func writeInstaller(path string, cfg Config, archives []string) error {
	type entry struct{ Name, SHA256 string }
	var list []entry
	for _, a := range archives {
		d, err := checksum.File(a)
		if err != nil {
			return err
		}
		list = append(list, entry{filepath.Base(a), d.SHA256})
	}
	t, err := template.New("install.sh").Parse(installTemplate)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	err = t.Execute(&buf, map[string]any{
		"Version": cfg.Version, "BaseURL": cfg.BaseURL, "Key": strings.TrimSpace(string(cfg.PublicKey)),
		"Archives": list, "Sig": assetname.SignatureExt,
	})
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, buf.Bytes(), 0o755)
}

// ActionPrograms are the programs whose action folders carry a
// prebuilt.sha256.
var ActionPrograms = []string{"build-variant", "publish-library", "sonic-iso"}

// WriteActionDigests records the release's archives of each action program
// in <module>/actions/<program>/prebuilt.sha256 (sha256sum format, entries
// of other versions kept), the list the action checks a downloaded program
// against. Run before tagging: the tag's reproducible build gives the same
// digests, so the list committed with the action matches the release.
func WriteActionDigests(module string, res *Result, programs []string) ([]string, error) {
	var written []string
	for _, prog := range programs {
		var lines []checksum.Line
		for _, a := range res.Archives {
			name := filepath.Base(a)
			if !strings.HasPrefix(name, prog+"-v") {
				continue
			}
			d, err := checksum.File(a)
			if err != nil {
				return nil, err
			}
			lines = append(lines, checksum.Line{Digest: d.SHA256, Name: name})
		}
		if len(lines) == 0 {
			continue
		}
		path := filepath.Join(module, "actions", prog, "prebuilt.sha256")
		if err := checksum.MergeFile(path, checksum.SHA256, lines...); err != nil {
			return nil, err
		}
		written = append(written, path)
	}
	return written, nil
}

//go:embed formula.rb.tmpl
var formulaTemplate string

// writeFormula writes udos-lib.rb: the Homebrew formula installing the
// prebuilt udos-lib of the release for the machine's OS and architecture.
func writeFormula(cfg Config, archives []string) (string, error) {
	type bottle struct{ URL, SHA256 string }
	found := map[string]*bottle{} // a pointer: a missing platform is nil in the template
	for _, a := range archives {
		for _, p := range cfg.Platforms {
			if filepath.Base(a) == ArchiveName("udos-lib", cfg.Version, p) {
				d, err := checksum.File(a)
				if err != nil {
					return "", err
				}
				found[p.String()] = &bottle{strings.TrimSuffix(cfg.BaseURL, "/") + "/" + filepath.Base(a), d.SHA256}
			}
		}
	}
	if len(found) == 0 {
		return "", nil
	}
	t, err := template.New("formula").Parse(formulaTemplate)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, map[string]any{"Version": cfg.Version, "P": found}); err != nil {
		return "", err
	}
	path := filepath.Join(cfg.Output, "udos-lib.rb")
	return path, atomicfile.WriteFile(path, buf.Bytes(), 0o644)
}
