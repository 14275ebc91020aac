package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/catalog"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/regref"
	"github.com/fredbook/udos-dist/internal/site"
	"github.com/fredbook/udos-dist/internal/testenv"
	"github.com/fredbook/udos-dist/internal/udospkg"
)

var (
	localT0    = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	localEpoch = time.Unix(1764000000, 0)
	repoRoot   = filepath.Join("..", "..")
	demoKey    = filepath.Join(repoRoot, "examples", "keys", "demo-signing-key.asc")
	demoPub    = filepath.Join(repoRoot, "examples", "keys", "demo-signing-key.pub.asc")
)

// packExamples packs every example library into a fresh folder, signing
// each with signer when it is not nil.
func packExamples(t *testing.T, signer *pgpsign.Signer) string {
	t.Helper()
	in := t.TempDir()
	srcs, err := filepath.Glob(filepath.Join(repoRoot, "examples", "libraries", "*", udospkg.ManifestName))
	if err != nil || len(srcs) == 0 {
		t.Fatalf("no example libraries: %v", err)
	}
	for _, m := range srcs {
		res, err := udospkg.PackFile(filepath.Dir(m), in, udospkg.PackOptions{MTime: localEpoch})
		if err != nil {
			t.Fatal(err)
		}
		if signer != nil {
			if _, err := pgpsign.SignFile(signer, filepath.Join(in, res.FileName)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return in
}

func demoSigner(t *testing.T) *pgpsign.Signer {
	t.Helper()
	s, err := pgpsign.LoadSignerFile(demoKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func demoKeyring(t *testing.T) *pgpsign.Keyring {
	t.Helper()
	kr, err := pgpsign.LoadKeyringFile(demoPub)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// dirRun is one local-mode generation: the folder source and the
// assembler's options.
type dirRun struct {
	DirSource
	Options
}

func (r dirRun) run() (*Result, error) {
	return Assemble(context.Background(), &r.DirSource, r.Options)
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestGenerate(t *testing.T) {
	t.Parallel()
	in := packExamples(t, demoSigner(t))
	out := filepath.Join(t.TempDir(), "registry")
	res, err := dirRun{DirSource{Dir: in, Keyring: demoKeyring(t)}, Options{OutDir: out, Signer: demoSigner(t), Now: localT0, Expires: 48 * time.Hour}}.run()
	if err != nil {
		t.Fatal(err)
	}
	// A new registry's serial is the generation time.
	if res.Serial != localT0.Unix() || res.Libraries != 5 || res.Versions != 7 || len(res.Warnings) != 0 || res.Signature == "" {
		t.Errorf("result %+v", res)
	}
	for _, p := range res.Packages {
		if !p.Signed || !p.SignatureVerified || !p.New {
			t.Errorf("package %+v", p)
		}
	}
	data, _ := os.ReadFile(filepath.Join(out, catalog.FileName))
	sig, _ := os.ReadFile(filepath.Join(out, catalog.SignatureName))
	c, err := catalog.Verify(data, sig, demoKeyring(t), catalog.TrustState{}, localT0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Expires.Equal(localT0.Add(48*time.Hour)) || !c.LastUpdated.Equal(localT0) {
		t.Errorf("times %s %s", c.LastUpdated, c.Expires)
	}
	base, _ := regref.NewBase(mustAbs(t, filepath.Join(out, catalog.FileName)))
	for _, l := range c.Libraries {
		idx, err := os.ReadFile(filepath.Join(out, IndexDir, l.ID+".json"))
		if err != nil {
			t.Fatal(err)
		}
		want, _ := catalog.MarshalLibrary(&l)
		if !bytes.Equal(idx, want) {
			t.Errorf("index/%s.json differs from the catalog entry", l.ID)
		}
		for _, v := range l.Versions {
			if strings.Contains(v.URL, "://") {
				t.Errorf("url %q is not relative", v.URL)
			}
			u, err := base.Resolve(v.URL)
			if err != nil {
				t.Fatal(err)
			}
			if got := fileSHA256(t, u); got != v.SHA256 {
				t.Errorf("%s: sha256 %s, catalog says %s", u, got, v.SHA256)
			}
			su, _ := base.Resolve(v.SignatureURL)
			if _, err := demoKeyring(t).VerifyFile(u, su); err != nil {
				t.Error(err)
			}
			mu, _ := base.Resolve(v.ManifestURL)
			mb, err := os.ReadFile(mu)
			if err != nil {
				t.Fatal(err)
			}
			if m, err := udospkg.ParseManifest(mb); err != nil || m.Version != v.Version {
				t.Errorf("manifest %s: %v", mu, err)
			}
		}
	}
	pf, _ := c.Find("pathfinding")
	if pf.Version != "1.1.0" || len(pf.Versions) != 2 || pf.Versions[1].Version != "1.0.0" {
		t.Errorf("pathfinding: %s %v", pf.Version, pf.Versions)
	}

	// A second run: serial grows (to the new generation time), first
	// publication dates stay.
	res2, err := dirRun{DirSource{Dir: in}, Options{OutDir: out, Now: localT0.Add(24 * time.Hour)}}.run()
	if err != nil {
		t.Fatal(err)
	}
	if res2.Serial != localT0.Add(24*time.Hour).Unix() || res2.Signature != "" || res2.Packages[0].New {
		t.Errorf("second run %+v", res2)
	}
	if _, err := os.Stat(filepath.Join(out, catalog.SignatureName)); !errors.Is(err, os.ErrNotExist) {
		t.Error("stale catalog.json.asc left beside an unsigned catalog")
	}
	data2, _ := os.ReadFile(filepath.Join(out, catalog.FileName))
	c2, err := catalog.Parse(data2)
	if err != nil {
		t.Fatal(err)
	}
	l2, _ := c2.Find("grid-math")
	if !l2.PublishedAt.Equal(localT0) || !c2.LastUpdated.Equal(localT0.Add(24*time.Hour)) {
		t.Errorf("published_at %s, last_updated %s", l2.PublishedAt, c2.LastUpdated)
	}
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestGenerateBaseURL(t *testing.T) {
	t.Parallel()
	in := packExamples(t, nil)
	out := t.TempDir()
	res, err := dirRun{DirSource{Dir: in, BaseURL: "https://fredbook.github.io/udos-registry/"}, Options{OutDir: out, Now: localT0}}.run()
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 7 || !strings.Contains(res.Warnings[0], "has no signature") {
		t.Errorf("warnings %q", res.Warnings)
	}
	data, _ := os.ReadFile(filepath.Join(out, catalog.FileName))
	c, err := catalog.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	v := c.Libraries[0].Versions[0]
	if v.URL != "https://fredbook.github.io/udos-registry/packages/lib-grid-extensions-v1.2.3.udos-package" || v.SignatureURL != "" {
		t.Errorf("url %q signature %q", v.URL, v.SignatureURL)
	}
}

func TestGenerateInPlace(t *testing.T) {
	t.Parallel()
	// Regenerating from the registry's own packages/ folder must work.
	out := t.TempDir()
	in := packExamples(t, nil)
	if _, err := (dirRun{DirSource{Dir: in}, Options{OutDir: out, Now: localT0}}).run(); err != nil {
		t.Fatal(err)
	}
	res, err := dirRun{DirSource{Dir: filepath.Join(out, PackagesDir)}, Options{OutDir: out, Now: localT0}}.run()
	if err != nil {
		t.Fatal(err)
	}
	// Generated again at the same second: the serial still grows by one.
	if res.Serial != localT0.Unix()+1 || res.Versions != 7 {
		t.Errorf("%+v", res)
	}
}

func TestGenerateErrors(t *testing.T) {
	t.Parallel()
	_, otherPub, err := pgpsign.GenerateTestKey("Other", "other@example.org", nil)
	if err != nil {
		t.Fatal(err)
	}
	otherKR, _ := pgpsign.LoadKeyring(otherPub)
	tests := []struct {
		name  string
		setup func(t *testing.T, in, out string) dirRun
		want  string
		is    error
	}{
		{"empty input", func(t *testing.T, in, out string) dirRun {
			os.RemoveAll(in)
			os.MkdirAll(in, 0o755)
			return dirRun{}
		}, "no .udos-package files found", ErrNoPackages},
		{"missing input", func(t *testing.T, in, out string) dirRun {
			os.RemoveAll(in)
			return dirRun{}
		}, "reading packages", nil},
		{"corrupt package", func(t *testing.T, in, out string) dirRun {
			p := filepath.Join(in, "lib-grid-math-v1.1.0.udos-package")
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)/2], 0o644)
			return dirRun{}
		}, "lib-grid-math-v1.1.0.udos-package", nil},
		{"hostile package", func(t *testing.T, in, out string) dirRun {
			b, err := os.ReadFile(filepath.Join(repoRoot, "internal", "udospkg", "testdata", "hostile", "digest-mismatch.udos-package"))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(in, "lib-demo-v1.0.0.udos-package"), b, 0o644)
			return dirRun{}
		}, "package contents do not match its manifest", udospkg.ErrContentMismatch},
		{"misnamed package", func(t *testing.T, in, out string) dirRun {
			os.Rename(filepath.Join(in, "lib-grid-math-v1.1.0.udos-package"), filepath.Join(in, "lib-grid-math-v9.9.9.udos-package"))
			return dirRun{}
		}, `must be named "lib-grid-math-v1.1.0.udos-package"`, nil},
		{"missing signature with keyring", func(t *testing.T, in, out string) dirRun {
			os.Remove(filepath.Join(in, "lib-pathfinding-v1.0.0.udos-package.asc"))
			return dirRun{DirSource: DirSource{Keyring: demoKeyring(t)}}
		}, `has no signature "lib-pathfinding-v1.0.0.udos-package.asc", and signatures are required`, nil},
		{"missing signature required", func(t *testing.T, in, out string) dirRun {
			os.Remove(filepath.Join(in, "lib-pathfinding-v1.0.0.udos-package.asc"))
			return dirRun{DirSource: DirSource{RequireSignatures: true}}
		}, "signatures are required", nil},
		{"untrusted signature", func(t *testing.T, in, out string) dirRun {
			return dirRun{DirSource: DirSource{Keyring: otherKR}}
		}, "not in the trusted keyring", pgpsign.ErrUnknownSigner},
		{"tampered signature", func(t *testing.T, in, out string) dirRun {
			// The signature of another package.
			b, _ := os.ReadFile(filepath.Join(in, "lib-grid-math-v1.1.0.udos-package.asc"))
			os.WriteFile(filepath.Join(in, "lib-grid-math-v1.1.1.udos-package.asc"), b, 0o644)
			return dirRun{DirSource: DirSource{Keyring: demoKeyring(t)}}
		}, "signature does not match the data", pgpsign.ErrBadSignature},
		{"invalid previous catalog", func(t *testing.T, in, out string) dirRun {
			os.WriteFile(filepath.Join(out, catalog.FileName), []byte(`{"serial": "x"}`), 0o644)
			return dirRun{}
		}, "so its serial is unknown", nil},
		{"changed version", func(t *testing.T, in, out string) dirRun {
			if _, err := (dirRun{DirSource{Dir: in}, Options{OutDir: out, Now: localT0}}).run(); err != nil {
				t.Fatal(err)
			}
			// Same version, different bytes (another SOURCE_DATE_EPOCH).
			_, err := udospkg.PackFile(filepath.Join(repoRoot, "examples", "libraries", "themes-retro"),
				filepath.Join(in, "lib-themes-retro-v0.3.0.udos-package"), udospkg.PackOptions{MTime: localEpoch.Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			return dirRun{}
		}, "lib-themes-retro 0.3.0 was published with sha256", ErrChangedVersion},
		{"negative lifetime", func(t *testing.T, in, out string) dirRun { return dirRun{Options: Options{Expires: -time.Hour}} }, "must be positive", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := packExamples(t, demoSigner(t))
			out := t.TempDir()
			r := tt.setup(t, in, out)
			r.Dir, r.OutDir, r.Now, r.Site = in, out, localT0, true
			before, _ := os.ReadFile(filepath.Join(out, catalog.FileName))
			_, err := r.run()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v\nwant %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err does not wrap %v", tt.is)
			}
			// A failed run leaves the previous catalog (or none) in force.
			after, _ := os.ReadFile(filepath.Join(out, catalog.FileName))
			if !bytes.Equal(before, after) {
				t.Error("catalog.json changed by a failed run")
			}
			if _, err := os.Stat(filepath.Join(out, SiteDir)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a failed run wrote the site: %v", err)
			}
		})
	}
}

// TestCatalogSignatureWithGnuPG checks that stock gpg accepts the
// generated catalog signature.
func TestCatalogSignatureWithGnuPG(t *testing.T) {
	t.Parallel()
	gpg := testenv.Tool(t, "gpg")
	in := packExamples(t, nil)
	out := t.TempDir()
	res, err := dirRun{DirSource{Dir: in}, Options{OutDir: out, Signer: demoSigner(t), Now: time.Now()}}.run()
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	run := func(args ...string) string {
		cmd := exec.Command(gpg, append([]string{"--batch", "--no-tty"}, args...)...)
		cmd.Env = append(os.Environ(), "GNUPGHOME="+home, "LC_ALL=C")
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("gpg %s: %v\n%s", strings.Join(args, " "), err, b)
		}
		return string(b)
	}
	run("--import", demoPub)
	cat, asc := filepath.Join(out, catalog.FileName), filepath.Join(out, catalog.SignatureName)
	msg := run("--verify", asc, cat)
	if !strings.Contains(msg, "Good signature") || !strings.Contains(msg, "uDOS DEMO KEY - DO NOT TRUST") {
		t.Errorf("gpg --verify said:\n%s", msg)
	}
	// And a changed catalog is refused by gpg too.
	b, _ := os.ReadFile(cat)
	serial := fmt.Sprintf(`"serial": %d`, res.Serial)
	if !bytes.Contains(b, []byte(serial)) {
		t.Fatalf("catalog lacks %s", serial)
	}
	os.WriteFile(cat, bytes.Replace(b, []byte(serial), []byte(fmt.Sprintf(`"serial": %d`, res.Serial+1)), 1), 0o644)
	cmd := exec.Command(gpg, "--batch", "--no-tty", "--verify", asc, cat)
	cmd.Env = append(os.Environ(), "GNUPGHOME="+home, "LC_ALL=C")
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("gpg accepted a tampered catalog:\n%s", out)
	}
}

// TestSerialNeverRollsBack: a generator that lost its output folder (a
// fresh checkout, a cold cache) still publishes a serial no lower than the
// one clients already saw, and no lower than the generation time.
func TestSerialNeverRollsBack(t *testing.T) {
	t.Parallel()
	in := packExamples(t, demoSigner(t))
	first := filepath.Join(t.TempDir(), "first")
	res1, err := dirRun{DirSource{Dir: in}, Options{OutDir: first, Signer: demoSigner(t)}}.run()
	if err != nil {
		t.Fatal(err)
	}
	// A client syncs the first publication.
	data1, _ := os.ReadFile(filepath.Join(first, catalog.FileName))
	sig1, _ := os.ReadFile(filepath.Join(first, catalog.SignatureName))
	c1, err := catalog.Verify(data1, sig1, demoKeyring(t), catalog.TrustState{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	seen := catalog.TrustState{Serial: c1.Serial}

	fresh := filepath.Join(t.TempDir(), "fresh")
	before := time.Now().Unix()
	res2, err := dirRun{DirSource{Dir: in}, Options{OutDir: fresh, Signer: demoSigner(t)}}.run()
	if err != nil {
		t.Fatal(err)
	}
	if res2.Serial < res1.Serial || res2.Serial < before {
		t.Errorf("fresh output folder: serial %d, previous publication %d, generated at %d or later", res2.Serial, res1.Serial, before)
	}
	data2, _ := os.ReadFile(filepath.Join(fresh, catalog.FileName))
	sig2, _ := os.ReadFile(filepath.Join(fresh, catalog.SignatureName))
	if _, err := catalog.Verify(data2, sig2, demoKeyring(t), seen, time.Now()); err != nil {
		t.Errorf("a client that synced the first publication refuses the fresh one: %v", err)
	}

	// A previous catalog with a serial ahead of the clock: one more.
	ahead := filepath.Join(t.TempDir(), "ahead")
	if _, err := (dirRun{DirSource{Dir: in}, Options{OutDir: ahead, Now: time.Now().Add(48 * time.Hour)}}).run(); err != nil {
		t.Fatal(err)
	}
	prev, err := catalog.Parse(mustRead(t, filepath.Join(ahead, catalog.FileName)))
	if err != nil {
		t.Fatal(err)
	}
	res3, err := dirRun{DirSource{Dir: in}, Options{OutDir: ahead}}.run()
	if err != nil {
		t.Fatal(err)
	}
	if res3.Serial != prev.Serial+1 {
		t.Errorf("after serial %d: %d, want one more", prev.Serial, res3.Serial)
	}
}

// TestLocalSite: the local mode writes the site too; it serves the catalog,
// its signature, the index files and the packages at the paths the
// catalog's relative URLs name, so the site alone is a working registry.
func TestLocalSite(t *testing.T) {
	t.Parallel()
	in := packExamples(t, demoSigner(t))
	out := t.TempDir()
	pub := mustRead(t, demoPub)
	res, err := dirRun{DirSource{Dir: in, Keyring: demoKeyring(t)}, Options{OutDir: out, Signer: demoSigner(t), Now: localT0, Site: true, PublisherKeys: pub}}.run()
	if err != nil {
		t.Fatal(err)
	}
	if res.Site != filepath.Join(out, SiteDir) {
		t.Fatalf("site %q", res.Site)
	}
	// The keyring clients need is published (once: the demo key signs
	// both the catalog and the packages), in the folder and on the site.
	keys := mustRead(t, filepath.Join(out, "keys.asc"))
	if kr, err := pgpsign.LoadKeyring(keys); err != nil || len(kr.Fingerprints()) != 1 || kr.Fingerprints()[0] != demoSigner(t).Fingerprint() {
		t.Errorf("keys.asc: %v", err)
	}
	if !bytes.Equal(keys, mustRead(t, filepath.Join(res.Site, "keys.asc"))) {
		t.Error("the site serves other keys than the folder")
	}
	// The READMEs of the packages' current versions reach the site:
	// grid-extensions and grid-math ship docs/README.md, the others none.
	var readmes map[string]struct {
		HTML string `json:"html"`
	}
	if err := json.Unmarshal(mustRead(t, filepath.Join(res.Site, "_data", "readmes.json")), &readmes); err != nil {
		t.Fatal(err)
	}
	if len(readmes) != 2 || !strings.Contains(readmes["lib-grid-extensions"].HTML, "<h1>Grid Extensions</h1>") || readmes["lib-grid-math"].HTML == "" {
		t.Errorf("site READMEs: %+v", readmes)
	}
	data := mustRead(t, filepath.Join(res.Site, catalog.FileName))
	if !bytes.Equal(data, mustRead(t, filepath.Join(out, catalog.FileName))) ||
		!bytes.Equal(mustRead(t, filepath.Join(res.Site, catalog.SignatureName)), mustRead(t, filepath.Join(out, catalog.SignatureName))) {
		t.Fatal("the site does not serve the catalog and its signature verbatim")
	}
	c, err := catalog.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	base, _ := regref.NewBase(mustAbs(t, filepath.Join(res.Site, catalog.FileName)))
	for _, l := range c.Libraries {
		if _, err := os.Stat(filepath.Join(res.Site, IndexDir, l.ID+".json")); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat(filepath.Join(res.Site, "libraries", l.ID+".md")); err != nil {
			t.Error(err)
		}
		for _, v := range l.Versions {
			for _, ref := range []string{v.URL, v.SignatureURL, v.ManifestURL} {
				u, err := base.Resolve(ref)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := os.Stat(u); err != nil {
					t.Errorf("%s: %v", ref, err)
				}
			}
			if u, _ := base.Resolve(v.URL); fileSHA256(t, u) != v.SHA256 {
				t.Errorf("%s in the site has another sha256", v.URL)
			}
		}
	}
	// Without Site (registry-gen --no-site) there is none.
	out2 := t.TempDir()
	if res, err := (dirRun{DirSource{Dir: in}, Options{OutDir: out2, Now: localT0}}).run(); err != nil || res.Site != "" {
		t.Fatalf("no site: %q %v", res.Site, err)
	}
	if _, err := os.Stat(filepath.Join(out2, SiteDir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("site written without Options.Site: %v", err)
	}
	// Unsigned, the folder's keys.asc goes: it would verify nothing.
	if _, err := (dirRun{DirSource{Dir: in}, Options{OutDir: out, Now: localT0.Add(time.Hour)}}).run(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, "keys.asc")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale keys.asc after an unsigned run: %v", err)
	}
}

// TestLargeReadme: a README too large for the site is not shown; the page
// says why, the run warns, and the package is listed as usual.
func TestLargeReadme(t *testing.T) {
	t.Parallel()
	src := libSource(t, t.TempDir(), "big", nil)
	if err := os.MkdirAll(filepath.Join(src, "docs"), 0o755); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("# big\n\ntext\n\n"), site.MaxReadmeSize/13+1)
	if err := os.WriteFile(filepath.Join(src, "docs", "README.md"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	in := t.TempDir()
	if _, err := udospkg.PackFile(src, in, udospkg.PackOptions{}); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	res, err := dirRun{DirSource{Dir: in}, Options{OutDir: out, Now: localT0, Site: true}}.run()
	if err != nil {
		t.Fatal(err)
	}
	if res.Libraries != 1 || !strings.Contains(strings.Join(res.Warnings, "\n"), "docs/README.md is larger than 512 KiB: the site does not show it") {
		t.Errorf("libraries %d, warnings %q", res.Libraries, res.Warnings)
	}
	data := string(mustRead(t, filepath.Join(out, SiteDir, "_data", "readmes.json")))
	if !strings.Contains(data, `"note": "docs/README.md is larger than 512 KiB; not shown"`) || strings.Contains(data, `"html"`) {
		t.Errorf("readmes.json:\n%.300s", data)
	}
}
