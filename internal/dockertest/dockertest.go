// Package dockertest is what the Wizard tests share to run against the
// machine's real Docker engine, which has no images and no registry: static
// binaries of this repository built with CGO_ENABLED=0, FROM-scratch images
// made of them with go-containerregistry, go-containerregistry's in-memory
// registry on loopback (which the engine pulls from without TLS), and
// cleanup of everything a test creates by the unique label it carries.
// It is imported by tests only.
package dockertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/moby/moby/client"

	"github.com/fredbook/udos-dist/internal/ociimage"
	"github.com/fredbook/udos-dist/internal/tarball"
	"github.com/fredbook/udos-dist/internal/testenv"
)

// LabelKey marks every object a test creates; the value is unique per test.
const LabelKey = "io.udos.test"

// Engine connects to the machine's Docker engine (DOCKER_HOST or the
// default socket) with API version negotiation. A missing engine skips the
// test, or fails it under CI.
func Engine(t testing.TB) *client.Client {
	t.Helper()
	opts := []client.Opt{}
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		opts = append(opts, client.WithHost(h))
	}
	cli, err := client.New(opts...)
	if err != nil {
		t.Fatalf("docker client: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		cli.Close()
		testenv.Missing(t, "no Docker engine: "+err.Error())
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// Label returns a label value unique to this test and registers the
// removal of every container, network, volume and image carrying it.
func Label(t testing.TB, cli *client.Client) string {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	v := strings.ToLower(sanitize(t.Name())) + "-" + hex.EncodeToString(b[:])
	if len(v) > 48 {
		v = v[len(v)-48:]
		v = strings.TrimLeft(v, "-_.")
	}
	t.Cleanup(func() { Remove(cli, v) })
	return v
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	return b.String()
}

// Remove deletes everything labelled LabelKey=value.
func Remove(cli *client.Client, value string) { RemoveLabelled(cli, LabelKey+"="+value) }

// RemoveLabelled deletes the containers (with their anonymous volumes),
// networks, volumes and images carrying label ("key=value"), best effort:
// it is cleanup, and what it cannot remove the next Cleanup finds.
func RemoveLabelled(cli *client.Client, label string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	f := client.Filters{}.Add("label", label)
	if cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f}); err == nil {
		for _, c := range cs.Items {
			cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		}
	}
	if ns, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f}); err == nil {
		for _, n := range ns.Items {
			cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
		}
	}
	if vs, err := cli.VolumeList(ctx, client.VolumeListOptions{Filters: f}); err == nil {
		for _, v := range vs.Items {
			cli.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true})
		}
	}
	if is, err := cli.ImageList(ctx, client.ImageListOptions{All: true, Filters: f}); err == nil {
		for _, i := range is.Items {
			cli.ImageRemove(ctx, i.ID, client.ImageRemoveOptions{Force: true, PruneChildren: true})
		}
	}
}

var (
	binMu    sync.Mutex
	binCache = map[string]string{}
	binDir   string
)

// StaticBinary builds a package of this module (e.g.
// "./internal/wizard/testsvc") as a static linux binary, once per test
// process, and returns its path.
func StaticBinary(t testing.TB, pkg string) string {
	t.Helper()
	binMu.Lock()
	defer binMu.Unlock()
	if p, ok := binCache[pkg]; ok {
		return p
	}
	if binDir == "" {
		d, err := os.MkdirTemp("", "udos-dockertest-")
		if err != nil {
			t.Fatal(err)
		}
		binDir = d
	}
	root := moduleRoot(t)
	out := filepath.Join(binDir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", pkg, err, b)
	}
	binCache[pkg] = out
	return out
}

// Cleanup removes the binaries; call it from TestMain after m.Run.
func Cleanup() {
	binMu.Lock()
	defer binMu.Unlock()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
}

func moduleRoot(t testing.TB) string {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

var (
	regOnce sync.Once
	regHost string
)

// Registry returns the host:port of an in-memory OCI registry on
// 127.0.0.1, shared by the tests of the process.
func Registry(t testing.TB) string {
	regOnce.Do(func() {
		srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
		regHost = strings.TrimPrefix(srv.URL, "http://")
	})
	return regHost
}

var (
	layerMu    sync.Mutex
	layerCache = map[string]v1.Layer{}
)

// BinaryLayer is a layer holding the binary at /name, cached per process.
func BinaryLayer(t testing.TB, binary, name string) v1.Layer {
	t.Helper()
	layerMu.Lock()
	defer layerMu.Unlock()
	key := binary + "\x00" + name
	if l, ok := layerCache[key]; ok {
		return l
	}
	e, err := tarball.File(name, binary)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ociimage.FilesLayer([]tarball.Entry{e}, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	layerCache[key] = l
	return l
}

// TestsvcImage builds the health-serving test service as a FROM-scratch
// image (UID 10001, /data and /tmp owned by it, an exec-form health check
// on port 8080), labelled with label so that it is this test's own image,
// and pushes it to the loopback registry. It returns the reference by
// digest (what a hardened compose file pins) and the tag reference.
func TestsvcImage(t testing.TB, label string) (byDigest, byTag string) {
	t.Helper()
	bin := StaticBinary(t, "./internal/wizard/testsvc")
	dirs, err := ociimage.DirsLayer([]string{"data", "tmp"}, 10001, 10001, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	img, err := ociimage.Build(ociimage.Spec{
		Platform:   v1.Platform{OS: "linux", Architecture: runtime.GOARCH},
		Layers:     []v1.Layer{BinaryLayer(t, bin, "testsvc"), dirs},
		UID:        10001,
		GID:        10001,
		Entrypoint: []string{"/testsvc"},
		Cmd:        []string{"serve"},
		Healthcheck: &v1.HealthConfig{
			Test:     []string{"CMD", "/testsvc", "healthcheck"},
			Interval: time.Second, Timeout: time.Second, Retries: 2,
		},
		ExposedPorts: []string{"8080/tcp"},
		Labels:       map[string]string{LabelKey: label},
		Title:        "udos-dist test service",
	})
	if err != nil {
		t.Fatal(err)
	}
	return Push(t, img, "udos-test/testsvc", label)
}

// Push writes img to the loopback registry as repo:tag.
func Push(t testing.TB, img v1.Image, repo, tag string) (byDigest, byTag string) {
	t.Helper()
	host := Registry(t)
	ref, err := name.ParseReference(fmt.Sprintf("%s/%s:%s", host, repo, tag))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s/%s@%s", host, repo, d), ref.String()
}

// Pull makes the engine pull ref and waits for the pull to finish.
func Pull(t testing.TB, cli *client.Client, ref string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rc, err := cli.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err != nil {
		t.Fatalf("pulling %s: %v", ref, err)
	}
	defer rc.Close()
	if err := rc.Wait(ctx); err != nil {
		t.Fatalf("pulling %s: %v", ref, err)
	}
}
