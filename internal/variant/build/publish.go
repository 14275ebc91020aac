package build

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

	"github.com/fredbook/udos-dist/internal/atomicfile"

	"github.com/Masterminds/semver/v3"
	"github.com/google/go-github/v89/github"

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
	Log            io.Writer
}

// PublishResult is what the release job did.
type PublishResult struct {
	Manifest  *relmanifest.Manifest
	Previous  *relmanifest.Manifest // nil for a first release
	Notes     string
	Artifacts []Artifact
	Release   *ghrelease.PublishResult
	Steps     []pipe.Result
}

type pubState struct {
	cfg      PublishConfig
	res      *PublishResult
	signer   *pgpsign.Signer
	keyring  *pgpsign.Keyring
	rel      *github.RepositoryRelease
	assets   map[string]*github.ReleaseAsset
	manifest string // path of v<version>-manifest.json in Output
	sums     []string
	download []string // downloaded artifact paths, for the SUMS lists
	sboms    map[string]string
	// prevAssets are the previous release's assets, when it came from GitHub.
	prevAssets []*github.ReleaseAsset
}

// Publish merges the variants' manifests from the draft release, verifies
// every variant's archive, SBOM and formula (GitHub's digest, the manifest's
// digests and the signatures), writes the release notes with the upgrade
// path from the previous release, signs the merged manifest and the
// SHA256SUMS/SHA512SUMS lists, uploads them and publishes the release. Each
// part is idempotent, so a re-run after an interruption finishes the job.
func Publish(ctx context.Context, cfg PublishConfig) (*PublishResult, error) {
	st := &pubState{cfg: cfg, res: &PublishResult{}, sboms: map[string]string{}}
	c := &pipe.Context{Log: cfg.Log, Values: st}
	err := pipe.Run(ctx, c, pubSetup{}, pubFetch{}, pubVerify{}, pubPrevious{}, pubWrite{}, pubSign{}, pubRelease{})
	st.res.Steps = c.Results()
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
	s.assets, err = listAssets(ctx, gh, s.cfg.Owner, s.cfg.Repo, rel.GetID())
	if err != nil {
		return err
	}
	m := relmanifest.New(s.cfg.Version)
	var names []string
	for name := range s.assets {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		v, ok := relmanifest.IsFragment(name, s.cfg.Version)
		if !ok {
			continue
		}
		path, err := s.fetch(ctx, name)
		if err != nil {
			return err
		}
		if err := s.verifySig(ctx, path, name); err != nil {
			return err
		}
		frag, err := relmanifest.Read(path)
		if err != nil {
			return err
		}
		if _, ok := frag.Variants[v]; !ok || len(frag.Variants) != 1 {
			return fmt.Errorf("fragment %s does not hold exactly variant %s", name, v)
		}
		if err := m.Merge(frag); err != nil {
			return err
		}
	}
	if len(m.Variants) == 0 {
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

func listAssets(ctx context.Context, gh *ghrelease.Client, owner, repo string, id int64) (map[string]*github.ReleaseAsset, error) {
	out := map[string]*github.ReleaseAsset{}
	opts := &github.ListOptions{PerPage: 100}
	for {
		page, resp, err := gh.GitHub().Repositories.ListReleaseAssets(ctx, owner, repo, id, opts)
		if err != nil {
			return nil, fmt.Errorf("listing assets of release %d: %w", id, err)
		}
		for _, a := range page {
			out[a.GetName()] = a
		}
		if resp == nil || resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
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

func (s *pubState) verifySig(ctx context.Context, path, name string) error {
	sigPath, err := s.fetch(ctx, name+".asc")
	if err != nil {
		return fmt.Errorf("signature of %s: %w", name, err)
	}
	if _, err := s.keyring.VerifyFile(path, sigPath); err != nil {
		return fmt.Errorf("signature of %s does not verify with the release key %s: %w", name, s.signer.Fingerprint(), err)
	}
	return nil
}

// pubVerify downloads every variant's archive, SBOM and formula and checks
// them against the manifest and their signatures.
type pubVerify struct{}

func (pubVerify) String() string { return "verify" }
func (pubVerify) Run(ctx context.Context, c *pipe.Context) error {
	s := pubOf(c)
	m := s.res.Manifest
	for _, name := range m.Names() {
		v := m.Variants[name]
		type file struct{ name, kind string }
		files := []file{{v.Filename, "archive"}}
		if v.SBOM != nil && v.SBOM.Filename != "" {
			files = append(files, file{v.SBOM.Filename, "sbom"})
		}
		if f := "udos-" + name + ".rb"; s.assets[f] != nil {
			files = append(files, file{f, "formula"})
		}
		for _, f := range files {
			path, err := s.fetch(ctx, f.name)
			if err != nil {
				return err
			}
			d, err := checksum.File(path)
			if err != nil {
				return err
			}
			if f.kind == "archive" && (d.SHA256 != v.SHA256 || d.SHA512 != v.SHA512 || d.Size != v.Size) {
				return fmt.Errorf("variant %s: %s on the release does not match its manifest (sha256 %s, manifest %s)", name, f.name, d.SHA256, v.SHA256)
			}
			if f.kind == "sbom" && v.SBOM.SHA256 != "" && d.SHA256 != v.SBOM.SHA256 {
				return fmt.Errorf("variant %s: SBOM %s does not match its manifest", name, f.name)
			}
			if err := s.verifySig(ctx, path, f.name); err != nil {
				return err
			}
			s.download = append(s.download, path)
			if f.kind == "sbom" {
				s.sboms[name] = path
			}
			s.res.Artifacts = append(s.res.Artifacts, Artifact{Kind: f.kind, Path: path, Name: f.name, Size: d.Size, SHA256: d.SHA256, SHA512: d.SHA512})
		}
	}
	return nil
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
		fmt.Fprintf(logOf(c), "  previous release: v%s\n", prev.Version)
	} else {
		fmt.Fprintf(logOf(c), "  no previous release manifest found\n")
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
		want := relmanifest.FileName(cd.v.String())
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
		if !strings.HasPrefix(name, "v") || !strings.HasSuffix(name, "-manifest.json") {
			continue
		}
		v, err := semver.StrictNewVersion(strings.TrimSuffix(strings.TrimPrefix(name, "v"), "-manifest.json"))
		if err != nil || !v.LessThan(cur) {
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
		m.ReleaseDate = t.UTC().Format("2006-01-02")
	}
	path := filepath.Join(s.cfg.Output, relmanifest.FileName(s.cfg.Version))
	if err := m.Write(path); err != nil {
		return err
	}
	// The copy for the repository's releases/ folder.
	if err := m.Write(filepath.Join(s.cfg.Output, filepath.FromSlash(relmanifest.Path(s.cfg.Version)))); err != nil {
		return err
	}
	s.manifest = path
	a, err := artifact("manifest", path)
	if err != nil {
		return err
	}
	s.res.Artifacts = append(s.res.Artifacts, a)

	notes := relmanifest.Notes(s.res.Previous, m)
	notes += s.packageNotes(ctx)
	notes += "\n### Verify\n\n```\nsha256sum -c SHA256SUMS --ignore-missing\ngpg --verify SHA256SUMS.asc SHA256SUMS\n```\n\nSigned by " + s.signer.Fingerprint() + ".\n"
	s.res.Notes = notes

	for _, f := range []string{"SHA256SUMS", "SHA512SUMS"} {
		// The lists describe this release only: start afresh on a re-run.
		if err := os.Remove(filepath.Join(s.cfg.Output, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	sums, err := checksum.MergeFiles(s.cfg.Output, append(append([]string{}, s.download...), path)...)
	if err != nil {
		return err
	}
	s.sums = sums
	for _, p := range sums {
		a, err := artifact("checksums", p)
		if err != nil {
			return err
		}
		s.res.Artifacts = append(s.res.Artifacts, a)
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

type pubSign struct{}

func (pubSign) String() string { return "sign" }
func (pubSign) Run(_ context.Context, c *pipe.Context) error {
	s := pubOf(c)
	for _, p := range append([]string{s.manifest}, s.sums...) {
		sig, err := pgpsign.SignFile(s.signer, p)
		if err != nil {
			return fmt.Errorf("signing %s: %w", filepath.Base(p), err)
		}
		a, err := artifact("signature", sig)
		if err != nil {
			return err
		}
		s.res.Artifacts = append(s.res.Artifacts, a)
	}
	return nil
}

type pubRelease struct{}

func (pubRelease) String() string { return "publish" }
func (pubRelease) Run(ctx context.Context, c *pipe.Context) error {
	s := pubOf(c)
	arts, _, err := adoptSignatures(ctx, s.cfg.GitHub, s.cfg.Owner, s.cfg.Repo, s.cfg.Tag, s.signer, s.res.Artifacts)
	if err != nil {
		return err
	}
	s.res.Artifacts = arts
	var assets []ghrelease.AssetFile
	for _, a := range s.res.Artifacts {
		if a.Kind == "manifest" || a.Kind == "checksums" || a.Kind == "signature" {
			assets = append(assets, ghrelease.AssetFile{Path: a.Path, Name: a.Name, ContentType: contentType(a.Name)})
		}
	}
	res, err := s.cfg.GitHub.Publish(ctx, ghrelease.PublishRequest{
		Owner: s.cfg.Owner, Repo: s.cfg.Repo, Tag: s.cfg.Tag, Name: "uDOS " + s.cfg.Tag,
		Body: s.res.Notes, Assets: assets, Prerelease: semver.MustParse(s.cfg.Version).Prerelease() != "",
	})
	if err != nil {
		return err
	}
	s.res.Release = res
	return nil
}
