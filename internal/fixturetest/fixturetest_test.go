package fixturetest

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fredbook/udos-dist/internal/goldentest"
)

// listing lists every file and link below dir (.git left out), one a line
// in the order of the walk (by path): the mode git would record (100644, 100755, 120000), the
// sha256 of the file's contents or of the link's target, the path, and
// "untracked" where tracked (the paths git tracks) does not hold it.
func listing(t *testing.T, dir string, tracked map[string]bool) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Name() == ".git" {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		var mode string
		var data []byte
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			mode = "120000"
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			data = []byte(l)
		case fi.Mode().IsRegular():
			mode = "100644"
			if fi.Mode().Perm()&0o111 != 0 {
				mode = "100755"
			}
			if data, err = os.ReadFile(p); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: unexpected mode %v", rel, fi.Mode())
		}
		line := fmt.Sprintf("%s %x %s", mode, sha256.Sum256(data), rel)
		if tracked != nil && !tracked[rel] {
			line += " untracked"
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n") + "\n"
}

func trackedPaths(t *testing.T, dir string) map[string]bool {
	t.Helper()
	tracked := map[string]bool{}
	for _, p := range strings.Split(strings.TrimSpace(Git(t, dir, "ls-files")), "\n") {
		tracked[p] = true
	}
	return tracked
}

// Each fixture's checkout is the tree it has always been: the same paths,
// contents, modes and links, the same files tracked and ignored.
func TestRepoGolden(t *testing.T) {
	for _, name := range Names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := Repo(t, name, Options{})
			goldentest.Compare(t, filepath.Join("testdata", name+".golden"), []byte(listing(t, dir, trackedPaths(t, dir))))
		})
	}
}
