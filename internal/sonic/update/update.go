// Package update is `udos-lib sonic update`: find a newer signed release
// with a sonic-iso image for this architecture (through coreinst's
// sources and manifest checks, the same as `udos-lib core`), fetch it by
// delta (internal/sonic/delta) against the local image, verified before it
// lands, and write the verified image to a device when asked.
package update

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/fredbook/udos-dist/internal/assetname"
	"github.com/fredbook/udos-dist/internal/coreinst"
	"github.com/fredbook/udos-dist/internal/fetch"
	"github.com/fredbook/udos-dist/internal/sonic/build"
	"github.com/fredbook/udos-dist/internal/sonic/delta"
)

// ReleaseFile is where a Sonic image names its version ("udos-sonic 1.4.6").
const ReleaseFile = "/etc/sonic-release"

// maxIndex bounds a block index read into memory (a 64 GiB image at 4 KiB).
const maxIndex = 52 + 36*delta.MaxBlocks

// ErrUntrusted is coreinst's: every refusal on trust grounds wraps it.
var ErrUntrusted = coreinst.ErrUntrusted

// Updater checks for and fetches Sonic images.
type Updater struct {
	// Installer supplies the keyring and the fetcher and reads manifests.
	Installer *coreinst.Installer
	// Ranger fetches the missing ranges of the image.
	Ranger delta.Ranger
	// Arch is the GOARCH of the image wanted ("amd64", "arm64"): it picks
	// the release's variant build.Variant(Arch).
	Arch string
	// Current is the running image's version.
	Current string
	Log     io.Writer
	// Progress, when set, counts the bytes of the image assembled.
	Progress func(done, total int64)
}

// Offer is the result of a check.
type Offer struct {
	Current   string `json:"current"`
	Version   string `json:"version,omitempty"`
	Available bool   `json:"available"`
	ISO       string `json:"iso,omitempty"`
	Size      int64  `json:"size_bytes,omitempty"`
	SHA256    string `json:"sha256,omitempty"`
	Source    string `json:"source"`

	rel   *coreinst.Release
	asset coreinst.Asset
	src   coreinst.Source
}

// CurrentVersion reads the version from a sonic-release file.
func CurrentVersion(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading the running Sonic's version: %w (pass --current VERSION)", err)
	}
	f := strings.Fields(string(b))
	if len(f) != 2 || f[0] != "udos-sonic" {
		return "", fmt.Errorf("%s: want \"udos-sonic VERSION\", have %q", path, strings.TrimSpace(string(b)))
	}
	return f[1], nil
}

// Check looks for the newest release above Current (or exactly to, which
// must be newer) whose verified manifest has a sonic-iso image for Arch.
func (u *Updater) Check(ctx context.Context, src coreinst.Source, to string) (*Offer, error) {
	cur, err := semver.StrictNewVersion(strings.TrimPrefix(u.Current, "v"))
	if err != nil {
		return nil, fmt.Errorf("the running version %q is not X.Y.Z: %w", u.Current, err)
	}
	o := &Offer{Current: cur.String(), Source: src.String()}
	version := strings.TrimPrefix(to, "v")
	if version == "" {
		if version, err = coreinst.Newest(ctx, src, cur); err != nil {
			return nil, err
		}
		if version == "" {
			return o, nil
		}
	}
	want, err := semver.StrictNewVersion(version)
	if err != nil {
		return nil, fmt.Errorf("--to %q is not a version X.Y.Z", to)
	}
	if !want.GreaterThan(cur) {
		return nil, fmt.Errorf("%w: %s is not newer than the running %s (sonic update does not downgrade)", ErrUntrusted, want, cur)
	}
	rel, err := u.Installer.FetchRelease(ctx, src, want.String())
	if err != nil {
		return nil, err
	}
	// FetchRelease refused a manifest describing another version than its
	// name; check the version it does describe against the running one.
	if got, err := semver.StrictNewVersion(rel.Version); err != nil || !got.GreaterThan(cur) {
		return nil, fmt.Errorf("%w: release %s is not newer than the running %s", ErrUntrusted, rel.Version, cur)
	}
	// Each architecture's image is a variant of its own (sonic-iso for
	// amd64, sonic-iso-arm64, …): take the one of this machine.
	platform := "linux-" + u.Arch
	if _, ok := rel.Manifest.Variants[build.Variant(u.Arch)]; !ok {
		return nil, fmt.Errorf("release %s has no Sonic image for %s (no %s entry; it has: %s)", rel.Version, platform, build.Variant(u.Arch), strings.Join(rel.Manifest.Names(), ", "))
	}
	a, err := rel.Variant(build.Variant(u.Arch))
	if err != nil {
		return nil, err
	}
	if !slices.Contains(a.Platforms, platform) {
		return nil, fmt.Errorf("release %s has no Sonic image for %s (it has %s)", rel.Version, platform, strings.Join(a.Platforms, ", "))
	}
	o.Version, o.Available, o.ISO, o.Size, o.SHA256 = rel.Version, true, a.Filename, a.Size, a.SHA256
	o.rel, o.asset, o.src = rel, a, src
	return o, nil
}

// Result of a download.
type Result struct {
	Path  string      `json:"path"`
	Stats delta.Stats `json:"stats"`
}

// Download fetches the offered image into dir by delta against seeds (the
// local images; absent ones are skipped), verified block by block, as a
// whole and by its OpenPGP signature before it is renamed into place.
func (u *Updater) Download(ctx context.Context, o *Offer, dir string, seeds []string) (*Result, error) {
	if o == nil || !o.Available {
		return nil, errors.New("no update to download")
	}
	ix, err := u.index(ctx, o)
	if err != nil {
		return nil, err
	}
	sig, err := u.Installer.AssetSignature(ctx, o.src, o.Version, o.asset)
	if err != nil {
		return nil, err
	}
	loc, err := o.src.Locate(ctx, o.Version, o.asset.Filename)
	if err != nil {
		return nil, err
	}
	dest := filepath.Join(dir, o.asset.Filename)
	plan, err := delta.MakePlan(ctx, ix, dest+delta.PartialExt, seeds...)
	if err != nil {
		return nil, err
	}
	if u.Log != nil {
		fmt.Fprintf(u.Log, "sonic update: %s: %d of %d bytes found locally, fetching %d in %d ranges\n", o.asset.Filename, plan.LocalBytes(), ix.Size, plan.MissingBytes(), len(plan.Missing))
	}
	st, err := delta.Apply(ctx, plan, u.Ranger, delta.Options{
		URL: loc, Dest: dest, Log: u.Log, Progress: u.Progress,
		Verify: func(path string) error {
			_, err := coreinst.VerifyFile(path, o.asset, sig, u.Installer.Keyring)
			return err
		},
	})
	if errors.Is(err, delta.ErrVerify) {
		// Both say "refused": name it once.
		err = fmt.Errorf("%w: %s", ErrUntrusted, strings.TrimPrefix(err.Error(), delta.ErrVerify.Error()+": "))
	}
	if err != nil {
		return nil, err
	}
	return &Result{Path: dest, Stats: st}, nil
}

// index fetches the release's block index and trusts it only when its
// manifest digest and its signature verify and it describes the image the
// manifest names.
func (u *Updater) index(ctx context.Context, o *Offer) (*delta.Index, error) {
	name := assetname.SonicIndexArch(o.Version, u.Arch)
	f, ok := o.rel.Manifest.File(name)
	if !ok {
		return nil, fmt.Errorf("release %s lists no block index %s: its images cannot be fetched by delta", o.Version, name)
	}
	raw, err := u.get(ctx, o, name, maxIndex)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	if hex.EncodeToString(sum[:]) != f.ChecksumSHA256 {
		return nil, fmt.Errorf("%w: %s: sha256 does not match the manifest's", ErrUntrusted, name)
	}
	sig, err := u.get(ctx, o, assetname.Signature(name), 1<<20)
	if err != nil {
		return nil, fmt.Errorf("%w (the block index must be signed)", err)
	}
	if _, err := u.Installer.Keyring.VerifyDetached(bytes.NewReader(raw), bytes.NewReader(sig)); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrUntrusted, name, err)
	}
	ix, err := delta.ParseIndex(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrUntrusted, name, err)
	}
	if ix.Size != o.asset.Size || ix.SHA256Hex() != o.asset.SHA256 {
		return nil, fmt.Errorf("%w: %s describes a %d-byte image with sha256 %s, the manifest's %s is %d bytes with %s", ErrUntrusted, name, ix.Size, ix.SHA256Hex(), o.asset.Filename, o.asset.Size, o.asset.SHA256)
	}
	return ix, nil
}

func (u *Updater) get(ctx context.Context, o *Offer, name string, max int64) ([]byte, error) {
	loc, err := o.src.Locate(ctx, o.Version, name)
	if err != nil {
		return nil, err
	}
	res, err := u.Installer.Fetcher.Get(ctx, loc, fetch.Validators{}, max)
	if err != nil {
		return nil, fmt.Errorf("fetching %s of release %s: %w", name, o.Version, err)
	}
	return res.Body, nil
}
