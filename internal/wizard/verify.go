package wizard

import (
	"context"
	"fmt"
	"strings"

	"github.com/distribution/reference"

	"github.com/fredbook/udos-dist/internal/ociimage"
	"github.com/fredbook/udos-dist/internal/pgpsign"
)

// Trust is the set of image statements whose signatures verified with the
// user's keyring.
type Trust struct {
	Dir        string
	Statements []ociimage.Signed
}

// LoadTrust reads and verifies the statements in dir (the release's
// *.image.json and .asc files). A statement with a bad signature fails the
// whole load.
func LoadTrust(dir string, kr *pgpsign.Keyring) (*Trust, error) {
	ss, err := ociimage.LoadStatements(dir, kr)
	if err != nil {
		return nil, err
	}
	return &Trust{Dir: dir, Statements: ss}, nil
}

// UnsignedError is an image no trusted statement vouches for.
type UnsignedError struct {
	Image   string
	Digests []string
	Dir     string
	Why     string
}

func (e *UnsignedError) Error() string {
	d := "no digest"
	if len(e.Digests) > 0 {
		d = strings.Join(e.Digests, ", ")
	}
	return fmt.Sprintf("image %s (%s) is refused: %s (statements from %s)", e.Image, d, e.Why, e.Dir)
}

func (e *UnsignedError) Unwrap() error { return ociimage.ErrUnsigned }

// repository normalises an image name the way the engine does
// ("ghcr.io/x/y", "docker.io/library/z").
func repository(s string) (string, error) {
	s = strings.Replace(s, "index.docker.io/", "docker.io/", 1)
	r, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return "", fmt.Errorf("image reference %q: %w", s, err)
	}
	return r.Name(), nil
}

// VerifyImage checks that the engine's copy of ref is vouched for by a
// trusted statement: same repository, a manifest digest the engine pulled
// (its RepoDigests), same platform. A tag moved to another image, or an
// image altered after signing, has a digest no statement names.
func (m *Manager) VerifyImage(ctx context.Context, ref string, trust *Trust) (ociimage.Signed, error) {
	if err := m.ping(ctx); err != nil {
		return ociimage.Signed{}, err
	}
	return m.verifyLocal(ctx, ref, trust)
}

func (m *Manager) verifyLocal(ctx context.Context, ref string, trust *Trust) (ociimage.Signed, error) {
	repo, err := repository(ref)
	if err != nil {
		return ociimage.Signed{}, err
	}
	named, _ := reference.ParseNormalizedNamed(strings.Replace(ref, "index.docker.io/", "docker.io/", 1))
	img, err := m.Engine.ImageInspect(ctx, ref)
	if isNotFound(err) {
		return ociimage.Signed{}, fmt.Errorf("image %s is not in the engine: pull it (or run up) first", ref)
	}
	if err != nil {
		return ociimage.Signed{}, fmt.Errorf("image %s: %w", ref, err)
	}
	// The digests the engine itself checked when it pulled the image.
	var digests []string
	for _, rd := range img.RepoDigests {
		r, d, ok := strings.Cut(rd, "@")
		if !ok {
			continue
		}
		if rr, err := repository(r); err == nil && rr == repo {
			digests = append(digests, d)
		}
	}
	if dg, ok := named.(reference.Digested); ok {
		want := dg.Digest().String()
		found := false
		for _, d := range digests {
			found = found || d == want
		}
		if !found {
			return ociimage.Signed{}, &UnsignedError{Image: ref, Digests: digests, Dir: trust.Dir,
				Why: "the engine holds no copy of it pulled by that digest"}
		}
		digests = []string{want}
	}
	platform := img.Os + "/" + img.Architecture
	if img.Variant != "" {
		platform += "/" + img.Variant
	}
	if len(digests) == 0 {
		return ociimage.Signed{}, &UnsignedError{Image: ref, Dir: trust.Dir,
			Why: "it was not pulled from " + repo + " (built or re-tagged locally), so nothing ties it to a signed digest"}
	}
	for _, s := range trust.Statements {
		sr, err := repository(s.Image)
		if err != nil || sr != repo {
			continue
		}
		for _, d := range digests {
			if s.Digest == d {
				if s.Platform != platform {
					return ociimage.Signed{}, &UnsignedError{Image: ref, Digests: digests, Dir: trust.Dir,
						Why: fmt.Sprintf("it is signed for %s but the engine's copy is %s", s.Platform, platform)}
				}
				return s, nil
			}
		}
	}
	return ociimage.Signed{}, &UnsignedError{Image: ref, Digests: digests, Dir: trust.Dir,
		Why: "no statement signed by a trusted key names this digest"}
}
