// Package lockfile reads and writes library/lock.json: the exact version,
// archive digests and source of every installed library, enough to
// reproduce an install on another machine without resolving anything
// (docs/FORMATS.md, "Lockfile").
package lockfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/fredbook/udos-dist/internal/atomicfile"
	"github.com/fredbook/udos-dist/internal/canonjson"
	"github.com/fredbook/udos-dist/internal/checksum"
	"github.com/fredbook/udos-dist/internal/libid"
	"github.com/fredbook/udos-dist/internal/regref"
)

// Version is the lockfile_version written. Version 1 is still read: its
// sources are absolute (the registry's URL or folder at install time);
// version 2 records them relative to the registry, so a lockfile works
// with the same registry at another URL or folder.
const Version = 2

// Path is the lockfile's place relative to a uDOS root.
const Path = "library/lock.json"

// Lock is lock.json.
type Lock struct {
	LockfileVersion int `json:"lockfile_version"`
	// CoreVersion is the uDOS version the libraries were resolved against.
	CoreVersion string `json:"core_version,omitempty"`
	// Libraries by id.
	Libraries map[string]Entry `json:"libraries"`
}

// FromV1 reports whether l was read from a version 1 lockfile, whose
// sources name the registry as it was then: a client looks such a package
// up in the registry it is given (by version and digest) before it tries
// the recorded source. It is written back as the current version.
func (l *Lock) FromV1() bool { return l.LockfileVersion == 1 }

// Entry is one installed library.
type Entry struct {
	Namespace   string `json:"namespace"`
	Version     string `json:"version"`
	InstallPath string `json:"install_path"`
	// Source is where the package comes from: a path relative to the
	// registry, or an absolute http(s) URL when it is hosted elsewhere
	// (version 1: the absolute URL or local path it was installed from).
	// The digests, not the source, decide what is accepted.
	Source string `json:"source"`
	// Signature is where its .asc comes from, in the same form; empty when
	// it was installed unsigned.
	Signature string `json:"signature,omitempty"`
	SHA256    string `json:"sha256"`
	SHA512    string `json:"sha512,omitempty"`
	// Dependencies as the package's manifest states them.
	Dependencies map[string]string `json:"dependencies"`
	// Requested is the constraint the user asked for; only for direct installs.
	Requested string `json:"requested,omitempty"`
	// Direct: installed by name rather than as a dependency.
	Direct bool `json:"direct"`
}

// New returns an empty lock.
func New() *Lock {
	return &Lock{LockfileVersion: Version, Libraries: map[string]Entry{}}
}

// Clone returns a copy whose Libraries map can be changed without touching
// l's (entries are values; their dependency maps are shared, never changed).
func (l *Lock) Clone() *Lock {
	n := *l
	n.Libraries = make(map[string]Entry, len(l.Libraries))
	for k, v := range l.Libraries {
		n.Libraries[k] = v
	}
	return &n
}

// Read loads the lockfile at path. A missing file is an empty lock, not an
// error: nothing has been installed yet.
func Read(path string) (*Lock, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return New(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading lockfile: %w", err)
	}
	l, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("reading lockfile %q: %w", path, err)
	}
	return l, nil
}

// Parse decodes and validates a lockfile.
func Parse(data []byte) (*Lock, error) {
	l := New()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(l); err != nil {
		return nil, fmt.Errorf("not a valid lockfile: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("not a valid lockfile: data after the JSON object")
	}
	if l.Libraries == nil {
		l.Libraries = map[string]Entry{}
	}
	if err := l.Validate(); err != nil {
		return nil, err
	}
	return l, nil
}

// Validate checks every entry; the error lists all problems.
func (l *Lock) Validate() error {
	var probs []string
	add := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	if l.LockfileVersion != Version && l.LockfileVersion != 1 {
		add("lockfile_version %d is not supported (want %d, or 1)", l.LockfileVersion, Version)
	}
	if l.CoreVersion != "" {
		if _, err := semver.NewVersion(l.CoreVersion); err != nil {
			add("core_version %q is not a version", l.CoreVersion)
		}
	}
	for _, id := range l.IDs() {
		e := l.Libraries[id]
		ref, err := libid.Parse(id)
		switch {
		case err != nil:
			add("libraries: %v", err)
			continue
		case ref.ID != id || ref.Core:
			add("libraries: key %q is not a library id (want %q)", id, ref.ID)
			continue
		}
		if e.Namespace != ref.Namespace {
			add("%s: namespace %q must be %q", id, e.Namespace, ref.Namespace)
		}
		if e.InstallPath != ref.InstallPath {
			add("%s: install_path %q must be %q", id, e.InstallPath, ref.InstallPath)
		}
		if _, err := semver.StrictNewVersion(e.Version); err != nil {
			add("%s: version %q is not a semantic version (want MAJOR.MINOR.PATCH)", id, e.Version)
		}
		switch {
		case e.Source == "":
			add("%s: source is missing", id)
		case l.LockfileVersion != 1:
			if err := regref.Check(e.Source); err != nil {
				add("%s: source: %v", id, err)
			}
		}
		if e.Signature != "" && l.LockfileVersion != 1 {
			if err := regref.Check(e.Signature); err != nil {
				add("%s: signature: %v", id, err)
			}
		}
		if !checksum.SHA256.Valid(e.SHA256) {
			add("%s: sha256 %q is not 64 lower-case hex digits", id, e.SHA256)
		}
		if e.SHA512 != "" && !checksum.SHA512.Valid(e.SHA512) {
			add("%s: sha512 %q is not 128 lower-case hex digits", id, e.SHA512)
		}
		for dep := range e.Dependencies {
			if _, err := libid.Parse(dep); err != nil {
				add("%s: dependencies: %v", id, err)
			}
		}
	}
	switch len(probs) {
	case 0:
		return nil
	case 1:
		return errors.New(probs[0])
	default:
		return fmt.Errorf("%d problems:\n  %s", len(probs), strings.Join(probs, "\n  "))
	}
}

// IDs returns the locked library ids, sorted.
func (l *Lock) IDs() []string {
	ids := make([]string, 0, len(l.Libraries))
	for id := range l.Libraries {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Get finds an entry by id, namespace or short name.
func (l *Lock) Get(name string) (Entry, bool) {
	ref, err := libid.Parse(name)
	if err != nil {
		return Entry{}, false
	}
	e, ok := l.Libraries[ref.ID]
	return e, ok
}

// Set records e under id (any name form is normalised to the id).
func (l *Lock) Set(name string, e Entry) error {
	ref, err := libid.Parse(name)
	if err != nil {
		return err
	}
	if ref.Core {
		return fmt.Errorf("%q is uDOS itself and cannot be locked as a library", name)
	}
	if l.Libraries == nil {
		l.Libraries = map[string]Entry{}
	}
	l.Libraries[ref.ID] = e
	return nil
}

// Remove deletes a library by any of its names; it reports whether it was there.
func (l *Lock) Remove(name string) bool {
	ref, err := libid.Parse(name)
	if err != nil {
		return false
	}
	_, ok := l.Libraries[ref.ID]
	delete(l.Libraries, ref.ID)
	return ok
}

// Marshal returns the lock as deterministic JSON (sorted keys, two-space
// indent, final newline).
func (l *Lock) Marshal() ([]byte, error) {
	cp := *l
	cp.LockfileVersion = Version
	cp.Libraries = make(map[string]Entry, len(l.Libraries))
	for id, e := range l.Libraries {
		if e.Dependencies == nil {
			e.Dependencies = map[string]string{}
		}
		cp.Libraries[id] = e
	}
	return canonjson.Marshal(&cp)
}

// Write validates the lock and writes it to path atomically (temporary
// file in the same folder, fsync, rename), creating the folder if needed.
func (l *Lock) Write(path string) error {
	if err := l.Validate(); err != nil {
		return fmt.Errorf("writing lockfile %q: %w", path, err)
	}
	data, err := l.Marshal()
	if err != nil {
		return fmt.Errorf("writing lockfile %q: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("writing lockfile: %w", err)
	}
	return atomicfile.Write(path, 0o644, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}
