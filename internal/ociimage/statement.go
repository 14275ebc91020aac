package ociimage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/fredbook/udos-dist/internal/assetname"
	"github.com/fredbook/udos-dist/internal/canonjson"
	"github.com/fredbook/udos-dist/internal/pgpsign"
)

// Statement is what the release signs about an image: its repository, the
// manifest digest a host must find, and the platform it was built for.
type Statement struct {
	Image    string `json:"image"`    // repository, without tag or digest: "ghcr.io/fredbook/udos-wizard"
	Digest   string `json:"digest"`   // "sha256:…" of the manifest
	Platform string `json:"platform"` // "linux/amd64"
}

// Ref is the statement's image by digest, the form a compose file pins.
func (s Statement) Ref() string { return s.Image + "@" + s.Digest }

// PlatformString is "os/arch[/variant]".
func PlatformString(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// NewStatement describes img as published in repository.
func NewStatement(repository string, img v1.Image) (Statement, error) {
	repo, err := name.NewRepository(repository)
	if err != nil {
		return Statement{}, fmt.Errorf("image repository %q: %w", repository, err)
	}
	d, err := img.Digest()
	if err != nil {
		return Statement{}, fmt.Errorf("image digest: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return Statement{}, fmt.Errorf("image config: %w", err)
	}
	return Statement{Image: repo.Name(), Digest: d.String(),
		Platform: PlatformString(v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant})}, nil
}

// Marshal is the statement's canonical JSON, the bytes that are signed.
func (s Statement) Marshal() ([]byte, error) { return canonjson.Marshal(s) }

// Sign returns the statement's bytes and their armored detached signature.
func Sign(signer *pgpsign.Signer, s Statement) (data, sig []byte, err error) {
	data, err = s.Marshal()
	if err != nil {
		return nil, nil, err
	}
	sig, err = signer.SignDetached(bytes.NewReader(data))
	if err != nil {
		return nil, nil, fmt.Errorf("signing the image statement: %w", err)
	}
	return data, sig, nil
}

// WriteSigned writes the statement and its signature into dir under the
// release asset names for variant and version, and returns their paths.
func WriteSigned(dir, variant, version string, signer *pgpsign.Signer, s Statement) (stmtPath, sigPath string, err error) {
	data, sig, err := Sign(signer, s)
	if err != nil {
		return "", "", err
	}
	stmtPath = filepath.Join(dir, assetname.ImageStatement(variant, version))
	sigPath = filepath.Join(dir, assetname.Signature(assetname.ImageStatement(variant, version)))
	if err := os.WriteFile(stmtPath, data, 0o644); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(sigPath, sig, 0o644); err != nil {
		return "", "", err
	}
	return stmtPath, sigPath, nil
}

// ErrUnsigned marks an image no trusted statement vouches for.
var ErrUnsigned = errors.New("image is not signed")

// Signed is a statement whose signature verified.
type Signed struct {
	Statement
	Signer string // fingerprint and user id
	File   string
}

// VerifyStatement checks data against sig with kr and decodes it. Unknown
// fields are refused: a statement says exactly these three things.
func VerifyStatement(kr *pgpsign.Keyring, data, sig []byte) (Signed, error) {
	v, err := kr.VerifyDetached(bytes.NewReader(data), bytes.NewReader(sig))
	if err != nil {
		return Signed{}, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s Statement
	if err := dec.Decode(&s); err != nil {
		return Signed{}, fmt.Errorf("image statement: %w", err)
	}
	if s.Image == "" || !strings.HasPrefix(s.Digest, "sha256:") || s.Platform == "" {
		return Signed{}, fmt.Errorf("image statement lacks image, digest or platform")
	}
	return Signed{Statement: s, Signer: fmt.Sprintf("%s (%s)", v.UserID, v.Fingerprint)}, nil
}

// LoadStatements reads every *.image.json in dir whose .asc verifies with
// kr. A statement whose signature fails is an error, not skipped: a forged
// file beside good ones is worth stopping for.
func LoadStatements(dir string, kr *pgpsign.Keyring) ([]Signed, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "*"+assetname.ImageStatementExt))
	if err != nil {
		return nil, err
	}
	sort.Strings(matches)
	var out []Signed
	for _, p := range matches {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		sig, err := os.ReadFile(assetname.Signature(p))
		if err != nil {
			return nil, fmt.Errorf("image statement %s has no signature: %w", p, err)
		}
		s, err := VerifyStatement(kr, data, sig)
		if err != nil {
			return nil, fmt.Errorf("image statement %s: %w", p, err)
		}
		s.File = p
		out = append(out, s)
	}
	return out, nil
}

// Push writes img to ref (tag or digest) with the given credentials (nil:
// anonymous) and returns the reference by digest.
func Push(ctx context.Context, ref string, img v1.Image, auth authn.Authenticator, rt http.RoundTripper) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", fmt.Errorf("image reference %q: %w", ref, err)
	}
	opts := []remote.Option{remote.WithContext(ctx)}
	if auth != nil {
		opts = append(opts, remote.WithAuth(auth))
	}
	if rt != nil {
		opts = append(opts, remote.WithTransport(rt))
	}
	if err := remote.Write(r, img, opts...); err != nil {
		return "", fmt.Errorf("pushing %s: %w", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	return r.Context().Name() + "@" + d.String(), nil
}
