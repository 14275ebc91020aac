package wizard_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/fredbook/udos-dist/internal/cmd/root"
	"github.com/fredbook/udos-dist/internal/dockertest"
	"github.com/fredbook/udos-dist/internal/ociimage"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	wz "github.com/fredbook/udos-dist/internal/wizard"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"udos-lib": func() { os.Exit(root.Main(os.Args[1:], "0", nil)) },
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
			dockertest.RemoveLabelled(cli, wz.LabelProject+"="+p) // the project's label, not the test's
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
