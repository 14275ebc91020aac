package udospkg

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/fredbook/udos-dist/internal/clip"
	"github.com/fredbook/udos-dist/internal/tarball"
)

// MaxPackageSize bounds the compressed size Read accepts; packages are
// held in memory while they are checked.
const MaxPackageSize = 256 << 20

// DefaultLimits bound what a package may expand to.
var DefaultLimits = tarball.Limits{
	MaxFiles:    10000,
	MaxFileSize: 64 << 20,
	MaxTotal:    512 << 20,
	MaxRatio:    200,
}

// Errors wrapped by Read and Verify, besides tarball's Err* sentinels.
var (
	// ErrNoManifest: the first entry is not manifest.json.
	ErrNoManifest = errors.New("manifest.json is not the first entry")
	// ErrContentMismatch: a payload file, or the set of files, disagrees with the manifest.
	ErrContentMismatch = errors.New("package contents do not match its manifest")
	// ErrDigestMismatch: the archive's own digest is not the expected one.
	ErrDigestMismatch = errors.New("package digest does not match")
)

// Package is a package file loaded in memory. Manifest is parsed and
// validated by Read; the payload is only trusted after Verify.
type Package struct {
	Manifest *Manifest
	// ManifestJSON is manifest.json exactly as stored in the archive.
	ManifestJSON []byte
	SHA256       string // of the archive
	SHA512       string
	Size         int64
	// Limits used by Verify and ExtractTo; Read sets DefaultLimits.
	Limits tarball.Limits

	raw []byte
}

// Open reads the package file at path (see Read).
func Open(path string) (*Package, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening package: %w", err)
	}
	defer f.Close()
	p, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("reading package %q: %w", path, err)
	}
	return p, nil
}

// Read loads a package from r (at most MaxPackageSize bytes), computes its
// digests and parses its manifest, which must be the first entry. It does
// not check the payload: call Verify.
func Read(r io.Reader) (*Package, error) {
	raw, err := io.ReadAll(io.LimitReader(r, MaxPackageSize+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > MaxPackageSize {
		return nil, fmt.Errorf("package larger than %d bytes", MaxPackageSize)
	}
	s256, s512 := sha256.Sum256(raw), sha512.Sum512(raw)
	p := &Package{
		SHA256: hex.EncodeToString(s256[:]),
		SHA512: hex.EncodeToString(s512[:]),
		Size:   int64(len(raw)),
		Limits: DefaultLimits,
		raw:    raw,
	}
	first := true
	err = tarball.Walk(bytes.NewReader(raw), p.Limits, func(h tarball.Header, contents io.Reader) error {
		if !first {
			return tarball.SkipRest
		}
		first = false
		if h.Name != ManifestName || h.IsDir {
			return fmt.Errorf("%w (found %s)", ErrNoManifest, clip.Quote(h.Name))
		}
		if h.Size > 1<<20 {
			return fmt.Errorf("manifest.json: %d bytes is too large", h.Size)
		}
		data, err := io.ReadAll(contents)
		if err != nil {
			return fmt.Errorf("reading manifest.json: %w", err)
		}
		m, err := ParseManifest(data)
		if err != nil {
			return err
		}
		p.Manifest, p.ManifestJSON = m, data
		return nil
	})
	if err != nil {
		return nil, err
	}
	if p.Manifest == nil {
		return nil, fmt.Errorf("%w (the archive is empty)", ErrNoManifest)
	}
	return p, nil
}

// Bytes returns the archive as read. The caller must not modify it.
func (p *Package) Bytes() []byte { return p.raw }

// Reader returns a fresh reader of the archive bytes.
func (p *Package) Reader() io.Reader { return bytes.NewReader(p.raw) }

// CheckDigests compares the archive against expected digests (lower-case
// hex, as in the catalog or a lockfile); an empty expectation is skipped,
// but at least one must be given.
func (p *Package) CheckDigests(sha256Hex, sha512Hex string) error {
	if sha256Hex == "" && sha512Hex == "" {
		return fmt.Errorf("%w: no expected digest given", ErrDigestMismatch)
	}
	if sha256Hex != "" && !strings.EqualFold(sha256Hex, p.SHA256) {
		return fmt.Errorf("%w: sha256 is %s, expected %s", ErrDigestMismatch, p.SHA256, sha256Hex)
	}
	if sha512Hex != "" && !strings.EqualFold(sha512Hex, p.SHA512) {
		return fmt.Errorf("%w: sha512 is %s, expected %s", ErrDigestMismatch, p.SHA512, sha512Hex)
	}
	return nil
}

// Verify reads the whole archive and checks that manifest.json comes first
// and is the one Read parsed, that every entry is safe and within Limits,
// that only directories and payload files follow, that every payload
// file's sha256 matches the manifest's files, with none missing and none
// extra, and that the payload digest matches checksums.sha256.
func (p *Package) Verify() error {
	m := p.Manifest
	seen := map[string]bool{}
	var extra []string
	i := 0
	err := tarball.Walk(bytes.NewReader(p.raw), p.Limits, func(h tarball.Header, contents io.Reader) error {
		i++
		if i == 1 {
			if h.Name != ManifestName || h.IsDir {
				return fmt.Errorf("%w (found %s)", ErrNoManifest, clip.Quote(h.Name))
			}
			data, err := io.ReadAll(contents)
			if err != nil {
				return err
			}
			if !bytes.Equal(data, p.ManifestJSON) {
				return fmt.Errorf("%w: manifest.json changed", ErrContentMismatch)
			}
			return nil
		}
		if h.IsDir {
			dir := strings.TrimSuffix(h.Name, "/")
			if !IsPayloadPath(dir+"/x") && !isPayloadRoot(dir) {
				return fmt.Errorf("%w: directory %s is outside lib/, docs/ and examples/", ErrContentMismatch, clip.Quote(h.Name))
			}
			return nil
		}
		if !IsPayloadPath(h.Name) {
			return fmt.Errorf("%w: %s is not a payload path", ErrContentMismatch, clip.Quote(h.Name))
		}
		want, listed := m.Files[h.Name]
		if !listed {
			extra = append(extra, h.Name)
			return nil
		}
		hs := sha256.New()
		if _, err := io.Copy(hs, contents); err != nil {
			return err
		}
		if got := hex.EncodeToString(hs.Sum(nil)); got != want {
			return fmt.Errorf("%w: %s has sha256 %s, manifest says %s", ErrContentMismatch, clip.Quote(h.Name), got, want)
		}
		seen[h.Name] = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("verifying %s: %w", m.FileName(), err)
	}
	if len(extra) > 0 {
		return fmt.Errorf("verifying %s: %w: not listed in manifest: %s", m.FileName(), ErrContentMismatch, listSome(extra))
	}
	var missing []string
	for f := range m.Files {
		if !seen[f] {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("verifying %s: %w: listed in manifest but missing: %s", m.FileName(), ErrContentMismatch, listSome(missing))
	}
	// Every file matched its listed digest, so the payload digest of the
	// listed files is the payload digest of the archive.
	if got := PayloadDigest(m.Files); got != m.Checksums.SHA256 {
		return fmt.Errorf("verifying %s: %w: payload digest %s, manifest says %s", m.FileName(), ErrContentMismatch, got, m.Checksums.SHA256)
	}
	return nil
}

// listSome names the first few of many paths: a hostile package may list
// thousands, and one error line should stay readable.
func listSome(paths []string) string {
	const show = 5
	out := make([]string, 0, show+1)
	for i, p := range paths {
		if i == show {
			out = append(out, fmt.Sprintf("and %d more", len(paths)-show))
			break
		}
		out = append(out, clip.String(p))
	}
	return strings.Join(out, ", ")
}

func isPayloadRoot(dir string) bool {
	for _, r := range PayloadRoots {
		if dir == r {
			return true
		}
	}
	return false
}

// ExtractTo verifies the package and writes it (manifest.json included)
// under dst, which should be a fresh directory: the extractor refuses to
// overwrite files and cleans up after itself on error. For an atomic
// install, extract into a temporary directory beside the final place and
// rename it.
func (p *Package) ExtractTo(dst string) ([]string, error) {
	if err := p.Verify(); err != nil {
		return nil, err
	}
	names, err := tarball.Extract(bytes.NewReader(p.raw), dst, p.Limits)
	if err != nil {
		return nil, fmt.Errorf("extracting %s into %q: %w", p.Manifest.FileName(), dst, err)
	}
	return names, nil
}
