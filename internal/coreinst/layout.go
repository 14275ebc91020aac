// Package coreinst installs, upgrades and rolls back uDOS itself
// (`@uDOS/core`) from signed release manifests: `udos-lib core`.
//
// Layout of a prefix P (which is also the uDOS root every other udos-lib
// command works on):
//
//	P/versions/udos-<variant>-v<version>/   one installed version, unpacked, never changed
//	P/versions/<dir>/.udos-core/install.json   what it is and where it came from
//	P/current -> versions/<dir>            the active version: one symlink, switched atomically
//	P/version.json -> current/version.json what library commands read as @uDOS/core
//	P/library/ (lock.json, .udos-lib/)     the user's data, outside every version folder;
//	P/memory/  P/vault/                    each version folder links these names to them
//	P/.udos-core/lock                      flock: one writer at a time
//	P/.udos-core/journal.json              an install, upgrade or rollback in progress
//	P/.udos-core/staging/                  unpacking happens here, never in versions/
//	P/.udos-core/downloads/                resumable downloads (<file>.part) and verified files
//	P/.udos-core/manifests/                the verified manifests with their signatures
//	P/.udos-core/state.json                source, previous version
//
// Crash safety: nothing under versions/ is written in place. A new version
// is unpacked under staging/ and renamed into versions/ whole; the switch is
// a rename of a fresh symlink over P/current. The journal is written before
// the first change, so after a kill at any point the next command either
// finishes the transaction (the switch happened) or undoes it (it did not),
// and the previous version stays active and intact until the switch.
//
// The package never prints, never reads the environment and never exits:
// the command layer passes writers, HTTP fetchers, the keyring and clocks.
package coreinst

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// DataDirs are the user's folders at the top of the prefix. Each version
// folder has a symlink of the same name pointing at them, so uDOS, which
// resolves everything from its own location, finds the user's data, and
// no upgrade or rollback touches it.
var DataDirs = []string{"library", "memory", "vault"}

// Paths names the files of a prefix.
type Paths struct{ Prefix string }

func (p Paths) Versions() string    { return filepath.Join(p.Prefix, "versions") }
func (p Paths) Current() string     { return filepath.Join(p.Prefix, "current") }
func (p Paths) VersionFile() string { return filepath.Join(p.Prefix, "version.json") }
func (p Paths) State() string       { return filepath.Join(p.Prefix, ".udos-core") }
func (p Paths) Mutex() string       { return filepath.Join(p.State(), "lock") }
func (p Paths) Journal() string     { return filepath.Join(p.State(), "journal.json") }
func (p Paths) Staging() string     { return filepath.Join(p.State(), "staging") }
func (p Paths) Downloads() string   { return filepath.Join(p.State(), "downloads") }
func (p Paths) Manifests() string   { return filepath.Join(p.State(), "manifests") }
func (p Paths) StateFile() string   { return filepath.Join(p.State(), "state.json") }

// VersionDir is where an installed version lives.
func (p Paths) VersionDir(dir string) string { return filepath.Join(p.Versions(), dir) }

// InstallRecord is a version folder's own record.
func (p Paths) InstallRecord(dir string) string {
	return filepath.Join(p.VersionDir(dir), ".udos-core", "install.json")
}

// DirName is the folder of one installed version: the variant archive's
// own top folder, "udos-core-slim-v1.4.6".
func DirName(variant, version string) string {
	return "udos-" + variant + "-v" + strings.TrimPrefix(version, "v")
}

var dirRe = regexp.MustCompile(`^udos-([a-z0-9][a-z0-9-]*)-v([0-9]+\.[0-9]+\.[0-9]+(?:-[0-9A-Za-z.-]+)?)$`)

// ParseDirName splits a version folder's name.
func ParseDirName(dir string) (variant, version string, ok bool) {
	m := dirRe.FindStringSubmatch(dir)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

// Active returns the folder name P/current points at, "" when nothing is
// installed.
func (p Paths) Active() (string, error) {
	target, err := os.Readlink(p.Current())
	if os.IsNotExist(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading %s: %w (it must be the symlink udos-lib core made)", p.Current(), err)
	}
	dir := filepath.Base(target)
	if filepath.Dir(filepath.Clean(target)) != "versions" {
		return "", fmt.Errorf("%s points at %q, not into versions/", p.Current(), target)
	}
	return dir, nil
}
