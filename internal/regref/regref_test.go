package regref

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestResolve(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "packages"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "packages", "out")); err != nil {
		t.Fatal(err)
	}
	remote, err := NewBase("https://fredbook.github.io/udos-registry/catalog.json")
	if err != nil {
		t.Fatal(err)
	}
	local, err := NewBase(filepath.Join(dir, "catalog.json"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		base Base
		ref  string
		want string // "" = refused
	}{
		{"remote relative", remote, "packages/lib-a-v1.0.0.udos-package", "https://fredbook.github.io/udos-registry/packages/lib-a-v1.0.0.udos-package"},
		{"remote absolute https", remote, "https://github.com/o/r/releases/download/v1/x.udos-package", "https://github.com/o/r/releases/download/v1/x.udos-package"},
		{"remote host path", remote, "/other/x", "https://fredbook.github.io/other/x"},
		{"remote file URL", remote, "file:///etc/passwd", ""},
		{"remote other scheme", remote, "ftp://example.org/x", ""},
		{"remote data URL", remote, "data:,hello", ""},
		{"remote bad URL", remote, "http://[::1", ""},
		{"local relative", local, "packages/x.udos-package", filepath.Join(dir, "packages", "x.udos-package")},
		{"local dot segments inside", local, "packages/../packages/x", filepath.Join(dir, "packages", "x")},
		{"local parent escape", local, "../x.udos-package", ""},
		{"local deep escape", local, "packages/../../etc/passwd", ""},
		{"local absolute path", local, "/etc/passwd", ""},
		{"local file URL", local, "file:///etc/passwd", ""},
		{"local http URL", local, "http://example.org/x", ""},
		{"local other scheme", local, "gopher:x", ""},
		{"local backslash", local, `..\..\x`, ""},
		{"local empty", local, "", ""},
		{"local symlink out", local, "packages/out", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.base.Resolve(tc.ref)
			if tc.want == "" {
				if !errors.Is(err, ErrRefused) {
					t.Fatalf("Resolve(%q) = %q, %v; want a refusal", tc.ref, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Resolve(%q) = %q, %v; want %q", tc.ref, got, err, tc.want)
			}
		})
	}
	if _, err := (Base{}).Resolve("packages/x"); !errors.Is(err, ErrRefused) {
		t.Fatalf("resolving without a base: %v", err)
	}
}

func TestRelative(t *testing.T) {
	t.Parallel()
	remote, _ := NewBase("http://127.0.0.1:4711/reg/catalog.json")
	local, _ := NewBase("/srv/reg/catalog.json")
	tests := []struct {
		base      Base
		loc, want string
	}{
		{remote, "http://127.0.0.1:4711/reg/packages/x.udos-package", "packages/x.udos-package"},
		{remote, "http://127.0.0.1:4712/reg/packages/x.udos-package", "http://127.0.0.1:4712/reg/packages/x.udos-package"},
		{remote, "https://github.com/o/r/releases/download/v1/x", "https://github.com/o/r/releases/download/v1/x"},
		{remote, "http://127.0.0.1:4711/other/x", "http://127.0.0.1:4711/other/x"},
		{local, "/srv/reg/packages/x.udos-package", "packages/x.udos-package"},
		{local, "/srv/other/x", "/srv/other/x"},
	}
	for _, tc := range tests {
		if got := tc.base.Relative(tc.loc); got != tc.want {
			t.Errorf("Relative(%q) = %q, want %q", tc.loc, got, tc.want)
		}
		if got := tc.base.Relative(tc.loc); got == tc.want && got != tc.loc {
			// What is recorded resolves back to the same place.
			if back, err := tc.base.Resolve(got); err != nil || back != tc.loc {
				t.Errorf("Resolve(Relative(%q)) = %q, %v", tc.loc, back, err)
			}
		}
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	for ref, ok := range map[string]bool{
		"packages/x.udos-package":                       true,
		"https://github.com/o/r/releases/download/v1/x": true,
		"http://127.0.0.1:80/x":                         true,
		"/etc/passwd":                                   false,
		"file:///etc/passwd":                            false,
		"../x":                                          false,
		"":                                              false,
		"http://":                                       false,
		"c:/x":                                          false,
	} {
		if err := Check(ref); (err == nil) != ok {
			t.Errorf("Check(%q) = %v, want ok=%v", ref, err, ok)
		}
	}
}
