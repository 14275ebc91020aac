package store

import (
	"github.com/fredbook/udos-dist/internal/atomicfile"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCoreVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, doc, want, err string
	}{
		{"nested repository shape", `{"component":"udos","version":{"major":1,"minor":5,"patch":0},"display":"v1.5.0"}`, "1.5.0", ""},
		{"flat variant shape", `{"version":"1.4.6","variant":"core-slim"}`, "1.4.6", ""},
		{"flat with v", `{"version":"v1.4.6"}`, "1.4.6", ""},
		{"nested without patch", `{"version":{"major":2,"minor":0}}`, "2.0.0", ""},
		{"garbage version", `{"version":"soon"}`, "", `version "soon"`},
		{"wrong type", `{"version":12}`, "", "neither"},
		{"not json", `{`, "", "reading"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "version.json"), []byte(tc.doc), 0o644); err != nil {
				t.Fatal(err)
			}
			v, err := CoreVersion(dir)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || v.String() != tc.want {
				t.Fatalf("got %v %v, want %s", v, err, tc.want)
			}
		})
	}
	if _, err := CoreVersion(t.TempDir()); err == nil || !strings.Contains(err.Error(), "--root") {
		t.Fatalf("missing version.json: %v", err)
	}
}

func TestCheckInstallPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path string
		ok   bool
	}{
		{"library/grid-extensions", true},
		{"library/a/b", true},
		{"", false},
		{"/etc", false},
		{"../x", false},
		{"library/../../x", false},
		{"library", false},
		{"library/lock.json", false},
		{"library/.udos-lib/store", false},
		{"bin/udos", false},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			if err := CheckInstallPath(tc.path); (err == nil) != tc.ok {
				t.Fatalf("CheckInstallPath(%q) = %v, want ok=%v", tc.path, err, tc.ok)
			}
		})
	}
}

func TestRecoverRollsForward(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	p := Paths{Root: root}
	store := p.StoreDir("lib-x", "1.0.0")
	if err := os.MkdirAll(store, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(store+".json", []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(root, "library", "x")
	target, _ := filepath.Rel(filepath.Dir(link), store)
	lock := []byte("{\"lockfile_version\": 1}\n")
	if err := WriteJSONAtomic(p.Journal(), &Journal{Op: "install", Switches: []Switch{{ID: "lib-x", Link: link, Target: target}}, LockFile: lock}); err != nil {
		t.Fatal(err)
	}
	// A staging folder left by a killed extraction.
	if err := os.MkdirAll(filepath.Join(p.Store(), "lib-x", ".tmp-2.0.0-123"), 0o755); err != nil {
		t.Fatal(err)
	}
	msg, err := p.Recover()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg, "completed an interrupted install") || !strings.Contains(msg, "removed 1 unfinished") {
		t.Fatalf("message %q", msg)
	}
	if got, _ := os.Readlink(link); got != target {
		t.Fatalf("link -> %q, want %q", got, target)
	}
	if b, _ := os.ReadFile(p.LockFile()); string(b) != string(lock) {
		t.Fatalf("lock file %q", b)
	}
	if _, err := os.Stat(p.Journal()); !os.IsNotExist(err) {
		t.Fatal("journal not removed")
	}
	if msg, err := p.Recover(); err != nil || msg != "" {
		t.Fatalf("second recovery: %q %v", msg, err)
	}
}

func TestSwitchSymlinkRefusesRealFolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	link := filepath.Join(dir, "lib")
	if err := os.Mkdir(link, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := SwitchSymlink(link, "elsewhere"); err == nil || !strings.Contains(err.Error(), "not managed by udos-lib") {
		t.Fatalf("error %v", err)
	}
	if err := RemoveSymlink(link); err == nil {
		t.Fatal("a real folder was removed")
	}
}

func TestRecoverRollsBackWhenStoreIncomplete(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	p := Paths{Root: root}
	oldStore := p.StoreDir("lib-x", "1.0.0")
	if err := os.MkdirAll(oldStore, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(root, "library", "x")
	oldTarget, _ := filepath.Rel(filepath.Dir(link), oldStore)
	if err := SwitchSymlink(link, oldTarget); err != nil {
		t.Fatal(err)
	}
	oldLock := []byte("old\n")
	if err := atomicfile.WriteFile(p.LockFile(), []byte("half-new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The new version's store copy never reached the disk (no sidecar).
	newTarget, _ := filepath.Rel(filepath.Dir(link), p.StoreDir("lib-x", "2.0.0"))
	if err := SwitchSymlink(link, newTarget); err != nil {
		t.Fatal(err)
	}
	j := &Journal{Op: "update", Switches: []Switch{{ID: "lib-x", Link: link, Target: newTarget, Old: oldTarget}},
		LockFile: []byte("new\n"), OldLockFile: oldLock, HadLock: true}
	if err := WriteJSONAtomic(p.Journal(), j); err != nil {
		t.Fatal(err)
	}
	msg, err := p.Recover()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg, "rolled back an interrupted update") {
		t.Fatalf("message %q", msg)
	}
	if got, _ := os.Readlink(link); got != oldTarget {
		t.Fatalf("link -> %q, want %q", got, oldTarget)
	}
	if b, _ := os.ReadFile(p.LockFile()); string(b) != string(oldLock) {
		t.Fatalf("lock file %q", b)
	}
}
