package share

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/cmd/cmdutil"
	"github.com/fredbook/udos-dist/internal/cmd/factory"
	"github.com/fredbook/udos-dist/internal/ghrelease/ghtest"
	"github.com/fredbook/udos-dist/internal/ghreplica"
	"github.com/fredbook/udos-dist/internal/iostreams"
)

const exampleLib = "../../../examples/libraries/grid-extensions"

func newFactory(env map[string]string) (*factory.Factory, *iostreams.IOStreams, *bytes.Buffer) {
	io, _, out, _ := iostreams.Test()
	return &factory.Factory{Ctx: context.Background(), IO: io, Getenv: func(k string) string { return env[k] },
		HTTPClient: http.DefaultClient, Now: time.Now, Global: &factory.Global{JSON: true}}, io, out
}

func TestShareGitHub(t *testing.T) {
	t.Parallel()
	gh := ghtest.Serve(t, ghtest.Options{Config: ghreplica.Config{ContentCreationPerMinute: -1}, Login: "me",
		Repos: []string{"fredbook/udos-grid-extensions", "fredbook/registry"}})
	r := gh.Replica
	key, err := os.ReadFile("../../../examples/keys/demo-signing-key.asc")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"GITHUB_TOKEN": ghtest.Token, "GITHUB_API_URL": gh.URL(), "UDOS_SIGN_KEY": string(key)}

	share := func() Result {
		t.Helper()
		f, io, out := newFactory(env)
		// The manifest names fredbook/udos-grid-extensions: no --repository needed.
		if err := execute(f, exampleLib, "--github", "--dispatch", "fredbook/registry"); err != nil {
			t.Fatalf("%v\n%s", err, io.ErrOut)
		}
		var res Result
		if err := json.Unmarshal(out.Bytes(), &res); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return res
	}
	first := share()
	if first.Package != "lib-grid-extensions-v1.2.3.udos-package" || len(first.Uploaded) != 3 || !first.Dispatched || !strings.HasSuffix(first.ReleaseURL, "/releases/tag/v1.2.3") {
		t.Errorf("first share: %+v", first)
	}
	again := share()
	if len(again.Uploaded) != 0 || len(again.Kept) != 3 || again.SHA256 != first.SHA256 {
		t.Errorf("second share: %+v", again)
	}
	if rel, _ := r.ReleaseByTag("fredbook", "udos-grid-extensions", "v1.2.3"); rel.Draft || len(rel.Assets) != 3 {
		t.Errorf("release: %+v", rel)
	}
}

func TestShareUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no destination", []string{exampleLib}, nil, "--github"},
		{"no key", []string{exampleLib, "--github"}, map[string]string{"GITHUB_TOKEN": "x"}, "UDOS_SIGN_KEY"},
		{"two names", []string{"a", "b", "--github"}, nil, "name one library"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, _, _ := newFactory(tc.env)
			err := execute(f, tc.args...)
			if !cmdutil.IsUsage(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want a usage error mentioning %q", err, tc.want)
			}
		})
	}
}

func TestShareNeedsToken(t *testing.T) {
	t.Parallel()
	key, _ := os.ReadFile(filepath.Join("../../../examples/keys/demo-signing-key.asc"))
	f, _, _ := newFactory(map[string]string{"UDOS_SIGN_KEY": string(key)})
	err := execute(f, exampleLib, "--github")
	if err == nil || !strings.Contains(err.Error(), "GITHUB_TOKEN") {
		t.Errorf("err = %v", err)
	}
}

// execute runs the share command alone, as the root would run it.
func execute(f *factory.Factory, args ...string) error {
	cmd := NewCmd(f, nil)
	cmd.SetArgs(args)
	cmd.SetOut(f.IO.Out)
	cmd.SetErr(f.IO.ErrOut)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	return cmd.Execute()
}
