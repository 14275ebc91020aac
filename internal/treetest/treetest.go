// Package treetest copies folder trees for tests that start from a fixture
// (an example library, a testdata repository) and change their own copy,
// and snapshots trees for tests that check what changed in one.
package treetest

import (
	"os"
	"path/filepath"
	"testing"
)

// Copy copies the files and folders below src into dst (created as needed),
// keeping each file's permission bits, so an executable stays executable;
// a file dst already has is replaced, bits included.
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
		if err := os.WriteFile(target, data, info.Mode().Perm()); err != nil {
			return err
		}
		// WriteFile keeps the mode of a file dst already has and applies
		// the umask to a new one: set the source's bits exactly.
		return os.Chmod(target, info.Mode().Perm())
	})
	if err != nil {
		t.Fatalf("copying %s to %s: %v", src, dst, err)
	}
}

// Snapshot records every path below dir (relative; "." is dir itself) with
// what is there: a file's contents, "-> target" for a link, "dir" for a
// folder, for "nothing changed" checks with Same. A dir that does not exist
// is an empty snapshot.
func Snapshot(t testing.TB, dir string) map[string]string {
	t.Helper()
	out, err := List(dir)
	if err != nil {
		t.Fatalf("snapshot of %s: %v", dir, err)
	}
	return out
}

// List is Snapshot for a caller that is not a test (a script command).
func List(dir string) (map[string]string, error) {
	out := map[string]string{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			if os.IsNotExist(err) && p == dir {
				return filepath.SkipAll
			}
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[rel] = "-> " + l
		case fi.IsDir():
			out[rel] = "dir"
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = string(b)
		}
		return nil
	})
	return out, err
}

// Same fails t for every path that differs between two snapshots of the
// tree what names: changed or removed since before, or new in after.
func Same(t testing.TB, what string, before, after map[string]string) {
	t.Helper()
	for k, v := range before {
		if a, ok := after[k]; !ok {
			t.Errorf("%s: %s removed", what, k)
		} else if a != v {
			t.Errorf("%s: %s changed", what, k)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("%s: %s appeared", what, k)
		}
	}
}
