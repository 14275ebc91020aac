// Package coretest builds signed uDOS releases for the tests of udos-lib
// core: the real release builder (internal/variant/build) run on a copy of
// examples/udos stamped with each version, laid out as the flat source
// folder `core install --from DIR` reads.
package coretest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/fredbook/udos-dist/internal/assetname"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/relmanifest"
	"github.com/fredbook/udos-dist/internal/variant/build"
)

// Key is a signing key and its public half (armored).
type Key struct {
	Priv, Pub []byte
	Signer    *pgpsign.Signer
}

// NewKey makes a fresh test key.
func NewKey(name string) (*Key, error) {
	priv, pub, err := pgpsign.GenerateTestKey(name, "release@example.org", nil)
	if err != nil {
		return nil, err
	}
	s, err := pgpsign.LoadSigner(priv, nil)
	if err != nil {
		return nil, err
	}
	return &Key{Priv: priv, Pub: pub, Signer: s}, nil
}

// Fixture is a folder of signed releases the tests of one package share:
// built the first time Get is called, into a fresh temporary folder, signed
// by a fresh "uDOS Release" key, so that the release builder runs once per
// test binary; TestMain removes it once the tests ran (Remove, or
// Removing for a TestMain that hands m to testscript).
type Fixture struct {
	// Prefix begins the temporary folder's name.
	Prefix string
	// Build writes the releases into dir, signed by key.
	Build func(ctx context.Context, dir string, key *Key) error

	once sync.Once
	dir  string
	key  *Key
	err  error
}

// Get returns the releases' folder and key, building them on the first
// call; a failed build fails every call.
func (f *Fixture) Get() (string, *Key, error) {
	f.once.Do(func() {
		if f.dir, f.err = os.MkdirTemp("", f.Prefix); f.err != nil {
			return
		}
		if f.key, f.err = NewKey("uDOS Release"); f.err != nil {
			return
		}
		f.err = f.Build(context.Background(), f.dir, f.key)
	})
	return f.dir, f.key, f.err
}

// Remove deletes the folder, if Get made one.
func (f *Fixture) Remove() {
	if f.dir != "" {
		os.RemoveAll(f.dir)
	}
}

// Setup gives a script the fixture: a copy of the releases in releases/,
// and in keys/ the release key (release.pub.asc, release.asc) and a fresh
// other one (other.pub.asc, other.asc) that the release does not trust;
// $KEYRING is keys/release.pub.asc.
func (f *Fixture) Setup(env *testscript.Env) error {
	src, key, err := f.Get()
	if err != nil {
		return err
	}
	if err := os.CopyFS(filepath.Join(env.WorkDir, "releases"), os.DirFS(src)); err != nil {
		return err
	}
	other, err := NewKey("Mallory")
	if err != nil {
		return err
	}
	keys := filepath.Join(env.WorkDir, "keys")
	if err := os.MkdirAll(keys, 0o755); err != nil {
		return err
	}
	for name, b := range map[string][]byte{"release.pub.asc": key.Pub, "release.asc": key.Priv, "other.asc": other.Priv, "other.pub.asc": other.Pub} {
		if err := os.WriteFile(filepath.Join(keys, name), b, 0o600); err != nil {
			return err
		}
	}
	env.Setenv("KEYRING", filepath.Join(keys, "release.pub.asc"))
	return nil
}

// Removing is m, whose Run removes the fixture once the tests ran: what a
// TestMain passes to testscript.Main or RunMain, which exit the process
// themselves (code after them never runs).
func (f *Fixture) Removing(m interface{ Run() int }) interface{ Run() int } {
	return removing{m, f}
}

type removing struct {
	m interface{ Run() int }
	f *Fixture
}

func (r removing) Run() int {
	defer r.f.Remove()
	return r.m.Run()
}

// Examples is the examples/udos tree of this module.
func Examples() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "examples", "udos")
}

// Release builds the variants of version from examples/udos into the flat
// folder dir: v<version>-manifest.json and .asc, and per variant its archive
// and .asc. previous, when set, is the manifest's previous_version.
func Release(ctx context.Context, dir, version, previous string, key *Key, variants ...string) error {
	return ReleaseFrom(ctx, Examples(), dir, version, previous, key, variants...)
}

// ReleaseFrom is Release from another uDOS tree (a checkout of the real
// repository, for benchmarks).
func ReleaseFrom(ctx context.Context, tree, dir, version, previous string, key *Key, variants ...string) error {
	work, err := os.MkdirTemp("", "coretest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	src := filepath.Join(work, "src")
	if err := os.CopyFS(src, os.DirFS(tree)); err != nil {
		return fmt.Errorf("copying %s: %w", tree, err)
	}
	if err := stampVersion(src, version); err != nil {
		return err
	}
	out := filepath.Join(work, "out")
	epoch := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for _, v := range variants {
		res, err := build.Build(ctx, build.Config{
			Variant: v, Source: src, Version: version, Output: out,
			SourceDateEpoch: epoch, SigningKey: key.Priv, ToolVersion: "coretest",
		})
		if err != nil {
			return fmt.Errorf("building %s %s: %w", v, version, err)
		}
		for _, name := range []string{res.Archive.Name, assetname.Signature(res.Archive.Name)} {
			if err := copyFile(filepath.Join(out, name), filepath.Join(dir, name)); err != nil {
				return err
			}
		}
	}
	m, err := relmanifest.Read(filepath.Join(out, filepath.FromSlash(assetname.ReleaseManifestPath(version))))
	if err != nil {
		return err
	}
	if previous != "" {
		m.PreviousVersion = previous
	}
	return WriteManifest(dir, m, key)
}

// WriteManifest writes and signs m as dir/v<version>-manifest.json.
func WriteManifest(dir string, m *relmanifest.Manifest, key *Key) error {
	path := filepath.Join(dir, assetname.ReleaseManifest(m.Version))
	if err := m.Write(path); err != nil {
		return err
	}
	_, err := pgpsign.SignFile(key.Signer, path)
	return err
}

// stampVersion writes version into the tree's version.json (the
// repository's nested shape, as examples/udos has it).
func stampVersion(src, version string) error {
	parts := strings.SplitN(strings.TrimPrefix(version, "v"), ".", 3)
	if len(parts) != 3 {
		return fmt.Errorf("version %q: want X.Y.Z", version)
	}
	n := make([]int, 3)
	for i, p := range parts {
		var err error
		if n[i], err = strconv.Atoi(p); err != nil {
			return fmt.Errorf("version %q: %w", version, err)
		}
	}
	doc := fmt.Sprintf(`{"$schema": "core/version.schema.json", "component": "udos", "name": "uDOS", "version": {"major": %d, "minor": %d, "patch": %d}, "display": "v%s", "channel": "stable", "released": "2026-11-25"}`+"\n", n[0], n[1], n[2], version)
	return os.WriteFile(filepath.Join(src, "version.json"), []byte(doc), 0o644)
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}
