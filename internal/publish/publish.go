// Package publish is the one publication flow of a library version, shared
// by the publish-library action and `udos-lib share --github`: validate the
// source manifest, pack the library reproducibly, sign the package, compute
// its checksums, write the manifest asset, publish the three assets to the
// GitHub release of the tag (draft, then assets, then publish) and
// optionally announce it to the registry with a repository_dispatch.
//
// Each stage is an internal/pipe step, so a failure names the stage and the
// step results feed the action's step summary.
package publish

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fredbook/udos-dist/internal/assetname"
	"github.com/fredbook/udos-dist/internal/atomicfile"
	"github.com/fredbook/udos-dist/internal/checksum"
	"github.com/fredbook/udos-dist/internal/ghrelease"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/pipe"
	"github.com/fredbook/udos-dist/internal/udospkg"
)

// DefaultEventType is the repository_dispatch event type sent to the
// registry repository; its workflow listens for it.
const DefaultEventType = "udos-library-published"

// Request says what to publish and where.
type Request struct {
	// Dir is the library source folder (manifest.json, lib/, …).
	Dir string
	// Version overrides the manifest's version; "v1.2.3" is accepted. When
	// empty, the version comes from Tag, then from the manifest.
	Version string
	// Tag is the release tag; default "v" + the version.
	Tag string
	// SigningKey is the armored private key; Passphrase unlocks it.
	SigningKey []byte
	Passphrase []byte
	// Repository ("owner/name") holds the release. Empty with GitHub nil
	// means pack and sign only (a dry run).
	Repository string
	// DispatchRepository, when set, receives a repository_dispatch of
	// EventType (default DefaultEventType) once the release is published.
	DispatchRepository string
	EventType          string
	// OutDir receives the package, its .asc and the manifest asset; it is
	// created when missing.
	OutDir string
	// MTime is the archive's mtime (SOURCE_DATE_EPOCH); zero means the epoch.
	MTime time.Time
	// ReleaseName and ReleaseBody describe a release this flow creates.
	ReleaseName string
	ReleaseBody string
}

// Asset is one file to attach to the release.
type Asset struct {
	Name        string
	Path        string
	ContentType string
	// SHA256 is the file's digest, compared with GitHub's asset digest for
	// idempotent re-runs.
	SHA256 string
}

// GitHub is what publication needs from GitHub. NewGitHub adapts a
// ghrelease client; tests may pass their own.
type GitHub interface {
	// PublishRelease makes sure the release of tag in repo is published with
	// exactly these assets: created as a draft when missing, assets
	// uploaded, then published. An asset already there with the same digest
	// is kept; with a different digest on a published release it fails.
	PublishRelease(ctx context.Context, repo, tag string, assets []Asset, name, body string) (PublishedRelease, error)
	// Dispatch sends a repository_dispatch event.
	Dispatch(ctx context.Context, repo, eventType string, payload map[string]any) error
}

// PublishedRelease is what GitHub answered.
type PublishedRelease struct {
	URL string
	// Uploaded and Kept name the assets uploaded by this run and those that
	// were already there with the same digest.
	Uploaded, Kept []string
	// AlreadyPublished is true when the release was published before this
	// run and nothing had to change.
	AlreadyPublished bool
}

// Result describes a publication.
type Result struct {
	Package       string // <id>-v<version>.udos-package
	PackagePath   string
	SignaturePath string
	ManifestPath  string
	ID, Version   string
	Tag           string
	SHA256        string
	SHA512        string
	Size          int64
	Fingerprint   string // of the signing key
	Release       PublishedRelease
	Dispatched    bool
	Steps         []pipe.Result
}

// ErrInput marks a problem with the request itself (as opposed to GitHub
// or the file system).
var ErrInput = errors.New("invalid publication request")

// ErrConflict: the tag's published release already holds a different
// package of this version.
var ErrConflict = errors.New("version already published with different contents")

type state struct {
	req      Request
	gh       GitHub
	manifest *udospkg.Manifest
	signer   *pgpsign.Signer
	res      *Result
}

// Run publishes req. gh may be nil only for a dry run (empty Repository).
// log receives one line per step (nil discards); now is the clock (nil:
// time.Now). The Result is returned, filled as far as the flow got, even on
// error.
func Run(ctx context.Context, req Request, gh GitHub, log io.Writer, now func() time.Time) (*Result, error) {
	st := &state{req: req, gh: gh, res: &Result{}}
	pc := &pipe.Context{Log: log, Now: now, Values: st}
	err := pipe.Run(ctx, pc,
		pipe.Func("validate", st.validate),
		pipe.Func("pack", st.pack),
		pipe.Func("sign", st.sign),
		pipe.Func("checksum", st.checksum),
		pipe.Func("manifest", st.writeManifest),
		&ghStep{st},
		&dispatchStep{st},
	)
	st.res.Steps = pc.Results()
	return st.res, err
}

func (st *state) validate(_ context.Context, _ *pipe.Context) error {
	req := &st.req
	if req.Dir == "" {
		return fmt.Errorf("%w: no library folder given", ErrInput)
	}
	if req.OutDir == "" {
		return fmt.Errorf("%w: no output folder given", ErrInput)
	}
	if len(bytes.TrimSpace(req.SigningKey)) == 0 {
		return fmt.Errorf("%w: no signing key given", ErrInput)
	}
	if _, err := ghrelease.ParseRepo(req.Repository); req.Repository != "" && err != nil {
		return fmt.Errorf("%w: repository %q is not OWNER/NAME", ErrInput, req.Repository)
	}
	if _, err := ghrelease.ParseRepo(req.DispatchRepository); req.DispatchRepository != "" && err != nil {
		return fmt.Errorf("%w: dispatch repository %q is not OWNER/NAME", ErrInput, req.DispatchRepository)
	}
	if req.DispatchRepository != "" && req.Repository == "" {
		return fmt.Errorf("%w: a dispatch needs a repository to publish to", ErrInput)
	}
	if req.Repository != "" && st.gh == nil {
		return fmt.Errorf("%w: publishing to %s needs a GitHub client", ErrInput, req.Repository)
	}
	path := filepath.Join(req.Dir, udospkg.ManifestName)
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading manifest %q: %w", path, err)
	}
	m, err := udospkg.ParseSourceManifest(data)
	if err != nil {
		return fmt.Errorf("manifest %q: %w", path, err)
	}
	version := strings.TrimPrefix(req.Version, "v")
	tagVersion := strings.TrimPrefix(req.Tag, "v")
	switch {
	case version == "" && req.Tag != "":
		version = tagVersion
	case version == "":
		version = m.Version
	}
	if req.Tag != "" && tagVersion != version {
		return fmt.Errorf("%w: version %s does not match tag %s", ErrInput, version, req.Tag)
	}
	if req.Tag == "" {
		req.Tag = "v" + version
	}
	req.Version = version
	// BuildManifest validates the version and the payload without writing.
	full, _, err := udospkg.BuildManifest(req.Dir, udospkg.PackOptions{Version: version, MTime: req.MTime})
	if err != nil {
		return fmt.Errorf("library %q: %w", req.Dir, err)
	}
	if err := full.Validate(); err != nil {
		return fmt.Errorf("library %q: %w", req.Dir, err)
	}
	signer, err := pgpsign.LoadSigner(req.SigningKey, req.Passphrase)
	if err != nil {
		return fmt.Errorf("loading the signing key: %w", err)
	}
	st.signer = signer
	st.manifest = full
	st.res.ID, st.res.Version, st.res.Tag = full.ID, full.Version, req.Tag
	st.res.Package = assetname.Package(full.ID, full.Version)
	st.res.Fingerprint = signer.Fingerprint()
	return nil
}

func (st *state) pack(_ context.Context, _ *pipe.Context) error {
	if err := os.MkdirAll(st.req.OutDir, 0o755); err != nil {
		return fmt.Errorf("creating output folder %q: %w", st.req.OutDir, err)
	}
	out := filepath.Join(st.req.OutDir, st.res.Package)
	pr, err := udospkg.PackFile(st.req.Dir, out, udospkg.PackOptions{Version: st.req.Version, MTime: st.req.MTime})
	if err != nil {
		return fmt.Errorf("packing %q: %w", st.req.Dir, err)
	}
	st.manifest = pr.Manifest
	st.res.PackagePath = out
	st.res.SHA256, st.res.SHA512, st.res.Size = pr.SHA256, pr.SHA512, pr.Size
	return nil
}

func (st *state) sign(_ context.Context, _ *pipe.Context) error {
	asc, err := pgpsign.SignFile(st.signer, st.res.PackagePath)
	if err != nil {
		return fmt.Errorf("signing %q: %w", st.res.PackagePath, err)
	}
	st.res.SignaturePath = asc
	return nil
}

// checksum re-reads the written package: what goes to GitHub must be what
// was packed, and it must open and verify as a client would.
func (st *state) checksum(_ context.Context, _ *pipe.Context) error {
	d, err := checksum.File(st.res.PackagePath)
	if err != nil {
		return fmt.Errorf("hashing %q: %w", st.res.PackagePath, err)
	}
	if d.Get(checksum.SHA256) != st.res.SHA256 || d.Get(checksum.SHA512) != st.res.SHA512 {
		return fmt.Errorf("package %q changed after packing", st.res.PackagePath)
	}
	pkg, err := udospkg.Open(st.res.PackagePath)
	if err != nil {
		return fmt.Errorf("reopening %q: %w", st.res.PackagePath, err)
	}
	if err := pkg.Verify(); err != nil {
		return fmt.Errorf("verifying %q: %w", st.res.PackagePath, err)
	}
	return nil
}

func (st *state) writeManifest(_ context.Context, _ *pipe.Context) error {
	pkg, err := udospkg.Open(st.res.PackagePath)
	if err != nil {
		return fmt.Errorf("reopening %q: %w", st.res.PackagePath, err)
	}
	// The manifest travels as its own asset, so the registry can read it
	// without downloading the package.
	path := filepath.Join(st.req.OutDir, assetname.PackageManifest(st.res.ID, st.res.Version))
	if err := atomicfile.Write(path, 0o644, func(w io.Writer) error {
		_, err := w.Write(pkg.ManifestJSON)
		return err
	}); err != nil {
		return fmt.Errorf("writing manifest asset %q: %w", path, err)
	}
	st.res.ManifestPath = path
	return nil
}

// Assets lists the files of a publication as release assets.
func (r *Result) Assets() ([]Asset, error) {
	var out []Asset
	for _, a := range []struct{ path, ctype string }{
		{r.PackagePath, "application/gzip"},
		{r.SignaturePath, "application/pgp-signature"},
		{r.ManifestPath, "application/json"},
	} {
		d, err := checksum.File(a.path)
		if err != nil {
			return nil, fmt.Errorf("hashing %q: %w", a.path, err)
		}
		out = append(out, Asset{Name: filepath.Base(a.path), Path: a.path, ContentType: a.ctype, SHA256: d.Get(checksum.SHA256)})
	}
	return out, nil
}

type ghStep struct{ st *state }

func (s *ghStep) String() string { return "release" }

func (s *ghStep) Skip(*pipe.Context) (bool, string) {
	if s.st.req.Repository == "" {
		return true, "no repository given (dry run)"
	}
	return false, ""
}

func (s *ghStep) Run(ctx context.Context, _ *pipe.Context) error {
	st := s.st
	assets, err := st.res.Assets()
	if err != nil {
		return err
	}
	name := st.req.ReleaseName
	if name == "" {
		name = st.manifest.Name + " " + st.res.Version
	}
	body := st.req.ReleaseBody
	if body == "" {
		body = fmt.Sprintf("%s %s (`%s`)\n\nsha256 `%s`\n\nInstall: `udos-lib install %s@%s`\n",
			st.manifest.Name, st.res.Version, st.manifest.Namespace, st.res.SHA256,
			strings.TrimPrefix(st.res.ID, "lib-"), st.res.Version)
	}
	rel, err := st.gh.PublishRelease(ctx, st.req.Repository, st.res.Tag, assets, name, body)
	if err != nil {
		return fmt.Errorf("publishing %s to %s release %s: %w", st.res.Package, st.req.Repository, st.res.Tag, err)
	}
	st.res.Release = rel
	return nil
}

type dispatchStep struct{ st *state }

func (s *dispatchStep) String() string { return "dispatch" }

func (s *dispatchStep) Skip(*pipe.Context) (bool, string) {
	if s.st.req.DispatchRepository == "" {
		return true, "no dispatch repository given"
	}
	return false, ""
}

func (s *dispatchStep) Run(ctx context.Context, _ *pipe.Context) error {
	st := s.st
	event := st.req.EventType
	if event == "" {
		event = DefaultEventType
	}
	payload := map[string]any{
		"repository": st.req.Repository,
		"tag":        st.res.Tag,
		"id":         st.res.ID,
		"version":    st.res.Version,
		"package":    st.res.Package,
		"sha256":     st.res.SHA256,
	}
	if err := st.gh.Dispatch(ctx, st.req.DispatchRepository, event, payload); err != nil {
		return fmt.Errorf("sending %s to %s: %w", event, st.req.DispatchRepository, err)
	}
	st.res.Dispatched = true
	return nil
}
