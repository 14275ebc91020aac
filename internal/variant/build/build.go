// Package build is the build-variant pipeline's producers: it lays out a
// uDOS variant from a checkout, archives it reproducibly and describes it
// (SBOM, Homebrew formula), adding each file to the run's artifact list;
// the release tail every job shares (internal/release) then signs,
// describes in the release manifest, checksums and uploads them.
//
// Each concern is one small named pipe.Step, in the manner of GoReleaser's
// pipes, so that the log and the step summary say what ran, what was skipped
// and why, and how long each step took.
package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fredbook/udos-dist/internal/artifact"
	"github.com/fredbook/udos-dist/internal/ghrelease"
	"github.com/fredbook/udos-dist/internal/homebrew"
	"github.com/fredbook/udos-dist/internal/ociimage"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/pipe"
	"github.com/fredbook/udos-dist/internal/release"
	"github.com/fredbook/udos-dist/internal/relmanifest"
	"github.com/fredbook/udos-dist/internal/sbom"
	"github.com/fredbook/udos-dist/internal/tarball"
	"github.com/fredbook/udos-dist/internal/variant"
)

// Config is one build of one variant.
type Config struct {
	Variant string // "core-slim"
	Source  string // the uDOS checkout
	// Version is the version being released ("1.4.6" or "v1.4.6"); it must
	// match the checkout's version.json.
	Version string
	Output  string // directory for the artifacts; created
	// SourceDateEpoch is every archive entry's mtime and the SBOM's timestamp.
	SourceDateEpoch time.Time
	// SigningKey is an armored OpenPGP private key; empty skips signing.
	SigningKey []byte
	Passphrase []byte
	// VariantsFile overrides the built-in definitions; "" means
	// <Source>/udos-variants.json when it exists.
	VariantsFile string
	// Strict turns missing optional paths (such as the spec's bin/ucli in
	// today's repository) into errors.
	Strict  bool
	Compose variant.ComposeOptions
	// Image builds, pushes and pins the Wizard image (image.go); nil
	// ships the compose file building it locally.
	Image *ImageConfig
	// Catalog is the registry's signed catalog, shipped as wizard-full's
	// distribution/local-library-catalog.json when the checkout has none.
	Catalog []byte
	// Level is the gzip level (default 6); Serial selects single-threaded
	// compression (a different, equally reproducible byte stream).
	Level  int
	Serial bool

	// Upload sends the artifacts to the draft release of Tag in Owner/Repo
	// through GitHub (the release stays a draft: Publish publishes it).
	Upload      bool
	GitHub      *ghrelease.Client
	Owner, Repo string
	Tag         string // default "v" + Version
	// ServerURL is the web base for download URLs ("https://github.com").
	ServerURL string

	ToolVersion string
	Log         io.Writer
	Now         func() time.Time
}

// Result is what a build produced.
type Result struct {
	Version string
	Tag     string
	Variant *variant.Variant
	Layout  *variant.Layout
	// Homebrew is the formula the homebrew step rendered.
	Homebrew homebrew.Formula
	Archive  *artifact.Artifact
	SBOM     *artifact.Artifact
	Formula  *artifact.Artifact
	Fragment *artifact.Artifact // the manifest holding only this variant
	// Manifest is <Output>/releases/v<version>-manifest.json, with this
	// variant merged into whatever earlier builds into Output wrote.
	Manifest string
	// Image is the Wizard image pushed (Config.Image).
	Image     *ociimage.Published
	Artifacts []*artifact.Artifact // every file written, in the order written
	Warnings  []string
	Upload    *ghrelease.PublishResult
	Steps     []pipe.Result
}

type state struct {
	cfg    Config
	res    *Result
	arts   artifact.List
	tail   *release.Tail
	signer *pgpsign.Signer
	// fileHashes are the SHA-256 of the archived files, computed while the
	// archive is written so that the SBOM does not read the tree again.
	fileHashes map[string]string
}

// Build runs the pipeline. On failure the returned Result still says which
// steps ran (Result.Steps).
func Build(ctx context.Context, cfg Config) (*Result, error) {
	st := &state{cfg: cfg, res: &Result{}}
	st.tail = release.New(release.Config{}, &st.arts)
	c := &pipe.Context{Log: cfg.Log, Now: cfg.Now, Values: st}
	steps := append([]pipe.Step{setupStep{}, layoutStep{}, imageStep{}, archiveStep{}, sbomStep{}, homebrewStep{}}, st.tail.Steps("upload")...)
	err := pipe.Run(ctx, c, steps...)
	st.res.Steps = c.Results()
	st.res.Artifacts = st.arts.All()
	st.res.Fragment, st.res.Manifest, st.res.Upload = st.tail.Fragment, st.tail.ManifestPath, st.tail.Uploaded
	return st.res, err
}

func stateOf(c *pipe.Context) *state { return c.Values.(*state) }

// setupStep checks the configuration, the version against version.json and
// loads the signing key, so that a bad key fails before minutes of work.
type setupStep struct{}

func (setupStep) String() string { return "setup" }
func (setupStep) Run(_ context.Context, c *pipe.Context) error {
	s := stateOf(c)
	cfg := &s.cfg
	if cfg.Variant == "" || cfg.Source == "" || cfg.Output == "" {
		return errors.New("variant, source and output are required")
	}
	cfg.Version = strings.TrimPrefix(cfg.Version, "v")
	if cfg.Version == "" {
		v, err := variant.ReadVersion(cfg.Source)
		if err != nil {
			return fmt.Errorf("no version given and %w", err)
		}
		cfg.Version = v
	}
	if err := variant.CheckVersion(cfg.Source, cfg.Version); err != nil {
		return err
	}
	if cfg.Tag == "" {
		cfg.Tag = "v" + cfg.Version
	}
	if cfg.SourceDateEpoch.IsZero() {
		return errors.New("SOURCE_DATE_EPOCH is required for a reproducible archive")
	}
	if cfg.Upload && (cfg.GitHub == nil || cfg.Owner == "" || cfg.Repo == "") {
		return errors.New("upload needs a GitHub client and the repository (owner/name)")
	}
	if len(cfg.SigningKey) > 0 {
		signer, err := pgpsign.LoadSigner(cfg.SigningKey, cfg.Passphrase)
		if err != nil {
			return fmt.Errorf("loading the signing key: %w", err)
		}
		s.signer = signer
	}
	if err := os.MkdirAll(cfg.Output, 0o755); err != nil {
		return fmt.Errorf("creating output directory: %w", err)
	}
	s.res.Version, s.res.Tag = cfg.Version, cfg.Tag
	s.tail.Config = release.Config{
		Version: cfg.Version, Tag: cfg.Tag, Job: cfg.Variant, Output: cfg.Output, Time: cfg.SourceDateEpoch,
		Signer: s.signer, Upload: cfg.Upload, GitHub: cfg.GitHub, Owner: cfg.Owner, Repo: cfg.Repo,
		ServerURL: cfg.ServerURL, Log: cfg.Log,
	}
	return nil
}

// layoutStep resolves the variant definition and lists its archive entries.
type layoutStep struct{}

func (layoutStep) String() string { return "layout" }
func (layoutStep) Run(ctx context.Context, c *pipe.Context) error {
	s := stateOf(c)
	file := s.cfg.VariantsFile
	if file == "" {
		file = filepath.Join(s.cfg.Source, variant.FileName)
	} else if _, err := os.Stat(file); err != nil {
		return fmt.Errorf("variants file: %w", err)
	}
	set, err := variant.Load(file)
	if err != nil {
		return err
	}
	v, err := set.Get(s.cfg.Variant)
	if err != nil {
		return err
	}
	l, warnings, err := v.Stage(ctx, s.cfg.Source, variant.Options{Version: s.cfg.Version, Compose: s.cfg.Compose,
		Catalog: s.cfg.Catalog, Time: s.cfg.SourceDateEpoch})
	if err != nil {
		return err
	}
	l.Warnings = warnings
	// What the compose file uses (the inputs over the variants file, else
	// the Dockerfile's HEALTHCHECK), and so the image built for it.
	s.cfg.Compose = l.Compose
	s.res.Variant, s.res.Layout = v, l
	for _, w := range warnings {
		s.res.Warnings = append(s.res.Warnings, fmt.Sprintf("variant %s: %s", v.Name, w))
	}
	if s.cfg.Strict && len(l.Missing) > 0 {
		var ms []string
		for _, m := range l.Missing {
			ms = append(ms, m.String())
		}
		return fmt.Errorf("strict mode: variant %s: %s", v.Name, strings.Join(ms, "; "))
	}
	for _, w := range s.res.Warnings {
		fmt.Fprintf(logOf(c), "  warning: %s\n", w)
	}
	return nil
}

func logOf(c *pipe.Context) io.Writer {
	if c.Log == nil {
		return io.Discard
	}
	return c.Log
}

// archiveStep writes udos-<variant>-v<version>.tar.gz.
type archiveStep struct{}

func (archiveStep) String() string { return "archive" }
func (archiveStep) Run(_ context.Context, c *pipe.Context) error {
	s := stateOf(c)
	l := s.res.Layout
	name := variant.ArchiveName(l.Variant.Name, s.cfg.Version)
	var mu sync.Mutex
	s.fileHashes = map[string]string{}
	entries := make([]tarball.Entry, len(l.Entries))
	prefix := l.Root + "/"
	for i, e := range l.Entries {
		entries[i] = e
		if e.IsDir() {
			continue
		}
		open, rel := e.Open, strings.TrimPrefix(e.Name, prefix)
		entries[i].Open = func() (io.ReadCloser, error) {
			rc, err := open()
			if err != nil {
				return nil, err
			}
			return &hashingReader{rc: rc, h: sha256.New(), done: func(sum string) {
				mu.Lock()
				s.fileHashes[rel] = sum
				mu.Unlock()
			}}, nil
		}
	}
	// The archive's own digests are taken as it is written, in the same pass.
	a, err := artifact.Write(artifact.Archive, filepath.Join(s.cfg.Output, name), func(w io.Writer) error {
		return tarball.Write(w, entries, tarball.Options{MTime: s.cfg.SourceDateEpoch, Level: s.cfg.Level, Parallel: !s.cfg.Serial})
	})
	if err != nil {
		return err
	}
	a.Variant = l.Variant.Name
	a.Entry = &relmanifest.Variant{
		Platforms:      relmanifest.Platforms(l.Variant.Platforms),
		MinimumPython:  l.Variant.MinimumPython,
		RequiresDocker: l.Variant.RequiresDocker,
	}
	s.res.Archive = s.arts.Add(a)
	return nil
}

// hashingReader hashes what is read and reports the digest on Close when
// the whole file was read.
type hashingReader struct {
	rc   io.ReadCloser
	h    hash.Hash
	eof  bool
	done func(string)
}

func (r *hashingReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	r.h.Write(p[:n])
	if err == io.EOF {
		r.eof = true
	}
	return n, err
}

func (r *hashingReader) Close() error {
	if r.eof {
		r.done(hex.EncodeToString(r.h.Sum(nil)))
	}
	return r.rc.Close()
}

// sbomStep writes udos-<variant>-v<version>.cdx.json.
type sbomStep struct{}

func (sbomStep) String() string { return "sbom" }
func (sbomStep) Run(_ context.Context, c *pipe.Context) error {
	s := stateOf(c)
	l := s.res.Layout
	// Every dependency file the variant ships describes what it needs:
	// uv.lock's pins with their hashes and graph, the pyproject and
	// requirements declarations, go.mod, package-lock.json.
	inv := sbom.NewInventory()
	for _, e := range l.Files() {
		rel := strings.TrimPrefix(e.Name, l.Root+"/")
		src := l.Sources[rel]
		if src == "" || !sbom.IsInventoryFile(rel) {
			continue
		}
		data, err := os.ReadFile(src)
		if err != nil {
			return fmt.Errorf("reading %s: %w", rel, err)
		}
		if err := inv.Read(rel, data); err != nil {
			return err
		}
	}
	var files []sbom.File
	for _, e := range l.Files() {
		rel := strings.TrimPrefix(e.Name, l.Root+"/")
		sum, ok := s.fileHashes[rel]
		if !ok {
			return fmt.Errorf("no digest recorded for %s", rel)
		}
		files = append(files, sbom.File{Path: rel, SHA256: sum})
	}
	doc, err := sbom.Generate(sbom.Input{
		Variant: l.Variant.Name, Version: s.cfg.Version,
		Archive: s.res.Archive.Name, ArchiveSHA256: s.res.Archive.SHA256, ArchiveSHA512: s.res.Archive.SHA512,
		Inventory: inv, Files: files, Time: s.cfg.SourceDateEpoch, ToolVersion: s.cfg.ToolVersion,
	})
	if err != nil {
		return err
	}
	a, err := artifact.WriteFile(artifact.SBOM, filepath.Join(s.cfg.Output, sbom.FileName(l.Variant.Name, s.cfg.Version)), doc)
	if err != nil {
		return err
	}
	a.Variant = l.Variant.Name
	s.res.SBOM = s.arts.Add(a)
	// The variant's manifest entry points at its SBOM.
	s.res.Archive.Entry.SBOM = &relmanifest.SBOM{Format: sbom.Format, SpecVersion: sbom.SpecVersion, Filename: a.Name}
	return nil
}

// homebrewStep writes udos-<variant>.rb for the fredbook/udos tap.
type homebrewStep struct{}

func (homebrewStep) String() string { return "homebrew" }
func (homebrewStep) Run(_ context.Context, c *pipe.Context) error {
	s := stateOf(c)
	l := s.res.Layout
	var eps []string
	for _, p := range l.Variant.Paths {
		if _, ok := l.Sources[p.Path]; ok && p.EntryPoint {
			eps = append(eps, p.Path)
		}
	}
	f := homebrew.Formula{
		Name:          "udos-" + l.Variant.Name,
		Description:   strings.TrimSuffix(l.Variant.Description, "."),
		URL:           s.tail.DownloadURL(s.res.Archive.Name),
		SHA256:        s.res.Archive.SHA256,
		Version:       s.cfg.Version,
		MinimumPython: l.Variant.MinimumPython,
		EntryPoints:   eps,
		Requirements:  l.Requirements,
	}
	// uDOS pins core's dependencies in pyproject.udos.toml, not in a
	// requirements file: the formula installs them into its venv too.
	if src := l.Sources["pyproject.udos.toml"]; src != "" {
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		deps, err := sbom.PyprojectDependencies(data)
		if err != nil {
			return fmt.Errorf("pyproject.udos.toml: %w", err)
		}
		for _, d := range deps {
			f.Packages = append(f.Packages, strings.TrimSpace(d))
		}
	}
	if !strings.Contains(f.URL, "://") {
		// Without a repository there is no download URL; the formula then
		// points at the archive next to it, for local testing with brew.
		abs, err := filepath.Abs(s.res.Archive.Path)
		if err != nil {
			return err
		}
		f.URL = "file://" + filepath.ToSlash(abs)
	}
	if s.cfg.Owner != "" && s.cfg.Repo != "" {
		f.Homepage = release.ServerBase(s.cfg.ServerURL) + "/" + s.cfg.Owner + "/" + s.cfg.Repo
	}
	src, err := homebrew.Render(f)
	if err != nil {
		return err
	}
	a, err := artifact.WriteFile(artifact.Formula, filepath.Join(s.cfg.Output, f.FileName()), src)
	if err != nil {
		return err
	}
	a.Variant = l.Variant.Name
	s.res.Formula = s.arts.Add(a)
	s.res.Homebrew = f
	return nil
}
