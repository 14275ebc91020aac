package build

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-github/v89/github"

	"github.com/fredbook/udos-dist/internal/ghrelease"
	"github.com/fredbook/udos-dist/internal/pgpsign"
)

// adoptSignatures keeps a re-run idempotent although OpenPGP signatures are
// not reproducible (each has its creation time and a random salt): when the
// release already carries a signature for one of our files that verifies,
// with our key, against our local bytes, it is written over the local .asc,
// so the upload finds the same bytes and sends nothing. A stale or foreign
// signature is left alone (ours replaces it on a draft). It returns how many
// signatures were kept.
func adoptSignatures(ctx context.Context, gh *ghrelease.Client, owner, repo, tag string, signer *pgpsign.Signer, ascs []string) (int, error) {
	rel, err := gh.FindRelease(ctx, owner, repo, tag)
	if err != nil || rel == nil {
		return 0, err
	}
	remote := map[string]*github.ReleaseAsset{}
	opts := &github.ListOptions{PerPage: 100}
	for {
		page, resp, err := gh.GitHub().Repositories.ListReleaseAssets(ctx, owner, repo, rel.GetID(), opts)
		if err != nil {
			return 0, fmt.Errorf("listing assets of release %s: %w", tag, err)
		}
		for _, a := range page {
			remote[a.GetName()] = a
		}
		if resp == nil || resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
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
	for _, asc := range ascs {
		a := remote[ghrelease.NormalizeAssetName(filepath.Base(asc))]
		if a == nil || a.GetState() != "uploaded" {
			continue
		}
		local, err := os.ReadFile(asc)
		if err != nil {
			return kept, fmt.Errorf("reading %q: %w", asc, err)
		}
		var sig bytes.Buffer
		if _, err := gh.DownloadAsset(ctx, a, &sig); err != nil {
			return kept, err
		}
		if bytes.Equal(sig.Bytes(), local) {
			continue
		}
		f, err := os.Open(strings.TrimSuffix(asc, ".asc"))
		if err != nil {
			return kept, fmt.Errorf("opening the signed file of %q: %w", asc, err)
		}
		_, verr := kr.VerifyDetached(f, bytes.NewReader(sig.Bytes()))
		f.Close()
		if verr != nil {
			continue
		}
		tmp := asc + ".tmp"
		if err := os.WriteFile(tmp, sig.Bytes(), 0o644); err != nil {
			return kept, fmt.Errorf("keeping the release's signature %s: %w", a.GetName(), err)
		}
		if err := os.Rename(tmp, asc); err != nil {
			os.Remove(tmp)
			return kept, fmt.Errorf("keeping the release's signature %s: %w", a.GetName(), err)
		}
		kept++
	}
	return kept, nil
}
