package library

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/fredbook/udos-dist/internal/atomicfile"
)

// WriteFileAtomic writes data to path so that a reader (or a crash) sees the
// old content or the new one, never a mix (internal/atomicfile).
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	return atomicfile.WriteFile(path, data, perm)
}

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

// WriteJSONAtomic writes v as indented JSON with a final newline.
func WriteJSONAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	return WriteFileAtomic(path, append(b, '\n'), 0o644)
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

// FileLock is an exclusive advisory lock (flock) held on a file.
type FileLock struct{ f *os.File }

// ErrLockTimeout: another udos-lib kept the root locked too long.
var ErrLockTimeout = errors.New("timed out waiting for another udos-lib process")

// Lock takes the exclusive lock on path, waiting up to timeout. waiting is
// called once if the lock is busy, so the caller can tell the user.
func Lock(path string, timeout time.Duration, waiting func(holder string)) (*FileLock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	deadline := time.Now().Add(timeout)
	told := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if !told && waiting != nil {
			b := make([]byte, 64)
			n, _ := f.ReadAt(b, 0)
			waiting(string(b[:n]))
			told = true
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w (waited %s)", path, ErrLockTimeout, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Record the holder for the "waiting" message; informative only.
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(fmt.Sprintf("pid %d", os.Getpid())), 0)
	return &FileLock{f: f}, nil
}

// Unlock releases the lock.
func (l *FileLock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	err := l.f.Close()
	l.f = nil
	return err
}
