package relmanifest

import (
	"github.com/fredbook/udos-dist/internal/assetname"
	"github.com/fredbook/udos-dist/internal/goldentest"

	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func hexN(c byte, n int) string { return strings.Repeat(string(c), n) }

func coreSlim() Variant {
	return Variant{
		Filename:      "udos-core-slim-v1.4.6.tar.gz",
		Size:          123456,
		SHA256:        hexN('a', 64),
		SHA512:        hexN('b', 128),
		GPGSignature:  "-----BEGIN PGP SIGNATURE-----\n\nwsBcBAABCAAQ\n-----END PGP SIGNATURE-----\n",
		Signature:     "https://github.com/fredbook/uDOS/releases/download/v1.4.6/udos-core-slim-v1.4.6.tar.gz.asc",
		Platforms:     []string{"linux-amd64", "linux-arm64", "macos-amd64", "macos-arm64"},
		URL:           "https://github.com/fredbook/uDOS/releases/download/v1.4.6/udos-core-slim-v1.4.6.tar.gz",
		MinimumPython: "3.9",
		SBOM:          &SBOM{Format: "CycloneDX", SpecVersion: "1.6", Filename: "udos-core-slim-v1.4.6.cdx.json", URL: "https://example.org/sbom.json"},
	}
}

func sonicISO() Variant {
	return Variant{
		Filename:      "udos-sonic-iso-v1.4.6.iso",
		Size:          50 << 20,
		SHA256:        hexN('c', 64),
		SHA512:        hexN('d', 128),
		GPGSignature:  "-----BEGIN PGP SIGNATURE-----\n\nwsBcBAABCgAQ\n-----END PGP SIGNATURE-----\n",
		Signature:     "udos-sonic-iso-v1.4.6.iso.asc",
		Platforms:     []string{"linux-amd64"},
		URL:           "https://github.com/fredbook/uDOS/releases/download/v1.4.6/udos-sonic-iso-v1.4.6.iso",
		Bootable:      Bool(true),
		UEFISupported: Bool(true),
		BIOSFallback:  Bool(true),
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldentest.Compare(t, filepath.Join("testdata", name), got)
}

func TestMarshalGolden(t *testing.T) {
	t.Parallel()
	m := New("v1.4.6")
	m.ReleaseDate = "2026-11-25T12:00:00Z"
	m.SBOM = &SBOM{Format: "CycloneDX", URL: "https://github.com/fredbook/uDOS/releases/download/v1.4.6/udos-v1.4.6.cdx.json"}
	m.ReleaseNotes = "https://github.com/fredbook/uDOS/releases/tag/v1.4.6"
	if err := m.Set("sonic-iso", sonicISO()); err != nil {
		t.Fatal(err)
	}
	if err := m.Set("core-slim", coreSlim()); err != nil {
		t.Fatal(err)
	}
	got, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "manifest.golden", got)
	back, err := Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := back.Marshal()
	if string(again) != string(got) {
		t.Error("re-encoding changed the bytes")
	}
	if s := back.Variants["sonic-iso"]; s.Bootable == nil || !*s.Bootable || s.UEFISupported == nil {
		t.Errorf("sonic flags lost: %+v", s)
	}
	if c := back.Variants["core-slim"]; c.Bootable != nil {
		t.Errorf("core-slim grew a bootable flag")
	}
}

func TestUnknownFieldsSurvive(t *testing.T) {
	t.Parallel()
	in := `{"version":"1.4.6","codename":"grid","variants":{"core-slim":{"filename":"a.tar.gz","size":1,` +
		`"sha256":"` + hexN('a', 64) + `","sha512":"` + hexN('b', 128) + `","signature":"a.tar.gz.asc",` +
		`"platforms":["linux"],"url":"u","requires_docker":false,"arch":"any"}}}`
	m, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"codename": "grid"`, `"arch": "any"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("lost %s:\n%s", want, out)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		mod   func(v *Variant)
		vname string
		want  string
	}{
		{"short sha256", func(v *Variant) { v.SHA256 = "abc" }, "core-slim", "sha256"},
		{"upper sha512", func(v *Variant) { v.SHA512 = hexN('B', 128) }, "core-slim", "lower-case hex"},
		{"zero size", func(v *Variant) { v.Size = 0 }, "core-slim", "size 0"},
		{"path in filename", func(v *Variant) { v.Filename = "../x.tar.gz" }, "core-slim", "plain file name"},
		{"bad name", func(v *Variant) {}, "Core Slim", "variant name"},
		{"sbom without url", func(v *Variant) { v.SBOM = &SBOM{Format: "CycloneDX"} }, "core-slim", "sbom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := coreSlim()
			tt.mod(&v)
			err := New("1.4.6").Set(tt.vname, v)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want containing %q", err, tt.want)
			}
		})
	}
	if _, err := Parse([]byte(`{"version":"one","variants":{}}`)); err == nil {
		t.Error("bad version accepted")
	}
}

func TestMergeFileAcrossJobs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, assetname.ReleaseManifestPath("1.4.6"))
	if p != filepath.Join(dir, "releases", "v1.4.6-manifest.json") {
		t.Fatalf("Path = %s", p)
	}
	if _, err := MergeFile(p, "1.4.6", "sonic-iso", sonicISO()); err != nil {
		t.Fatal(err)
	}
	rebuilt := coreSlim()
	if _, err := MergeFile(p, "1.4.6", "core-slim", coreSlim()); err != nil {
		t.Fatal(err)
	}
	rebuilt.Size = 999
	m, err := MergeFile(p, "1.4.6", "core-slim", rebuilt)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Variants) != 2 || m.Variants["core-slim"].Size != 999 {
		t.Fatalf("merged = %+v", m.Variants)
	}
	// The same content in another order gives the same bytes.
	other := New("1.4.6")
	_ = other.Set("core-slim", rebuilt)
	_ = other.Set("sonic-iso", sonicISO())
	a, _ := os.ReadFile(p)
	b, _ := other.Marshal()
	if string(a) != string(b) {
		t.Errorf("order-dependent output:\n%s\n%s", a, b)
	}
	if _, err := MergeFile(p, "1.4.7", "core-slim", coreSlim()); err == nil || !strings.Contains(err.Error(), "not 1.4.7") {
		t.Errorf("version clash: %v", err)
	}
	if err := New("1.4.7").Merge(m); err == nil {
		t.Error("Merge across versions accepted")
	}
}

func TestReadMissing(t *testing.T) {
	t.Parallel()
	_, err := Read(filepath.Join(t.TempDir(), "none.json"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v", err)
	}
}

func TestDiffAndNotes(t *testing.T) {
	t.Parallel()
	prev := New("1.4.3")
	old := coreSlim()
	old.Size = 100000
	old.MinimumPython = "3.8"
	_ = prev.Set("core-slim", old)
	wiz := coreSlim()
	wiz.Filename = "udos-wizard-full-v1.4.3.tar.gz"
	_ = prev.Set("wizard-full", wiz)
	_ = prev.Set("vault", coreSlim())

	cur := New("1.4.6")
	_ = cur.Set("core-slim", coreSlim())
	wiz.RequiresDocker = true
	_ = cur.Set("wizard-full", wiz)
	_ = cur.Set("sonic-iso", sonicISO())

	got := Diff(prev, cur)
	want := []Change{
		{Variant: "core-slim", Kind: Changed, Field: "size", From: "100000", To: "123456"},
		{Variant: "core-slim", Kind: Changed, Field: "minimum_python", From: "3.8", To: "3.9"},
		{Variant: "sonic-iso", Kind: Added},
		{Variant: "vault", Kind: Removed},
		{Variant: "wizard-full", Kind: Changed, Field: "requires_docker", From: "false", To: "true"},
	}
	if len(got) != len(want) {
		t.Fatalf("Diff = %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("change %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	golden(t, "notes.golden", []byte(Notes(prev, cur)))
	if n := Notes(nil, cur); !strings.Contains(n, "No previous release manifest") {
		t.Errorf("first-release notes: %s", n)
	}
}
