// Package updatetest builds signed Sonic releases for the tests and the
// benchmark of `udos-lib sonic update`: an image and its block index
// registered as the sonic-iso job registers them and run through the real
// release tail (signatures, manifest), laid out as the flat source folder
// `--from DIR` reads.
package updatetest

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"time"

	"github.com/fredbook/udos-dist/internal/artifact"
	"github.com/fredbook/udos-dist/internal/assetname"
	"github.com/fredbook/udos-dist/internal/coreinst/coretest"
	"github.com/fredbook/udos-dist/internal/pipe"
	"github.com/fredbook/udos-dist/internal/release"
	"github.com/fredbook/udos-dist/internal/relmanifest"
	"github.com/fredbook/udos-dist/internal/sonic/build"
	"github.com/fredbook/udos-dist/internal/sonic/delta"
)

// Image is a deterministic stand-in for an ISO of n bytes: seed's
// pseudo-random content with the fraction changed of it replaced in
// `regions` spread runs (a changed file of a new release).
func Image(n int, seed int64, changed float64, regions int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	if changed <= 0 || regions <= 0 {
		return b
	}
	r := rand.New(rand.NewSource(seed + 1000))
	per := int(float64(n)*changed) / regions
	for i := 0; i < regions; i++ {
		at := i*(n/regions) + r.Intn(n/regions-per)
		r.Read(b[at : at+per])
	}
	return b
}

// Release writes release version with image as its sonic-iso into dir:
// the ISO, its block index, their .asc, and the signed manifest (with
// previous as previous_version).
func Release(ctx context.Context, dir, version, previous string, image []byte, key *coretest.Key) error {
	return ReleaseArches(ctx, dir, version, previous, map[string][]byte{"amd64": image}, key)
}

// ReleaseArches is Release with an image for each architecture (GOARCH),
// each its own variant (build.Variant) and names
// (assetname.SonicISOArch), as release.yml's sonic matrix makes them.
func ReleaseArches(ctx context.Context, dir, version, previous string, images map[string][]byte, key *coretest.Key) error {
	out, err := os.MkdirTemp("", "sonic-release-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(out)
	var arts artifact.List
	var names []string
	for arch, image := range images {
		isoName := assetname.SonicISOArch(version, arch)
		a, err := artifact.WriteFile(artifact.ISO, filepath.Join(out, isoName), image)
		if err != nil {
			return err
		}
		a.Variant = build.Variant(arch)
		a.Entry = &relmanifest.Variant{Platforms: []string{"linux-" + arch}, Bootable: relmanifest.Bool(true),
			UEFISupported: relmanifest.Bool(true), BIOSFallback: relmanifest.Bool(arch == "amd64")}
		arts.Add(a)
		f, err := os.Open(a.Path)
		if err != nil {
			return err
		}
		ix, err := delta.MakeIndex(f, 0)
		f.Close()
		if err != nil {
			return err
		}
		raw, _ := ix.MarshalBinary()
		ia, err := artifact.WriteFile(build.DeltaIndex, filepath.Join(out, assetname.SonicIndexArch(version, arch)), raw)
		if err != nil {
			return err
		}
		ia.Variant = build.Variant(arch)
		arts.Add(ia)
		names = append(names, isoName, assetname.SonicIndexArch(version, arch))
	}
	tail := release.New(release.Config{Version: version, Job: build.VariantName, Output: out,
		Time: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), Signer: key.Signer}, &arts)
	if err := pipe.Run(ctx, &pipe.Context{}, tail.Steps("publish")...); err != nil {
		return fmt.Errorf("release tail: %w", err)
	}
	for _, n := range names {
		for _, name := range []string{n, assetname.Signature(n)} {
			b, err := os.ReadFile(filepath.Join(out, name))
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				return err
			}
		}
	}
	m, err := relmanifest.Read(tail.ManifestPath)
	if err != nil {
		return err
	}
	m.PreviousVersion = previous
	return coretest.WriteManifest(dir, m, key)
}
