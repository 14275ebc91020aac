package lockfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fredbook/udos-dist/internal/goldentest"
)

func sample() *Lock {
	l := New()
	l.CoreVersion = "1.4.6"
	l.Set("@uDOS/grid-extensions", Entry{
		Namespace: "@uDOS/grid-extensions", Version: "1.2.3", InstallPath: "library/grid-extensions",
		Source:    "https://example.org/r/packages/lib-grid-extensions-v1.2.3.udos-package",
		Signature: "https://example.org/r/packages/lib-grid-extensions-v1.2.3.udos-package.asc",
		SHA256:    strings.Repeat("a", 64), SHA512: strings.Repeat("b", 128),
		Dependencies: map[string]string{"@uDOS/core": ">=1.4.0", "@uDOS/pathfinding": "^1.0.0"},
		Requested:    "^1.2", Direct: true,
	})
	l.Set("pathfinding", Entry{
		Namespace: "@uDOS/pathfinding", Version: "1.1.0", InstallPath: "library/pathfinding",
		Source: "packages/lib-pathfinding-v1.1.0.udos-package", SHA256: strings.Repeat("c", 64),
	})
	return l
}

func TestReadMissingIsEmpty(t *testing.T) {
	t.Parallel()
	l, err := Read(filepath.Join(t.TempDir(), "library", "lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	if l.LockfileVersion != Version || len(l.Libraries) != 0 {
		t.Errorf("got %+v", l)
	}
}

func TestWriteReadGolden(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "library", "lock.json")
	if err := sample().Write(path); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	goldentest.Compare(t, filepath.Join("testdata", "lock.json.golden"), got)
	l, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := l.Get("grid-extensions"); !ok || !e.Direct || e.Requested != "^1.2" {
		t.Errorf("Get after Read: %+v %v", e, ok)
	}
	// Rewriting what was read gives the same bytes, and no temp file remains.
	if err := l.Write(path); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(path)
	if string(again) != string(got) {
		t.Error("Write(Read(x)) != x")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("folder holds %v", entries)
	}
}

func TestSetRemove(t *testing.T) {
	t.Parallel()
	l := sample()
	if err := l.Set("core", Entry{}); err == nil {
		t.Error("locking the core succeeded")
	}
	if err := l.Set("Bad Name", Entry{}); err == nil {
		t.Error("Set accepted a bad name")
	}
	if !l.Remove("@uDOS/pathfinding") || l.Remove("pathfinding") {
		t.Error("Remove did not report presence correctly")
	}
	if got := strings.Join(l.IDs(), ","); got != "lib-grid-extensions" {
		t.Errorf("IDs = %s", got)
	}
}

func TestInvalid(t *testing.T) {
	t.Parallel()
	good, err := sample().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	r := func(old, new string) string {
		s := strings.Replace(string(good), old, new, 1)
		if s == string(good) {
			t.Fatalf("replacement %q did not apply", old)
		}
		return s
	}
	tests := []struct{ name, data, want string }{
		{"not json", "nope", "not a valid lockfile"},
		{"unknown field", r(`"lockfile_version"`, `"colour": 1, "lockfile_version"`), `unknown field "colour"`},
		{"trailing", string(good) + "{}", "data after the JSON object"},
		{"lockfile version", r(`"lockfile_version": 2`, `"lockfile_version": 3`), "lockfile_version 3 is not supported"},
		{"key not id", r(`"lib-pathfinding": {`, `"pathfinding": {`), `key "pathfinding" is not a library id`},
		{"install path", r(`"install_path": "library/pathfinding"`, `"install_path": "../../etc"`), `install_path "../../etc" must be "library/pathfinding"`},
		{"version", r(`"version": "1.1.0"`, `"version": "latest"`), `version "latest" is not a semantic version`},
		{"digest", r(`"sha256": "cccc`, `"sha256": "CCCC`), "is not 64 lower-case hex digits"},
		{"no source", r(`"source": "packages/lib-pathfinding-v1.1.0.udos-package"`, `"source": ""`), "source is missing"},
		// Version 2 sources resolve against the registry given: they stay
		// inside it or are http(s) URLs.
		{"absolute source", r(`"source": "packages/lib-pathfinding-v1.1.0.udos-package"`, `"source": "/etc/passwd"`), "source: reference refused"},
		{"file source", r(`"source": "packages/lib-pathfinding-v1.1.0.udos-package"`, `"source": "file:///etc/passwd"`), "source: reference refused"},
		{"escaping source", r(`"source": "packages/lib-pathfinding-v1.1.0.udos-package"`, `"source": "../../x"`), "source: reference refused"},
		{"escaping signature", r(`"signature": "https://example.org/r/packages/lib-grid-extensions-v1.2.3.udos-package.asc"`, `"signature": "../x.asc"`), "signature: reference refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
			path := filepath.Join(t.TempDir(), "lock.json")
			os.WriteFile(path, []byte(tt.data), 0o644)
			if _, err := Read(path); err == nil || !strings.Contains(err.Error(), path) {
				t.Errorf("Read error does not name the file: %v", err)
			}
		})
	}
	bad := sample()
	e := bad.Libraries["lib-pathfinding"]
	e.SHA256 = "x"
	bad.Libraries["lib-pathfinding"] = e
	path := filepath.Join(t.TempDir(), "lock.json")
	if err := bad.Write(path); err == nil {
		t.Error("Write accepted an invalid lock")
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("an invalid lock was written")
	}
}

// TestReadV1: a version 1 lockfile (absolute sources) is read, says so, and
// is written back as the current version with its entries unchanged.
func TestReadV1(t *testing.T) {
	t.Parallel()
	l, err := Read(filepath.Join("testdata", "lock-v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !l.FromV1() {
		t.Error("FromV1 is false for a version 1 lockfile")
	}
	if e := l.Libraries["lib-pathfinding"]; e.Source != "/srv/registry/packages/lib-pathfinding-v1.1.0.udos-package" {
		t.Errorf("source %q", e.Source)
	}
	b, err := l.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"lockfile_version": 2`) {
		t.Errorf("written back as:\n%s", b)
	}
	if again, err := Parse(b); err == nil || !strings.Contains(err.Error(), "source: reference refused") {
		// An absolute local path is not a version 2 source: the client
		// replaces it (install from the registry) before writing.
		t.Errorf("re-reading the upgraded v1 lock: %v", err)
	} else if again != nil {
		t.Error("Parse returned a lock with an error")
	}
}
