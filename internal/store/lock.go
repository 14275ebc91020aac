package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// FileLock is an exclusive advisory lock (flock) held on a file.
type FileLock struct{ f *os.File }

// ErrLockTimeout: another udos-lib kept the root locked too long.
var ErrLockTimeout = errors.New("timed out waiting for another udos-lib process")

// lockPoll is how often a busy lock is tried again. flock has no timed or
// cancellable wait, so the lock is polled; this bounds how late a Ctrl-C
// (ctx cancelled) is noticed.
const lockPoll = 50 * time.Millisecond

// Lock takes the exclusive lock on path, waiting up to timeout or until ctx
// is done (then the error wraps ctx.Err() and nothing was changed). waiting
// is called once if the lock is busy, so the caller can tell the user.
func Lock(ctx context.Context, path string, timeout time.Duration, waiting func(holder string)) (*FileLock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(lockPoll)
	defer tick.Stop()
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
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for the lock %s: %w", path, ctx.Err())
		case <-deadline.C:
			f.Close()
			return nil, fmt.Errorf("locking %s: %w (waited %s)", path, ErrLockTimeout, timeout)
		case <-tick.C:
		}
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

// Busy reports whether another process holds the lock at path, without
// waiting and without creating anything (read-only commands use it to say
// that what they show may be changing).
func Busy(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return errors.Is(err, syscall.EWOULDBLOCK)
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}
