package library

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/fredbook/udos-dist/internal/constraint"
	"github.com/fredbook/udos-dist/internal/libid"
	"github.com/fredbook/udos-dist/internal/lockfile"
	"github.com/fredbook/udos-dist/internal/store"
)

// Status is what is really there for one library of the lock file: its
// live link, its store copy, and whether its dependencies are met.
type Status struct {
	ID    string
	Entry lockfile.Entry
	// Problems is empty when the library is installed and usable, else one
	// sentence each ("the link library/x is missing", "needs
	// lib-pathfinding ^1.0.0, which is not installed").
	Problems []string
}

// Statuses checks every library of lock against the tree: a missing,
// replaced or misdirected link, an incomplete store copy, and dependencies
// (libraries and uDOS itself) that are not installed or not at an allowed
// version. Sorted by id.
func (c *Client) Statuses(lock *lockfile.Lock) []Status {
	core, _ := store.CoreVersion(c.Paths.Root)
	var out []Status
	for _, id := range lock.IDs() {
		e := lock.Libraries[id]
		st := Status{ID: id, Entry: e}
		st.Problems = append(st.Problems, c.linkProblems(id, e)...)
		st.Problems = append(st.Problems, unmet(lock, core, e)...)
		out = append(out, st)
	}
	return out
}

func (c *Client) linkProblems(id string, e lockfile.Entry) []string {
	link, target, err := c.Paths.LinkTarget(e.InstallPath, id, e.Version)
	if err != nil {
		return []string{err.Error()}
	}
	fi, err := os.Lstat(link)
	switch {
	case os.IsNotExist(err):
		return []string{fmt.Sprintf("the link %s is missing", e.InstallPath)}
	case err != nil:
		return []string{fmt.Sprintf("%s: %v", e.InstallPath, err)}
	case fi.Mode()&os.ModeSymlink == 0:
		return []string{fmt.Sprintf("%s is not a link into the store (something else was put there)", e.InstallPath)}
	}
	if cur, err := os.Readlink(link); err != nil || cur != target {
		return []string{fmt.Sprintf("%s points at %s, not at version %s", e.InstallPath, cur, e.Version)}
	}
	if _, ok := c.Paths.HasVersion(id, e.Version); !ok {
		return []string{fmt.Sprintf("its store copy %s is missing or incomplete (the link is broken)", filepath.ToSlash(mustRel(c.Paths.Root, c.Paths.StoreDir(id, e.Version))))}
	}
	return nil
}

func mustRel(base, p string) string {
	if r, err := filepath.Rel(base, p); err == nil {
		return r
	}
	return p
}

// unmet lists e's dependencies that the lock (or the installed uDOS) does
// not satisfy.
func unmet(lock *lockfile.Lock, core *semver.Version, e lockfile.Entry) []string {
	var out []string
	names := slices.Sorted(maps.Keys(e.Dependencies))
	for _, n := range names {
		con := e.Dependencies[n]
		cc, err := constraint.Parse(con)
		if err != nil {
			out = append(out, fmt.Sprintf("its dependency %s %q is not a valid constraint", n, con))
			continue
		}
		ref, err := libid.Parse(n)
		if err != nil {
			continue
		}
		if ref.Core {
			if core != nil && !cc.CheckWith(core, true) {
				out = append(out, fmt.Sprintf("needs uDOS %s, this installation is %s", con, core))
			}
			continue
		}
		d, ok := lock.Libraries[ref.ID]
		if !ok {
			out = append(out, fmt.Sprintf("needs %s %s, which is not installed", ref.ID, con))
			continue
		}
		if v, err := semver.NewVersion(d.Version); err != nil || !cc.Check(v) {
			out = append(out, fmt.Sprintf("needs %s %s, but %s is installed", ref.ID, con, d.Version))
		}
	}
	return out
}

// dependents lists "id@version" of the libraries in lock that depend on id.
func dependents(lock *lockfile.Lock, id string) []string {
	var users []string
	for other, e := range lock.Libraries {
		if other == id {
			continue
		}
		for dep := range e.Dependencies {
			if ref, err := libid.Parse(dep); err == nil && ref.ID == id {
				users = append(users, other+"@"+e.Version)
				break
			}
		}
	}
	sort.Strings(users)
	return users
}

// suggest returns " (did you mean X?)" for the names closest to name among
// candidates (ids; compared by short name), or "" when none is close.
func suggest(name string, candidates []string) string {
	short := func(s string) string {
		if ref, err := libid.Parse(s); err == nil {
			return ref.Short
		}
		return strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(s, "@uDOS/"), "lib-"))
	}
	want := short(name)
	best, bestD := []string(nil), 1+len(want)/3
	if bestD > 3 {
		bestD = 3
	}
	for _, c := range candidates {
		s := short(c)
		d := distance(want, s)
		if strings.HasPrefix(s, want) && len(want) >= 3 && d > 0 {
			d = min(d, bestD) // a prefix of a longer name is close enough
		}
		switch {
		case d == 0 || d > bestD:
		case d < bestD || best == nil:
			best, bestD = []string{s}, d
		default:
			best = append(best, s)
		}
	}
	if len(best) == 0 {
		return ""
	}
	sort.Strings(best)
	if len(best) > 3 {
		best = best[:3]
	}
	return " (did you mean " + strings.Join(best, " or ") + "?)"
}

// distance is the Damerau–Levenshtein (optimal string alignment) distance:
// a swapped pair of letters ("gird") counts as one edit.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
