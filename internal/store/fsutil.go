package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fredbook/udos-dist/internal/atomicfile"
)

// writeFileRename writes data to path through a temp file and a rename,
// without fsync: for store sidecars, whose durability the transaction's
// journal does not depend on (recovery rolls back when they are missing).
func writeFileRename(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// WriteJSONAtomic writes v as indented JSON with a final newline, atomically
// and durably (internal/atomicfile).
func WriteJSONAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	return atomicfile.WriteFile(path, append(b, '\n'), 0o644)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	defer d.Close()
	// Some file systems refuse fsync on directories; the rename is still done.
	_ = d.Sync()
	return nil
}

// SwitchSymlink points link at target atomically: a new symlink under a
// temporary name is renamed over link. A real directory at link is refused:
// it was not installed by udos-lib and must not be deleted silently.
func SwitchSymlink(link, target string) error {
	if fi, err := os.Lstat(link); err == nil && fi.Mode()&os.ModeSymlink == 0 {
		return fmt.Errorf("%s exists and is not managed by udos-lib (not a symlink into the store); move it away and retry", link)
	}
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		return fmt.Errorf("switching %s: %w", link, err)
	}
	tmp := filepath.Join(filepath.Dir(link), "."+filepath.Base(link)+".udos-lib-new")
	_ = os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("switching %s: %w", link, err)
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("switching %s: %w", link, err)
	}
	// The folder is synced once per transaction (Paths.apply), not per link.
	return nil
}

// RemoveSymlink removes link if it is a symlink; absent is fine.
func RemoveSymlink(link string) error {
	fi, err := os.Lstat(link)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("removing %s: %w", link, err)
	}
	if fi.Mode()&os.ModeSymlink == 0 {
		return fmt.Errorf("%s is not managed by udos-lib (not a symlink into the store); remove it by hand", link)
	}
	if err := os.Remove(link); err != nil {
		return fmt.Errorf("removing %s: %w", link, err)
	}
	return nil
}
