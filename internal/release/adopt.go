package release

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/fredbook/udos-dist/internal/artifact"
	"github.com/fredbook/udos-dist/internal/assetname"
	"github.com/fredbook/udos-dist/internal/atomicfile"
	"github.com/fredbook/udos-dist/internal/ghrelease"
	"github.com/fredbook/udos-dist/internal/pgpsign"
)

// AdoptSignatures makes re-runs and parallel jobs idempotent although
// OpenPGP signatures are not reproducible (go-crypto salts every signature,
// and each carries its creation time): when the release already has a
// signature for one of the files and it verifies, with signer's key,
// against the local bytes, that signature is kept — written atomically over
// the local .asc and the artifact updated — instead of uploading a second,
// equally valid one (a published release could not take a replacement
// anyway). A stale or foreign signature is left alone: ours replaces it on
// the draft. It returns how many signatures were kept.
func AdoptSignatures(ctx context.Context, gh *ghrelease.Client, owner, repo, tag string, signer *pgpsign.Signer, files []*artifact.Artifact) (int, error) {
	rel, err := gh.FindRelease(ctx, owner, repo, tag)
	if err != nil || rel == nil {
		return 0, err
	}
	remote, err := gh.ListAssets(ctx, owner, repo, tag, rel.GetID())
	if err != nil {
		return 0, err
	}
	pub, err := signer.PublicKey()
	if err != nil {
		return 0, err
	}
	kr, err := pgpsign.LoadKeyring(pub)
	if err != nil {
		return 0, err
	}
	kept := 0
	for _, a := range files {
		if a.Type.Role != artifact.Signature {
			continue
		}
		r := remote[ghrelease.NormalizeAssetName(a.Name)]
		if r == nil || r.GetState() != "uploaded" {
			continue
		}
		if strings.EqualFold(r.GetDigest(), "sha256:"+a.SHA256) {
			continue // already the same bytes
		}
		var sig bytes.Buffer
		if _, err := gh.DownloadAsset(ctx, r, &sig); err != nil {
			return kept, err
		}
		target, _ := assetname.IsSignature(a.Path)
		f, err := os.Open(target)
		if err != nil {
			return kept, fmt.Errorf("opening the signed file of %s: %w", a.Name, err)
		}
		_, verr := kr.VerifyDetached(f, bytes.NewReader(sig.Bytes()))
		f.Close()
		if verr != nil {
			continue
		}
		if err := atomicfile.WriteFile(a.Path, sig.Bytes(), 0o644); err != nil {
			return kept, fmt.Errorf("keeping the release's signature %s: %w", a.Name, err)
		}
		na, err := artifact.FromFile(a.Type, a.Path)
		if err != nil {
			return kept, err
		}
		na.Variant = a.Variant
		*a = na
		kept++
	}
	return kept, nil
}
