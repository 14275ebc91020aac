package release

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/google/go-github/v89/github"

	"github.com/fredbook/udos-dist/internal/artifact"
	"github.com/fredbook/udos-dist/internal/assetname"
	"github.com/fredbook/udos-dist/internal/atomicfile"
	"github.com/fredbook/udos-dist/internal/checksum"
	"github.com/fredbook/udos-dist/internal/ghrelease"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/pipe"
	"github.com/fredbook/udos-dist/internal/relmanifest"
	"github.com/fredbook/udos-dist/internal/sbom"
)

// PublishConfig is the release job that follows the per-variant builds.
type PublishConfig struct {
	Version     string // "1.4.6"
	Tag         string // default "v" + Version
	Owner, Repo string
	GitHub      *ghrelease.Client
	Output      string // where the downloaded artifacts and the merged files go
	// Source is the uDOS checkout; its releases/ folder is searched for the
	// previous release's manifest when GitHub has none.
	Source     string
	SigningKey []byte
	Passphrase []byte
	// ExpectVariants, when set, are the variants that must be present.
	ExpectVariants []string
	// ServerURL is GitHub's web address (GITHUB_SERVER_URL); "" means
	// https://github.com. The manifest's URLs start with it.
	ServerURL string
	// ToolVersion is udos-dist's version, named in the release SBOM.
	ToolVersion string
	Log         io.Writer
}

// PublishResult is what the release job did.
type PublishResult struct {
	Manifest  *relmanifest.Manifest
	Previous  *relmanifest.Manifest // nil for a first release
	Notes     string
	Artifacts []*artifact.Artifact // what was verified, then written
	// ManifestPath is the merged manifest v<version>-manifest.json.
	ManifestPath string
	Release      *ghrelease.PublishResult
	Steps        []pipe.Result
}

type pubState struct {
	cfg     PublishConfig
	res     *PublishResult
	signer  *pgpsign.Signer
	keyring *pgpsign.Keyring
	rel     *github.RepositoryRelease
	assets  map[string]*github.ReleaseAsset
	arts    artifact.List // downloaded, then written
	// written are the files the release job itself adds (the release
	// SBOM, the manifest, the SUMS lists), which it signs and uploads.
	written []*artifact.Artifact
	sboms   map[string]string
	// prevAssets are the previous release's assets, when it came from GitHub.
	prevAssets []*github.ReleaseAsset
}

// Publish merges the jobs' manifest fragments from the draft release,
// verifies every file they list (GitHub's digest, the fragment's digests and
// the signatures), whatever its type, writes the release notes with the upgrade
// path from the previous release, signs the merged manifest and the
// SHA256SUMS/SHA512SUMS lists, uploads them and publishes the release. Each
// part is idempotent, so a re-run after an interruption finishes the job.
func Publish(ctx context.Context, cfg PublishConfig) (*PublishResult, error) {
	st := &pubState{cfg: cfg, res: &PublishResult{}, sboms: map[string]string{}}
	c := &pipe.Context{Log: cfg.Log, Values: st}
	err := pipe.Run(ctx, c, pubSetup{}, pubFetch{}, pubVerify{}, pubPrevious{}, pubWrite{}, pubSign{}, pubRelease{})
	st.res.Steps = c.Results()
	st.res.Artifacts = st.arts.All()
	return st.res, err
}

func pubOf(c *pipe.Context) *pubState { return c.Values.(*pubState) }

type pubSetup struct{}

func (pubSetup) String() string { return "setup" }
func (pubSetup) Run(_ context.Context, c *pipe.Context) error {
	s := pubOf(c)
	s.cfg.Version = strings.TrimPrefix(s.cfg.Version, "v")
	if _, err := semver.StrictNewVersion(s.cfg.Version); err != nil {
		return fmt.Errorf("version %q: %w", s.cfg.Version, err)
	}
	if s.cfg.Tag == "" {
		s.cfg.Tag = "v" + s.cfg.Version
	}
	if s.cfg.GitHub == nil || s.cfg.Owner == "" || s.cfg.Repo == "" || s.cfg.Output == "" {
		return errors.New("publishing needs a GitHub client, the repository and an output directory")
	}
	if len(s.cfg.SigningKey) == 0 {
		return errors.New("publishing needs the signing key: the manifest and checksum lists are signed")
	}
	signer, err := pgpsign.LoadSigner(s.cfg.SigningKey, s.cfg.Passphrase)
	if err != nil {
		return fmt.Errorf("loading the signing key: %w", err)
	}
	pub, err := signer.PublicKey()
	if err != nil {
		return err
	}
	kr, err := pgpsign.LoadKeyring(pub)
	if err != nil {
		return err
	}
	s.signer, s.keyring = signer, kr
	return os.MkdirAll(s.cfg.Output, 0o755)
}

// pubFetch finds the release and merges every manifest fragment on it.
type pubFetch struct{}

func (pubFetch) String() string { return "fetch" }
func (pubFetch) Run(ctx context.Context, c *pipe.Context) error {
	s := pubOf(c)
	gh := s.cfg.GitHub
	rel, err := gh.FindRelease(ctx, s.cfg.Owner, s.cfg.Repo, s.cfg.Tag)
	if err != nil {
		return err
	}
	if rel == nil {
		return fmt.Errorf("no release %s in %s/%s: the build jobs upload their variants to a draft first", s.cfg.Tag, s.cfg.Owner, s.cfg.Repo)
	}
	s.rel = rel
	s.assets, err = gh.ListAssets(ctx, s.cfg.Owner, s.cfg.Repo, s.cfg.Tag, rel.GetID())
	if err != nil {
		return err
	}
	m := relmanifest.New(s.cfg.Version)
	var names []string
	for name := range s.assets {
		names = append(names, name)
	}
	sort.Strings(names)
	fragments := 0
	for _, name := range names {
		v, ok := assetname.IsFragment(name, s.cfg.Version)
		if !ok {
			continue
		}
		fragments++
		path, err := s.fetch(ctx, name)
		if err != nil {
			return err
		}
		if _, err := s.verifySig(ctx, path, name); err != nil {
			return err
		}
		frag, err := relmanifest.Read(path)
		if err != nil {
			return err
		}
		// A job's fragment holds its own variant, or none (a job that
		// adds release-wide files only).
		if _, ok := frag.Variants[v]; len(frag.Variants) > 1 || len(frag.Variants) == 1 && !ok {
			return fmt.Errorf("fragment %s does not hold exactly variant %s", name, v)
		}
		if err := m.Merge(frag); err != nil {
			return err
		}
	}
	if fragments == 0 {
		return fmt.Errorf("release %s has no manifest fragments (udos-<variant>-v%s.manifest.json): nothing was built", s.cfg.Tag, s.cfg.Version)
	}
	for _, want := range s.cfg.ExpectVariants {
		if _, ok := m.Variants[want]; !ok {
			return fmt.Errorf("release %s lacks variant %s (has %s)", s.cfg.Tag, want, strings.Join(m.Names(), ", "))
		}
	}
	s.res.Manifest = m
	return nil
}

// fetch downloads a release asset into Output (verifying GitHub's digest).
func (s *pubState) fetch(ctx context.Context, name string) (string, error) {
	a := s.assets[name]
	if a == nil {
		return "", fmt.Errorf("release %s has no asset %s", s.cfg.Tag, name)
	}
	if a.GetState() != "uploaded" {
		return "", fmt.Errorf("asset %s of release %s is %q, not uploaded: re-run the build job", name, s.cfg.Tag, a.GetState())
	}
	path := filepath.Join(s.cfg.Output, name)
	err := atomicfile.Write(path, 0o644, func(w io.Writer) error {
		_, err := s.cfg.GitHub.DownloadAsset(ctx, a, w)
		return err
	})
	if err != nil {
		return "", err
	}
	return path, nil
}

// verifySig checks the release's signature of name against the local copy
// at path and returns the armored signature.
func (s *pubState) verifySig(ctx context.Context, path, name string) ([]byte, error) {
	sigPath, err := s.fetch(ctx, assetname.Signature(name))
	if err != nil {
		return nil, fmt.Errorf("signature of %s: %w", name, err)
	}
	if _, err := s.keyring.VerifyFile(path, sigPath); err != nil {
		return nil, fmt.Errorf("signature of %s does not verify with the release key %s: %w", name, s.signer.Fingerprint(), err)
	}
	sig, err := os.ReadFile(sigPath)
	if err != nil {
		return nil, err
	}
	return sig, nil
}

// pubVerify downloads every file the fragments list (and each variant's
// own file and SBOM, which fragments of older toolkits list only there)
// and checks it against the manifest and its signature.
type pubVerify struct{}

func (pubVerify) String() string { return "verify" }
func (pubVerify) Run(ctx context.Context, c *pipe.Context) error {
	s := pubOf(c)
	m := s.res.Manifest
	type file struct {
		relmanifest.File
		listed bool
	}
	var files []file
	seen := map[string]bool{}
	add := func(f relmanifest.File, listed bool) {
		if !seen[f.Name] {
			seen[f.Name] = true
			files = append(files, file{f, listed})
		}
	}
	for _, name := range m.Names() {
		v := m.Variants[name]
		if f, ok := m.File(v.Filename); ok {
			add(f, true)
		} else {
			add(relmanifest.File{Name: v.Filename, Type: artifact.Archive.Name, Variant: name}, false)
		}
		if v.SBOM != nil && v.SBOM.Filename != "" {
			if f, ok := m.File(v.SBOM.Filename); ok {
				add(f, true)
			} else {
				add(relmanifest.File{Name: v.SBOM.Filename, Type: artifact.SBOM.Name, Variant: name, ChecksumSHA256: v.SBOM.SHA256}, false)
			}
		}
	}
	for _, f := range m.Artifacts {
		add(f, true)
	}
	// Every other payload on the release (those the manifest does not
	// list) is known by its .sha256 sidecar.
	var others []string
	for name := range s.assets {
		if target, ok := strings.CutSuffix(name, checksum.SHA256.Ext()); ok && s.assets[target] != nil && !seen[target] {
			others = append(others, target)
		}
	}
	sort.Strings(others)
	for _, name := range others {
		want, err := s.sidecar(ctx, name)
		if err != nil {
			return err
		}
		add(relmanifest.File{Name: name, Type: "file", ChecksumSHA256: want}, false)
	}
	for _, f := range files {
		path, err := s.fetch(ctx, f.Name)
		if err != nil {
			return err
		}
		d, err := checksum.File(path)
		if err != nil {
			return err
		}
		if v, ok := m.Variants[f.Variant]; ok && v.Filename == f.Name && (d.SHA256 != v.SHA256 || d.SHA512 != v.SHA512 || d.Size != v.Size) {
			return fmt.Errorf("variant %s: %s on the release does not match its manifest (sha256 %s, manifest %s)", f.Variant, f.Name, d.SHA256, v.SHA256)
		}
		if f.listed && (d.SHA256 != f.ChecksumSHA256 || d.SHA512 != f.ChecksumSHA512 || d.Size != f.SizeBytes) {
			return fmt.Errorf("%s %s on the release does not match its manifest (sha256 %s, manifest %s)", f.Type, f.Name, d.SHA256, f.ChecksumSHA256)
		}
		if !f.listed && f.ChecksumSHA256 != "" && d.SHA256 != f.ChecksumSHA256 {
			if f.Type == artifact.SBOM.Name {
				return fmt.Errorf("variant %s: SBOM %s does not match its manifest", f.Variant, f.Name)
			}
			return fmt.Errorf("%s on the release does not match its %s (sha256 %s, sidecar %s)", f.Name, f.Name+checksum.SHA256.Ext(), d.SHA256, f.ChecksumSHA256)
		}
		sig, err := s.verifySig(ctx, path, f.Name)
		if err != nil {
			return err
		}
		if v, ok := m.Variants[f.Variant]; ok && v.Filename == f.Name {
			// The seed's manifest carries the armored signature itself.
			v.GPGSignature = string(sig)
			m.Variants[f.Variant] = v
		}
		if f.Type == artifact.SBOM.Name && f.Variant != "" {
			s.sboms[f.Variant] = path
		}
		s.arts.Add(artifact.Artifact{Type: artifact.Type{Name: f.Type}, Path: path, Name: f.Name, Variant: f.Variant,
			Size: d.Size, SHA256: d.SHA256, SHA512: d.SHA512})
	}
	return nil
}

// sidecar reads the digest of name from its .sha256 asset.
func (s *pubState) sidecar(ctx context.Context, name string) (string, error) {
	path, err := s.fetch(ctx, name+checksum.SHA256.Ext())
	if err != nil {
		return "", err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	lines, err := checksum.Parse(bytes.NewReader(data), checksum.SHA256)
	if err != nil || len(lines) != 1 || lines[0].Name != name {
		return "", fmt.Errorf("%s on the release is not the sha256 sidecar of %s (%v)", name+checksum.SHA256.Ext(), name, err)
	}
	return lines[0].Digest, nil
}

// pubPrevious finds the previous release's manifest for the upgrade path:
// on GitHub (the newest published release older than this one that has a
// manifest asset), else in the checkout's releases/ folder.
type pubPrevious struct{}

func (pubPrevious) String() string { return "upgrade-path" }
func (pubPrevious) Run(ctx context.Context, c *pipe.Context) error {
	s := pubOf(c)
	cur := semver.MustParse(s.cfg.Version)
	prev, err := s.previousFromGitHub(ctx, cur)
	if err != nil {
		return err
	}
	if prev == nil && s.cfg.Source != "" {
		if prev, err = previousFromDir(filepath.Join(s.cfg.Source, "releases"), cur); err != nil {
			return err
		}
	}
	s.res.Previous = prev
	if prev != nil {
		s.res.Manifest.PreviousVersion = prev.Version
		fmt.Fprintf(logOf(c.Log), "  previous release: v%s\n", prev.Version)
	} else {
		fmt.Fprintf(logOf(c.Log), "  no previous release manifest found\n")
	}
	return nil
}

func (s *pubState) previousFromGitHub(ctx context.Context, cur *semver.Version) (*relmanifest.Manifest, error) {
	rels, err := s.cfg.GitHub.ListReleases(ctx, s.cfg.Owner, s.cfg.Repo)
	if err != nil {
		return nil, err
	}
	type cand struct {
		v   *semver.Version
		rel *github.RepositoryRelease
	}
	var cands []cand
	for _, r := range rels {
		if r.GetDraft() {
			continue
		}
		v, err := semver.NewVersion(r.GetTagName())
		if err != nil || !v.LessThan(cur) {
			continue
		}
		// A stable release upgrades from the previous stable one.
		if cur.Prerelease() == "" && (v.Prerelease() != "" || r.GetPrerelease()) {
			continue
		}
		cands = append(cands, cand{v, r})
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].v.GreaterThan(cands[j].v) })
	for _, cd := range cands {
		want := assetname.ReleaseManifest(cd.v.String())
		for _, a := range cd.rel.Assets {
			if a.GetName() != want {
				continue
			}
			var buf strings.Builder
			if _, err := s.cfg.GitHub.DownloadAsset(ctx, a, &buf); err != nil {
				return nil, fmt.Errorf("previous release %s: %w", cd.rel.GetTagName(), err)
			}
			m, err := relmanifest.Parse([]byte(buf.String()))
			if err != nil {
				return nil, fmt.Errorf("previous release %s: %w", cd.rel.GetTagName(), err)
			}
			s.prevAssets = cd.rel.Assets
			return m, nil
		}
	}
	return nil, nil
}

func previousFromDir(dir string, cur *semver.Version) (*relmanifest.Manifest, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", dir, err)
	}
	var best *semver.Version
	bestPath := ""
	for _, e := range entries {
		name := e.Name()
		ver, ok := assetname.ParseReleaseManifest(name)
		if !ok {
			continue
		}
		v := semver.MustParse(ver)
		if !v.LessThan(cur) {
			continue
		}
		if best == nil || v.GreaterThan(best) {
			best, bestPath = v, filepath.Join(dir, name)
		}
	}
	if best == nil {
		return nil, nil
	}
	return relmanifest.Read(bestPath)
}

// pubWrite writes the merged manifest, the release notes and the complete
// SHA256SUMS/SHA512SUMS.
type pubWrite struct{}

func (pubWrite) String() string { return "manifest" }
func (pubWrite) Run(ctx context.Context, c *pipe.Context) error {
	s := pubOf(c)
	m := s.res.Manifest
	if t := s.rel.GetCreatedAt(); m.ReleaseDate == "" && !t.IsZero() {
		m.ReleaseDate = t.UTC().Format(time.RFC3339)
	}
	t := s.tail()
	m.ReleaseNotes = ServerBase(s.cfg.ServerURL) + "/" + s.cfg.Owner + "/" + s.cfg.Repo + "/releases/tag/" + s.cfg.Tag

	// The release-wide SBOM the manifest's top-level sbom points at.
	when, err := time.Parse(time.RFC3339, m.ReleaseDate)
	if err != nil {
		when, err = time.Parse(time.DateOnly, m.ReleaseDate)
	}
	if err != nil {
		return fmt.Errorf("release date %q: %w", m.ReleaseDate, err)
	}
	boms := map[string][]byte{}
	for v, p := range s.sboms {
		if boms[v], err = os.ReadFile(p); err != nil {
			return err
		}
	}
	doc, err := releaseSBOM(m, boms, when, s.cfg.ToolVersion)
	if err != nil {
		return err
	}
	sa, err := artifact.WriteFile(artifact.SBOM, filepath.Join(s.cfg.Output, assetname.ReleaseSBOM(s.cfg.Version)), doc)
	if err != nil {
		return err
	}
	rs := s.arts.Add(sa)
	s.written = append(s.written, rs)
	m.SBOM = &relmanifest.SBOM{Format: sbom.Format, SpecVersion: sbom.SpecVersion, Filename: rs.Name, URL: t.DownloadURL(rs.Name), SHA256: rs.SHA256}
	if err := m.SetFile(relmanifest.File{Name: rs.Name, Type: rs.Type.Name, SizeBytes: rs.Size, ChecksumSHA256: rs.SHA256, ChecksumSHA512: rs.SHA512,
		URL: t.DownloadURL(rs.Name), SignatureURL: t.DownloadURL(assetname.Signature(rs.Name))}); err != nil {
		return err
	}

	path := filepath.Join(s.cfg.Output, assetname.ReleaseManifest(s.cfg.Version))
	if err := m.Write(path); err != nil {
		return err
	}
	// The copy for the repository's releases/ folder.
	if err := m.Write(filepath.Join(s.cfg.Output, filepath.FromSlash(assetname.ReleaseManifestPath(s.cfg.Version)))); err != nil {
		return err
	}
	downloaded := s.arts.All()
	ma, err := artifact.FromFile(artifact.Release, path)
	if err != nil {
		return err
	}
	s.res.ManifestPath = path
	mp := s.arts.Add(ma)
	s.written = append(s.written, mp)

	notes := relmanifest.Notes(s.res.Previous, m)
	notes += s.packageNotes(ctx)
	notes += "\n### Verify\n\n```\nsha256sum -c SHA256SUMS --ignore-missing\ngpg --verify SHA256SUMS.asc SHA256SUMS\n```\n\nSigned by " + s.signer.Fingerprint() + ".\n"
	s.res.Notes = notes

	// The lists describe this release only: the files verified and the
	// manifest, afresh on a re-run.
	for _, algo := range []checksum.Algorithm{checksum.SHA256, checksum.SHA512} {
		var lines []checksum.Line
		for _, a := range append(downloaded, mp) {
			lines = append(lines, checksum.Line{Digest: a.Digest(algo), Name: a.Name})
		}
		var buf bytes.Buffer
		if err := checksum.Write(&buf, checksum.Merge(nil, lines)); err != nil {
			return err
		}
		a, err := artifact.WriteFile(artifact.SumsList, filepath.Join(s.cfg.Output, algo.SumsName()), buf.Bytes())
		if err != nil {
			return err
		}
		s.written = append(s.written, s.arts.Add(a))
	}
	return nil
}

// packageNotes lists, per variant, how its Python packages changed since
// the previous release (when that release's SBOM can be read) or else
// which packages it has: the part of an upgrade a user acts on.
func (s *pubState) packageNotes(ctx context.Context) string {
	var b strings.Builder
	for _, name := range s.res.Manifest.Names() {
		p := s.sboms[name]
		if p == "" {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		cur, err := sbom.Packages(data)
		if err != nil || len(cur) == 0 {
			continue
		}
		if b.Len() == 0 {
			b.WriteString("\n### Python packages\n\n")
		}
		if prev, ok := s.previousPackages(ctx, name); ok {
			changes := sbom.DiffPackages(prev, cur)
			if len(changes) == 0 {
				fmt.Fprintf(&b, "- %s: unchanged since v%s\n", name, s.res.Previous.Version)
				continue
			}
			var list []string
			for _, c := range changes {
				switch {
				case c.From == "":
					list = append(list, c.Name+" "+c.To+" (new)")
				case c.To == "":
					list = append(list, c.Name+" (removed)")
				default:
					list = append(list, c.Name+" "+c.From+" → "+c.To)
				}
			}
			fmt.Fprintf(&b, "- %s, since v%s: %s\n", name, s.res.Previous.Version, strings.Join(list, ", "))
			continue
		}
		var list []string
		for _, x := range cur {
			v := x.Version
			if v == "" {
				v = "unpinned"
			}
			list = append(list, x.Name+" "+v)
		}
		fmt.Fprintf(&b, "- %s: %s\n", name, strings.Join(list, ", "))
	}
	return b.String()
}

// previousPackages reads the Python packages of a variant from the
// previous release's SBOM, when that release is on GitHub and has one.
func (s *pubState) previousPackages(ctx context.Context, variant string) ([]sbom.Package, bool) {
	prev := s.res.Previous
	if prev == nil || len(s.prevAssets) == 0 {
		return nil, false
	}
	v, ok := prev.Variants[variant]
	if !ok || v.SBOM == nil {
		return nil, false
	}
	name := v.SBOM.Filename
	if name == "" {
		name = path.Base(v.SBOM.URL)
	}
	for _, a := range s.prevAssets {
		if a.GetName() != name {
			continue
		}
		var buf bytes.Buffer
		if _, err := s.cfg.GitHub.DownloadAsset(ctx, a, &buf); err != nil {
			return nil, false
		}
		pk, err := sbom.Packages(buf.Bytes())
		return pk, err == nil
	}
	return nil, false
}

// pubSign signs the release SBOM, the merged manifest and the SUMS lists.
type pubSign struct{}

func (pubSign) String() string { return "sign" }
func (pubSign) Run(_ context.Context, c *pipe.Context) error {
	s := pubOf(c)
	t := s.tail()
	for _, a := range s.written {
		if err := t.sign(a); err != nil {
			return err
		}
	}
	return nil
}

// tail is the release tail over the release job's files, for the sign and
// upload steps every job shares.
func (s *pubState) tail() *Tail {
	return New(Config{Version: s.cfg.Version, Tag: s.cfg.Tag, Output: s.cfg.Output, Signer: s.signer,
		Upload: true, GitHub: s.cfg.GitHub, Owner: s.cfg.Owner, Repo: s.cfg.Repo, ServerURL: s.cfg.ServerURL,
		Publish: true, Log: s.cfg.Log}, &s.arts)
}

type pubRelease struct{}

func (pubRelease) String() string { return "publish" }
func (pubRelease) Run(ctx context.Context, c *pipe.Context) error {
	s := pubOf(c)
	files := append(append([]*artifact.Artifact(nil), s.written...), s.arts.Filter(artifact.ByRole(artifact.Signature))...)
	res, err := s.tail().upload(ctx, files, "uDOS "+s.cfg.Tag, s.res.Notes, false)
	if err != nil {
		return err
	}
	s.res.Release = res
	return nil
}
