package core_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/fredbook/udos-dist/internal/checksum"
	"github.com/fredbook/udos-dist/internal/cmd/root"
	"github.com/fredbook/udos-dist/internal/coreinst/coretest"
	"github.com/fredbook/udos-dist/internal/ghreplica"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/registry"
	"github.com/fredbook/udos-dist/internal/scripttest"
	"github.com/fredbook/udos-dist/internal/store"
	"github.com/fredbook/udos-dist/internal/treetest"
	"github.com/fredbook/udos-dist/internal/udospkg"
)

// udosLib is the udos-lib main, with the test-only pause hook: when
// UDOS_CORE_TEST_PAUSE names a point, the process says so on stderr and
// waits there to be killed. The shipped binary has no such hook.
func udosLib() int {
	var hook store.Hook
	if point := os.Getenv("UDOS_CORE_TEST_PAUSE"); point != "" {
		hook = func(p string) {
			if p == point {
				fmt.Fprintf(os.Stderr, "PAUSED at %s\n", p)
				time.Sleep(time.Minute)
				os.Exit(3) // never killed: fail loudly
			}
		}
	}
	return root.Main(os.Args[1:], "0", hook)
}

func TestMain(m *testing.M) {
	if os.Getenv("UDOS_CORE_TEST_MAIN") == "1" {
		os.Exit(udosLib())
	}
	os.Exit(testscript.RunMain(fixture.Removing(m), map[string]func() int{"udos-lib": udosLib}))
}

// fixture is core-slim 1.4.3 and 1.4.6, built with the real release
// builder.
var fixture = &coretest.Fixture{Prefix: "core-releases-", Build: func(ctx context.Context, dir string, key *coretest.Key) error {
	if err := coretest.Release(ctx, dir, "1.4.3", "", key, "core-slim"); err != nil {
		return err
	}
	return coretest.Release(ctx, dir, "1.4.6", "1.4.3", key, "core-slim")
}}

func TestScripts(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			if err := fixture.Setup(env); err != nil {
				return err
			}
			return scripttest.ClientEnv(env, "../../../examples/libraries", "5s")
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"sign":       scripttest.Sign,
			"corrupt":    scripttest.Corrupt,
			"httpserve":  scripttest.HTTPServe,
			"ghserve":    cmdGHServe,
			"sums":       cmdSums,
			"mkregistry": cmdMkregistry,
		},
	})
}

// mkregistry OUT LIBDIR...: pack each library folder, sign it and the
// catalog with keys/release.asc, assemble (again) into OUT.
func cmdMkregistry(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: mkregistry OUT LIBDIR...")
	}
	priv, err := os.ReadFile(ts.MkAbs("keys/release.asc"))
	ts.Check(err)
	pub, err := os.ReadFile(ts.MkAbs("keys/release.pub.asc"))
	ts.Check(err)
	var dirs []string
	for _, d := range args[1:] {
		dirs = append(dirs, ts.MkAbs(d))
	}
	ts.Check(mkRegistry(ts.MkAbs(args[0]), priv, pub, dirs...))
}

// mkRegistry packs and signs each library folder and assembles (again)
// the signed registry OUT.
func mkRegistry(out string, priv, pub []byte, dirs ...string) error {
	signer, err := pgpsign.LoadSigner(priv, nil)
	if err != nil {
		return err
	}
	kr, err := pgpsign.LoadKeyring(pub)
	if err != nil {
		return err
	}
	pkgs := out + ".packages"
	if err := os.MkdirAll(pkgs, 0o755); err != nil {
		return err
	}
	for _, dir := range dirs {
		res, err := udospkg.PackFile(dir, pkgs, udospkg.PackOptions{MTime: time.Unix(1764000000, 0)})
		if err != nil {
			return err
		}
		if _, err := pgpsign.SignFile(signer, filepath.Join(pkgs, res.FileName)); err != nil {
			return err
		}
	}
	_, err = registry.Assemble(context.Background(), &registry.DirSource{Dir: pkgs, Keyring: kr, RequireSignatures: true},
		registry.Options{OutDir: out, Signer: signer, PublisherKeys: pub})
	return err
}

// library writes a library folder whose versions need @uDOS/core core.
func library(t *testing.T, dir, name, version, core string) string {
	t.Helper()
	d := filepath.Join(dir, name+"-"+version)
	m := fmt.Sprintf(`{"id": "lib-%s", "name": %q, "version": %q, "description": "d", "author": "t", "license": "MIT", "entry_point": "lib/x.py", "dependencies": {"@uDOS/core": %q}}`, name, name, version, core)
	if err := os.MkdirAll(filepath.Join(d, "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "manifest.json"), []byte(m), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "lib", "x.py"), []byte("V = "+strconvQuote(version)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return d
}

func strconvQuote(s string) string { return fmt.Sprintf("%q", s) }

// TestKillUpgradeWithLibraries kills an upgrade that also moves a library:
// before the library commit the whole upgrade is undone (library and core
// as they were); after it, recovery finishes the switch, so the library
// never runs on a core its constraint excludes.
func TestKillUpgradeWithLibraries(t *testing.T) {
	t.Parallel()
	src, key, kr := fixtureKeyring(t)
	for _, tc := range []struct {
		point      string
		core, fixm string
	}{
		{"journaled", "1.4.3", "1.0.0"},
		{"unpacked", "1.4.3", "1.0.0"},
		{"libraries", "1.4.6", "1.1.0"},
		{"switched", "1.4.6", "1.1.0"},
	} {
		t.Run(tc.point, func(t *testing.T) {
			t.Parallel()
			work := t.TempDir()
			reg := filepath.Join(work, "reg")
			old := library(t, work, "fixme", "1.0.0", ">=1.4.0 <1.4.5")
			if err := mkRegistry(reg, key.Priv, key.Pub, old); err != nil {
				t.Fatal(err)
			}
			prefix := filepath.Join(work, "udos")
			runOK(t, "--keyring", kr, "core", "install", "core-slim@1.4.3", "--prefix", prefix, "--from", src)
			runOK(t, "--keyring", kr, "--root", prefix, "--registry", reg, "install", "fixme")
			if err := mkRegistry(reg, key.Priv, key.Pub, old, library(t, work, "fixme", "1.1.0", ">=1.4.0")); err != nil {
				t.Fatal(err)
			}
			killAt(t, tc.point, "--keyring", kr, "--root", prefix, "--registry", reg, "core", "upgrade")
			if st := readStatus(t, prefix, kr); st.Version != tc.core {
				t.Fatalf("killed at %s: core %s, want %s", tc.point, st.Version, tc.core)
			}
			b, err := os.ReadFile(filepath.Join(prefix, "library", "fixme", "lib", "x.py"))
			if err != nil || string(b) != "V = \""+tc.fixm+"\"\n" {
				t.Fatalf("killed at %s: fixme is %q (%v), want %s", tc.point, b, err, tc.fixm)
			}
			runOK(t, "--keyring", kr, "--root", prefix, "--registry", reg, "core", "upgrade")
			if st := readStatus(t, prefix, kr); st.Version != "1.4.6" {
				t.Fatalf("after the second upgrade: %+v", st)
			}
		})
	}
}

// sums DIR FILE...: SHA256SUMS and SHA512SUMS in DIR listing the FILEs.
func cmdSums(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: sums DIR FILE...")
	}
	var files []string
	for _, f := range args[1:] {
		files = append(files, ts.MkAbs(f))
	}
	_, err := checksum.MergeFiles(ts.MkAbs(args[0]), files...)
	ts.Check(err)
}

// ghserve DIR OWNER/NAME: a GitHub replica with one published release per
// manifest in DIR (tag v<version>, every file of that version as an
// asset); sets GITHUB_API_URL.
func cmdGHServe(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: ghserve DIR OWNER/NAME")
	}
	owner, name, _ := strings.Cut(args[1], "/")
	rep := ghreplica.New(ghreplica.Config{})
	rep.AddOwner(owner, true)
	ts.Check(rep.AddRepo(owner, name, ghreplica.RepoSpec{}))
	dir := ts.MkAbs(args[0])
	ents, err := os.ReadDir(dir)
	ts.Check(err)
	byVersion := map[string][]ghreplica.AssetSpec{}
	for _, e := range ents {
		n := e.Name()
		for _, v := range []string{"1.4.3", "1.4.6"} {
			if strings.Contains(n, "v"+v) {
				b, err := os.ReadFile(filepath.Join(dir, n))
				ts.Check(err)
				byVersion[v] = append(byVersion[v], ghreplica.AssetSpec{Name: n, Data: b})
			}
		}
	}
	for _, v := range []string{"1.4.3", "1.4.6"} {
		_, err := rep.AddRelease(owner, name, ghreplica.ReleaseSpec{Tag: "v" + v, Name: "uDOS " + v, Assets: byVersion[v]})
		ts.Check(err)
	}
	srv := httptest.NewServer(rep)
	ts.Defer(srv.Close)
	ts.Setenv("GITHUB_API_URL", srv.URL)
}

// command runs the test binary as udos-lib.
func command(env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "UDOS_CORE_TEST_MAIN=1", "UDOS_LIB_RETRY_BACKOFF=10ms")
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

func runOK(t *testing.T, args ...string) string {
	t.Helper()
	cmd := command(nil, args...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("udos-lib %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String() + errOut.String()
}

// killAt runs udos-lib paused at point and kills it with SIGKILL there.
func killAt(t *testing.T, point string, args ...string) {
	t.Helper()
	cmd := command([]string{"UDOS_CORE_TEST_PAUSE=" + point}, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	var seen []string
	paused := false
	for sc.Scan() {
		seen = append(seen, sc.Text())
		if sc.Text() == "PAUSED at "+point {
			paused = true
			break
		}
	}
	if !paused {
		cmd.Wait()
		t.Fatalf("udos-lib %s never reached %s:\n%s", strings.Join(args, " "), point, strings.Join(seen, "\n"))
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
}

type status struct {
	Installed bool
	Version   string
	Kept      []struct{ Version string }
}

func readStatus(t *testing.T, prefix, keyring string) status {
	t.Helper()
	cmd := command(nil, "--keyring", keyring, "--json", "core", "status", "--offline", "--prefix", prefix)
	var errOut strings.Builder
	cmd.Stderr = &errOut
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("core status: %v\n%s", err, errOut.String())
	}
	var st status
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// fixtureKeyring is the fixture with its public key in a keyring file.
func fixtureKeyring(t *testing.T) (src string, key *coretest.Key, keyring string) {
	t.Helper()
	src, key, err := fixture.Get()
	if err != nil {
		t.Fatal(err)
	}
	keyring = filepath.Join(t.TempDir(), "release.pub.asc")
	if err := os.WriteFile(keyring, key.Pub, 0o644); err != nil {
		t.Fatal(err)
	}
	return src, key, keyring
}

// The named points of a transaction, in order; the switch is between
// "unpacked" and "switched".
var points = []string{"download-half", "verified", "journaled", "extracted", "unpacked", "switched", "finished"}

func switched(point string) bool { return point == "switched" || point == "finished" }

// atEveryPoint runs fn in a parallel subtest for each point, with the
// fixture, its keyring and a prefix of its own.
func atEveryPoint(t *testing.T, fn func(t *testing.T, point, src, kr, prefix string)) {
	t.Parallel()
	src, _, kr := fixtureKeyring(t)
	for _, point := range points {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			fn(t, point, src, kr, filepath.Join(t.TempDir(), "udos"))
		})
	}
}

// TestKillInstall kills a first install at every point: afterwards the
// prefix holds no version (before the switch) or the complete new one, the
// next command says which, and a retry installs.
func TestKillInstall(t *testing.T) {
	atEveryPoint(t, func(t *testing.T, point, src, kr, prefix string) {
		args := []string{"--keyring", kr, "core", "install", "core-slim@1.4.3", "--prefix", prefix, "--from", src}
		killAt(t, point, args...)
		st := readStatus(t, prefix, kr)
		if switched(point) != st.Installed {
			t.Fatalf("killed at %s: installed = %v", point, st.Installed)
		}
		if !switched(point) {
			if ents, _ := os.ReadDir(filepath.Join(prefix, "versions")); len(ents) != 0 {
				t.Fatalf("killed at %s and recovered: versions/ holds %v", point, ents)
			}
		}
		out := runOK(t, args...)
		if switched(point) && !strings.Contains(out, "already active") || !switched(point) && !strings.Contains(out, "installed core-slim 1.4.3") {
			t.Fatalf("install after the kill at %s: %s", point, out)
		}
		if _, err := os.Stat(filepath.Join(prefix, ".udos-core", "journal.json")); err == nil {
			t.Fatal("a journal is left")
		}
	})
}

// TestKillUpgrade kills an upgrade 1.4.3 -> 1.4.6 at every point: until the
// switch 1.4.3 stays active and byte-for-byte intact, the user's data is
// never touched, and the next command finishes or undoes the upgrade.
func TestKillUpgrade(t *testing.T) {
	atEveryPoint(t, func(t *testing.T, point, src, kr, prefix string) {
		runOK(t, "--keyring", kr, "core", "install", "core-slim@1.4.3", "--prefix", prefix, "--from", src)
		for _, f := range []string{"memory/notes.md", "vault/key.txt", "library/mine.txt"} {
			p := filepath.Join(prefix, f)
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte("user data "+f), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		old := treetest.Snapshot(t, filepath.Join(prefix, "versions", "udos-core-slim-v1.4.3"))
		data := map[string]map[string]string{}
		for _, d := range []string{"memory", "vault", "library"} {
			data[d] = treetest.Snapshot(t, filepath.Join(prefix, d))
		}
		args := []string{"--keyring", kr, "--root", prefix, "core", "upgrade"}
		killAt(t, point, args...)
		want := "1.4.3"
		if switched(point) {
			want = "1.4.6"
		}
		st := readStatus(t, prefix, kr)
		if st.Version != want {
			t.Fatalf("killed at %s: active %s, want %s", point, st.Version, want)
		}
		treetest.Same(t, "the 1.4.3 folder", old, treetest.Snapshot(t, filepath.Join(prefix, "versions", "udos-core-slim-v1.4.3")))
		for d, before := range data {
			treetest.Same(t, "the user's "+d, before, treetest.Snapshot(t, filepath.Join(prefix, d)))
		}
		out := runOK(t, args...)
		if point == "download-half" && !strings.Contains(out, "resuming udos-core-slim-v1.4.6.tar.gz") {
			t.Errorf("the download did not resume:\n%s", out)
		}
		if st := readStatus(t, prefix, kr); st.Version != "1.4.6" || len(st.Kept) != 2 {
			t.Fatalf("after the second upgrade: %+v", st)
		}
	})
}

// TestWriteBenchFixtures writes the BENCHMARKS.md fixtures when
// UDOS_CORE_BENCH_DIR is set: wizard-full 1.4.3 and 1.4.6 (from
// UDOS_CORE_BENCH_TREE, default examples/udos) in DIR/mirror with signed
// SHA256SUMS, and the public key in DIR/release.pub.asc.
func TestWriteBenchFixtures(t *testing.T) {
	dir := os.Getenv("UDOS_CORE_BENCH_DIR")
	if dir == "" {
		t.Skip("UDOS_CORE_BENCH_DIR not set")
	}
	tree := os.Getenv("UDOS_CORE_BENCH_TREE")
	if tree == "" {
		tree = coretest.Examples()
	}
	key, err := coretest.NewKey("uDOS Release")
	if err != nil {
		t.Fatal(err)
	}
	mirror := filepath.Join(dir, "mirror")
	ctx := context.Background()
	if err := coretest.ReleaseFrom(ctx, tree, mirror, "1.4.3", "", key, "wizard-full"); err != nil {
		t.Fatal(err)
	}
	if err := coretest.ReleaseFrom(ctx, tree, mirror, "1.4.6", "1.4.3", key, "wizard-full"); err != nil {
		t.Fatal(err)
	}
	lists, err := checksum.MergeFiles(mirror, filepath.Join(mirror, "udos-wizard-full-v1.4.3.tar.gz"), filepath.Join(mirror, "udos-wizard-full-v1.4.6.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lists {
		if _, err := pgpsign.SignFile(key.Signer, l); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "release.pub.asc"), key.Pub, 0o644); err != nil {
		t.Fatal(err)
	}
}
