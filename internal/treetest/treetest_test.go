package treetest

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCopyKeepsContentsAndPermissions(t *testing.T) {
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "copy")
	if err := os.MkdirAll(filepath.Join(src, "lib", "deep"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]os.FileMode{"manifest.json": 0o644, "lib/deep/run.sh": 0o755}
	for name, mode := range files {
		if err := os.WriteFile(filepath.Join(src, name), []byte(name), mode); err != nil {
			t.Fatal(err)
		}
	}
	Copy(t, src, dst)
	for name, mode := range files {
		p := filepath.Join(dst, name)
		data, err := os.ReadFile(p)
		if err != nil || string(data) != name {
			t.Fatalf("%s: %q, %v", name, data, err)
		}
		if fi, _ := os.Stat(p); fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode().Perm(), mode)
		}
	}
	// Copied again over a copy whose bits differ, the source's bits win.
	for name := range files {
		if err := os.Chmod(filepath.Join(dst, name), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	Copy(t, src, dst)
	for name, mode := range files {
		if fi, _ := os.Stat(filepath.Join(dst, name)); fi.Mode().Perm() != mode {
			t.Errorf("%s copied over: mode %v, want %v", name, fi.Mode().Perm(), mode)
		}
	}
}

func TestSnapshotRecordsFilesLinksAndFolders(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "f"), []byte("body"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("sub/f", filepath.Join(dir, "l")); err != nil {
		t.Fatal(err)
	}
	got := Snapshot(t, dir)
	want := map[string]string{".": "dir", "sub": "dir", "sub/f": "body", "l": "-> sub/f"}
	if len(got) != len(want) {
		t.Fatalf("snapshot %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	Same(t, "an unchanged tree", got, Snapshot(t, dir))
	if missing := Snapshot(t, filepath.Join(dir, "none")); len(missing) != 0 {
		t.Errorf("a missing folder's snapshot: %v", missing)
	}
}
