// Package build is the build-variant pipeline: it lays out a uDOS variant
// from a checkout, archives it reproducibly, describes it (SBOM, release
// manifest, Homebrew formula), checksums and signs every artifact and
// uploads them to the draft GitHub Release of the tag. Publish (publish.go)
// is the release job that follows the per-variant builds: it merges their
// manifests, checks the upgrade path from the previous release, signs the
// manifest and the checksum lists and publishes the release.
//
// Each concern is one small named pipe.Step, in the manner of GoReleaser's
// pipes, so that the log and the step summary say what ran, what was skipped
// and why, and how long each step took.
package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
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

	"github.com/fredbook/udos-dist/internal/atomicfile"

	"github.com/fredbook/udos-dist/internal/checksum"
	"github.com/fredbook/udos-dist/internal/ghrelease"
	"github.com/fredbook/udos-dist/internal/homebrew"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/pipe"
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

// Artifact is one file the build wrote.
type Artifact struct {
	Kind   string // archive, sbom, formula, manifest, checksum, signature
	Path   string
	Name   string
	Size   int64
	SHA256 string
	SHA512 string
}

// Result is what a build produced.
type Result struct {
	Version  string
	Tag      string
	Variant  *variant.Variant
	Layout   *variant.Layout
	Archive  Artifact
	SBOM     Artifact
	Formula  Artifact
	Fragment Artifact // the manifest holding only this variant
	// Manifest is <Output>/releases/v<version>-manifest.json, with this
	// variant merged into whatever earlier builds into Output wrote.
	Manifest  string
	Artifacts []Artifact // every file written, in the order written
	Warnings  []string
	Upload    *ghrelease.PublishResult
	Steps     []pipe.Result
}

type state struct {
	cfg    Config
	res    *Result
	signer *pgpsign.Signer
	// fileHashes are the SHA-256 of the archived files, computed while the
	// archive is written so that the SBOM does not read the tree again.
	fileHashes map[string]string
}

func (s *state) add(a Artifact) { s.res.Artifacts = append(s.res.Artifacts, a) }

// Build runs the pipeline. On failure the returned Result still says which
// steps ran (Result.Steps).
func Build(ctx context.Context, cfg Config) (*Result, error) {
	st := &state{cfg: cfg, res: &Result{}}
	c := &pipe.Context{Log: cfg.Log, Now: cfg.Now, Values: st}
	err := pipe.Run(ctx, c,
		setupStep{}, layoutStep{}, archiveStep{}, sbomStep{}, homebrewStep{},
		manifestStep{}, checksumStep{}, signStep{}, uploadStep{})
	st.res.Steps = c.Results()
	if err != nil {
		return st.res, err
	}
	return st.res, nil
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
	return nil
}

// layoutStep resolves the variant definition and lists its archive entries.
type layoutStep struct{}

func (layoutStep) String() string { return "layout" }
func (layoutStep) Run(_ context.Context, c *pipe.Context) error {
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
	l, err := v.Layout(s.cfg.Source, variant.Options{Version: s.cfg.Version, Compose: s.cfg.Compose})
	if err != nil {
		return err
	}
	s.res.Variant, s.res.Layout = v, l
	for _, m := range l.Missing {
		s.res.Warnings = append(s.res.Warnings, fmt.Sprintf("variant %s: %s", v.Name, m))
	}
	if s.cfg.Strict && len(l.Missing) > 0 {
		return fmt.Errorf("strict mode: %s", strings.Join(s.res.Warnings, "; "))
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
	path := filepath.Join(s.cfg.Output, name)
	// The archive's own digests are taken as it is written, in the same pass.
	h256, h512 := sha256.New(), sha512.New()
	var size int64
	err := atomicfile.Write(path, 0o644, func(w io.Writer) error {
		cw := &countingWriter{w: io.MultiWriter(w, h256, h512)}
		err := tarball.Write(cw, entries, tarball.Options{MTime: s.cfg.SourceDateEpoch, Level: s.cfg.Level, Parallel: !s.cfg.Serial})
		size = cw.n
		return err
	})
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	a := Artifact{Kind: "archive", Path: path, Name: name, Size: size,
		SHA256: hex.EncodeToString(h256.Sum(nil)), SHA512: hex.EncodeToString(h512.Sum(nil))}
	s.res.Archive = a
	s.add(a)
	return nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
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
	var reqs []sbom.Requirement
	for _, r := range l.Requirements {
		src := l.Sources[r]
		f, err := os.Open(src)
		if err != nil {
			return fmt.Errorf("reading requirements: %w", err)
		}
		rs, err := sbom.ParseRequirements(f, r)
		f.Close()
		if err != nil {
			return err
		}
		reqs = append(reqs, rs...)
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
		Requirements: reqs, Files: files, Time: s.cfg.SourceDateEpoch, ToolVersion: s.cfg.ToolVersion,
	})
	if err != nil {
		return err
	}
	a, err := writeArtifact("sbom", filepath.Join(s.cfg.Output, sbom.FileName(l.Variant.Name, s.cfg.Version)), doc)
	if err != nil {
		return err
	}
	s.res.SBOM = a
	s.add(a)
	return nil
}

// downloadURL is where a release asset of the tag will be served.
func (s *state) downloadURL(name string) string {
	if s.cfg.Owner == "" || s.cfg.Repo == "" {
		return name
	}
	base := strings.TrimSuffix(s.cfg.ServerURL, "/")
	if base == "" {
		base = "https://github.com"
	}
	return fmt.Sprintf("%s/%s/%s/releases/download/%s/%s", base, s.cfg.Owner, s.cfg.Repo, s.cfg.Tag, name)
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
		URL:           s.downloadURL(s.res.Archive.Name),
		SHA256:        s.res.Archive.SHA256,
		Version:       s.cfg.Version,
		MinimumPython: l.Variant.MinimumPython,
		EntryPoints:   eps,
		Requirements:  l.Requirements,
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
		f.Homepage = strings.TrimSuffix(orDefault(s.cfg.ServerURL, "https://github.com"), "/") + "/" + s.cfg.Owner + "/" + s.cfg.Repo
	}
	src, err := homebrew.Render(f)
	if err != nil {
		return err
	}
	a, err := writeArtifact("formula", filepath.Join(s.cfg.Output, f.FileName()), src)
	if err != nil {
		return err
	}
	s.res.Formula = a
	s.add(a)
	return nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// manifestStep writes the variant's manifest fragment and merges it into
// <Output>/releases/v<version>-manifest.json.
type manifestStep struct{}

func (manifestStep) String() string { return "manifest" }
func (manifestStep) Run(_ context.Context, c *pipe.Context) error {
	s := stateOf(c)
	l := s.res.Layout
	v := relmanifest.Variant{
		Filename:       s.res.Archive.Name,
		Size:           s.res.Archive.Size,
		SHA256:         s.res.Archive.SHA256,
		SHA512:         s.res.Archive.SHA512,
		Platforms:      l.Variant.Platforms,
		URL:            s.downloadURL(s.res.Archive.Name),
		MinimumPython:  l.Variant.MinimumPython,
		RequiresDocker: l.Variant.RequiresDocker,
		SBOM: &relmanifest.SBOM{
			Format: sbom.Format, SpecVersion: sbom.SpecVersion, Filename: s.res.SBOM.Name,
			URL: s.downloadURL(s.res.SBOM.Name), SHA256: s.res.SBOM.SHA256,
		},
	}
	if s.signer != nil {
		v.Signature = s.downloadURL(s.res.Archive.Name + ".asc")
	}
	frag := relmanifest.New(s.cfg.Version)
	frag.ReleaseDate = s.cfg.SourceDateEpoch.UTC().Format("2006-01-02")
	if err := frag.Set(l.Variant.Name, v); err != nil {
		return err
	}
	data, err := frag.Marshal()
	if err != nil {
		return err
	}
	a, err := writeArtifact("manifest", filepath.Join(s.cfg.Output, relmanifest.FragmentName(l.Variant.Name, s.cfg.Version)), data)
	if err != nil {
		return err
	}
	s.res.Fragment = a
	s.add(a)
	merged := filepath.Join(s.cfg.Output, filepath.FromSlash(relmanifest.Path(s.cfg.Version)))
	m, err := relmanifest.ReadOrNew(merged, s.cfg.Version)
	if err != nil {
		return err
	}
	if err := m.Merge(frag); err != nil {
		return err
	}
	if err := m.Write(merged); err != nil {
		return err
	}
	s.res.Manifest = merged
	return nil
}

// checksumStep writes .sha256/.sha512 next to the archive, SBOM and formula
// and merges them into SHA256SUMS/SHA512SUMS of the output directory.
type checksumStep struct{}

func (checksumStep) String() string { return "checksums" }
func (checksumStep) Run(_ context.Context, c *pipe.Context) error {
	s := stateOf(c)
	// The digests were taken when each artifact was written: no file is
	// read again here.
	var l256, l512 []checksum.Line
	for _, a := range []Artifact{s.res.Archive, s.res.SBOM, s.res.Formula, s.res.Fragment} {
		l256 = append(l256, checksum.Line{Digest: a.SHA256, Name: a.Name})
		l512 = append(l512, checksum.Line{Digest: a.SHA512, Name: a.Name})
		if a.Kind == "manifest" {
			continue // the fragment is listed in the SUMS, without sidecars
		}
		for _, algo := range []checksum.Algorithm{checksum.SHA256, checksum.SHA512} {
			p, err := checksum.Sidecar(a.Path, algo, a.digest(algo))
			if err != nil {
				return err
			}
			ca, err := artifact("checksum", p)
			if err != nil {
				return err
			}
			s.add(ca)
		}
	}
	for _, list := range []struct {
		algo  checksum.Algorithm
		lines []checksum.Line
	}{{checksum.SHA256, l256}, {checksum.SHA512, l512}} {
		p := filepath.Join(s.cfg.Output, list.algo.SumsName())
		if err := checksum.MergeFile(p, list.algo, list.lines...); err != nil {
			return err
		}
		ca, err := artifact("checksums", p)
		if err != nil {
			return err
		}
		s.add(ca)
	}
	return nil
}

func (a Artifact) digest(algo checksum.Algorithm) string {
	if algo == checksum.SHA512 {
		return a.SHA512
	}
	return a.SHA256
}

// signStep writes a detached .asc for every artifact that is not itself a
// checksum sidecar: the archive, SBOM, formula, manifest fragment and the
// SHA256SUMS/SHA512SUMS lists.
type signStep struct{}

func (signStep) String() string { return "sign" }
func (signStep) Skip(c *pipe.Context) (bool, string) {
	if stateOf(c).signer == nil {
		return true, "no signing key given"
	}
	return false, ""
}
func (signStep) Run(_ context.Context, c *pipe.Context) error {
	s := stateOf(c)
	var sigs []Artifact
	for _, a := range s.res.Artifacts {
		if a.Kind == "checksum" {
			continue
		}
		p, err := pgpsign.SignFile(s.signer, a.Path)
		if err != nil {
			return fmt.Errorf("signing %s: %w", a.Name, err)
		}
		sa, err := artifact("signature", p)
		if err != nil {
			return err
		}
		sigs = append(sigs, sa)
	}
	for _, sa := range sigs {
		s.add(sa)
	}
	return nil
}

// uploadStep attaches the variant's artifacts to the draft release.
type uploadStep struct{}

func (uploadStep) String() string { return "upload" }
func (uploadStep) Skip(c *pipe.Context) (bool, string) {
	if !stateOf(c).cfg.Upload {
		return true, "upload not requested"
	}
	return false, ""
}
func (uploadStep) Run(ctx context.Context, c *pipe.Context) error {
	s := stateOf(c)
	if s.signer != nil {
		arts, n, err := adoptSignatures(ctx, s.cfg.GitHub, s.cfg.Owner, s.cfg.Repo, s.cfg.Tag, s.signer, s.res.Artifacts)
		if err != nil {
			return err
		}
		if n > 0 {
			fmt.Fprintf(logOf(c), "  kept %d signature(s) already on the release\n", n)
		}
		s.res.Artifacts = arts
	}
	var assets []ghrelease.AssetFile
	for _, a := range s.res.Artifacts {
		// The SUMS lists of one leg are partial: the release job writes
		// the complete ones.
		if a.Kind == "checksums" || strings.HasPrefix(a.Name, "SHA256SUMS") || strings.HasPrefix(a.Name, "SHA512SUMS") {
			continue
		}
		assets = append(assets, ghrelease.AssetFile{Path: a.Path, Name: a.Name, ContentType: contentType(a.Name)})
	}
	res, err := s.cfg.GitHub.Publish(ctx, ghrelease.PublishRequest{
		Owner: s.cfg.Owner, Repo: s.cfg.Repo, Tag: s.cfg.Tag, Name: "uDOS " + s.cfg.Tag,
		Assets: assets, KeepDraft: true, Prerelease: strings.Contains(s.cfg.Version, "-"),
	})
	if err != nil {
		return err
	}
	// ghrelease has compared GitHub's digest of every asset with the local
	// file; check it once more against what this build recorded.
	want := map[string]string{}
	for _, a := range s.res.Artifacts {
		want[ghrelease.NormalizeAssetName(a.Name)] = a.SHA256
	}
	for _, a := range res.Assets {
		if w, ok := want[a.Name]; ok && !strings.EqualFold(w, a.SHA256) {
			return fmt.Errorf("asset %s: GitHub has sha256 %s, the build wrote %s", a.Name, a.SHA256, w)
		}
	}
	s.res.Upload = res
	return nil
}

func contentType(name string) string {
	switch {
	case strings.HasSuffix(name, ".tar.gz"):
		return "application/gzip"
	case strings.HasSuffix(name, ".json"):
		return "application/json"
	case strings.HasSuffix(name, ".asc"):
		return "application/pgp-signature"
	case strings.HasSuffix(name, ".rb"):
		return "text/x-ruby"
	}
	return "text/plain"
}

// artifact describes an existing file.
func artifact(kind, path string) (Artifact, error) {
	d, err := checksum.File(path)
	if err != nil {
		return Artifact{}, err
	}
	return Artifact{Kind: kind, Path: path, Name: filepath.Base(path), Size: d.Size, SHA256: d.SHA256, SHA512: d.SHA512}, nil
}

func writeArtifact(kind, path string, data []byte) (Artifact, error) {
	if err := atomicfile.Write(path, 0o644, func(w io.Writer) error {
		_, err := io.Copy(w, bytes.NewReader(data))
		return err
	}); err != nil {
		return Artifact{}, fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	return artifact(kind, path)
}
