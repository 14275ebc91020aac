package build

import (
	"archive/tar"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/moby/moby/client"

	"github.com/fredbook/udos-dist/internal/dockertest"
	"github.com/fredbook/udos-dist/internal/ociimage"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/tarball"
	"github.com/fredbook/udos-dist/internal/tarball/tartest"
)

// baseLayout is a base image made in the test (on GitHub: a slim Python
// image pulled and pinned by digest), written as an OCI layout.
func baseLayout(t *testing.T) (dir, digest string) {
	t.Helper()
	l, err := ociimage.FilesLayer(ociimage.MemFiles([]ociimage.File{
		{Path: "/etc/os-release", Mode: 0o644, Data: []byte("ID=test\nNAME=\"udos test base\"\n")},
	}), time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(t.TempDir(), "base")
	if err := ociimage.WriteLayout(dir, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return dir, d.String()
}

func readArchiveFile(t *testing.T, archive, suffix string) string {
	t.Helper()
	var found []byte
	tartest.WalkFile(t, archive, func(h *tar.Header, body []byte) bool {
		if strings.HasSuffix(h.Name, suffix) {
			found = body
		}
		return found == nil
	})
	if found == nil {
		t.Fatalf("%s has no %s", archive, suffix)
	}
	return string(found)
}

// TestWizardImageRelease: wizard-full with an image repository builds the
// Wizard image on a base pinned by digest, twice to the same digest,
// pushes it to the registry (go-containerregistry's, on loopback), from
// which the real engine pulls it; the statement is a release artifact the
// tail signs and lists, and the shipped compose pins the image by digest.
func TestWizardImageRelease(t *testing.T) {
	t.Parallel()
	cli := dockertest.Engine(t)
	label := dockertest.Label(t, cli)
	layout, digest := baseLayout(t)
	repo := dockertest.Registry(t) + "/udos-test/wizard-" + label[len(label)-12:]
	_, pub := testKey(t)

	var refs []string
	var outs []string
	for i := 0; i < 2; i++ {
		out := t.TempDir()
		cfg := buildCfg(t, "wizard-full", fixture, out)
		cfg.Image = &ImageConfig{Repository: repo, BaseLayout: layout, BaseDigest: digest}
		res, err := Build(context.Background(), cfg)
		if err != nil {
			t.Fatalf("build %d: %v", i, err)
		}
		if res.Image == nil || !strings.HasPrefix(res.Image.Ref, repo+"@sha256:") {
			t.Fatalf("image %+v", res.Image)
		}
		refs, outs = append(refs, res.Image.Ref), append(outs, out)
		a := res.Image.Artifact
		if a.Signature == "" || a.Type != ociimage.StatementType || a.Name != "udos-wizard-full-v1.4.6.image.json" {
			t.Errorf("statement artifact %+v", a)
		}
		if compose := readArchiveFile(t, res.Archive.Path, "/docker-compose.yml"); !strings.Contains(compose, "image: "+res.Image.Ref+"\n") || strings.Contains(compose, "build:") {
			t.Errorf("shipped compose does not pin the image:\n%s", compose)
		}
		man, err := os.ReadFile(res.Manifest)
		if err != nil || !strings.Contains(string(man), a.Name) {
			t.Errorf("manifest does not list %s: %v\n%s", a.Name, err, man)
		}
		sums, _ := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
		if !strings.Contains(string(sums), a.SHA256+"  "+a.Name) {
			t.Errorf("SHA256SUMS lacks the statement:\n%s", sums)
		}
	}
	if refs[0] != refs[1] {
		t.Fatalf("two builds, two digests: %s %s", refs[0], refs[1])
	}

	// The signature verifies and names the digest.
	kr, err := pgpsign.LoadKeyring(pub)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := ociimage.LoadStatements(outs[0], kr)
	if err != nil || len(ss) != 1 || ss[0].Ref() != refs[0] || ss[0].Platform != "linux/"+runtime.GOARCH {
		t.Fatalf("statements %+v: %v", ss, err)
	}

	// The real engine pulls it; the config is the hardened one.
	dockertest.Pull(t, cli, refs[0])
	t.Cleanup(func() { cli.ImageRemove(context.Background(), refs[0], client.ImageRemoveOptions{Force: true}) })
	in, err := cli.ImageInspect(context.Background(), refs[0])
	if err != nil {
		t.Fatal(err)
	}
	c := in.Config
	if c.User != "10001:10001" || c.Healthcheck == nil || c.Healthcheck.Test[0] != "CMD" || c.WorkingDir != "/app" {
		t.Errorf("config %+v", c)
	}
	if c.Labels[ociimage.LabelBaseDigest] != digest || c.Labels[ociimage.LabelVersion] != "1.4.6" || c.Labels[ociimage.LabelCreated] != epoch.Format(time.RFC3339) {
		t.Errorf("labels %v", c.Labels)
	}
}

// TestWizardImageLayers: the files layer is root-owned with fixed modes
// and mtimes, sorted; the state folder belongs to the user.
func TestWizardImageLayers(t *testing.T) {
	layout, digest := baseLayout(t)
	base, err := ociimage.LoadBase(layout, digest)
	if err != nil {
		t.Fatal(err)
	}
	img, err := ociimage.BuildWizard(ociimage.WizardSpec{
		Base: base, Created: epoch, Platform: v1.Platform{OS: "linux", Architecture: "amd64"},
		Files: []tarball.Entry{tarball.Bytes("wizard/server.py", 0o600, []byte("print(1)\n")), tarball.Bytes("bin/wizardd", 0o755, []byte("#!/bin/sh\n"))},
	})
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := img.Layers()
	if len(ls) != 3 {
		t.Fatalf("%d layers", len(ls))
	}
	read := func(l v1.Layer) []*tar.Header {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		var hs []*tar.Header
		tartest.Walk(t, rc, func(h *tar.Header, _ []byte) bool {
			hs = append(hs, h)
			return true
		})
		return hs
	}
	var names []string
	for _, h := range read(ls[1]) {
		names = append(names, h.Name)
		if h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(epoch) {
			t.Errorf("%s: owner %d:%d mtime %s", h.Name, h.Uid, h.Gid, h.ModTime)
		}
		if h.Name == "app/wizard/server.py" && h.Mode != 0o644 || h.Name == "app/bin/wizardd" && h.Mode != 0o755 {
			t.Errorf("%s mode %o", h.Name, h.Mode)
		}
	}
	if strings.Join(names, ",") != "app/,app/bin/,app/bin/wizardd,app/wizard/,app/wizard/server.py" {
		t.Errorf("files layer %v", names)
	}
	st := read(ls[2])
	if len(st) != 1 || st[0].Name != "app/memory/" || st[0].Uid != 10001 {
		t.Errorf("state layer %+v", st)
	}
	if _, err := ociimage.BuildWizard(ociimage.WizardSpec{Created: epoch}); err == nil {
		t.Error("an image without a base was built")
	}
}
