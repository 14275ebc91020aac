package store

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/fredbook/udos-dist/internal/lockfile"
	"github.com/fredbook/udos-dist/internal/udospkg"
)

// Meta is the sidecar of an extracted version (StoreMeta): its lock entry
// and its manifest. It is written before the folder is renamed into place,
// so a folder without a sidecar is the leftover of a killed extraction.
type Meta struct {
	Entry    lockfile.Entry   `json:"entry"`
	Manifest udospkg.Manifest `json:"manifest"`
}

// HasVersion reports whether a complete extracted copy is in the store.
func (p Paths) HasVersion(id, version string) (*Meta, bool) {
	b, err := os.ReadFile(p.StoreMeta(id, version))
	if err != nil {
		return nil, false
	}
	if fi, err := os.Stat(p.StoreDir(id, version)); err != nil || !fi.IsDir() {
		return nil, false
	}
	var m Meta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, false
	}
	return &m, true
}

// StoredVersions lists the versions of id present in the store, newest first.
func (p Paths) StoredVersions(id string) []*semver.Version {
	ents, err := os.ReadDir(filepath.Join(p.Store(), id))
	if err != nil {
		return nil
	}
	var vs []*semver.Version
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if _, ok := p.HasVersion(id, e.Name()); !ok {
			continue
		}
		if v, err := semver.NewVersion(e.Name()); err == nil {
			vs = append(vs, v)
		}
	}
	sort.Sort(sort.Reverse(semver.Collection(vs)))
	return vs
}

// Staging makes a temporary folder in id's part of the store for an
// extraction; Recover removes those a killed process left behind.
func (p Paths) Staging(id, version string) (string, error) {
	dir := filepath.Join(p.Store(), id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("preparing the store: %w", err)
	}
	tmp, err := os.MkdirTemp(dir, ".tmp-"+version+"-")
	if err != nil {
		return "", fmt.Errorf("preparing the store: %w", err)
	}
	return tmp, nil
}

// Add moves the complete extraction at dir into the store as id@version,
// sidecar first: an old folder without sidecar is a killed extraction's
// leftover and is replaced.
func (p Paths) Add(id, version, dir string, meta *Meta) error {
	final := p.StoreDir(id, version)
	if err := os.RemoveAll(final); err != nil {
		return fmt.Errorf("replacing %s: %w", final, err)
	}
	mb, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", p.StoreMeta(id, version), err)
	}
	if err := writeFileRename(p.StoreMeta(id, version), append(mb, '\n')); err != nil {
		return err
	}
	if err := os.Rename(dir, final); err != nil {
		return fmt.Errorf("moving %s@%s into the store: %w", id, version, err)
	}
	return nil
}
