package assetname

import "testing"

func TestParsePackage(t *testing.T) {
	tests := []struct {
		name, id, version string
		ok                bool
	}{
		{"lib-grid-extensions-v1.2.3.udos-package", "lib-grid-extensions", "1.2.3", true},
		{"lib-x-v1.0.0-vendor.udos-package", "lib-x", "1.0.0-vendor", true},
		{"lib-dev-v2-v1.0.0.udos-package", "lib-dev-v2", "1.0.0", true},
		{"-v1.0.0.udos-package", "", "", false},
		{"lib-x-v1.0.udos-package", "", "", false},
		{"lib-x-v1.0.0.tar.gz", "", "", false},
		// Moved from the registry's own splitter (now gone).
		{"lib-a-very-long-v2.0.0-rc.1.udos-package", "lib-a-very-long", "2.0.0-rc.1", true},
		{"lib-x-v.udos-package", "", "", false},
		{"notes.txt", "", "", false},
	}
	for _, tt := range tests {
		id, v, ok := ParsePackage(tt.name)
		if id != tt.id || v != tt.version || ok != tt.ok {
			t.Errorf("ParsePackage(%q) = %q %q %v", tt.name, id, v, ok)
		}
		if ok && Package(id, v) != tt.name {
			t.Errorf("Package(%q, %q) does not round-trip", id, v)
		}
	}
}

func TestReleaseManifest(t *testing.T) {
	if got := ReleaseManifest("v1.4.6"); got != "v1.4.6-manifest.json" {
		t.Fatal(got)
	}
	if got := ReleaseManifestPath("1.5.0"); got != "releases/v1.5.0-manifest.json" {
		t.Fatal(got)
	}
	if v, ok := ParseReleaseManifest("v1.5.0-rc.1-manifest.json"); !ok || v != "1.5.0-rc.1" {
		t.Fatal(v, ok)
	}
	for _, bad := range []string{"1.5.0-manifest.json", "v1.5-manifest.json", "vx-manifest.json", "v1.5.0.json"} {
		if _, ok := ParseReleaseManifest(bad); ok {
			t.Errorf("ParseReleaseManifest(%q) accepted", bad)
		}
	}
}

func TestFragment(t *testing.T) {
	name := Fragment("sonic-iso", "v1.4.6")
	if name != "udos-sonic-iso-v1.4.6.manifest.json" {
		t.Fatal(name)
	}
	if v, ok := IsFragment(name, "1.4.6"); !ok || v != "sonic-iso" {
		t.Fatal(v, ok)
	}
	if _, ok := IsFragment(name, "1.4.7"); ok {
		t.Fatal("fragment of another version accepted")
	}
	if _, ok := IsFragment("udos-Bad_Name-v1.4.6.manifest.json", "1.4.6"); ok {
		t.Fatal("bad variant name accepted")
	}
}

func TestSignatureAndSums(t *testing.T) {
	if Signature("a.tar.gz") != "a.tar.gz.asc" {
		t.Fatal()
	}
	if target, ok := IsSignature("a.tar.gz.asc"); !ok || target != "a.tar.gz" {
		t.Fatal(target, ok)
	}
	for name, want := range map[string]bool{"SHA256SUMS": true, "SHA512SUMS.asc": true, "SHA1SUMS": false, "x.SHA256SUMS": false} {
		if IsChecksumList(name) != want {
			t.Errorf("IsChecksumList(%q) != %v", name, want)
		}
	}
}

func TestImageStatement(t *testing.T) {
	if got := ImageStatement("wizard-full", "v1.4.6"); got != "udos-wizard-full-v1.4.6.image.json" {
		t.Errorf("ImageStatement = %q", got)
	}
	if got := Signature(ImageStatement("wizard-full", "1.4.6")); got != "udos-wizard-full-v1.4.6.image.json.asc" {
		t.Errorf("signature name %q", got)
	}
}

func TestFragmentName(t *testing.T) {
	t.Parallel()
	n := Fragment("sonic-iso", "v1.4.6")
	if n != "udos-sonic-iso-v1.4.6.manifest.json" {
		t.Fatalf("Fragment = %s", n)
	}
	if v, ok := IsFragment(n, "1.4.6"); !ok || v != "sonic-iso" {
		t.Errorf("IsFragment(%s) = %s, %v", n, v, ok)
	}
	for _, bad := range []string{"v1.4.6-manifest.json", "udos-core-slim-v1.4.5.manifest.json", "udos--v1.4.6.manifest.json"} {
		if _, ok := IsFragment(bad, "1.4.6"); ok {
			t.Errorf("IsFragment(%s) = true", bad)
		}
	}
}

func TestSonicArchNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		arch, iso, index, netboot string
	}{
		// amd64 keeps the names of the releases before arm64.
		{"", "udos-sonic-v1.4.6.iso", "udos-sonic-v1.4.6.iso.bix", "udos-sonic-v1.4.6-netboot.tar.gz"},
		{"amd64", "udos-sonic-v1.4.6.iso", "udos-sonic-v1.4.6.iso.bix", "udos-sonic-v1.4.6-netboot.tar.gz"},
		{"arm64", "udos-sonic-v1.4.6-arm64.iso", "udos-sonic-v1.4.6-arm64.iso.bix", "udos-sonic-v1.4.6-arm64-netboot.tar.gz"},
	}
	for _, tc := range tests {
		if got := SonicISOArch("v1.4.6", tc.arch); got != tc.iso {
			t.Errorf("SonicISOArch(%q) = %s, want %s", tc.arch, got, tc.iso)
		}
		if got := SonicIndexArch("1.4.6", tc.arch); got != tc.index {
			t.Errorf("SonicIndexArch(%q) = %s, want %s", tc.arch, got, tc.index)
		}
		if got := SonicNetbootArch("1.4.6", tc.arch); got != tc.netboot {
			t.Errorf("SonicNetbootArch(%q) = %s, want %s", tc.arch, got, tc.netboot)
		}
	}
	if SonicISOArch("1.4.6", "amd64") != SonicISO("1.4.6") || SonicNetbootArch("1.4.6", "") != SonicNetboot("1.4.6") {
		t.Error("the amd64 names differ from the plain ones")
	}
}
