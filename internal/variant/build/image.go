package build

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fredbook/udos-dist/internal/ociimage"
	"github.com/fredbook/udos-dist/internal/pipe"
	"github.com/fredbook/udos-dist/internal/tarball"
	"github.com/fredbook/udos-dist/internal/variant"
	"github.com/fredbook/udos-dist/internal/vulngate"
)

// ImageConfig builds the Wizard's container image in the variant that ships
// the compose file (wizard-full), pushes it and pins it in that file.
type ImageConfig struct {
	// Repository receives the image ("ghcr.io/fredbook/udos-wizard").
	Repository string
	// BaseLayout is an OCI layout folder holding the base image, and
	// BaseDigest its manifest digest: a base is named by digest only.
	BaseLayout, BaseDigest string
	// Platform defaults to the base image's.
	Platform  *v1.Platform
	Auth      authn.Authenticator
	Transport http.RoundTripper
	// Gate, when set, scans the image with Trivy before it is pushed and
	// stops the release on a fixable HIGH or CRITICAL finding.
	Gate *ImageGate
}

// ImageGate is the vulnerability gate's configuration.
type ImageGate struct {
	Scan vulngate.ScanOptions // Input is filled in
	// IgnoreFile is the reviewed ignore file ("" for none).
	IgnoreFile string
	Now        func() time.Time
}

// imageStep runs between the layout and the archive, so that the archive's
// compose file can pin the image it pushed by digest.
type imageStep struct{}

func (imageStep) String() string { return "image" }
func (imageStep) Skip(c *pipe.Context) (bool, string) {
	s := stateOf(c)
	if s.cfg.Image == nil {
		return true, "no image repository configured"
	}
	if !slices.Contains(s.res.Layout.Variant.Generate, "docker-compose.yml") {
		return true, "the variant ships no compose file"
	}
	return false, ""
}

func (imageStep) Run(ctx context.Context, c *pipe.Context) error {
	s := stateOf(c)
	ic, l := s.cfg.Image, s.res.Layout
	base, err := ociimage.LoadBase(ic.BaseLayout, ic.BaseDigest)
	if err != nil {
		return err
	}
	platform := ic.Platform
	if platform == nil {
		cf, err := base.ConfigFile()
		if err != nil {
			return fmt.Errorf("base image config: %w", err)
		}
		platform = &v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
	}
	prefix := l.Root + "/"
	var files []tarball.Entry
	for _, e := range l.Entries {
		rel := strings.TrimPrefix(e.Name, prefix)
		if e.IsDir() || rel == "docker-compose.yml" {
			continue
		}
		e.Name = rel
		files = append(files, e)
	}
	img, err := ociimage.BuildWizard(ociimage.WizardSpec{
		Base: base, Files: files, Created: s.cfg.SourceDateEpoch, Platform: *platform,
		Port: s.cfg.Compose.Port, HealthPath: s.cfg.Compose.HealthPath, UID: s.cfg.Compose.UID, GID: s.cfg.Compose.UID,
		Version: s.cfg.Version, Source: s.cfg.imageSource(),
	})
	if err != nil {
		return err
	}
	if g := ic.Gate; g != nil {
		if err := gate(ctx, img, g, c); err != nil {
			return err
		}
	}
	pub, err := ociimage.Publish(ctx, img, ociimage.Publication{Repository: ic.Repository, Auth: ic.Auth, Transport: ic.Transport,
		Output: s.cfg.Output, Variant: l.Variant.Name, Version: s.cfg.Version}, &s.arts)
	if err != nil {
		return err
	}
	s.res.Image = pub
	fmt.Fprintf(logOf(c), "  image %s (%s)\n", pub.Ref, pub.Statement.Platform)
	// The shipped compose file runs exactly this image.
	co := s.cfg.Compose
	co.Image = pub.Ref
	data, err := variant.Compose(s.cfg.Version, co)
	if err != nil {
		return err
	}
	for i, e := range l.Entries {
		if e.Name == prefix+"docker-compose.yml" {
			l.Entries[i] = tarball.Bytes(e.Name, 0o644, data)
		}
	}
	return nil
}

func (cfg Config) imageSource() string {
	if cfg.Owner == "" || cfg.Repo == "" {
		return ""
	}
	server := cfg.ServerURL
	if server == "" {
		server = "https://github.com"
	}
	return strings.TrimSuffix(server, "/") + "/" + cfg.Owner + "/" + cfg.Repo
}

// gate scans the image, as an OCI layout in a temporary folder, with Trivy.
func gate(ctx context.Context, img v1.Image, g *ImageGate, c *pipe.Context) error {
	dir, err := os.MkdirTemp("", "udos-wizard-scan-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	layout := filepath.Join(dir, "layout")
	if err := ociimage.WriteLayout(layout, img); err != nil {
		return err
	}
	var ig *vulngate.IgnoreFile
	if g.IgnoreFile != "" {
		if ig, err = vulngate.ParseIgnoreFile(g.IgnoreFile); err != nil {
			return err
		}
	}
	so := g.Scan
	so.Input = layout
	findings, err := vulngate.Scan(ctx, so)
	if err != nil {
		return err
	}
	now := time.Now
	if g.Now != nil {
		now = g.Now
	}
	v, err := vulngate.Decide(findings, ig, now())
	for _, x := range v.Expired {
		fmt.Fprintf(logOf(c), "  warning: ignore entry %s\n", x)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(logOf(c), "  vulnerability gate passed: %d finding(s) below the gate, %d excused\n", v.Below, len(v.Ignored))
	return nil
}
