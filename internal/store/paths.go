// Package store is udos-lib's state on disk under a uDOS root: the layout,
// the versioned store of extracted libraries, the symlinks that make one
// version live, the journal that makes an install one transaction (crash
// recovery rolls it forward or back), and the lock that lets one udos-lib
// at a time change the root. It never prints and never reads the
// environment.
//
// Layout under a uDOS root:
//
//	version.json                       uDOS itself (nested or flat shape)
//	library/lock.json                  what is installed (written last)
//	library/<name> -> .udos-lib/store/<id>/<version>   symlink, switched atomically
//	library/.udos-lib/lock             flock: one udos-lib at a time
//	library/.udos-lib/journal.json     an install in progress (recovery)
//	library/.udos-lib/store/<id>/<version>/      extracted, immutable
//	library/.udos-lib/store/<id>/<version>.json  its lock entry and manifest
//	library/.udos-lib/config/<id>.json           the library's config
//	library/.udos-lib/cache/                     catalogs, ETags, trust state, downloads
//	library/.udos-lib/config.json                client settings (registry)
package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/fredbook/udos-dist/internal/lockfile"
)

// Paths names the files of a uDOS root.
type Paths struct{ Root string }

func (p Paths) Library() string      { return filepath.Join(p.Root, "library") }
func (p Paths) LockFile() string     { return filepath.Join(p.Library(), "lock.json") }
func (p Paths) State() string        { return filepath.Join(p.Library(), ".udos-lib") }
func (p Paths) Mutex() string        { return filepath.Join(p.State(), "lock") }
func (p Paths) Journal() string      { return filepath.Join(p.State(), "journal.json") }
func (p Paths) Store() string        { return filepath.Join(p.State(), "store") }
func (p Paths) Cache() string        { return filepath.Join(p.State(), "cache") }
func (p Paths) Configs() string      { return filepath.Join(p.State(), "config") }
func (p Paths) ClientConfig() string { return filepath.Join(p.State(), "config.json") }

// StoreDir is where one version of a library is extracted.
func (p Paths) StoreDir(id, version string) string {
	return filepath.Join(p.Store(), id, version)
}

// StoreMeta is the sidecar describing StoreDir(id, version).
func (p Paths) StoreMeta(id, version string) string {
	return filepath.Join(p.Store(), id, version+".json")
}

// CacheDir is the cache folder of one registry, keyed by a digest of its
// location so that several registries can be used from one root.
func (p Paths) CacheDir(registry string) string {
	sum := sha256.Sum256([]byte(registry))
	return filepath.Join(p.Cache(), "registries", hex.EncodeToString(sum[:8]))
}

// ConfigFile is the library's JSON config, outside the versioned store so it
// survives updates and rollbacks.
func (p Paths) ConfigFile(id string) string { return filepath.Join(p.Configs(), id+".json") }

// InstallLink is the live path of a library: <root>/<install_path>.
func (p Paths) InstallLink(installPath string) (string, error) {
	if err := CheckInstallPath(installPath); err != nil {
		return "", err
	}
	return filepath.Join(p.Root, filepath.FromSlash(installPath)), nil
}

// CheckInstallPath refuses install paths that would escape the root or
// overwrite udos-lib's own files.
func CheckInstallPath(ip string) error {
	clean := filepath.ToSlash(filepath.Clean(filepath.FromSlash(ip)))
	switch {
	case ip == "" || clean == ".":
		return fmt.Errorf("install path is empty")
	case filepath.IsAbs(ip) || strings.HasPrefix(ip, "/"):
		return fmt.Errorf("install path %q is absolute", ip)
	case clean == ".." || strings.HasPrefix(clean, "../"):
		return fmt.Errorf("install path %q leaves the uDOS root", ip)
	case !strings.HasPrefix(clean, "library/") || clean == "library/lock.json" || strings.HasPrefix(clean, "library/.udos-lib"):
		return fmt.Errorf("install path %q is not a folder under library/", ip)
	}
	return nil
}

// ErrNotInstallation: the root has no version.json, so it is not a uDOS
// installation (a mistyped --root, or the current folder by accident).
var ErrNotInstallation = errors.New("not a uDOS installation")

// CheckRoot makes sure root is a uDOS installation before anything reads
// or writes there.
func CheckRoot(root string) error {
	if _, err := os.Stat(root); err != nil {
		return fmt.Errorf("uDOS root %s: %w (pass --root DIR or set UDOS_ROOT)", root, err)
	}
	if _, err := os.Stat(filepath.Join(root, "version.json")); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: %s has no version.json; use --root or UDOS_ROOT", ErrNotInstallation, root)
	} else if err != nil {
		return fmt.Errorf("uDOS root %s: %w", root, err)
	}
	return nil
}

// CoreVersion reads <root>/version.json in either shape: the repository's
// nested {"version": {"major":1,"minor":5,"patch":0}} or a variant's flat
// {"version": "1.4.6"}.
func CoreVersion(root string) (*semver.Version, error) {
	path := filepath.Join(root, "version.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s has no version.json; use --root or UDOS_ROOT", ErrNotInstallation, root)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	var doc struct {
		Version json.RawMessage `json:"version"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	var flat string
	if err := json.Unmarshal(doc.Version, &flat); err == nil {
		v, err := semver.StrictNewVersion(strings.TrimPrefix(flat, "v"))
		if err != nil {
			return nil, fmt.Errorf("reading %s: version %q: %w", path, flat, err)
		}
		return v, nil
	}
	var nested struct {
		Major *uint64 `json:"major"`
		Minor *uint64 `json:"minor"`
		Patch *uint64 `json:"patch"`
	}
	if err := json.Unmarshal(doc.Version, &nested); err != nil || nested.Major == nil || nested.Minor == nil {
		return nil, fmt.Errorf("reading %s: \"version\" is neither \"X.Y.Z\" nor {\"major\",\"minor\",\"patch\"}", path)
	}
	var patch uint64
	if nested.Patch != nil {
		patch = *nested.Patch
	}
	return semver.New(*nested.Major, *nested.Minor, patch, "", ""), nil
}

// ReadLock reads library/lock.json; a missing file is an empty lock.
func (p Paths) ReadLock() (*lockfile.Lock, error) {
	l, err := lockfile.Read(p.LockFile())
	if err != nil {
		return nil, fmt.Errorf("%w (restore it from a backup, or remove it and reinstall)", err)
	}
	return l, nil
}
