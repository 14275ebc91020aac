package wizard_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/fredbook/udos-dist/internal/cmd/factory"
	"github.com/fredbook/udos-dist/internal/cmd/root"
	"github.com/fredbook/udos-dist/internal/dockertest"
	"github.com/fredbook/udos-dist/internal/iostreams"
	"github.com/fredbook/udos-dist/internal/ociimage"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	wz "github.com/fredbook/udos-dist/internal/wizard"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"udos-lib": func() {
			ctx, cancel := root.Context()
			f := factory.New(iostreams.System("0"))
			f.Ctx = ctx
			code := root.Run(f, os.Args[1:])
			cancel()
			os.Exit(code)
		},
	})
	dockertest.Cleanup()
}

// TestScripts runs the command group against the real engine with the
// test service's image; each script gets its own project name.
func TestScripts(t *testing.T) {
	cli := dockertest.Engine(t)
	label := dockertest.Label(t, cli)
	image, _ := dockertest.TestsvcImage(t, label)
	// The release's key and its signed statement for the image.
	priv, pub, err := pgpsign.GenerateTestKey("uDOS Release", "release@example.org", nil)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := pgpsign.LoadSigner(priv, nil)
	if err != nil {
		t.Fatal(err)
	}
	repo, digest, _ := strings.Cut(image, "@")
	stmt := ociimage.Statement{Image: repo, Digest: digest, Platform: "linux/" + runtime.GOARCH}
	var projects []string
	t.Cleanup(func() {
		for _, p := range projects {
			removeProject(cli, p)
		}
	})
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			p := "wzcli" + label[len(label)-10:] + env.Getenv("WORK")[len(env.Getenv("WORK"))-4:]
			projects = append(projects, p)
			env.Setenv("IMAGE", image)
			env.Setenv("PROJECT", p)
			env.Setenv("SUDO_USER", "tester")
			dir := filepath.Join(env.WorkDir, "statements")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			if _, _, err := ociimage.WriteSigned(dir, "wizard-full", "1.4.6", signer, stmt); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(env.WorkDir, "release.asc"), pub, 0o644)
		},
	})
}

// removeProject deletes what the command made for a project (it carries
// the project's label, not the test's).
func removeProject(cli *client.Client, project string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f := client.Filters{}.Add("label", wz.LabelProject+"="+project)
	if cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f}); err == nil {
		for _, c := range cs.Items {
			cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true})
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
}
