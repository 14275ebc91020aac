package publish

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/udospkg"
)

var (
	keyOnce           sync.Once
	testPriv, testPub []byte
	keyErr            error
)

func testKey(t *testing.T) ([]byte, []byte) {
	t.Helper()
	keyOnce.Do(func() {
		testPriv, testPub, keyErr = pgpsign.GenerateTestKey("Publisher", "pub@example.org", []byte("pw"))
	})
	if keyErr != nil {
		t.Fatal(keyErr)
	}
	return testPriv, testPub
}

const exampleLib = "../../examples/libraries/grid-extensions"

func TestDryRunPacksSignsAndWritesManifest(t *testing.T) {
	t.Parallel()
	priv, pub := testKey(t)
	out := t.TempDir()
	var log bytes.Buffer
	res, err := Run(context.Background(), Request{
		Dir: exampleLib, Tag: "v1.2.4", SigningKey: priv, Passphrase: []byte("pw"), OutDir: out,
		MTime: time.Unix(1700000000, 0),
	}, nil, &log, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if res.Package != "lib-grid-extensions-v1.2.4.udos-package" || res.Version != "1.2.4" || res.Tag != "v1.2.4" {
		t.Fatalf("result %+v", res)
	}
	pkg, err := udospkg.Open(res.PackagePath)
	if err != nil {
		t.Fatal(err)
	}
	if pkg.SHA256 != res.SHA256 || pkg.Manifest.Version != "1.2.4" {
		t.Errorf("package digest %s / version %s, result %s", pkg.SHA256, pkg.Manifest.Version, res.SHA256)
	}
	kr, err := pgpsign.LoadKeyring(pub)
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := os.ReadFile(res.SignaturePath)
	if _, err := kr.VerifyDetached(bytes.NewReader(pkg.Bytes()), bytes.NewReader(sig)); err != nil {
		t.Errorf("signature does not verify: %v", err)
	}
	man, _ := os.ReadFile(res.ManifestPath)
	if !bytes.Equal(man, pkg.ManifestJSON) || filepath.Base(res.ManifestPath) != "lib-grid-extensions-v1.2.4.manifest.json" {
		t.Errorf("manifest asset %s differs from the packaged manifest", res.ManifestPath)
	}
	if !strings.Contains(log.String(), "release skipped") && !strings.Contains(log.String(), "skipped") {
		t.Errorf("log does not say the release step was skipped:\n%s", log.String())
	}
	// Reproducible: a second pack gives the same bytes.
	res2, err := Run(context.Background(), Request{
		Dir: exampleLib, Tag: "v1.2.4", SigningKey: priv, Passphrase: []byte("pw"), OutDir: t.TempDir(),
		MTime: time.Unix(1700000000, 0),
	}, nil, nil, nil)
	if err != nil || res2.SHA256 != res.SHA256 {
		t.Errorf("second pack: %v, sha256 %s vs %s", err, res2.SHA256, res.SHA256)
	}
	if s := res.Summary(); !strings.Contains(s, res.SHA256) || !strings.Contains(s, "| release | skipped") {
		t.Errorf("summary:\n%s", s)
	}
}

func TestRequestErrors(t *testing.T) {
	t.Parallel()
	priv, _ := testKey(t)
	base := func() Request {
		return Request{Dir: exampleLib, SigningKey: priv, Passphrase: []byte("pw")}
	}
	tests := []struct {
		name  string
		edit  func(r *Request)
		gh    GitHub
		want  string
		input bool
	}{
		{name: "no key", edit: func(r *Request) { r.SigningKey = nil }, want: "no signing key", input: true},
		{name: "wrong passphrase", edit: func(r *Request) { r.Passphrase = []byte("nope") }, want: "signing key"},
		{name: "tag and version disagree", edit: func(r *Request) { r.Tag = "v2.0.0"; r.Version = "1.0.0" }, want: "does not match tag", input: true},
		{name: "bad version", edit: func(r *Request) { r.Version = "one" }, want: "version"},
		{name: "bad repository", edit: func(r *Request) { r.Repository = "nope" }, gh: &fakeGitHub{}, want: "not OWNER/NAME", input: true},
		{name: "repository without client", edit: func(r *Request) { r.Repository = "o/r" }, want: "needs a GitHub client", input: true},
		{name: "dispatch without repository", edit: func(r *Request) { r.DispatchRepository = "o/reg" }, want: "needs a repository", input: true},
		{name: "missing folder", edit: func(r *Request) { r.Dir = "/nonexistent/lib" }, want: "reading manifest"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := base()
			req.OutDir = t.TempDir()
			tc.edit(&req)
			_, err := Run(context.Background(), req, tc.gh, nil, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if tc.input != errors.Is(err, ErrInput) {
				t.Errorf("errors.Is(err, ErrInput) = %v", !tc.input)
			}
			if !strings.HasPrefix(err.Error(), "validate: ") {
				t.Errorf("error does not name the step: %v", err)
			}
			entries, _ := os.ReadDir(req.OutDir)
			if len(entries) != 0 {
				t.Errorf("a refused request wrote %d files", len(entries))
			}
		})
	}
}

type fakeGitHub struct {
	published []string
	dispatch  []string
}

func (f *fakeGitHub) PublishRelease(_ context.Context, repo, tag string, assets []Asset, _, _ string) (PublishedRelease, error) {
	var names []string
	for _, a := range assets {
		names = append(names, a.Name)
	}
	f.published = append(f.published, repo+"@"+tag+":"+strings.Join(names, ","))
	return PublishedRelease{URL: "https://example.org/" + repo + "/releases/tag/" + tag, Uploaded: names}, nil
}

func (f *fakeGitHub) Dispatch(_ context.Context, repo, event string, payload map[string]any) error {
	f.dispatch = append(f.dispatch, repo+":"+event+":"+payload["package"].(string))
	return nil
}

func TestStepsCallGitHubInOrder(t *testing.T) {
	t.Parallel()
	priv, _ := testKey(t)
	gh := &fakeGitHub{}
	res, err := Run(context.Background(), Request{Dir: exampleLib, SigningKey: priv, Passphrase: []byte("pw"),
		OutDir: t.TempDir(), Repository: "fredbook/udos-grid-extensions", DispatchRepository: "fredbook/registry"}, gh, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "fredbook/udos-grid-extensions@v1.2.3:lib-grid-extensions-v1.2.3.udos-package,lib-grid-extensions-v1.2.3.udos-package.asc,lib-grid-extensions-v1.2.3.manifest.json"
	if len(gh.published) != 1 || gh.published[0] != want {
		t.Errorf("published %v", gh.published)
	}
	if len(gh.dispatch) != 1 || gh.dispatch[0] != "fredbook/registry:udos-library-published:lib-grid-extensions-v1.2.3.udos-package" || !res.Dispatched {
		t.Errorf("dispatched %v", gh.dispatch)
	}
	var names []string
	for _, s := range res.Steps {
		names = append(names, s.Step+"="+string(s.Status))
	}
	if got := strings.Join(names, " "); got != "validate=ok pack=ok sign=ok checksum=ok manifest=ok release=ok dispatch=ok" {
		t.Errorf("steps: %s", got)
	}
}
