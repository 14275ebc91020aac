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
}
