package library

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fredbook/udos-dist/internal/store"
)

// RegistryState is what the client remembers about one registry: the
// highest catalog serial it has accepted (a lower one is a rollback attack
// or a stale mirror) and the ETag of the cached copy.
type RegistryState struct {
	Registry string `json:"registry"`
	Serial   int64  `json:"serial"`
	ETag     string `json:"etag,omitempty"`
	// LastModified is the cached copy's Last-Modified, for servers that
	// send no ETag (If-Modified-Since).
	LastModified string `json:"last_modified,omitempty"`
	// Signed records whether the cached catalog was verified against a keyring.
	Signed bool `json:"signed"`
}

// readState returns the remembered state of registry (zero when unknown).
func readState(p store.Paths, registry string) (RegistryState, error) {
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

// writeState records the state of a registry.
func writeState(p store.Paths, s RegistryState) error {
	return store.WriteJSONAtomic(filepath.Join(p.CacheDir(s.Registry), "trust.json"), s)
}
