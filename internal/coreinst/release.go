package coreinst

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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
	"github.com/fredbook/udos-dist/internal/fetch"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/relmanifest"
)

// maxManifest bounds a release manifest and a signature read into memory.
const maxManifest = 8 << 20

// Release is a release manifest whose signature verified.
type Release struct {
	Version  string
	Manifest *relmanifest.Manifest
	Raw      []byte // the manifest's bytes, as signed
	Sig      []byte // its armored detached signature
	Signer   pgpsign.Verified
}

// Asset is one variant's file as the manifest describes it.
type Asset struct {
	Variant   string
	Filename  string
	Size      int64
	SHA256    string
	SHA512    string
	Signature string // armored text, or the name/URL of the .asc
	Platforms []string
}

// Variant returns the manifest's entry for a variant. It is the one place
// that knows the manifest's variant fields.
func (r *Release) Variant(name string) (Asset, error) {
	v, ok := r.Manifest.Variants[name]
	if !ok {
		return Asset{}, fmt.Errorf("release %s has no variant %q (it has: %s)", r.Version, name, strings.Join(r.Manifest.Names(), ", "))
	}
	sig := v.GPGSignature // the seed's armored signature, inline
	if sig == "" {
		sig = v.Signature // the .asc's name or URL
	}
	return Asset{Variant: name, Filename: v.Filename, Size: v.Size, SHA256: v.SHA256, SHA512: v.SHA512, Signature: sig, Platforms: v.Platforms}, nil
}

// Expires returns the manifest's optional "expires" time (RFC 3339); zero
// when it has none.
func (r *Release) Expires() (time.Time, error) {
	raw, ok := r.Manifest.Extra["expires"]
	if !ok {
		return time.Time{}, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, fmt.Errorf("release manifest %s: expires is not a string", r.Version)
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("release manifest %s: expires %q is not an RFC 3339 time", r.Version, s)
	}
	return t, nil
}

// ErrUntrusted wraps every refusal of a manifest or asset on trust grounds
// (signature, digest, version, expiry).
var ErrUntrusted = errors.New("refused")

func untrusted(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUntrusted, fmt.Sprintf(format, args...))
}

// VerifyManifest checks a manifest's signature against the keyring and
// that it is the manifest of version (a manifest of another release
// offered under this name is a replay) and has not expired.
func VerifyManifest(raw, sig []byte, version string, kr *pgpsign.Keyring, now time.Time) (*Release, error) {
	name := assetname.ReleaseManifest(version)
	if kr == nil {
		return nil, fmt.Errorf("checking %s: no keyring: pass --keyring FILE (or set UDOS_KEYRING) with the uDOS release key", name)
	}
	ver, err := kr.VerifyDetached(bytes.NewReader(raw), bytes.NewReader(sig))
	if err != nil {
		return nil, untrusted("%s: %v", name, err)
	}
	m, err := relmanifest.Parse(raw)
	if err != nil {
		return nil, untrusted("%s: %v", name, err)
	}
	want := strings.TrimPrefix(version, "v")
	if m.Version != want {
		return nil, untrusted("%s is signed but describes release %s, not %s (a replayed manifest)", name, m.Version, want)
	}
	r := &Release{Version: m.Version, Manifest: m, Raw: raw, Sig: sig, Signer: ver}
	exp, err := r.Expires()
	if err != nil {
		return nil, untrusted("%v", err)
	}
	if !exp.IsZero() && now.After(exp) {
		return nil, untrusted("%s expired at %s", name, exp.UTC().Format(time.RFC3339))
	}
	return r, nil
}

// saveRelease keeps a verified manifest and its signature in the prefix,
// for offline rollback and status.
func (p Paths) saveRelease(r *Release) error {
	name := filepath.Join(p.Manifests(), assetname.ReleaseManifest(r.Version))
	if err := atomicfile.WriteFile(name+assetname.SignatureExt, r.Sig, 0o644); err != nil {
		return err
	}
	return atomicfile.WriteFile(name, r.Raw, 0o644)
}

// loadRelease reads a kept manifest back and verifies it again.
// Expiry is not checked again: a kept release stays usable offline.
func (p Paths) loadRelease(version string, kr *pgpsign.Keyring) (*Release, error) {
	name := filepath.Join(p.Manifests(), assetname.ReleaseManifest(version))
	raw, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("reading the kept manifest: %w", err)
	}
	sig, err := os.ReadFile(name + assetname.SignatureExt)
	if err != nil {
		return nil, fmt.Errorf("reading the kept manifest's signature: %w", err)
	}
	return VerifyManifest(raw, sig, version, kr, time.Time{})
}

// VerifyFile checks a downloaded file against the manifest's size and
// digests and its detached signature, all before anything reads it as an
// archive.
func VerifyFile(path string, a Asset, sig []byte, kr *pgpsign.Keyring) (pgpsign.Verified, error) {
	d, err := checksum.File(path)
	if err != nil {
		return pgpsign.Verified{}, err
	}
	switch {
	case d.Size != a.Size:
		return pgpsign.Verified{}, untrusted("%s is %d bytes, the manifest says %d", a.Filename, d.Size, a.Size)
	case d.SHA256 != a.SHA256:
		return pgpsign.Verified{}, untrusted("%s: sha256 %s does not match the manifest's %s", a.Filename, d.SHA256, a.SHA256)
	case d.SHA512 != a.SHA512:
		return pgpsign.Verified{}, untrusted("%s: sha512 does not match the manifest's", a.Filename)
	}
	f, err := os.Open(path)
	if err != nil {
		return pgpsign.Verified{}, err
	}
	defer f.Close()
	ver, err := kr.VerifyDetached(f, bytes.NewReader(sig))
	if err != nil {
		return pgpsign.Verified{}, untrusted("%s: %v", a.Filename, err)
	}
	return ver, nil
}

// readAll reads at most max bytes of r.
func readAll(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("larger than %d bytes", max)
	}
	return b, nil
}

// FetchRelease downloads and verifies a release's manifest.
func (in *Installer) FetchRelease(ctx context.Context, src Source, version string) (*Release, error) {
	name := assetname.ReleaseManifest(version)
	raw, err := in.getSmall(ctx, src, version, name)
	if err != nil {
		return nil, err
	}
	sig, err := in.getSmall(ctx, src, version, assetname.Signature(name))
	if err != nil {
		return nil, fmt.Errorf("%w (every release manifest must be signed)", err)
	}
	return VerifyManifest(raw, sig, version, in.Keyring, in.now())
}

// AssetSignature returns the armored signature of an asset: the manifest's
// inline text, or the .asc file it names (by default <file>.asc).
func (in *Installer) AssetSignature(ctx context.Context, src Source, version string, a Asset) ([]byte, error) {
	s := strings.TrimSpace(a.Signature)
	if strings.HasPrefix(s, "-----BEGIN PGP SIGNATURE-----") {
		return []byte(a.Signature), nil
	}
	name := assetname.Signature(a.Filename)
	if s != "" {
		name = s[strings.LastIndex(s, "/")+1:]
	}
	return in.getSmall(ctx, src, version, name)
}

func (in *Installer) getSmall(ctx context.Context, src Source, version, name string) ([]byte, error) {
	loc, err := src.Locate(ctx, version, name)
	if err != nil {
		return nil, err
	}
	res, err := in.Fetcher.Get(ctx, loc, fetch.Validators{}, maxManifest)
	if err != nil {
		return nil, fmt.Errorf("fetching %s of release %s: %w", name, version, err)
	}
	return res.Body, nil
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// relmanifestDiff is relmanifest.Diff as lines.
func relmanifestDiff(prev, cur *Release) []string {
	var out []string
	for _, c := range relmanifest.Diff(prev.Manifest, cur.Manifest) {
		out = append(out, c.String())
	}
	return out
}
