package coreinst

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/fredbook/udos-dist/internal/atomicfile"
	"github.com/fredbook/udos-dist/internal/lockfile"
	"github.com/fredbook/udos-dist/internal/store"
)

// Journal is an install, upgrade or rollback in progress. It is written
// before the first change to the prefix and removed after the last.
type Journal struct {
	Op string `json:"op"` // install, upgrade, rollback
	// Dir is the version folder being made active.
	Dir string `json:"dir"`
	// Previous is the folder that was active ("" for a first install).
	Previous string `json:"previous"`
	// Created: Dir is new in this transaction, so undoing removes it.
	Created bool   `json:"created"`
	Source  string `json:"source,omitempty"`
	// Libraries are updated for Core in this transaction, before the
	// switch; LockBefore is library/lock.json's digest before that, so
	// recovery can tell whether they were.
	Libraries  []string `json:"libraries,omitempty"`
	Core       string   `json:"core,omitempty"`
	LockBefore string   `json:"lock_before,omitempty"`
}

// State is what the prefix remembers between commands.
type State struct {
	// Source is the SOURCE of the last install or upgrade (for upgrade and
	// status without --from).
	Source string `json:"source,omitempty"`
	// Previous is the folder that was active before the last switch: the
	// default target of rollback.
	Previous string `json:"previous,omitempty"`
}

func (p Paths) readJSON(path string, v any) (bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading %s: %w", path, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("reading %s: %w (it is udos-lib core's own file: remove it and run the command again)", path, err)
	}
	return true, nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(b, '\n'), 0o644)
}

// ReadState returns the prefix's state (zero when none).
func (p Paths) ReadState() (State, error) {
	var s State
	_, err := p.readJSON(p.StateFile(), &s)
	return s, err
}

// Outcome of recovering an interrupted transaction.
type Outcome string

const (
	Nothing  Outcome = ""
	Finished Outcome = "finished"
	Undone   Outcome = "undone"
)

// recover completes or undoes the transaction a killed command left. The
// rule is the switch: once P/current names the new folder, the transaction
// is finished; before, it is undone and the previous version, which was
// never touched, stays active.
//
// With libraries in the transaction, the libraries' own commit is the
// point of no return instead: once library/lock.json differs from the
// journal's digest, the libraries work with the new version only, so the
// switch is done (finished) rather than the libraries left broken.
func (in *Installer) recover(ctx context.Context) (Outcome, *Journal, error) {
	var j Journal
	ok, err := in.Paths.readJSON(in.Paths.Journal(), &j)
	if err != nil {
		return Nothing, nil, err
	}
	if !ok {
		// Without a journal nothing in staging belongs to a transaction.
		if err := os.RemoveAll(in.Paths.Staging()); err != nil {
			return Nothing, nil, fmt.Errorf("cleaning %s: %w", in.Paths.Staging(), err)
		}
		return Nothing, nil, nil
	}
	active, err := in.Paths.Active()
	if err != nil {
		return Nothing, nil, err
	}
	if active == j.Dir {
		return Finished, &j, in.finish(&j)
	}
	if len(j.Libraries) > 0 {
		if in.Libraries != nil {
			libs, err := in.Libraries()
			if err != nil {
				return Nothing, nil, err
			}
			if err := libs.Recover(ctx); err != nil {
				return Nothing, nil, err
			}
		}
		now, err := in.Paths.lockDigest()
		if err != nil {
			return Nothing, nil, err
		}
		if _, err := os.Stat(in.Paths.InstallRecord(j.Dir)); err == nil && now != j.LockBefore {
			return Finished, &j, in.commit(&j)
		}
	}
	if err := os.RemoveAll(in.Paths.Staging()); err != nil {
		return Nothing, nil, fmt.Errorf("undoing the interrupted %s: %w", j.Op, err)
	}
	if j.Created && j.Dir != "" && j.Dir != active {
		if err := os.RemoveAll(in.Paths.VersionDir(j.Dir)); err != nil {
			return Nothing, nil, fmt.Errorf("undoing the interrupted %s: %w", j.Op, err)
		}
	}
	if err := os.Remove(in.Paths.Journal()); err != nil {
		return Nothing, nil, fmt.Errorf("undoing the interrupted %s: %w", j.Op, err)
	}
	return Undone, &j, nil
}

// lockDigest is the sha256 of library/lock.json ("" when there is none).
func (p Paths) lockDigest() (string, error) {
	b, err := os.ReadFile(filepath.Join(p.Prefix, filepath.FromSlash(lockfile.Path)))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return sha256Hex(b), nil
}

// begin records the journal: from here on a kill is recovered.
func (in *Installer) begin(j *Journal) error {
	if err := writeJSON(in.Paths.Journal(), j); err != nil {
		return fmt.Errorf("starting the %s: %w", j.Op, err)
	}
	in.hook("journaled")
	return nil
}

// commit switches P/current to j.Dir (the one step that makes the new
// version active) and finishes.
func (in *Installer) commit(j *Journal) error {
	if err := store.SwitchSymlink(in.Paths.Current(), filepath.Join("versions", j.Dir)); err != nil {
		return err
	}
	syncDir(in.Paths.Prefix)
	in.hook("switched")
	return in.finish(j)
}

// finish does what follows the switch. Every step is idempotent, so
// recovery can run it again after a kill.
func (in *Installer) finish(j *Journal) error {
	p := in.Paths
	for _, d := range DataDirs {
		if err := in.seedData(j.Dir, d); err != nil {
			return err
		}
	}
	if err := p.linkVersionFile(); err != nil {
		return err
	}
	st, err := p.ReadState()
	if err != nil {
		return err
	}
	if j.Previous != "" && j.Previous != j.Dir {
		st.Previous = j.Previous
	}
	if j.Source != "" {
		st.Source = j.Source
	}
	if err := writeJSON(p.StateFile(), st); err != nil {
		return err
	}
	if err := os.RemoveAll(p.Staging()); err != nil {
		return fmt.Errorf("cleaning %s: %w", p.Staging(), err)
	}
	if err := os.Remove(p.Journal()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("ending the %s: %w", j.Op, err)
	}
	in.hook("finished")
	return in.prune(j.Dir, st.Previous)
}

// seedData creates P/<name> on first install, from the variant's own copy
// when it ships one (kept under .udos-core/seed/ in the version folder).
// An existing P/<name> is the user's and is never touched.
func (in *Installer) seedData(dir, name string) error {
	dst := filepath.Join(in.Paths.Prefix, name)
	if _, err := os.Lstat(dst); err == nil {
		return nil
	}
	seed := filepath.Join(in.Paths.VersionDir(dir), ".udos-core", "seed", name)
	tmp := filepath.Join(in.Paths.Staging(), "seed-"+name)
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if _, err := os.Stat(seed); err == nil {
		if err := copyTree(seed, tmp); err != nil {
			return fmt.Errorf("creating %s: %w", dst, err)
		}
	} else if err := os.MkdirAll(tmp, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dst, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("creating %s: %w", dst, err)
	}
	return nil
}

// linkVersionFile makes P/version.json the active version's, so that the
// library commands see the installed @uDOS/core.
func (p Paths) linkVersionFile() error {
	want := filepath.Join("current", "version.json")
	if t, err := os.Readlink(p.VersionFile()); err == nil && t == want {
		return nil
	}
	if fi, err := os.Lstat(p.VersionFile()); err == nil && fi.Mode()&os.ModeSymlink == 0 {
		return fmt.Errorf("%s is a file of its own, not the link udos-lib core keeps: move it away and run the command again", p.VersionFile())
	}
	return store.SwitchSymlink(p.VersionFile(), want)
}

// prune removes kept versions beyond Keep (the oldest first), never the
// active one nor the rollback target. A folder is first renamed into
// staging, so that a kill never leaves half a version under versions/.
func (in *Installer) prune(active, previous string) error {
	keep := in.Keep
	if keep <= 0 {
		keep = 3
	}
	kept, err := in.Paths.Kept()
	if err != nil {
		return err
	}
	if len(kept) <= keep {
		return nil
	}
	n := len(kept)
	for _, k := range kept { // oldest first
		if n <= keep {
			break
		}
		if k.Dir == active || k.Dir == previous {
			continue
		}
		trash := filepath.Join(in.Paths.Staging(), "trash-"+k.Dir)
		if err := os.MkdirAll(in.Paths.Staging(), 0o755); err != nil {
			return err
		}
		if err := os.Rename(in.Paths.VersionDir(k.Dir), trash); err != nil {
			return fmt.Errorf("removing the old version %s: %w", k.Dir, err)
		}
		if err := os.RemoveAll(trash); err != nil {
			return fmt.Errorf("removing the old version %s: %w", k.Dir, err)
		}
		n--
	}
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// copyTree copies regular files, folders and symlinks (as links).
func copyTree(src, dst string) error {
	return filepath.Walk(src, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		out := filepath.Join(dst, rel)
		switch {
		case fi.IsDir():
			return os.MkdirAll(out, fi.Mode().Perm()|0o700)
		case fi.Mode()&os.ModeSymlink != 0:
			t, err := os.Readlink(path)
			if err != nil {
				return err
			}
			if filepath.IsAbs(t) || strings.HasPrefix(filepath.Clean(filepath.Join(filepath.Dir(rel), t)), "..") {
				return fmt.Errorf("%s links out of the tree", rel)
			}
			return os.Symlink(t, out)
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(out, b, fi.Mode().Perm())
		}
		return fmt.Errorf("%s is not a regular file, folder or link", rel)
	})
}
