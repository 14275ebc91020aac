// Package ociimage builds the Wizard's container image as an OCI image with
// go-containerregistry, without a Docker daemon: a base image pinned by
// digest, the variant's Wizard files as one reproducible layer, a non-root
// user, the health check and the OCI labels in the config. The same inputs
// give the same digest on every machine. It also pushes the image and
// signs a small statement {image, digest, platform} that hosts verify
// before running it.
package ociimage

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	kgzip "github.com/klauspost/compress/gzip"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	ggtarball "github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/fredbook/udos-dist/internal/tarball"
)

// MinUID is the lowest user id the image may run as: below it are system
// accounts, and 0 is root.
const MinUID = 1000

// Spec is everything a build depends on.
type Spec struct {
	// Base is the image the Wizard files go on; nil builds FROM scratch.
	Base v1.Image
	// Platform is written into the config (the engine warns about an
	// image without one).
	Platform v1.Platform
	// Layers are added on top of Base in order (see FilesLayer, DirsLayer).
	Layers []v1.Layer
	// UID and GID the container runs as; UID must be at least MinUID.
	UID, GID   int
	Entrypoint []string
	Cmd        []string
	Env        []string
	WorkingDir string
	// ExposedPorts like "9000/tcp".
	ExposedPorts []string
	// Healthcheck must be an exec-form test (["CMD", ...]).
	Healthcheck *v1.HealthConfig
	// Labels go into the config beside the OCI labels derived below.
	Labels map[string]string
	// Created is the image's creation time (SOURCE_DATE_EPOCH).
	Created time.Time
	// Version, Revision and Source fill the org.opencontainers.image.*
	// labels.
	Version, Revision, Source    string
	Title, Description, Licenses string
}

// OCI label keys (the image-spec's annotations, used as config labels).
const (
	LabelCreated     = "org.opencontainers.image.created"
	LabelVersion     = "org.opencontainers.image.version"
	LabelRevision    = "org.opencontainers.image.revision"
	LabelSource      = "org.opencontainers.image.source"
	LabelTitle       = "org.opencontainers.image.title"
	LabelDescription = "org.opencontainers.image.description"
	LabelLicenses    = "org.opencontainers.image.licenses"
	LabelBaseDigest  = "org.opencontainers.image.base.digest"
)

// ErrSpec marks a Spec that cannot be built (root user, no health check …).
var ErrSpec = errors.New("invalid image spec")

func specErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrSpec, fmt.Sprintf(format, args...))
}

// Build assembles the image. It does no I/O beyond reading the layers.
func Build(s Spec) (v1.Image, error) {
	if s.UID < MinUID || s.GID < 0 {
		return nil, specErr("the image must run as a user with UID >= %d (got %d:%d)", MinUID, s.UID, s.GID)
	}
	if s.Healthcheck == nil || len(s.Healthcheck.Test) < 2 || s.Healthcheck.Test[0] != "CMD" {
		return nil, specErr(`the image needs an exec-form health check (["CMD", ...])`)
	}
	if s.Platform.OS == "" || s.Platform.Architecture == "" {
		return nil, specErr("the platform needs an OS and an architecture")
	}
	base := s.Base
	labels := map[string]string{}
	if base == nil {
		base = empty.Image
	} else {
		d, err := base.Digest()
		if err != nil {
			return nil, fmt.Errorf("base image digest: %w", err)
		}
		labels[LabelBaseDigest] = d.String()
	}
	img := mutate.MediaType(base, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err := mutate.AppendLayers(img, s.Layers...)
	if err != nil {
		return nil, fmt.Errorf("adding layers: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the config: %w", err)
	}
	cf = cf.DeepCopy()
	created := s.Created.UTC().Truncate(time.Second)
	cf.Created = v1.Time{Time: created}
	cf.OS, cf.Architecture, cf.Variant, cf.OSVersion = s.Platform.OS, s.Platform.Architecture, s.Platform.Variant, s.Platform.OSVersion
	// History: one entry per layer, without dates or commands that vary.
	cf.History = nil
	for range s.Layers {
		cf.History = append(cf.History, v1.History{Created: v1.Time{Time: created}, CreatedBy: "udos-dist ociimage"})
	}
	c := cf.Config
	c.User = fmt.Sprintf("%d:%d", s.UID, s.GID)
	if s.Entrypoint != nil {
		c.Entrypoint = s.Entrypoint
	}
	if s.Cmd != nil {
		c.Cmd = s.Cmd
	}
	c.Env = append(c.Env, s.Env...)
	if s.WorkingDir != "" {
		c.WorkingDir = s.WorkingDir
	}
	if len(s.ExposedPorts) > 0 {
		if c.ExposedPorts == nil {
			c.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range s.ExposedPorts {
			c.ExposedPorts[p] = struct{}{}
		}
	}
	hc := *s.Healthcheck
	c.Healthcheck = &hc
	if c.Labels == nil {
		c.Labels = map[string]string{}
	}
	for k, v := range s.Labels {
		c.Labels[k] = v
	}
	for k, v := range map[string]string{
		LabelCreated: created.Format(time.RFC3339), LabelVersion: s.Version, LabelRevision: s.Revision,
		LabelSource: s.Source, LabelTitle: s.Title, LabelDescription: s.Description, LabelLicenses: s.Licenses,
	} {
		if v != "" {
			labels[k] = v
		}
	}
	for k, v := range labels {
		c.Labels[k] = v
	}
	cf.Config = c
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("writing the config: %w", err)
	}
	return img, nil
}

// File is one regular file of a layer.
type File struct {
	Path string // absolute path in the image, e.g. /app/wizard/server.py
	Mode int64  // only the executable bits matter (0755 or 0644)
	Data []byte
}

// FilesLayer is a reproducible layer of files owned by root (the user the
// container runs as can read but not change them): entries sorted, parent
// folders added, modes normalised, every mtime set to mtime, gzip without
// name or time.
func FilesLayer(files []tarball.Entry, mtime time.Time) (v1.Layer, error) {
	entries := withParents(files)
	var buf bytes.Buffer
	if err := tarball.Write(&buf, entries, tarball.Options{MTime: mtime, Level: 9}); err != nil {
		return nil, fmt.Errorf("building the files layer: %w", err)
	}
	return compressedLayer(buf.Bytes())
}

// MemFiles turns in-memory files into layer entries.
func MemFiles(files []File) []tarball.Entry {
	out := make([]tarball.Entry, 0, len(files))
	for _, f := range files {
		out = append(out, tarball.Bytes(strings.TrimPrefix(path.Clean(f.Path), "/"), f.Mode, f.Data))
	}
	return out
}

// DirFiles lists a folder on disk as layer entries under prefix (e.g. "app").
func DirFiles(dir, prefix string) ([]tarball.Entry, error) {
	entries, err := tarball.FromDir(dir, nil)
	if err != nil {
		return nil, err
	}
	return tarball.Prefix(strings.Trim(prefix, "/"), entries), nil
}

// withParents adds the missing parent folders and sorts.
func withParents(files []tarball.Entry) []tarball.Entry {
	have := map[string]bool{}
	for _, e := range files {
		have[strings.TrimSuffix(e.Name, "/")] = true
	}
	out := append([]tarball.Entry(nil), files...)
	for _, e := range files {
		for d := path.Dir(strings.TrimSuffix(e.Name, "/")); d != "." && d != "/"; d = path.Dir(d) {
			if !have[d] {
				have[d] = true
				out = append(out, tarball.Dir(d))
			}
		}
	}
	tarball.Sort(out)
	return out
}

// DirsLayer is a layer of empty folders owned by uid:gid (mode 0755): the
// places the non-root user writes to (a state folder a named volume is
// mounted on takes its owner from here on first use).
func DirsLayer(dirs []string, uid, gid int, mtime time.Time) (v1.Layer, error) {
	clean := map[string]bool{}
	for _, d := range dirs {
		c := strings.Trim(path.Clean("/"+d), "/")
		if c == "" {
			return nil, fmt.Errorf("%w: %q is not a folder to create", ErrSpec, d)
		}
		clean[c] = true
	}
	names := slices.Sorted(maps.Keys(clean))
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	mt := mtime.UTC().Truncate(time.Second)
	for _, d := range names {
		if err := tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755,
			Uid: uid, Gid: gid, ModTime: mt, Format: tar.FormatGNU}); err != nil {
			return nil, fmt.Errorf("folder %q: %w", d, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return layerFromTar(raw.Bytes())
}

func compressedLayer(gz []byte) (v1.Layer, error) {
	return ggtarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(gz)), nil
	}, ggtarball.WithMediaType(types.OCILayer))
}

// layerFromTar compresses an uncompressed tar stream the reproducible way
// the files layer is compressed.
func layerFromTar(raw []byte) (v1.Layer, error) {
	var gz bytes.Buffer
	if err := gzipBytes(&gz, raw); err != nil {
		return nil, err
	}
	return compressedLayer(gz.Bytes())
}

// gzipBytes compresses like internal/tarball: level 9, no name, no time.
func gzipBytes(w io.Writer, raw []byte) error {
	zw, err := kgzip.NewWriterLevel(w, 9)
	if err != nil {
		return err
	}
	zw.Header = kgzip.Header{OS: 255}
	if _, err := zw.Write(raw); err != nil {
		return err
	}
	return zw.Close()
}

// LoadBase opens the image with the given digest from an OCI layout
// folder: a base is always named by digest, never by a tag that can move.
func LoadBase(layoutDir string, digest string) (v1.Image, error) {
	h, err := v1.NewHash(digest)
	if err != nil {
		return nil, fmt.Errorf("base image digest %q: %w", digest, err)
	}
	p, err := layout.FromPath(layoutDir)
	if err != nil {
		return nil, fmt.Errorf("opening the OCI layout %q: %w", layoutDir, err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("reading the OCI layout %q: %w", layoutDir, err)
	}
	img, err := idx.Image(h)
	if err != nil {
		return nil, fmt.Errorf("base image %s in %q: %w", digest, layoutDir, err)
	}
	got, err := img.Digest()
	if err != nil {
		return nil, err
	}
	if got != h {
		return nil, fmt.Errorf("base image in %q has digest %s, not %s", layoutDir, got, digest)
	}
	return img, nil
}

// WriteLayout writes img into an OCI layout folder (created if needed),
// the form Trivy and other tools read without a registry.
func WriteLayout(dir string, img v1.Image) error {
	p, err := layout.FromPath(dir)
	if err != nil {
		if p, err = layout.Write(dir, empty.Index); err != nil {
			return fmt.Errorf("creating the OCI layout %q: %w", dir, err)
		}
	}
	if err := p.AppendImage(img); err != nil {
		return fmt.Errorf("writing the image to %q: %w", dir, err)
	}
	return nil
}
