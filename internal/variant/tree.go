package variant

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// tree is the checkout as a variant sees it: in a git checkout the files git
// tracks (so nothing untracked or ignored — .env files, logs, SQLite
// databases — can ship), elsewhere every file. Symlinks are recorded with
// their targets, never followed by the listing itself: resolving them is
// eval's job, inside the tree only.
type tree struct {
	root   string
	git    bool
	nodes  map[string]node // slash paths relative to root
	dirs   map[string]bool // every parent directory of a node ("" is the root)
	sorted []string        // the node paths, sorted
	// skipped are tracked paths that cannot ship (deleted from the working
	// tree, submodules), for warnings.
	skipped []Warning
}

type node struct {
	link string      // the symlink's target as written; "" for a regular file
	mode fs.FileMode // permission bits of a regular file
}

// loadTree lists the checkout at root. A git checkout (root inside a work
// tree) is listed with `git ls-files`; otherwise the directory is walked.
func loadTree(ctx context.Context, root string) (*tree, error) {
	t := &tree{root: root, nodes: map[string]node{}, dirs: map[string]bool{"": true}}
	inGit, err := isGitCheckout(ctx, root)
	if err != nil {
		return nil, err
	}
	if inGit {
		t.git = true
		if err := t.listGit(ctx); err != nil {
			return nil, err
		}
		if len(t.nodes) == 0 {
			// An untracked folder inside someone's work tree (a tarball
			// unpacked in a home directory under git): not a checkout.
			t.git = false
			t.skipped = nil
		}
	}
	if !t.git {
		if err := t.walk(); err != nil {
			return nil, err
		}
	}
	for p := range t.nodes {
		t.sorted = append(t.sorted, p)
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			t.dirs[d] = true
		}
	}
	sort.Strings(t.sorted)
	return t, nil
}

// isGitCheckout reports whether root is inside a git work tree. A .git
// entry without a git program is an error rather than a silent fallback to
// shipping every untracked file.
func isGitCheckout(ctx context.Context, root string) (bool, error) {
	out, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "--is-inside-work-tree").Output()
	if err == nil {
		return strings.TrimSpace(string(out)) == "true", nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return false, nil // not a repository
	}
	if _, serr := os.Lstat(filepath.Join(root, ".git")); serr == nil {
		return false, fmt.Errorf("%s is a git checkout but git cannot be run (%w): install git, so that only tracked files ship", root, err)
	}
	return false, nil
}

func (t *tree) listGit(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, "git", "-C", t.root, "ls-files", "-z", "--stage")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("listing the files git tracks in %s: %w: %s", t.root, err, strings.TrimSpace(stderr.String()))
	}
	for _, rec := range strings.Split(string(out), "\x00") {
		if rec == "" {
			continue
		}
		meta, p, ok := strings.Cut(rec, "\t")
		if !ok {
			return fmt.Errorf("git ls-files: unexpected record %q", rec)
		}
		if strings.HasPrefix(meta, "160000 ") {
			t.skipped = append(t.skipped, Warning{Path: p, Text: "is a git submodule; its files are not part of this checkout's history and do not ship"})
			continue
		}
		if _, seen := t.nodes[p]; seen {
			continue // several merge stages of one path
		}
		if err := t.addDisk(p); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				t.skipped = append(t.skipped, Warning{Path: p, Text: "is tracked but deleted from the working tree; it does not ship"})
				continue
			}
			return err
		}
	}
	return nil
}

func (t *tree) walk() error {
	return filepath.WalkDir(t.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(t.root, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		return t.addDisk(filepath.ToSlash(rel))
	})
}

// addDisk records the working-tree state of a listed path.
func (t *tree) addDisk(rel string) error {
	disk := t.disk(rel)
	fi, err := os.Lstat(disk)
	if err != nil {
		return err
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(disk)
		if err != nil {
			return fmt.Errorf("reading symlink %s: %w", rel, err)
		}
		t.nodes[rel] = node{link: filepath.ToSlash(target)}
	case fi.Mode().IsRegular():
		t.nodes[rel] = node{mode: fi.Mode().Perm()}
	case fi.IsDir():
		// git lists a directory only for a nested repository that is not a submodule
		t.skipped = append(t.skipped, Warning{Path: rel, Text: "is a nested git repository; it does not ship"})
	default:
		return fmt.Errorf("%s is a %s, not a regular file, directory or symlink; remove it from the checkout", rel, fi.Mode().Type())
	}
	return nil
}

func (t *tree) disk(rel string) string { return filepath.Join(t.root, filepath.FromSlash(rel)) }

// isFile reports whether p (resolved) is a regular file of the tree.
func (t *tree) isFile(p string) bool {
	n, ok := t.nodes[p]
	return ok && n.link == ""
}

// under returns the node paths below dir ("" for the whole tree), sorted.
func (t *tree) under(dir string) []string {
	if dir == "" {
		return t.sorted
	}
	prefix := dir + "/"
	i := sort.SearchStrings(t.sorted, prefix)
	j := i
	for j < len(t.sorted) && strings.HasPrefix(t.sorted[j], prefix) {
		j++
	}
	return t.sorted[i:j]
}

// Why a path does not resolve inside the tree.
var (
	errOutside  = errors.New("points out of the source tree")
	errDangling = errors.New("points to nothing in the source tree")
	errLoop     = errors.New("is a symlink loop")
)

// eval resolves p through the tree's symlinks, as filepath.EvalSymlinks
// would, without ever leaving the tree: an absolute target or one climbing
// above the root is errOutside, a target that is not a tracked file or
// directory errDangling.
func (t *tree) eval(p string) (string, error) {
	rest := strings.Split(p, "/")
	cur := ""
	links := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if cur == "" {
				return "", errOutside
			}
			cur = parent(cur)
			continue
		}
		next := path.Join(cur, c)
		if n, ok := t.nodes[next]; ok && n.link != "" {
			if links++; links > 40 {
				return "", errLoop
			}
			if path.IsAbs(n.link) || filepath.IsAbs(n.link) {
				return "", errOutside
			}
			rest = append(strings.Split(n.link, "/"), rest...)
			continue
		}
		cur = next
	}
	if t.isFile(cur) || t.dirs[cur] {
		return cur, nil
	}
	return "", errDangling
}

func parent(p string) string {
	d := path.Dir(p)
	if d == "." {
		return ""
	}
	return d
}
