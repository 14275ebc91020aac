package catalog

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/fredbook/udos-dist/internal/goldentest"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/resolve"
	"github.com/fredbook/udos-dist/internal/udospkg"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func hex(c byte, n int) string { return strings.Repeat(string(c), n) }

func manifest(id, version string, deps map[string]string) *udospkg.Manifest {
	short := strings.TrimPrefix(id, "lib-")
	files := map[string]string{"lib/" + strings.ReplaceAll(short, "-", "_") + "/__init__.py": hex('a', 64)}
	if deps == nil {
		deps = map[string]string{}
	}
	return &udospkg.Manifest{
		ManifestVersion: 1, ID: id, Namespace: "@uDOS/" + short, Name: strings.ToUpper(short[:1]) + short[1:],
		Version: version, Description: "The " + short + " library.", Author: "uDOS Team", License: "MIT",
		EntryPoint: "lib/" + strings.ReplaceAll(short, "-", "_") + "/__init__.py", InstallPath: "library/" + short,
		Dependencies: deps, Files: files, Checksums: udospkg.Checksums{SHA256: udospkg.PayloadDigest(files)},
	}
}

func version(id, v string, day int) Version {
	file := id + "-v" + v + ".udos-package"
	return Version{
		Archive: Archive{URL: "packages/" + file, SignatureURL: "packages/" + file + ".asc", ManifestURL: "packages/" + id + "-v" + v + ".manifest.json",
			Size: 1000 + int64(day), SHA256: hex(byte('0'+day%10), 64), SHA512: hex(byte('a'+day%6), 128)},
		PublishedAt: t0.AddDate(0, 0, -30+day),
	}
}

// sample is a catalog like the example libraries', built in a scrambled
// order so that AddVersion's ordering is exercised.
func sample(t testing.TB) *Catalog {
	t.Helper()
	c := &Catalog{CatalogVersion: FormatVersion, Serial: 7, LastUpdated: t0, Expires: t0.Add(30 * 24 * time.Hour)}
	adds := []struct {
		m *udospkg.Manifest
		v Version
	}{
		{manifest("lib-pathfinding", "1.1.0", map[string]string{"@uDOS/grid-math": "~1.1.0"}), version("lib-pathfinding", "1.1.0", 5)},
		{manifest("lib-grid-extensions", "1.2.3", map[string]string{"@uDOS/core": ">=1.4.0", "@uDOS/pathfinding": "^1.0.0"}), version("lib-grid-extensions", "1.2.3", 6)},
		{manifest("lib-pathfinding", "1.0.0", map[string]string{"@uDOS/grid-math": "~1.1.0"}), version("lib-pathfinding", "1.0.0", 2)},
		{manifest("lib-grid-math", "1.1.0", nil), version("lib-grid-math", "1.1.0", 1)},
		{manifest("lib-grid-math", "1.2.0-beta.1", nil), version("lib-grid-math", "1.2.0-beta.1", 4)},
		{manifest("lib-grid-math", "1.1.1", nil), version("lib-grid-math", "1.1.1", 3)},
	}
	for _, a := range adds {
		if err := c.AddVersion(a.m, a.v); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// sampleJSON is the sample catalog as Marshal writes it.
func sampleJSON(t testing.TB) []byte {
	t.Helper()
	b, err := sample(t).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// edit returns good with the first old replaced by new; the test fails
// where old is not in good (an edit that changes nothing tests nothing).
func edit(t testing.TB, good []byte, old, new string) []byte {
	t.Helper()
	out := strings.Replace(string(good), old, new, 1)
	if out == string(good) {
		t.Fatalf("%q is not in the sample catalog", old)
	}
	return []byte(out)
}

func TestMarshalGolden(t *testing.T) {
	t.Parallel()
	got, err := sample(t).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	goldentest.Compare(t, filepath.Join("testdata", "catalog.json.golden"), got)
	// Parse of the output gives back the same bytes.
	c, err := Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := c.Marshal()
	if string(again) != string(got) {
		t.Error("Parse/Marshal round trip changed the catalog")
	}
}

func TestAddVersionSetsCurrent(t *testing.T) {
	t.Parallel()
	c := sample(t)
	l, ok := c.Find("grid-math")
	if !ok {
		t.Fatal("grid-math not found")
	}
	// The pre-release is listed first but the library fields describe 1.1.1.
	if l.Version != "1.1.1" || l.Versions[0].Version != "1.2.0-beta.1" || l.SHA256 != version("lib-grid-math", "1.1.1", 3).SHA256 {
		t.Errorf("current = %s (%s), versions[0] = %s", l.Version, l.SHA256, l.Versions[0].Version)
	}
	// Replacing a version keeps a single entry.
	if err := c.AddVersion(manifest("lib-grid-math", "1.1.0", nil), version("lib-grid-math", "1.1.0", 9)); err != nil {
		t.Fatal(err)
	}
	l, _ = c.Find("lib-grid-math")
	if len(l.Versions) != 3 {
		t.Errorf("versions = %d, want 3", len(l.Versions))
	}
	bad := manifest("lib-x", "1.0", nil)
	if err := c.AddVersion(bad, Version{}); err == nil {
		t.Error("AddVersion accepted an invalid manifest")
	}
}

func TestFind(t *testing.T) {
	t.Parallel()
	c := sample(t)
	for _, name := range []string{"pathfinding", "lib-pathfinding", "@uDOS/pathfinding", " @udos/pathfinding "} {
		l, ok := c.Find(name)
		if !ok || l.ID != "lib-pathfinding" {
			t.Errorf("Find(%q) = %v, %v", name, l, ok)
		}
	}
	for _, name := range []string{"nothere", "", "../x", "core"} {
		if l, ok := c.Find(name); ok {
			t.Errorf("Find(%q) = %s", name, l.ID)
		}
	}
}

func TestVersions(t *testing.T) {
	t.Parallel()
	c := sample(t)
	l, _ := c.Find("grid-math")
	if v, ok := l.FindVersion("v1.1.0"); !ok || v.Version != "1.1.0" {
		t.Errorf("FindVersion(v1.1.0) = %v %v", v, ok)
	}
	if _, ok := l.FindVersion("9.9.9"); ok {
		t.Error("FindVersion(9.9.9) found something")
	}
	if v, _ := l.Newest(false); v.Version != "1.1.1" {
		t.Errorf("Newest(false) = %s", v.Version)
	}
	if v, _ := l.Newest(true); v.Version != "1.2.0-beta.1" {
		t.Errorf("Newest(true) = %s", v.Version)
	}
	l.Versions[1].Yanked = true // 1.1.1
	if v, _ := l.Newest(false); v.Version != "1.1.0" {
		t.Errorf("Newest(false) with 1.1.1 yanked = %s", v.Version)
	}
	for i := range l.Versions {
		l.Versions[i].Yanked = true
	}
	if v, ok := l.Newest(true); ok {
		t.Errorf("Newest with all yanked = %s", v.Version)
	}
}

func TestParseInvalid(t *testing.T) {
	t.Parallel()
	good := sampleJSON(t)
	r := func(old, new string) []byte { return edit(t, good, old, new) }
	refuses(t, good, nil, []refusal{
		{"not json", []byte("<html>"), "invalid catalog"},
		{"trailing data", append(append([]byte{}, good...), "{}"...), "data after the JSON object"},
		{"catalog version", r(`"catalog_version": "1.0"`, `"catalog_version": "2.0"`), `catalog_version "2.0" is not supported`},
		{"serial", r(`"serial": 7`, `"serial": 0`), "serial 0: must be 1 or more"},
		{"expired before update", r(`"expires": "2026-12-25T12:00:00Z"`, `"expires": "2026-01-01T00:00:00Z"`), "is not after last_updated"},
		{"bad id", r(`"id": "lib-grid-extensions"`, `"id": "Grid Extensions"`), `libraries[0] (Grid Extensions): id`},
		{"namespace", r(`"namespace": "@uDOS/grid-extensions"`, `"namespace": "@uDOS/evil"`), `namespace "@uDOS/evil" does not match the id`},
		{"install path", r(`"install_path": "library/grid-extensions"`, `"install_path": "/etc"`), `install_path "/etc" must be "library/grid-extensions"`},
		{"bad version", r(`"version": "1.2.3",
          "yanked"`, `"version": "1.2",
          "yanked"`), `version "1.2": not a semantic version`},
		{"bad sha256", r(`"sha256": "6666`, `"sha256": "XX66`), `url, size, sha256 and sha512 must be those of version 1.2.3`},
		{"bad version sha256", r(`"sha256": "6666666666666666666666666666666666666666666666666666666666666666",
          "sha512"`, `"sha256": "XX66666666666666666666666666666666666666666666666666666666666666",
          "sha512"`), `is not 64 lower-case hex digits`},
		{"bad constraint", r(`"@uDOS/pathfinding": "^1.0.0"
          }`, `"@uDOS/pathfinding": "^^1"
          }`), `invalid constraint "^^1"`},
		{"negative downloads", r(`"published_at": "2026-11-01T12:00:00Z",
          "sha256"`, `"published_at": "2026-11-01T12:00:00Z",
          "downloads": -1,
          "sha256"`), `downloads -1 must not be negative`},
		{"negative library downloads", r(`"published_at": "2026-10-29T12:00:00Z",`, `"published_at": "2026-10-29T12:00:00Z", "downloads": -5,`), `downloads -5 must not be negative`},
		{"stale current", r(`"version": "1.2.3",
      "versions"`, `"version": "1.0.0",
      "versions"`), `version "1.0.0" is not the newest stable version "1.2.3"`},
	})
}

// refusal is a catalog Parse refuses with an error containing want.
type refusal struct {
	name string
	data []byte
	want string
}

// refuses checks in a subtest each that Parse refuses the catalogs with
// ErrInvalid (and is, where not nil); none may be good itself.
func refuses(t *testing.T, good []byte, is error, tests []refusal) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if string(tt.data) == string(good) {
				t.Fatal("replacement did not apply: the test is broken")
			}
			_, err := Parse(tt.data)
			if err == nil || !errors.Is(err, ErrInvalid) || (is != nil && !errors.Is(err, is)) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v\nwant ErrInvalid (and %v) containing %q", err, is, tt.want)
			}
		})
	}
}

var (
	keysOnce                 sync.Once
	privA, pubA, privB, pubB []byte
	keysErr                  error
)

func keys(t *testing.T) (signer *pgpsign.Signer, trusted, other *pgpsign.Keyring) {
	t.Helper()
	keysOnce.Do(func() {
		privA, pubA, keysErr = pgpsign.GenerateTestKey("Registry", "registry@example.org", nil)
		if keysErr == nil {
			privB, pubB, keysErr = pgpsign.GenerateTestKey("Mallory", "mallory@example.org", nil)
		}
	})
	if keysErr != nil {
		t.Fatal(keysErr)
	}
	s, err := pgpsign.LoadSigner(privA, nil)
	if err != nil {
		t.Fatal(err)
	}
	ka, err := pgpsign.LoadKeyring(pubA)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := pgpsign.LoadKeyring(pubB)
	if err != nil {
		t.Fatal(err)
	}
	return s, ka, kb
}

func TestVerify(t *testing.T) {
	t.Parallel()
	signer, trusted, other := keys(t)
	data := sampleJSON(t)
	sig, err := signer.SignDetached(strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	tampered := edit(t, data, `"serial": 7`, `"serial": 8`)
	now := t0.Add(time.Hour)
	tests := []struct {
		name   string
		data   []byte
		sig    []byte
		kr     *pgpsign.Keyring
		seen   int64
		now    time.Time
		want   error
		inText string
	}{
		{"good", data, sig, trusted, 0, now, nil, ""},
		{"good, same serial seen", data, sig, trusted, 7, now, nil, ""},
		{"tampered", tampered, sig, trusted, 0, now, ErrBadSignature, "does not match"},
		{"unknown signer", data, sig, other, 0, now, pgpsign.ErrUnknownSigner, "not in the trusted keyring"},
		{"garbage signature", data, []byte("not a signature"), trusted, 0, now, ErrBadSignature, "not an ASCII-armored"},
		{"no keyring", data, sig, nil, 0, now, ErrNoKeyring, ""},
		{"rollback", data, sig, trusted, 9, now, ErrSerialRollback, "catalog serial 7 is lower than serial 9 already seen"},
		{"expired", data, sig, trusted, 0, t0.Add(31 * 24 * time.Hour), ErrExpired, "catalog expired at 2026-12-25T12:00:00Z (now 2026-12-26T12:00:00Z)"},
		{"expires exactly now", data, sig, trusted, 0, t0.Add(30 * 24 * time.Hour), ErrExpired, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Verify(tt.data, tt.sig, tt.kr, TrustState{Serial: tt.seen}, tt.now)
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if c.Signer == nil || !strings.Contains(c.Signer.UserID, "Registry") || c.Serial != 7 {
					t.Errorf("signer %+v serial %d", c.Signer, c.Serial)
				}
				return
			}
			if !errors.Is(err, tt.want) || !strings.Contains(fmt.Sprint(err), tt.inText) {
				t.Errorf("err = %v\nwant %v containing %q", err, tt.want, tt.inText)
			}
			if c != nil {
				t.Error("a catalog was returned with an error")
			}
		})
	}
	if errors.Is(fmt.Errorf("%w", ErrBadSignature), pgpsign.ErrUnknownSigner) {
		t.Fatal("sentinels overlap")
	}
	if _, err := Verify(data, sig, other, TrustState{}, now); !errors.Is(err, ErrBadSignature) {
		t.Errorf("unknown signer must also be ErrBadSignature: %v", err)
	}
	if _, err := ParseUnverified(data, TrustState{Serial: 8}, now); !errors.Is(err, ErrSerialRollback) {
		t.Errorf("ParseUnverified rollback: %v", err)
	}
	if _, err := ParseUnverified(data, TrustState{}, now); err != nil {
		t.Errorf("ParseUnverified: %v", err)
	}
}

func TestSource(t *testing.T) {
	t.Parallel()
	c := sample(t)
	l, _ := c.Find("pathfinding")
	l.Versions[0].Yanked = true // 1.1.0
	sol, err := resolve.Resolve(context.Background(), c.Source(),
		[]resolve.Requirement{{ID: "grid-extensions", Constraint: "^1.2"}},
		resolve.Options{CoreVersion: semver.MustParse("1.4.6")})
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(sol.Order, " ", sol.Versions["lib-pathfinding"], " ", sol.Versions["lib-grid-math"])
	if want := "[lib-grid-math lib-pathfinding lib-grid-extensions] 1.0.0 1.1.1"; got != want {
		t.Errorf("solution = %s, want %s", got, want)
	}
	if _, err := c.Source().Versions("nothere"); !errors.Is(err, resolve.ErrUnknown) {
		t.Errorf("unknown library: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	good, err := sample(f).Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"catalog_version": "1.0", "serial": 1, "last_updated": "2026-01-01T00:00:00.5Z", "expires": "2026-01-01T00:00:00.9Z", "libraries": []}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		out, err := c.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		c2, err := Parse(out)
		if err != nil {
			t.Fatalf("Marshal output does not parse: %v\n%s", err, out)
		}
		out2, _ := c2.Marshal()
		if string(out) != string(out2) {
			t.Fatal("Parse/Marshal is not stable")
		}
		for _, l := range c.Libraries {
			if !strings.HasPrefix(l.InstallPath, "library/") || strings.Contains(l.InstallPath, "..") {
				t.Fatalf("accepted install_path %q", l.InstallPath)
			}
		}
	})
}
