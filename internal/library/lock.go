package library

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
)

// LockFile is library/lock.json (docs/FORMATS.md). Field order is
// alphabetical so the encoding has sorted keys, as the format requires.
type LockFile struct {
	CoreVersion     string               `json:"core_version,omitempty"`
	Libraries       map[string]LockEntry `json:"libraries"`
	LockfileVersion int                  `json:"lockfile_version"`
}

// LockEntry is one installed library.
type LockEntry struct {
	Dependencies map[string]string `json:"dependencies,omitempty"`
	Direct       bool              `json:"direct"`
	InstallPath  string            `json:"install_path"`
	Namespace    string            `json:"namespace"`
	Requested    string            `json:"requested,omitempty"`
	SHA256       string            `json:"sha256"`
	SHA512       string            `json:"sha512,omitempty"`
	Signature    string            `json:"signature,omitempty"`
	Source       string            `json:"source"`
	Version      string            `json:"version"`
}

// ReadLock reads library/lock.json; a missing file is an empty lock.
func (p Paths) ReadLock() (*LockFile, error) {
	b, err := os.ReadFile(p.LockFile())
	if errors.Is(err, os.ErrNotExist) {
		return &LockFile{LockfileVersion: 1, Libraries: map[string]LockEntry{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p.LockFile(), err)
	}
	var l LockFile
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("reading %s: %w", p.LockFile(), err)
	}
	if l.LockfileVersion != 1 {
		return nil, fmt.Errorf("reading %s: lockfile_version %d is not supported (this udos-lib reads 1)", p.LockFile(), l.LockfileVersion)
	}
	if l.Libraries == nil {
		l.Libraries = map[string]LockEntry{}
	}
	return &l, nil
}

// Marshal encodes the lock deterministically.
func (l *LockFile) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding lock file: %w", err)
	}
	return append(b, '\n'), nil
}

// Clone returns a deep copy.
func (l *LockFile) Clone() *LockFile {
	n := &LockFile{CoreVersion: l.CoreVersion, LockfileVersion: 1, Libraries: map[string]LockEntry{}}
	for k, v := range l.Libraries {
		n.Libraries[k] = v
	}
	return n
}
