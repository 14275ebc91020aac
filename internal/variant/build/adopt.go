package build

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/fredbook/udos-dist/internal/atomicfile"

	"github.com/fredbook/udos-dist/internal/ghrelease"
	"github.com/fredbook/udos-dist/internal/pgpsign"
)

// adoptSignatures makes re-runs and parallel legs idempotent despite
// OpenPGP signatures not being reproducible (go-crypto salts every
// signature, and each carries its creation time): when the release already
// has a signature for one of our files and it verifies, with our key,
// against our local bytes, that signature is kept — written over the local
// .asc — instead of uploading a second, equally valid one. A published
// release could not take a replacement anyway.
func adoptSignatures(ctx context.Context, gh *ghrelease.Client, owner, repo, tag string, signer *pgpsign.Signer, arts []Artifact) ([]Artifact, int, error) {
	rel, err := gh.FindRelease(ctx, owner, repo, tag)
	if err != nil || rel == nil {
		return arts, 0, err
	}
	assets, err := listAssets(ctx, gh, owner, repo, rel.GetID())
	if err != nil {
		return arts, 0, err
	}
	pub, err := signer.PublicKey()
	if err != nil {
		return arts, 0, err
	}
	kr, err := pgpsign.LoadKeyring(pub)
	if err != nil {
		return arts, 0, err
	}
	adopted := 0
	out := append([]Artifact(nil), arts...)
	for i, a := range out {
		if a.Kind != "signature" {
			continue
		}
		remote := assets[ghrelease.NormalizeAssetName(a.Name)]
		if remote == nil || remote.GetState() != "uploaded" {
			continue
		}
		if strings.EqualFold(remote.GetDigest(), "sha256:"+a.SHA256) {
			continue // already the same bytes
		}
		var sig bytes.Buffer
		if _, err := gh.DownloadAsset(ctx, remote, &sig); err != nil {
			return arts, adopted, err
		}
		target := strings.TrimSuffix(a.Path, ".asc")
		f, err := os.Open(target)
		if err != nil {
			return arts, adopted, err
		}
		_, verr := kr.VerifyDetached(f, bytes.NewReader(sig.Bytes()))
		f.Close()
		if verr != nil {
			continue // stale or foreign: ours replaces it on the draft
		}
		if err := atomicfile.Write(a.Path, 0o644, func(w io.Writer) error {
			_, err := w.Write(sig.Bytes())
			return err
		}); err != nil {
			return arts, adopted, fmt.Errorf("keeping the release's signature %s: %w", a.Name, err)
		}
		na, err := artifact(a.Kind, a.Path)
		if err != nil {
			return arts, adopted, err
		}
		out[i] = na
		adopted++
	}
	return out, adopted, nil
}
