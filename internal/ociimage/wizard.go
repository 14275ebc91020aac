package ociimage

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fredbook/udos-dist/internal/artifact"
	"github.com/fredbook/udos-dist/internal/assetname"
	"github.com/fredbook/udos-dist/internal/tarball"
)

// StatementType is the release artifact of a signed image statement: a
// payload, so the release tail checksums, signs, lists and uploads it
// like every other file of the release.
var StatementType = artifact.Type{Name: "image-statement", ContentType: "application/json"}

// WizardSpec is what the Wizard image is built from.
type WizardSpec struct {
	// Base is the base image, already resolved by digest (LoadBase).
	Base v1.Image
	// Files are the variant's files (names relative to the variant's
	// root), placed under AppDir owned by root: the service can read but
	// not change its own code.
	Files []tarball.Entry
	// AppDir is where they go; default /app.
	AppDir string
	// StateDirs are the folders (under AppDir) the service writes, owned
	// by UID:GID; default memory (the compose file's wizard-memory volume).
	StateDirs []string
	// UID and GID default to 10001, the compose file's user.
	UID, GID int
	// Port and HealthPath default to the compose file's (9000,
	// /api/health); the real Wizard uses 8765 and /health.
	Port       int
	HealthPath string
	// Python is the interpreter of the base image; default "python".
	Python string
	// Created is SOURCE_DATE_EPOCH: every layer's mtime and the config's
	// date.
	Created                   time.Time
	Platform                  v1.Platform
	Version, Revision, Source string
}

// BuildWizard builds the Wizard image: the base, one reproducible layer of
// the variant's files (sorted, root-owned, fixed modes and mtimes), one of
// the writable state folders owned by the non-root user, the health check
// (exec form, the base's Python: no curl needed) and the OCI labels. The
// same spec gives the same digest.
func BuildWizard(s WizardSpec) (v1.Image, error) {
	if s.Base == nil {
		return nil, specErr("the Wizard image needs a base image (pinned by digest)")
	}
	if s.Created.IsZero() {
		return nil, specErr("the Wizard image needs SOURCE_DATE_EPOCH (Created)")
	}
	if len(s.Files) == 0 {
		return nil, specErr("the Wizard image has no files")
	}
	app := strings.Trim(s.AppDir, "/")
	if app == "" {
		app = "app"
	}
	if s.UID == 0 {
		s.UID, s.GID = 10001, 10001
	}
	if s.Port == 0 {
		s.Port = 9000
	}
	if s.HealthPath == "" {
		s.HealthPath = "/api/health"
	}
	if s.Python == "" {
		s.Python = "python"
	}
	if s.StateDirs == nil {
		s.StateDirs = []string{"memory"}
	}
	files := make([]tarball.Entry, 0, len(s.Files))
	for _, e := range s.Files {
		if e.IsDir() {
			continue // FilesLayer adds the parents
		}
		files = append(files, e)
	}
	code, err := FilesLayer(tarball.Prefix(app, files), s.Created)
	if err != nil {
		return nil, err
	}
	dirs := make([]string, len(s.StateDirs))
	for i, d := range s.StateDirs {
		dirs[i] = app + "/" + strings.Trim(d, "/")
	}
	state, err := DirsLayer(dirs, s.UID, s.GID, s.Created)
	if err != nil {
		return nil, err
	}
	port := strconv.Itoa(s.Port)
	probe := fmt.Sprintf("import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:%s%s', timeout=3).status == 200 else 1)", port, s.HealthPath)
	return Build(Spec{
		Base:         s.Base,
		Platform:     s.Platform,
		Layers:       []v1.Layer{code, state},
		UID:          s.UID,
		GID:          s.GID,
		Entrypoint:   []string{s.Python, "-m", "wizard.server"},
		Cmd:          []string{"--host", "0.0.0.0", "--port", port},
		Env:          []string{"PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1"},
		WorkingDir:   "/" + app,
		ExposedPorts: []string{port + "/tcp"},
		Healthcheck: &v1.HealthConfig{Test: []string{"CMD", s.Python, "-c", probe},
			Interval: 30 * time.Second, Timeout: 5 * time.Second, StartPeriod: 20 * time.Second, Retries: 3},
		Created:     s.Created,
		Version:     s.Version,
		Revision:    s.Revision,
		Source:      s.Source,
		Title:       "uDOS Wizard",
		Description: "The uDOS Wizard server (wizard-full), hardened: non-root, read-only code, health-checked",
		Licenses:    "MIT",
	})
}

// Publication is where the release pushes the image.
type Publication struct {
	// Repository is the image's repository ("ghcr.io/fredbook/udos-wizard");
	// the image is tagged with the version there.
	Repository string
	// Auth is the registry credential (the workflow's token); nil is
	// anonymous (the loopback registry of tests).
	Auth authn.Authenticator
	// Transport carries the pushes; nil is the default.
	Transport http.RoundTripper
	// Output is the folder the statement is written into.
	Output           string
	Variant, Version string
}

// Published is the image as the release ships it.
type Published struct {
	Ref       string // repository@digest, what the compose file pins
	Statement Statement
	// Artifact is the statement file, added to the release's list.
	Artifact *artifact.Artifact
}

// Publish pushes img as Repository:Version, writes the statement
// {image, digest, platform} as a release artifact of StatementType and adds
// it to arts, where the release tail signs, checksums, lists and uploads
// it.
func Publish(ctx context.Context, img v1.Image, p Publication, arts *artifact.List) (*Published, error) {
	if p.Repository == "" || p.Output == "" || p.Variant == "" || p.Version == "" {
		return nil, errors.New("publishing the image needs a repository, an output folder, the variant and the version")
	}
	st, err := NewStatement(p.Repository, img)
	if err != nil {
		return nil, err
	}
	tag := strings.ReplaceAll(strings.TrimPrefix(p.Version, "v"), "+", "_")
	ref, err := Push(ctx, st.Image+":"+tag, img, p.Auth, p.Transport)
	if err != nil {
		return nil, err
	}
	if ref != st.Ref() {
		return nil, fmt.Errorf("pushed %s, but the statement names %s", ref, st.Ref())
	}
	data, err := st.Marshal()
	if err != nil {
		return nil, err
	}
	a, err := artifact.WriteFile(StatementType, filepath.Join(p.Output, assetname.ImageStatement(p.Variant, p.Version)), data)
	if err != nil {
		return nil, err
	}
	a.Variant = p.Variant
	return &Published{Ref: ref, Statement: st, Artifact: arts.Add(a)}, nil
}
