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

// Tree is the files of a checkout: what the checkout tracks but its links.
func TestTree(t *testing.T) {
	for _, name := range Names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := Repo(t, name, Options{})
			var want []string
			for _, l := range strings.SplitAfter(listing(t, dir, trackedPaths(t, dir)), "\n") {
				if l != "" && !strings.HasPrefix(l, "120000 ") && !strings.HasSuffix(l, " untracked\n") {
					want = append(want, l)
				}
			}
			if got := listing(t, Tree(t, name), nil); got != strings.Join(want, "") {
				t.Errorf("Tree(%s):\n%s\nwant the checkout's files:\n%s", name, got, strings.Join(want, ""))
			}
		})
	}
}

// A stored change holds only what changed: no file the same as its
// parent's, no removal of a path the parent lacks (apply fails on that).
// A checkout's history is one commit per version, each the tree of that
// version's own checkout.
func TestStoredAsChanges(t *testing.T) {
	for name, p := range parent {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			base, own := Tree(t, p), stored(t, name, "")
			err := filepath.WalkDir(own, func(path string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				rel, _ := filepath.Rel(own, path)
				was := filepath.Join(base, rel)
				if _, err := os.Stat(was); os.IsNotExist(err) {
					return nil // added
				}
				if listing(t, path, nil) == listing(t, was, nil) {
					t.Errorf("testdata/%s/%s is the same as %s's", name, filepath.ToSlash(rel), p)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			repo, parentRepo := Repo(t, name, Options{}), Repo(t, p, Options{})
			if got, want := Git(t, repo, "rev-parse", "v"+Version(p)+"^{tree}"), Git(t, parentRepo, "rev-parse", "HEAD^{tree}"); got != want {
				t.Errorf("the %s commit in %s's history has tree %s, %s's checkout %s", p, name, got, p, want)
			}
			if got, want := Git(t, repo, "rev-parse", "HEAD^"), Git(t, repo, "rev-parse", "v"+Version(p)+"^{commit}"); got != want {
				t.Errorf("%s's parent commit is %s, not %s's %s", name, got, p, want)
			}
		})
	}
}
