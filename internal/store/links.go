package store

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fredbook/udos-dist/internal/libid"
	"github.com/fredbook/udos-dist/internal/lockfile"
)

// LinkTarget returns the live path of installPath and the symlink target
// (relative to the link's folder) that makes id@version live there.
func (p Paths) LinkTarget(installPath, id, version string) (link, target string, err error) {
	link, err = p.InstallLink(installPath)
	if err != nil {
		return "", "", err
	}
	target, err = filepath.Rel(filepath.Dir(link), p.StoreDir(id, version))
	if err != nil {
		return "", "", fmt.Errorf("linking %s: %w", link, err)
	}
	return link, target, nil
}

// Switch moves the live tree from old to next in one transaction: the
// journal names every link to change and the new lock file, then the links
// are switched and the lock file written. Every version next names must be
// in the store already.
func (p Paths) Switch(op string, old, next *lockfile.Lock, hook Hook) error {
	j := &Journal{Op: op}
	ids := map[string]bool{}
	for id := range old.Libraries {
		ids[id] = true
	}
	for id := range next.Libraries {
		ids[id] = true
	}
	sorted := slices.Sorted(maps.Keys(ids))
	for _, id := range sorted {
		o, hadOld := old.Libraries[id]
		n, hasNew := next.Libraries[id]
		switch {
		case hasNew:
			link, target, err := p.LinkTarget(n.InstallPath, id, n.Version)
			if err != nil {
				return err
			}
			if cur, err := os.Readlink(link); err == nil && cur == target && hadOld && o.Version == n.Version {
				continue
			}
			if fi, err := os.Lstat(link); err == nil && fi.Mode()&os.ModeSymlink == 0 {
				return fmt.Errorf("%s exists and is not managed by udos-lib; move it away and retry", link)
			}
			j.Switches = append(j.Switches, Switch{ID: id, Link: link, Target: target})
			if hadOld && o.InstallPath != n.InstallPath {
				ol, err := p.InstallLink(o.InstallPath)
				if err != nil {
					return err
				}
				j.Switches = append(j.Switches, Switch{ID: id, Link: ol})
			}
		case hadOld:
			link, err := p.InstallLink(o.InstallPath)
			if err != nil {
				return err
			}
			j.Switches = append(j.Switches, Switch{ID: id, Link: link})
		}
	}
	if err := next.Validate(); err != nil {
		return fmt.Errorf("the new lock file would be invalid: %w", err)
	}
	b, err := next.Marshal()
	if err != nil {
		return err
	}
	j.LockFile = b
	for i := range j.Switches {
		if cur, err := os.Readlink(j.Switches[i].Link); err == nil {
			j.Switches[i].Old = cur
		}
	}
	if ob, err := os.ReadFile(p.LockFile()); err == nil {
		j.OldLockFile, j.HadLock = ob, true
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("reading %s: %w", p.LockFile(), err)
	}
	return p.Commit(j, hook)
}

// StrayLink is a symlink under library/ into the store that the lock file
// does not name (left from an earlier state of this machine).
type StrayLink struct{ ID, Version, Namespace, InstallPath string }

// StrayLinks finds the links under library/ that point into the store but
// belong to no entry of lock.
func (p Paths) StrayLinks(lock *lockfile.Lock) ([]StrayLink, error) {
	ents, err := os.ReadDir(p.Library())
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading %s: %w", p.Library(), err)
	}
	named := map[string]bool{}
	for _, e := range lock.Libraries {
		named[e.InstallPath] = true
	}
	var out []StrayLink
	for _, e := range ents {
		if e.Type()&os.ModeSymlink == 0 {
			continue
		}
		ip := "library/" + e.Name()
		if named[ip] {
			continue
		}
		target, err := os.Readlink(filepath.Join(p.Library(), e.Name()))
		if err != nil {
			continue
		}
		// Our links are ".udos-lib/store/<id>/<version>".
		parts := strings.Split(filepath.ToSlash(target), "/")
		if len(parts) != 4 || parts[0] != ".udos-lib" || parts[1] != "store" {
			continue
		}
		ref, err := libid.Parse(parts[2])
		if err != nil {
			continue
		}
		out = append(out, StrayLink{ID: ref.ID, Version: parts[3], Namespace: ref.Namespace, InstallPath: ip})
	}
	return out, nil
}
