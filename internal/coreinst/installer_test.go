package coreinst_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/fredbook/udos-dist/internal/fetch"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/checksum"
	"github.com/fredbook/udos-dist/internal/coreinst"
	"github.com/fredbook/udos-dist/internal/coreinst/coretest"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/relmanifest"
	"github.com/fredbook/udos-dist/internal/store"
	"github.com/fredbook/udos-dist/internal/testenv"
	"github.com/fredbook/udos-dist/internal/treetest"
)

// fixture is v1.4.3 and v1.4.6 of core-slim, wizard-full and dev-complete,
// built with the real release builder.
var fixture = &coretest.Fixture{Prefix: "coreinst-releases-", Build: func(ctx context.Context, dir string, key *coretest.Key) error {
	if err := coretest.Release(ctx, dir, "1.4.3", "", key, "core-slim", "wizard-full", "dev-complete"); err != nil {
		return err
	}
	return coretest.Release(ctx, dir, "1.4.6", "1.4.3", key, "core-slim", "wizard-full", "dev-complete")
}}

// releases is the fixture's folder and key; a failed build fails the test.
func releases(t *testing.T) (string, *coretest.Key) {
	t.Helper()
	dir, key, err := fixture.Get()
	if err != nil {
		t.Fatal(err)
	}
	return dir, key
}

func TestMain(m *testing.M) {
	code := m.Run()
	fixture.Remove()
	os.Exit(code)
}

// copySource gives a test its own copy of the release folder to damage.
func copySource(t *testing.T) string {
	t.Helper()
	src, _ := releases(t)
	dst := filepath.Join(t.TempDir(), "src")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

func keyring(t *testing.T, pub []byte) *pgpsign.Keyring {
	t.Helper()
	kr, err := pgpsign.LoadKeyring(pub)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func newInstaller(t *testing.T, prefix string, kr *pgpsign.Keyring, f *fetch.Fetcher) *coreinst.Installer {
	t.Helper()
	if f == nil {
		f = fetch.New(nil)
		f.Backoff.Base = time.Millisecond
	}
	return &coreinst.Installer{
		Paths:       coreinst.Paths{Prefix: prefix},
		Keyring:     kr,
		Fetcher:     f,
		OpenSource:  func(s string) (coreinst.Source, error) { return coreinst.ParseSource(s, f, nil) },
		LockTimeout: 10 * time.Second,
	}
}

// run runs one operation between Begin and End, as the command layer does.
func run[T any](t *testing.T, in *coreinst.Installer, op func() (T, error)) (T, error) {
	t.Helper()
	if _, err := in.Begin(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer in.End()
	return op()
}

func install(t *testing.T, in *coreinst.Installer, variant, version, src string) (*coreinst.Result, error) {
	return run(t, in, func() (*coreinst.Result, error) {
		return in.Install(context.Background(), coreinst.InstallOptions{Variant: variant, Version: version, Source: src})
	})
}

func upgrade(t *testing.T, in *coreinst.Installer, o coreinst.UpgradeOptions) (*coreinst.Result, error) {
	return run(t, in, func() (*coreinst.Result, error) { return in.Upgrade(context.Background(), o) })
}

func rollback(t *testing.T, in *coreinst.Installer, to string) (*coreinst.Result, error) {
	return run(t, in, func() (*coreinst.Result, error) {
		return in.Rollback(context.Background(), coreinst.RollbackOptions{To: to})
	})
}

func mustOK[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// coreVersion is what every library command sees as @uDOS/core.
func coreVersion(t *testing.T, prefix string) string {
	t.Helper()
	v, err := store.CoreVersion(prefix)
	if err != nil {
		t.Fatal(err)
	}
	return v.String()
}

// userFacing leaves out udos-lib core's own cache and lock files.
func userFacing(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if k == "." || k == ".udos-core" || strings.HasPrefix(k, ".udos-core/") {
			continue
		}
		out[k] = v
	}
	return out
}

// entryPoint runs the installed uDOS's command line from the active
// version folder. (It calls core.main directly: the variants' bin/uDOS.py
// is the root launcher moved one folder down, which cannot import core.)
func entryPoint(t *testing.T, prefix, want string) {
	t.Helper()
	py := testenv.Tool(t, "python3")
	cmd := exec.Command(py, "-c", "import sys; from core.main import main; sys.exit(main(['--version']))")
	cmd.Dir = filepath.Join(prefix, "current")
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != want {
		t.Fatalf("uDOS --version: %q, %v; want %q", out, err, want)
	}
}

func writeUserData(t *testing.T, prefix string) {
	t.Helper()
	for name, body := range map[string]string{
		"memory/notes.md":               "my notes\n",
		"vault/secret.txt":              "hunter2\n",
		"library/mine/data.json":        "{}\n",
		"library/.udos-lib/config.json": `{"registry": "https://example.org/r"}` + "\n",
	} {
		p := filepath.Join(prefix, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func userData(t *testing.T, prefix string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, d := range coreinst.DataDirs {
		for k, v := range treetest.Snapshot(t, filepath.Join(prefix, d)) {
			out[d+"/"+k] = v
		}
	}
	return out
}

// TestInstallUpgradeRollback: each tar.gz variant installed at 1.4.3,
// upgraded to 1.4.6 with the user's data kept, rolled back offline.
func TestInstallUpgradeRollback(t *testing.T) {
	t.Parallel()
	for _, variant := range []string{"core-slim", "wizard-full", "dev-complete"} {
		t.Run(variant, func(t *testing.T) {
			t.Parallel()
			testInstallUpgradeRollback(t, variant)
		})
	}
}

func testInstallUpgradeRollback(t *testing.T, variant string) {
	_, key := releases(t)
	src := copySource(t)
	prefix := filepath.Join(t.TempDir(), "udos")
	in := newInstaller(t, prefix, keyring(t, key.Pub), nil)

	res := mustOK[*coreinst.Result](t)(install(t, in, variant, "1.4.3", src))
	if res.Action != "installed" || res.To != "1.4.3" || res.Signer != key.Signer.Fingerprint() {
		t.Fatalf("install: %+v", res)
	}
	if got := coreVersion(t, prefix); got != "1.4.3" {
		t.Fatalf("version.json says %s", got)
	}
	// The entry point is there, and the version folder links the user's data.
	if _, err := os.Stat(filepath.Join(prefix, "current", "bin", "uDOS.py")); err != nil {
		t.Fatal(err)
	}
	if l, err := os.Readlink(filepath.Join(prefix, "current", "library")); err != nil || l != "../../library" {
		t.Fatalf("current/library -> %q, %v", l, err)
	}
	// The variant's own library folder seeded the user's on first install.
	if _, err := os.Stat(filepath.Join(prefix, "library")); err != nil {
		t.Fatal(err)
	}
	writeUserData(t, prefix)
	data := userData(t, prefix)
	v143 := treetest.Snapshot(t, filepath.Join(prefix, "versions", "udos-"+variant+"-v1.4.3"))

	// Upgrade to the newest release of the recorded source.
	res = mustOK[*coreinst.Result](t)(upgrade(t, in, coreinst.UpgradeOptions{}))
	if res.Action != "upgraded" || res.From != "1.4.3" || res.To != "1.4.6" {
		t.Fatalf("upgrade: %+v", res)
	}
	if len(res.Notes) == 0 || res.Notes[0] != "upgrades from 1.4.3" {
		t.Errorf("upgrade notes: %q", res.Notes)
	}
	if got := coreVersion(t, prefix); got != "1.4.6" {
		t.Fatalf("after upgrade version.json says %s", got)
	}
	treetest.Same(t, "user data across the upgrade", data, userData(t, prefix))
	entryPoint(t, prefix, "uDOS 1.4.6")
	treetest.Same(t, "the kept 1.4.3 folder", v143, treetest.Snapshot(t, filepath.Join(prefix, "versions", "udos-"+variant+"-v1.4.3")))
	if b, err := os.ReadFile(filepath.Join(prefix, "current", "memory", "notes.md")); err != nil || string(b) != "my notes\n" {
		t.Fatalf("the new version does not see the user's memory: %q %v", b, err)
	}

	// Nothing newer: up to date.
	if res := mustOK[*coreinst.Result](t)(upgrade(t, in, coreinst.UpgradeOptions{})); res.Action != "up-to-date" {
		t.Fatalf("second upgrade: %+v", res)
	}

	// Rollback works offline: the source is gone.
	if err := os.Rename(src, src+".gone"); err != nil {
		t.Fatal(err)
	}
	offline := newInstaller(t, prefix, keyring(t, key.Pub), nil)
	res = mustOK[*coreinst.Result](t)(rollback(t, offline, ""))
	if res.Action != "rolled-back" || res.To != "1.4.3" {
		t.Fatalf("rollback: %+v", res)
	}
	if got := coreVersion(t, prefix); got != "1.4.3" {
		t.Fatalf("after rollback version.json says %s", got)
	}
	treetest.Same(t, "user data across the rollback", data, userData(t, prefix))
	os.Rename(src+".gone", src)

	st := mustOK[*coreinst.Status](t)(run(t, in, func() (*coreinst.Status, error) { return in.Status(context.Background(), true, "") }))
	if !st.Installed || st.Version != "1.4.3" || st.Variant != variant || len(st.Kept) != 2 || fmt.Sprint(st.Newer) != "[1.4.6]" {
		t.Fatalf("status: %+v", st)
	}
	// Back up to the kept 1.4.6: no download needed.
	res = mustOK[*coreinst.Result](t)(rollback(t, offline, "1.4.6"))
	if got := coreVersion(t, prefix); got != "1.4.6" || res.To != "1.4.6" {
		t.Fatalf("rollback --to 1.4.6: %s %+v", got, res)
	}
	if _, err := rollback(t, offline, "1.4.4"); err == nil || !strings.Contains(err.Error(), "not kept") {
		t.Fatalf("rollback to a version never installed: %v", err)
	}
}

// tamper applies f to a copy of the release folder, installs 1.4.3 from
// the original, then tries to upgrade from the damaged copy: refused with
// the prefix exactly as before.
func TestRefusals(t *testing.T) {
	t.Parallel()
	_, key := releases(t)
	other, err := coretest.NewKey("Mallory")
	if err != nil {
		t.Fatal(err)
	}
	archive := "udos-core-slim-v1.4.6.tar.gz"
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
		want   string
	}{
		{"tampered archive", func(t *testing.T, dir string) {
			flipByte(t, filepath.Join(dir, archive), 1000)
		}, "sha256"},
		{"archive's inline signature by another key", func(t *testing.T, dir string) {
			sig := signBy(t, other, filepath.Join(dir, archive))
			editManifest(t, dir, "1.4.6", key, func(m *relmanifest.Manifest) {
				v := m.Variants["core-slim"]
				v.GPGSignature = string(sig)
				m.Variants["core-slim"] = v
			})
		}, "not in the trusted keyring"},
		{"archive's .asc by another key, no inline signature", func(t *testing.T, dir string) {
			if _, err := pgpsign.SignFile(other.Signer, filepath.Join(dir, archive)); err != nil {
				t.Fatal(err)
			}
			editManifest(t, dir, "1.4.6", key, func(m *relmanifest.Manifest) {
				v := m.Variants["core-slim"]
				v.GPGSignature = ""
				m.Variants["core-slim"] = v
			})
		}, "not in the trusted keyring"},
		{"manifest signed by another key", func(t *testing.T, dir string) {
			if _, err := pgpsign.SignFile(other.Signer, filepath.Join(dir, "v1.4.6-manifest.json")); err != nil {
				t.Fatal(err)
			}
		}, "not in the trusted keyring"},
		{"manifest changed after signing", func(t *testing.T, dir string) {
			editManifest(t, dir, "1.4.6", nil, func(m *relmanifest.Manifest) { m.ReleaseDate = "2027-01-01" })
		}, "signature does not match"},
		{"digest changed with the archive, manifest re-signed by another key", func(t *testing.T, dir string) {
			flipByte(t, filepath.Join(dir, archive), 1000)
			editManifest(t, dir, "1.4.6", other, func(m *relmanifest.Manifest) {})
		}, "not in the trusted keyring"},
		{"older manifest replayed as newer", func(t *testing.T, dir string) {
			for _, ext := range []string{"", ".asc"} {
				b, err := os.ReadFile(filepath.Join(dir, "v1.4.3-manifest.json"+ext))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "v1.4.6-manifest.json"+ext), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}, "replayed"},
		{"expired manifest", func(t *testing.T, dir string) {
			editManifest(t, dir, "1.4.6", key, func(m *relmanifest.Manifest) {
				m.Extra = map[string]json.RawMessage{"expires": json.RawMessage(`"2020-01-01T00:00:00Z"`)}
			})
		}, "expired"},
		{"unsigned manifest", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "v1.4.6-manifest.json.asc"))
		}, "must be signed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			good, _ := releases(t)
			bad := copySource(t)
			tc.damage(t, bad)
			prefix := filepath.Join(t.TempDir(), "udos")
			in := newInstaller(t, prefix, keyring(t, key.Pub), nil)
			mustOK[*coreinst.Result](t)(install(t, in, "core-slim", "1.4.3", good))
			writeUserData(t, prefix)
			before := userFacing(treetest.Snapshot(t, prefix))
			_, err := upgrade(t, in, coreinst.UpgradeOptions{Source: bad})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("upgrade from the damaged source: %v, want an error with %q", err, tc.want)
			}
			treetest.Same(t, "prefix after a refused upgrade", before, userFacing(treetest.Snapshot(t, prefix)))
			// A fresh install from the damaged source leaves nothing either.
			fresh := filepath.Join(t.TempDir(), "fresh")
			in2 := newInstaller(t, fresh, keyring(t, key.Pub), nil)
			if _, err := install(t, in2, "core-slim", "1.4.6", bad); err == nil {
				t.Fatal("install from the damaged source succeeded")
			}
			if got := userFacing(treetest.Snapshot(t, fresh)); len(got) != 0 {
				t.Fatalf("a refused install left %v", got)
			}
		})
	}
}

func signBy(t *testing.T, k *coretest.Key, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sig, err := k.Signer.SignDetached(f)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// editManifest changes a manifest; with key it is signed again.
func editManifest(t *testing.T, dir, version string, key *coretest.Key, edit func(*relmanifest.Manifest)) {
	t.Helper()
	path := filepath.Join(dir, "v"+version+"-manifest.json")
	m, err := relmanifest.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	edit(m)
	if key == nil {
		if err := m.Write(path); err != nil {
			t.Fatal(err)
		}
		return
	}
	if a, ok := m.Variants["core-slim"]; ok {
		if d, err := fileDigests(filepath.Join(dir, a.Filename)); err == nil {
			a.SHA256, a.SHA512 = d[0], d[1]
			m.Variants["core-slim"] = a
		}
	}
	if err := coretest.WriteManifest(dir, m, key); err != nil {
		t.Fatal(err)
	}
}

func TestBlockedUpgrade(t *testing.T) {
	t.Parallel()
	src, key := releases(t)
	prefix := filepath.Join(t.TempDir(), "udos")
	in := newInstaller(t, prefix, keyring(t, key.Pub), nil)
	mustOK[*coreinst.Result](t)(install(t, in, "core-slim", "1.4.3", src))
	lock := `{"lockfile_version": 1, "core_version": "1.4.3", "libraries": {
  "lib-old-grid": {"namespace": "@uDOS/old-grid", "version": "1.0.0", "install_path": "library/old-grid",
    "source": "old-grid-v1.0.0.udos-package", "sha256": "` + strings.Repeat("a", 64) + `",
    "dependencies": {"@uDOS/core": ">=1.4.0 <1.4.5"}, "direct": true},
  "lib-fine": {"namespace": "@uDOS/fine", "version": "2.0.0", "install_path": "library/fine",
    "source": "fine-v2.0.0.udos-package", "sha256": "` + strings.Repeat("b", 64) + `",
    "dependencies": {"@uDOS/core": "^1.4.0"}, "direct": true}}}`
	if err := os.WriteFile(filepath.Join(prefix, "library", "lock.json"), []byte(lock), 0o644); err != nil {
		t.Fatal(err)
	}
	before := userFacing(treetest.Snapshot(t, prefix))
	res, err := upgrade(t, in, coreinst.UpgradeOptions{})
	if !errors.Is(err, coreinst.ErrBlocked) || len(res.Blocked) != 1 || res.Blocked[0].String() != "@uDOS/old-grid@1.0.0 needs @uDOS/core >=1.4.0 <1.4.5" {
		t.Fatalf("upgrade: %v %+v", err, res)
	}
	treetest.Same(t, "prefix after a blocked upgrade", before, userFacing(treetest.Snapshot(t, prefix)))
	// --check reports without changing anything.
	res = mustOK[*coreinst.Result](t)(upgrade(t, in, coreinst.UpgradeOptions{Check: true}))
	if res.Action != "available" || res.To != "1.4.6" || len(res.Blocked) != 1 {
		t.Fatalf("--check: %+v", res)
	}
	res = mustOK[*coreinst.Result](t)(upgrade(t, in, coreinst.UpgradeOptions{Force: true}))
	if res.To != "1.4.6" || len(res.Warnings) != 1 {
		t.Fatalf("--force: %+v", res)
	}
}

// TestResumedDownload serves the releases over HTTP and drops the first
// download of the archive halfway: the command fails, the next run resumes
// with a Range request and the install completes.
func TestResumedDownload(t *testing.T) {
	t.Parallel()
	src, key := releases(t)
	var mu sync.Mutex
	var ranges []string
	dropped := false
	fs := http.FileServer(http.Dir(src))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".tar.gz") {
			mu.Lock()
			ranges = append(ranges, r.Header.Get("Range"))
			drop := !dropped
			dropped = true
			mu.Unlock()
			if drop {
				b, _ := os.ReadFile(filepath.Join(src, filepath.Base(r.URL.Path)))
				w.Header().Set("Content-Length", fmt.Sprint(len(b)))
				w.WriteHeader(200)
				w.Write(b[:len(b)/2])
				w.(http.Flusher).Flush()
				conn, _, _ := w.(http.Hijacker).Hijack()
				conn.Close()
				return
			}
		}
		fs.ServeHTTP(w, r)
	}))
	defer srv.Close()
	f := fetch.New(srv.Client())
	f.Attempts = 1
	prefix := filepath.Join(t.TempDir(), "udos")
	in := newInstaller(t, prefix, keyring(t, key.Pub), f)
	if _, err := install(t, in, "core-slim", "1.4.6", srv.URL); err == nil || !strings.Contains(err.Error(), "run the command again to resume") {
		t.Fatalf("first install: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(prefix, "current")); err == nil {
		t.Fatal("a failed download switched the prefix")
	}
	res := mustOK[*coreinst.Result](t)(install(t, in, "core-slim", "", srv.URL))
	if res.To != "1.4.6" {
		t.Fatalf("the newest release from the index page: %+v", res)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ranges) != 2 || ranges[0] != "" || !strings.HasPrefix(ranges[1], "bytes=") || ranges[1] == "bytes=0-" {
		t.Fatalf("archive requests' Range headers: %q", ranges)
	}
}

func fileDigests(path string) ([2]string, error) {
	d, err := checksum.File(path)
	return [2]string{d.SHA256, d.SHA512}, err
}
