// Package treetest copies folder trees for tests that start from a fixture
// (an example library, a testdata repository) and change their own copy.
package treetest

import (
	"os"
	"path/filepath"
	"testing"
)

// Copy copies the files and folders below src into dst (created as needed),
// keeping each file's permission bits, so an executable stays executable.
// Links and special files are not expected in a fixture and fail the test.
func Copy(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case info.IsDir():
			return os.MkdirAll(target, 0o755)
		case !info.Mode().IsRegular():
			return &os.PathError{Op: "copy", Path: p, Err: os.ErrInvalid}
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, info.Mode().Perm())
	})
	if err != nil {
		t.Fatalf("copying %s to %s: %v", src, dst, err)
	}
}
