package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/fredbook/udos-dist/internal/atomicfile"
	"os"
	"path/filepath"
	"strings"
)

// Switch changes what one live install path points at.
type Switch struct {
	ID   string `json:"id"`
	Link string `json:"link"` // absolute path of <root>/<install_path>
	// Target is the symlink target (relative to the link's folder); empty
	// removes the link (uninstall).
	Target string `json:"target"`
	// Old is the target before the transaction ("" when there was no link),
	// for rolling back.
	Old string `json:"old,omitempty"`
}

// Journal is an install transaction written (and fsynced) before the live
// tree changes. Everything it points at in the store is complete before it
// is written, so recovery normally rolls forward: it re-applies every switch
// (idempotent) and writes the new lock file. Only if a store copy it points
// at is missing or incomplete (a power loss before the store reached the
// disk) does recovery roll back to the old links and the old lock file.
type Journal struct {
	Op       string   `json:"op"`
	Switches []Switch `json:"switches"`
	// LockFile is the complete new library/lock.json.
	LockFile []byte `json:"lockfile"`
	// OldLockFile is the lock file before the transaction; HadLock is false
	// when there was none.
	OldLockFile []byte `json:"old_lockfile,omitempty"`
	HadLock     bool   `json:"had_lockfile"`
}

// Hook is called at named points of a transaction; tests use it to stop a
// process there (UDOS_LIB_TEST_PAUSE) and kill it.
type Hook func(point string)

// Commit applies j: journal, switches, lockfile, journal removal. A crash at
// any point leaves a journal that Recover completes, or no journal and the
// old state.
func (p Paths) Commit(j *Journal, hook Hook) error {
	if hook == nil {
		hook = func(string) {}
	}
	if err := WriteJSONAtomic(p.Journal(), j); err != nil {
		return fmt.Errorf("starting the transaction: %w", err)
	}
	hook("after-journal")
	if err := p.apply(j, hook); err != nil {
		return fmt.Errorf("%w (the next udos-lib command completes the transaction)", err)
	}
	return nil
}

func (p Paths) apply(j *Journal, hook Hook) error {
	if hook == nil {
		hook = func(string) {}
	}
	dirs := map[string]bool{}
	for i, s := range j.Switches {
		if s.Target == "" {
			if err := RemoveSymlink(s.Link); err != nil {
				return err
			}
		} else {
			if err := SwitchSymlink(s.Link, s.Target); err != nil {
				return err
			}
		}
		dirs[filepath.Dir(s.Link)] = true
		if i == 0 {
			hook("after-first-switch")
		}
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	hook("before-lockfile")
	if err := atomicfile.WriteFile(p.LockFile(), j.LockFile, 0o644); err != nil {
		return err
	}
	hook("after-lockfile")
	if err := os.Remove(p.Journal()); err != nil {
		return fmt.Errorf("finishing the transaction: %w", err)
	}
	return syncDir(p.State())
}

// rollback restores the links and the lock file from before j.
func (p Paths) rollback(j *Journal) error {
	dirs := map[string]bool{}
	for _, s := range j.Switches {
		var err error
		if s.Old == "" {
			err = RemoveSymlink(s.Link)
		} else {
			err = SwitchSymlink(s.Link, s.Old)
		}
		if err != nil {
			return err
		}
		dirs[filepath.Dir(s.Link)] = true
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	if j.HadLock {
		if err := atomicfile.WriteFile(p.LockFile(), j.OldLockFile, 0o644); err != nil {
			return err
		}
	} else if err := os.Remove(p.LockFile()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("restoring %s: %w", p.LockFile(), err)
	}
	if err := os.Remove(p.Journal()); err != nil {
		return fmt.Errorf("finishing the rollback: %w", err)
	}
	return syncDir(p.State())
}

// Recover completes an interrupted transaction, if any, and removes
// half-extracted store folders. It returns a description of what it did
// ("" when there was nothing to do).
func (p Paths) Recover() (string, error) {
	var did []string
	b, err := os.ReadFile(p.Journal())
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return "", fmt.Errorf("reading the journal %s: %w", p.Journal(), err)
	default:
		var j Journal
		if err := json.Unmarshal(b, &j); err != nil {
			return "", fmt.Errorf("reading the journal %s: %w (it is written atomically, so this is not a crash: inspect or remove it)", p.Journal(), err)
		}
		missing := ""
		for _, s := range j.Switches {
			if s.Target == "" {
				continue
			}
			dest := filepath.Join(filepath.Dir(s.Link), s.Target)
			if _, err := os.Stat(dest + ".json"); err != nil {
				missing = dest
				break
			}
			if _, err := os.Stat(dest); err != nil {
				missing = dest
				break
			}
		}
		if missing != "" {
			if err := p.rollback(&j); err != nil {
				return "", fmt.Errorf("rolling back the interrupted %s: %w", j.Op, err)
			}
			did = append(did, fmt.Sprintf("rolled back an interrupted %s (store copy %s is incomplete)", j.Op, missing))
		} else {
			if err := p.apply(&j, nil); err != nil {
				return "", fmt.Errorf("recovering the interrupted %s: %w", j.Op, err)
			}
			did = append(did, "completed an interrupted "+j.Op)
		}
	}
	n, err := p.cleanStaging()
	if err != nil {
		return "", err
	}
	if n > 0 {
		did = append(did, fmt.Sprintf("removed %d unfinished download(s)", n))
	}
	return strings.Join(did, "; "), nil
}

// cleanStaging removes temp folders left by a killed extraction (downloads
// are held in memory). It runs under the root lock, so nothing uses them.
func (p Paths) cleanStaging() (int, error) {
	n := 0
	libs, err := os.ReadDir(p.Store())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("reading %s: %w", p.Store(), err)
	}
	for _, l := range libs {
		if !l.IsDir() {
			continue
		}
		dir := filepath.Join(p.Store(), l.Name())
		ents, err := os.ReadDir(dir)
		if err != nil {
			return n, fmt.Errorf("reading %s: %w", dir, err)
		}
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".tmp-") {
				if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
					return n, fmt.Errorf("cleaning %s: %w", dir, err)
				}
				n++
			}
		}
	}
	return n, nil
}
