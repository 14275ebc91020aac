package library

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fredbook/udos-dist/internal/atomicfile"
	"github.com/fredbook/udos-dist/internal/jsonschema"
)

// Where a package may ship config defaults and a JSON schema. udospkg only
// admits payload under lib/, docs/ and examples/ (plus requirements.txt), so
// lib/ is where packages put them; the package root is accepted too for
// packages made by other tools.
var (
	configDefaultNames = []string{"lib/config.default.json", "config.default.json"}
	configSchemaNames  = []string{"lib/config.schema.json", "config.schema.json"}
)

// LibraryConfig is the state of one library's config.
type LibraryConfig struct {
	ID      string
	Path    string // the config file (may not exist yet)
	Current []byte // the file, or the defaults when it does not exist
	Exists  bool
	Default []byte // from the installed package; nil if none
	Schema  []byte // from the installed package; nil if none
}

// Config reads a library's config, falling back to the package defaults.
func (c *Client) Config(name string) (*LibraryConfig, error) {
	lock, err := c.Paths.ReadLock()
	if err != nil {
		return nil, err
	}
	id, e, err := c.FindInstalled(lock, name)
	if err != nil {
		return nil, err
	}
	dir := c.Paths.StoreDir(id, e.Version)
	lc := &LibraryConfig{ID: id, Path: c.Paths.ConfigFile(id)}
	if lc.Default, err = firstFile(dir, configDefaultNames); err != nil {
		return nil, err
	}
	if lc.Schema, err = firstFile(dir, configSchemaNames); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(lc.Path)
	switch {
	case err == nil:
		lc.Current, lc.Exists = b, true
	case errors.Is(err, os.ErrNotExist):
		lc.Current = lc.Default
		if lc.Current == nil {
			lc.Current = []byte("{}\n")
		}
	default:
		return nil, fmt.Errorf("reading %s: %w", lc.Path, err)
	}
	return lc, nil
}

func firstFile(dir string, names []string) ([]byte, error) {
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(n)))
		if err == nil {
			return b, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("reading %s: %w", n, err)
		}
	}
	return nil, nil
}

// Validate checks a candidate config: JSON, an object, and the package's
// schema when it ships one.
func (lc *LibraryConfig) Validate(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("not valid JSON: %w", err)
	}
	if _, ok := v.(map[string]any); !ok {
		return fmt.Errorf("a library config must be a JSON object")
	}
	if lc.Schema != nil {
		if err := jsonschema.Validate(lc.Schema, b); err != nil {
			return fmt.Errorf("does not match the library's config schema: %w", err)
		}
	}
	return nil
}

// Save validates b and writes it atomically; on error the old file stays.
func (lc *LibraryConfig) Save(b []byte) error {
	if err := lc.Validate(b); err != nil {
		return err
	}
	return atomicfile.WriteFile(lc.Path, b, 0o644)
}

// ClientConfig is library/.udos-lib/config.json (or the user config).
type ClientConfig struct {
	Registry string `json:"registry,omitempty"`
	Keyring  string `json:"keyring,omitempty"`
}

// ReadClientConfig reads a client config file; a missing one is empty.
func ReadClientConfig(path string) (ClientConfig, error) {
	var cc ClientConfig
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return cc, nil
	}
	if err != nil {
		return cc, fmt.Errorf("reading %s: %w", path, err)
	}
	if err := json.Unmarshal(b, &cc); err != nil {
		return cc, fmt.Errorf("reading %s: %w", path, err)
	}
	return cc, nil
}
