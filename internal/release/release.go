// Package release is the one release tail every producer shares: after a
// job's producers (the variant archive and its SBOM and formula, the Sonic
// ISO, …) have added their files to an artifact.List, the tail signs them,
// writes the job's release-manifest fragment and merges it into the local
// manifest, writes the .sha256/.sha512 sidecars and the SHA256SUMS and
// SHA512SUMS lists, and uploads everything to the draft GitHub Release of
// the tag through internal/ghrelease, keeping the valid signatures a
// previous run already uploaded. Publish (publish.go) is the release job
// that follows the jobs: it merges their fragments, verifies every listed
// file, and publishes.
//
// The tail selects artifacts by their type's Role, never by a list of
// types, so that a producer adding a new type has nothing else to change.
package release

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/fredbook/udos-dist/internal/artifact"
	"github.com/fredbook/udos-dist/internal/assetname"
	"github.com/fredbook/udos-dist/internal/checksum"
	"github.com/fredbook/udos-dist/internal/ghrelease"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/pipe"
	"github.com/fredbook/udos-dist/internal/relmanifest"
)

// Config is one job's share of a release.
type Config struct {
	// Version is the release's version without "v" ("1.4.6").
	Version string
	// Tag is the release's tag; "" means "v" + Version.
	Tag string
	// Job names the job's manifest fragment (udos-<job>-v<version>.manifest.json):
	// the variant it builds ("core-slim", "sonic-iso").
	Job    string
	Output string // where the artifacts are and the tail writes its files
	// Manifest is the local release manifest the fragment is merged into;
	// "" means <Output>/releases/v<version>-manifest.json.
	Manifest string
	// Time is the release date the fragment carries (SOURCE_DATE_EPOCH,
	// so that the fragment is reproducible).
	Time time.Time
	// Signer signs every file; nil skips signing.
	Signer *pgpsign.Signer

	// Upload sends the job's files to the release of Tag in Owner/Repo.
	Upload      bool
	GitHub      *ghrelease.Client
	Owner, Repo string
	// ServerURL is GitHub's web address (GITHUB_SERVER_URL); "" means
	// https://github.com. Download URLs start with it.
	ServerURL string
	// Publish makes the release public after the upload; off, it stays a
	// draft for the release job, which publishes every variant at once.
	Publish bool
	Log     io.Writer
}

// Tail is the release tail of one job over its artifacts.
type Tail struct {
	Config
	Artifacts *artifact.List

	// Fragment is the fragment the manifest step wrote.
	Fragment *artifact.Artifact
	// ManifestPath is the merged local manifest.
	ManifestPath string
	// Uploaded is what the upload did.
	Uploaded *ghrelease.PublishResult
}

// New returns the tail over arts. The configuration may still be changed
// (by a setup step) before the tail's steps run.
func New(cfg Config, arts *artifact.List) *Tail { return &Tail{Config: cfg, Artifacts: arts} }

// Steps are the tail's steps, in order: sign, manifest, checksums and
// upload (named uploadName: the Sonic job calls it "publish").
func (t *Tail) Steps(uploadName string) []pipe.Step {
	return []pipe.Step{signStep{t}, manifestStep{t}, checksumStep{t}, uploadStep{t, uploadName}}
}

func (t *Tail) tag() string {
	if t.Tag != "" {
		return t.Tag
	}
	return "v" + strings.TrimPrefix(t.Version, "v")
}

func (t *Tail) log() io.Writer { return logOf(t.Log) }

func logOf(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// DownloadURL is where the release asset name of the tag will be served;
// without a repository it is the bare name.
func (t *Tail) DownloadURL(name string) string {
	return DownloadURL(t.ServerURL, t.Owner, t.Repo, t.tag(), name)
}

// DownloadURL is GitHub's download address of a release asset:
// <server>/<owner>/<repo>/releases/download/<tag>/<name>, or name alone
// when the repository is unknown (a local build).
func DownloadURL(serverURL, owner, repo, tag, name string) string {
	if owner == "" || repo == "" {
		return name
	}
	return fmt.Sprintf("%s/%s/%s/releases/download/%s/%s", ServerBase(serverURL), owner, repo, tag, name)
}

// ServerBase is GitHub's web address without a final slash.
func ServerBase(serverURL string) string {
	if base := strings.TrimSuffix(serverURL, "/"); base != "" {
		return base
	}
	return "https://github.com"
}

// sign writes a's detached signature and registers it.
func (t *Tail) sign(a *artifact.Artifact) error {
	p, err := pgpsign.SignFile(t.Signer, a.Path)
	if err != nil {
		return fmt.Errorf("signing %s: %w", a.Name, err)
	}
	sa, err := artifact.FromFile(artifact.Sig, p)
	if err != nil {
		return err
	}
	sa.Variant = a.Variant
	t.Artifacts.Add(sa)
	a.Signature = p
	return nil
}

// signStep signs every payload. The tail's own files (fragment, SUMS
// lists) are signed by the steps that write them.
type signStep struct{ t *Tail }

func (signStep) String() string { return "sign" }
func (s signStep) Skip(*pipe.Context) (bool, string) {
	return s.t.Signer == nil, "no signing key given"
}
func (s signStep) Run(context.Context, *pipe.Context) error {
	for _, a := range s.t.Artifacts.Filter(artifact.ByRole(artifact.Payload)) {
		if err := s.t.sign(a); err != nil {
			return err
		}
	}
	return nil
}

// manifestStep writes the job's fragment (its variants and every payload)
// and merges it into the local release manifest.
type manifestStep struct{ t *Tail }

func (manifestStep) String() string { return "manifest" }
func (s manifestStep) Run(context.Context, *pipe.Context) error {
	t := s.t
	frag, err := t.fragment()
	if err != nil {
		return err
	}
	data, err := frag.Marshal()
	if err != nil {
		return err
	}
	fa, err := artifact.WriteFile(artifact.Frag, filepath.Join(t.Output, assetname.Fragment(t.Job, t.Version)), data)
	if err != nil {
		return err
	}
	fa.Variant = t.Job
	t.Fragment = t.Artifacts.Add(fa)
	if t.Signer != nil {
		// The release job verifies each fragment's signature before merging.
		if err := t.sign(t.Fragment); err != nil {
			return err
		}
	}
	path := t.Manifest
	if path == "" {
		path = filepath.Join(t.Output, filepath.FromSlash(assetname.ReleaseManifestPath(t.Version)))
	}
	m, err := relmanifest.ReadOrNew(path, t.Version)
	if err != nil {
		return err
	}
	if err := m.Merge(frag); err != nil {
		return fmt.Errorf("merging into %q: %w", path, err)
	}
	// The fragment names each variant's signature; the manifest carries
	// its armored text, as the seed does (the release job does the same
	// with the signatures on the release).
	for _, a := range t.Artifacts.Filter(artifact.ByRole(artifact.Payload)) {
		if a.Entry == nil || a.Signature == "" {
			continue
		}
		sig, err := os.ReadFile(a.Signature)
		if err != nil {
			return fmt.Errorf("reading the signature of %s: %w", a.Name, err)
		}
		v := m.Variants[a.Variant]
		v.GPGSignature = string(sig)
		m.Variants[a.Variant] = v
	}
	if err := m.Write(path); err != nil {
		return err
	}
	t.ManifestPath = path
	return nil
}

// fragment describes the job's payloads: every one in the artifact list,
// and those that are a variant (they carry an Entry) as its variant entry.
func (t *Tail) fragment() (*relmanifest.Manifest, error) {
	frag := relmanifest.New(t.Version)
	frag.ReleaseDate = t.Time.UTC().Format(time.RFC3339)
	for _, a := range t.Artifacts.Filter(artifact.ByRole(artifact.Payload)) {
		if a.Type.Unlisted {
			continue
		}
		f := relmanifest.File{Name: a.Name, Type: a.Type.Name, Variant: a.Variant, SizeBytes: a.Size,
			ChecksumSHA256: a.SHA256, ChecksumSHA512: a.SHA512, URL: t.DownloadURL(a.Name)}
		if a.Signature != "" {
			f.SignatureURL = t.DownloadURL(assetname.Signature(a.Name))
		}
		if err := frag.SetFile(f); err != nil {
			return nil, err
		}
		if a.Entry == nil {
			continue
		}
		v := *a.Entry
		v.Filename, v.Size, v.SHA256, v.SHA512, v.URL = a.Name, a.Size, a.SHA256, a.SHA512, t.DownloadURL(a.Name)
		v.Signature = ""
		if a.Signature != "" {
			v.Signature = t.DownloadURL(assetname.Signature(a.Name))
		}
		if v.SBOM != nil && v.SBOM.Filename != "" {
			sb := t.Artifacts.Get(v.SBOM.Filename)
			if sb == nil {
				return nil, fmt.Errorf("variant %s names SBOM %s, which no producer wrote", a.Variant, v.SBOM.Filename)
			}
			ref := *v.SBOM
			ref.URL, ref.SHA256 = t.DownloadURL(sb.Name), sb.SHA256
			v.SBOM = &ref
		}
		if err := frag.Set(a.Variant, v); err != nil {
			return nil, err
		}
	}
	return frag, nil
}

// checksumStep writes the .sha256/.sha512 sidecars of every payload and
// merges the payloads and the fragment into SHA256SUMS/SHA512SUMS of the
// output directory (the digests were taken when each file was written: no
// file is read again), and signs the lists.
type checksumStep struct{ t *Tail }

func (checksumStep) String() string { return "checksums" }
func (s checksumStep) Run(context.Context, *pipe.Context) error {
	t := s.t
	algos := []checksum.Algorithm{checksum.SHA256, checksum.SHA512}
	lines := map[checksum.Algorithm][]checksum.Line{}
	for _, a := range t.Artifacts.Filter(artifact.ByRole(artifact.Payload, artifact.Fragment)) {
		for _, algo := range algos {
			lines[algo] = append(lines[algo], checksum.Line{Digest: a.Digest(algo), Name: a.Name})
			if a.Type.Role != artifact.Payload {
				continue // the fragment is listed in the SUMS, without sidecars
			}
			p, err := checksum.Sidecar(a.Path, algo, a.Digest(algo))
			if err != nil {
				return err
			}
			ca, err := artifact.FromFile(artifact.Checksum, p)
			if err != nil {
				return err
			}
			ca.Variant = a.Variant
			t.Artifacts.Add(ca)
		}
	}
	for _, algo := range algos {
		p := filepath.Join(t.Output, algo.SumsName())
		if err := checksum.MergeFile(p, algo, lines[algo]...); err != nil {
			return err
		}
		ca, err := artifact.FromFile(artifact.SumsList, p)
		if err != nil {
			return err
		}
		sums := t.Artifacts.Add(ca)
		if t.Signer != nil {
			if err := t.sign(sums); err != nil {
				return err
			}
		}
	}
	return nil
}

// uploadStep attaches the job's files to the release of the tag. The SUMS
// lists of one job are partial: the release job writes the complete ones.
type uploadStep struct {
	t    *Tail
	name string
}

func (s uploadStep) String() string { return s.name }
func (s uploadStep) Skip(*pipe.Context) (bool, string) {
	return !s.t.Upload, "upload not requested"
}
func (s uploadStep) Run(ctx context.Context, _ *pipe.Context) error {
	t := s.t
	if t.GitHub == nil || t.Owner == "" || t.Repo == "" {
		return errors.New("upload needs a GitHub client and the repository (owner/name)")
	}
	var files []*artifact.Artifact
	for _, a := range t.Artifacts.All() {
		if a.Type.Role == artifact.Sums || (a.Type.Role == artifact.Signature && assetname.IsChecksumList(a.Name)) {
			continue
		}
		files = append(files, a)
	}
	res, err := t.upload(ctx, files, "uDOS "+t.tag(), "", !t.Publish)
	if err != nil {
		return err
	}
	t.Uploaded = res
	return nil
}

// upload keeps the release's valid signatures of files (AdoptSignatures),
// then sends files to the release and checks GitHub's digests against the
// ones recorded when the files were written.
func (t *Tail) upload(ctx context.Context, files []*artifact.Artifact, title, body string, draft bool) (*ghrelease.PublishResult, error) {
	if t.Signer != nil {
		n, err := AdoptSignatures(ctx, t.GitHub, t.Owner, t.Repo, t.tag(), t.Signer, files)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			fmt.Fprintf(t.log(), "  kept %d signature(s) already on the release (they verify against these bytes)\n", n)
		}
	}
	var assets []ghrelease.AssetFile
	for _, a := range files {
		assets = append(assets, ghrelease.AssetFile{Path: a.Path, Name: a.Name, ContentType: contentType(a)})
	}
	res, err := t.GitHub.Publish(ctx, ghrelease.PublishRequest{
		Owner: t.Owner, Repo: t.Repo, Tag: t.tag(), Name: title, Body: body,
		Assets: assets, KeepDraft: draft, Prerelease: prerelease(t.Version),
	})
	if err != nil {
		return nil, err
	}
	// ghrelease has compared GitHub's digest of every asset with the local
	// file; check it once more against what the producers recorded.
	want := map[string]string{}
	for _, a := range files {
		want[ghrelease.NormalizeAssetName(a.Name)] = a.SHA256
	}
	for _, a := range res.Assets {
		if w, ok := want[a.Name]; ok && !strings.EqualFold(w, a.SHA256) {
			return nil, fmt.Errorf("asset %s: GitHub has sha256 %s, the build wrote %s", a.Name, a.SHA256, w)
		}
	}
	return res, nil
}

func prerelease(version string) bool {
	v, err := semver.NewVersion(version)
	return err == nil && v.Prerelease() != ""
}

func contentType(a *artifact.Artifact) string {
	if a.Type.ContentType != "" {
		return a.Type.ContentType
	}
	switch {
	case strings.HasSuffix(a.Name, ".tar.gz"):
		return "application/gzip"
	case strings.HasSuffix(a.Name, ".json"):
		return "application/json"
	case strings.HasSuffix(a.Name, assetname.SignatureExt):
		return "application/pgp-signature"
	}
	return "application/octet-stream"
}
