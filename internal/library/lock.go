package library

import (
	"fmt"

	"github.com/fredbook/udos-dist/internal/lockfile"
)

// LockFile is library/lock.json, as package lockfile reads and writes it.
type LockFile = lockfile.Lock

// LockEntry is one installed library.
type LockEntry = lockfile.Entry

// ReadLock reads library/lock.json; a missing file is an empty lock.
func (p Paths) ReadLock() (*LockFile, error) {
	l, err := lockfile.Read(p.LockFile())
	if err != nil {
		return nil, fmt.Errorf("%w (restore it from a backup, or remove it and reinstall)", err)
	}
	return l, nil
}

// cloneLock returns a deep-enough copy (entries are values).
func cloneLock(l *LockFile) *LockFile {
	n := lockfile.New()
	n.CoreVersion = l.CoreVersion
	for k, v := range l.Libraries {
		n.Libraries[k] = v
	}
	return n
}

// marshalLock validates and encodes a lock for the journal.
func marshalLock(l *LockFile) ([]byte, error) {
	if err := l.Validate(); err != nil {
		return nil, fmt.Errorf("the new lock file would be invalid: %w", err)
	}
	return l.Marshal()
}
