package release

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/artifact"
	"github.com/fredbook/udos-dist/internal/assetname"
	"github.com/fredbook/udos-dist/internal/checksum"
	"github.com/fredbook/udos-dist/internal/ghrelease"
	"github.com/fredbook/udos-dist/internal/ghrelease/ghtest"
	"github.com/fredbook/udos-dist/internal/ghreplica"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/pipe"
	"github.com/fredbook/udos-dist/internal/relmanifest"
)

var (
	keyOnce   sync.Once
	priv, pub []byte
	keyErr    error
)

func testSigner(t *testing.T) (*pgpsign.Signer, *pgpsign.Keyring) {
	t.Helper()
	keyOnce.Do(func() { priv, pub, keyErr = pgpsign.GenerateTestKey("uDOS Release", "release@example.org", nil) })
	if keyErr != nil {
		t.Fatal(keyErr)
	}
	s, err := pgpsign.LoadSigner(priv, nil)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := pgpsign.LoadKeyring(pub)
	if err != nil {
		t.Fatal(err)
	}
	return s, kr
}

type ghEnv struct {
	rep *ghreplica.Replica
	gh  *ghrelease.Client
}

func newGH(t *testing.T) *ghEnv {
	e := ghtest.New(t, ghreplica.Config{ContentCreationPerMinute: -1}, "release-bot")
	return &ghEnv{rep: e.Replica, gh: e.Client}
}

// deltaIndex is a type no package of the repository knows: the test is its
// producer, and the tail must handle it with no other change.
var deltaIndex = artifact.Type{Name: "delta-index"}

// produce is the whole producer of the new type: it writes the file and
// adds it to the list.
func produce(dir string, arts *artifact.List, data []byte) pipe.Step {
	return pipe.Func("delta-index", func(context.Context, *pipe.Context) error {
		a, err := artifact.WriteFile(deltaIndex, filepath.Join(dir, "udos-sonic-v1.4.6.delta.json"), data)
		if err != nil {
			return err
		}
		arts.Add(a)
		return nil
	})
}

func runJob(t *testing.T, e *ghEnv, signer *pgpsign.Signer, out string, data []byte, log *bytes.Buffer) *Tail {
	t.Helper()
	var arts artifact.List
	tail := New(Config{Version: "1.4.6", Job: "delta", Output: out, Time: time.Unix(1764072000, 0), Signer: signer,
		Upload: true, GitHub: e.gh, Owner: "fredbook", Repo: "uDOS", ServerURL: "https://github.com", Log: log}, &arts)
	c := &pipe.Context{Log: log}
	if err := pipe.Run(context.Background(), c, append([]pipe.Step{produce(out, &arts, data)}, tail.Steps("upload")...)...); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	return tail
}

// TestNewArtifactType registers a type the tail has never heard of and
// follows it through the job (checksummed, signed, in the fragment and the
// local manifest, uploaded to the draft) and the release job (verified,
// in the merged manifest and the SUMS lists, published).
func TestNewArtifactType(t *testing.T) {
	t.Parallel()
	e := newGH(t)
	signer, kr := testSigner(t)
	out := t.TempDir()
	data := []byte(`{"blocks": 42}` + "\n")
	var log bytes.Buffer
	tail := runJob(t, e, signer, out, data, &log)
	const name = "udos-sonic-v1.4.6.delta.json"
	path := filepath.Join(out, name)
	d, _ := checksum.Sum(bytes.NewReader(data))

	// Checksummed: sidecars and the job's SUMS lists.
	for _, algo := range []checksum.Algorithm{checksum.SHA256, checksum.SHA512} {
		side, err := os.ReadFile(path + algo.Ext())
		if err != nil || string(side) != d.Get(algo)+"  "+name+"\n" {
			t.Errorf("%s sidecar: %q %v", algo, side, err)
		}
		sums, _ := os.ReadFile(filepath.Join(out, algo.SumsName()))
		if !strings.Contains(string(sums), d.Get(algo)+"  "+name+"\n") {
			t.Errorf("%s lacks the new artifact:\n%s", algo.SumsName(), sums)
		}
	}
	// Signed.
	if _, err := kr.VerifyFile(path, path+".asc"); err != nil {
		t.Errorf("signature: %v", err)
	}
	// In the fragment and the local manifest.
	for _, p := range []string{tail.Fragment.Path, tail.ManifestPath} {
		m, err := relmanifest.Read(p)
		if err != nil {
			t.Fatal(err)
		}
		f, ok := m.File(name)
		want := relmanifest.File{Name: name, Type: "delta-index", SizeBytes: d.Size, ChecksumSHA256: d.SHA256, ChecksumSHA512: d.SHA512,
			URL: "https://github.com/fredbook/uDOS/releases/download/v1.4.6/" + name, SignatureURL: "https://github.com/fredbook/uDOS/releases/download/v1.4.6/" + name + ".asc"}
		if !ok || f != want {
			t.Errorf("%s: artifact %+v, want %+v", filepath.Base(p), f, want)
		}
	}
	// Uploaded to the draft, with its sidecars and signature; the job's
	// partial SUMS lists are not.
	rel, ok := e.rep.ReleaseByTag("fredbook", "uDOS", "v1.4.6")
	if !ok || !rel.Draft {
		t.Fatalf("draft: %v %+v", ok, rel)
	}
	got := map[string][]byte{}
	for _, a := range rel.Assets {
		got[a.Name] = a.Data
	}
	for _, n := range []string{name, name + ".sha256", name + ".sha512", name + ".asc", "udos-delta-v1.4.6.manifest.json", "udos-delta-v1.4.6.manifest.json.asc"} {
		if _, ok := got[n]; !ok {
			t.Errorf("draft lacks %s (has %v)", n, names(got))
		}
	}
	if !bytes.Equal(got[name], data) {
		t.Error("uploaded bytes differ")
	}
	if _, ok := got["SHA256SUMS"]; ok || len(got) != 6 {
		t.Errorf("draft assets %v, want the six above", names(got))
	}

	// The release job verifies it, lists it and publishes.
	res, err := Publish(context.Background(), PublishConfig{Version: "1.4.6", Owner: "fredbook", Repo: "uDOS", GitHub: e.gh,
		Output: t.TempDir(), SigningKey: priv})
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := res.Manifest.File(name); !ok || f.ChecksumSHA256 != d.SHA256 {
		t.Errorf("merged manifest: %+v %v", f, ok)
	}
	rel, _ = e.rep.ReleaseByTag("fredbook", "uDOS", "v1.4.6")
	if rel.Draft {
		t.Error("not published")
	}
	for _, a := range rel.Assets {
		got[a.Name] = a.Data
	}
	if !strings.Contains(string(got["SHA256SUMS"]), d.SHA256+"  "+name+"\n") {
		t.Errorf("release SHA256SUMS lacks it:\n%s", got["SHA256SUMS"])
	}
	if _, err := kr.VerifyDetached(bytes.NewReader(got[assetname.ReleaseManifest("1.4.6")]), bytes.NewReader(got[assetname.ReleaseManifest("1.4.6")+".asc"])); err != nil {
		t.Errorf("manifest signature: %v", err)
	}
}

// TestTamperedNewArtifactRefused: the release job refuses a listed file of
// any type whose bytes on the draft are not those of the fragment.
func TestTamperedNewArtifactRefused(t *testing.T) {
	t.Parallel()
	e := newGH(t)
	signer, _ := testSigner(t)
	out := t.TempDir()
	var log bytes.Buffer
	runJob(t, e, signer, out, []byte("index v1\n"), &log)
	bad := filepath.Join(t.TempDir(), "udos-sonic-v1.4.6.delta.json")
	if err := os.WriteFile(bad, []byte("index v2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := e.gh.Publish(context.Background(), ghrelease.PublishRequest{Owner: "fredbook", Repo: "uDOS", Tag: "v1.4.6", KeepDraft: true,
		Assets: []ghrelease.AssetFile{{Path: bad}}}); err != nil {
		t.Fatal(err)
	}
	_, err := Publish(context.Background(), PublishConfig{Version: "1.4.6", Owner: "fredbook", Repo: "uDOS", GitHub: e.gh,
		Output: t.TempDir(), SigningKey: priv})
	if err == nil || !strings.Contains(err.Error(), "delta-index udos-sonic-v1.4.6.delta.json on the release does not match its manifest") {
		t.Fatalf("err = %v", err)
	}
	if rel, _ := e.rep.ReleaseByTag("fredbook", "uDOS", "v1.4.6"); !rel.Draft {
		t.Error("published with a tampered file")
	}
}

// TestRerunAdoptsSignatures: a re-run signs afresh (signatures are not
// reproducible), finds the release's signatures valid for the same bytes,
// keeps them and uploads nothing; a foreign signature on the draft is not
// adopted but replaced.
func TestRerunAdoptsSignatures(t *testing.T) {
	t.Parallel()
	e := newGH(t)
	signer, kr := testSigner(t)
	data := []byte("same bytes\n")
	var log bytes.Buffer
	runJob(t, e, signer, t.TempDir(), data, &log)

	posts := e.rep.Count("POST", "")
	log.Reset()
	out := t.TempDir()
	runJob(t, e, signer, out, data, &log)
	if n := e.rep.Count("POST", "") - posts; n != 0 {
		t.Errorf("re-run made %d POSTs\n%s", n, log.String())
	}
	if !strings.Contains(log.String(), "kept 2 signature(s)") {
		t.Errorf("log:\n%s", log.String())
	}
	rel, _ := e.rep.ReleaseByTag("fredbook", "uDOS", "v1.4.6")
	for _, a := range rel.Assets {
		if a.Name == "udos-sonic-v1.4.6.delta.json.asc" {
			local, _ := os.ReadFile(filepath.Join(out, a.Name))
			if !bytes.Equal(local, a.Data) {
				t.Error("the local signature is not the adopted one")
			}
		}
	}
	if leftovers, _ := filepath.Glob(filepath.Join(out, "*.tmp*")); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}

	// A signature by another key over the same bytes: not ours, not kept.
	otherPriv, _, err := pgpsign.GenerateTestKey("Someone Else", "else@example.org", nil)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := pgpsign.LoadSigner(otherPriv, nil)
	foreign := filepath.Join(t.TempDir(), "udos-sonic-v1.4.6.delta.json")
	_ = os.WriteFile(foreign, data, 0o644)
	asc, err := pgpsign.SignFile(other, foreign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.gh.Publish(context.Background(), ghrelease.PublishRequest{Owner: "fredbook", Repo: "uDOS", Tag: "v1.4.6", KeepDraft: true,
		Assets: []ghrelease.AssetFile{{Path: asc}}}); err != nil {
		t.Fatal(err)
	}
	log.Reset()
	out = t.TempDir()
	runJob(t, e, signer, out, data, &log)
	if !strings.Contains(log.String(), "kept 1 signature(s)") {
		t.Errorf("log:\n%s", log.String())
	}
	rel, _ = e.rep.ReleaseByTag("fredbook", "uDOS", "v1.4.6")
	for _, a := range rel.Assets {
		if a.Name == "udos-sonic-v1.4.6.delta.json.asc" {
			if _, err := kr.VerifyDetached(bytes.NewReader(data), bytes.NewReader(a.Data)); err != nil {
				t.Errorf("the foreign signature was kept: %v", err)
			}
		}
	}
}

func names(m map[string][]byte) []string {
	var out []string
	for n := range m {
		out = append(out, n)
	}
	return out
}
