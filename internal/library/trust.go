package library

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// RegistryState is what the client remembers about one registry: the
// highest catalog serial it has accepted (a lower one is a rollback attack
// or a stale mirror) and the ETag of the cached copy.
type RegistryState struct {
	Registry string `json:"registry"`
	Serial   int64  `json:"serial"`
	ETag     string `json:"etag,omitempty"`
	// Signed records whether the cached catalog was verified against a keyring.
	Signed bool `json:"signed"`
}

// CacheDir is the cache folder of one registry, keyed by a digest of its
// location so that several registries can be used from one root.
func (p Paths) CacheDir(registry string) string {
	sum := sha256.Sum256([]byte(registry))
	return filepath.Join(p.Cache(), "registries", hex.EncodeToString(sum[:8]))
}

// ReadState returns the remembered state of registry (zero when unknown).
func (p Paths) ReadState(registry string) (RegistryState, error) {
	path := filepath.Join(p.CacheDir(registry), "trust.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return RegistryState{Registry: registry}, nil
	}
	if err != nil {
		return RegistryState{}, fmt.Errorf("reading trust state %s: %w", path, err)
	}
	var s RegistryState
	if err := json.Unmarshal(b, &s); err != nil {
		return RegistryState{}, fmt.Errorf("reading trust state %s: %w", path, err)
	}
	return s, nil
}

// WriteState records the state of a registry.
func (p Paths) WriteState(s RegistryState) error {
	return WriteJSONAtomic(filepath.Join(p.CacheDir(s.Registry), "trust.json"), s)
}
