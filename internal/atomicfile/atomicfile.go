// Package atomicfile writes files so that a reader, or a crash, sees the old
// contents or the new ones, never a mix: every artifact, catalog, lockfile
// and manifest of udos-dist is written through it.
package atomicfile

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Write creates path's directory if needed, lets write fill a temporary file
// in that directory, and only when write succeeded gives it perm, syncs it
// and renames it over path, then syncs the directory so that the rename
// itself survives a power loss. On any error path is left as it was and the
// temporary file is removed.
func Write(path string, perm fs.FileMode, write func(w io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("writing %q: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %q: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := write(tmp); err != nil {
		return err
	}
	// CreateTemp makes the file 0600: give it the mode asked for, whatever
	// the umask.
	if err := tmp.Chmod(perm); err != nil {
		return fmt.Errorf("writing %q: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("writing %q: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %q: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %q: %w", path, err)
	}
	// Not every system can sync a directory; the rename has happened anyway.
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// WriteFile is Write with the contents in memory.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}
