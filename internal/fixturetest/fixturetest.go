// Package fixturetest makes git checkouts of the uDOS fixture trees in the
// repository's testdata/ (udos-v1.4, udos-v1.5: small trees shaped like the
// real uDOS repository at those versions), for tests of the variant
// builder, the release workflow and the action.
//
// As in the real repository, a version is stored as what changed since the
// one before: testdata/udos-v1.5 holds the files v1.5 added or changed and
// testdata/udos-v1.5.removed the paths it removed; Tree puts a version's
// files together. A fixture in the repository cannot hold a .git, its
// symlinks would not survive every checkout, and key material does not
// belong in a commit; so Repo commits each version in turn, making the
// symlinks listed in testdata/<name>.symlinks, and in the last writes the
// working-copy state git must ignore (.env files with tokens, logs, a
// SQLite file) and, on request, the tracked secrets the real tree has, all
// generated now.
package fixturetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/fredbook/udos-dist/internal/testenv"
	"github.com/fredbook/udos-dist/internal/treetest"
)

// Options say what else the checkout holds.
type Options struct {
	// Secrets tracks the secrets a careless checkout has: an OAuth key file
	// (wizard/config/.oauth_key, 44 characters as in the real tree), a PEM
	// private key and a dotenv file with a GitHub token.
	Secrets bool
	// Tag is the tag of the commit; default "v" + the tree's version.
	Tag string
}

// The tracked secrets Options.Secrets adds, relative to the checkout.
var SecretPaths = []string{"wizard/config/.oauth_key", "wizard/config/deploy.env", "wizard/config/tls/server.key.pem"}

// IgnoredPaths are the files Repo writes that .gitignore keeps out of git;
// none may ship.
var IgnoredPaths = []string{"wizard/.env", ".env.local", "wizard/server.log", "memory/udos.sqlite", ".venv/pyvenv.cfg"}

// parent is the fixture each tree is stored as a change of, the way the
// real repository's history holds it: testdata/<name> has only the files
// added or changed since the parent, testdata/<name>.removed the paths
// (files or folders) the parent has and it no longer does. A fixture
// without a parent is stored whole.
var parent = map[string]string{"udos-v1.5": "udos-v1.4"}

// history returns name and the fixtures it is a change of, oldest first.
func history(name string) []string {
	h := []string{name}
	for p, ok := parent[name]; ok; p, ok = parent[p] {
		h = append([]string{p}, h...)
	}
	return h
}

// stored returns testdata/<name><suffix> of this repository: the stored
// tree (suffix "") or one of its lists (".symlinks", ".removed").
func stored(t testing.TB, name, suffix string) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("fixturetest: cannot locate the repository")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", name+suffix)
}

// lines returns the lines of the list testdata/<name><suffix>, none if it
// does not exist.
func lines(t testing.TB, name, suffix string) []string {
	t.Helper()
	data, err := os.ReadFile(stored(t, name, suffix))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// symlinks returns the links testdata/<name>.symlinks lists: path → target.
func symlinks(t testing.TB, name string) map[string]string {
	t.Helper()
	links := map[string]string{}
	for _, l := range lines(t, name, ".symlinks") {
		from, to, ok := strings.Cut(l, " -> ")
		if !ok {
			t.Fatalf("testdata/%s.symlinks: %q is not PATH -> TARGET", name, l)
		}
		links[from] = to
	}
	return links
}

// apply turns dst, the tree of name's parent (empty for a fixture without
// one), into the files of name: the paths removed since the parent go,
// the stored files are copied over with their permission bits.
func apply(t testing.TB, name, dst string) {
	t.Helper()
	for _, rel := range lines(t, name, ".removed") {
		p := filepath.Join(dst, filepath.FromSlash(rel))
		// A path the parent does not have is a stale list.
		if _, err := os.Lstat(p); err != nil {
			t.Fatalf("testdata/%s.removed: %v", name, err)
		}
		if err := os.RemoveAll(p); err != nil {
			t.Fatal(err)
		}
	}
	treetest.Copy(t, stored(t, name, ""), dst)
}

// Tree returns a fresh copy of the files of fixture name (its parents'
// files with its own changes applied), without its symlinks, ignored files
// or git history: Repo is a checkout of it.
func Tree(t testing.TB, name string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), name)
	for _, n := range history(name) {
		apply(t, n, dst)
	}
	return dst
}

// Version returns the version a fixture is of ("1.5.0").
func Version(name string) string {
	switch name {
	case "udos-v1.4":
		return "1.4.0"
	case "udos-v1.5":
		return "1.5.0"
	}
	return ""
}

// Repo returns a fresh git checkout of the fixture tree name. Its history
// is a commit per fixture it is a change of, each tagged "v" + its version
// (v1.4.0, then v1.5.0), with the working-copy state and secrets only in
// the last.
func Repo(t testing.TB, name string, opts Options) string {
	t.Helper()
	testenv.Tool(t, "git")
	dst := filepath.Join(t.TempDir(), "uDOS")
	var links map[string]string
	for i, n := range history(name) {
		// The parent's links go first: a link may be where a folder of
		// name's tree is, and name lists its own.
		for from := range links {
			if err := os.Remove(filepath.Join(dst, filepath.FromSlash(from))); err != nil {
				t.Fatal(err)
			}
		}
		apply(t, n, dst)
		links = symlinks(t, n)
		for from, to := range links {
			p := filepath.Join(dst, filepath.FromSlash(from))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.FromSlash(to), p); err != nil {
				t.Fatal(err)
			}
		}
		tag := "v" + Version(n)
		if n == name {
			writeState(t, dst, opts)
			if opts.Tag != "" {
				tag = opts.Tag
			}
		}
		if i == 0 {
			Git(t, dst, "init", "-q", "-b", "main")
		}
		Git(t, dst, "add", "-A")
		Git(t, dst, "commit", "-q", "-m", "uDOS fixture "+n)
		Git(t, dst, "tag", tag)
	}
	return dst
}

// writeState writes the working-copy state git must ignore (IgnoredPaths)
// and, with opts.Secrets, the tracked secrets (SecretPaths).
func writeState(t testing.TB, dst string, opts Options) {
	t.Helper()
	token := "ghp_" + strings.Repeat("Zq7X", 9)
	ignored := map[string]string{
		"wizard/.env":        "GITHUB_TOKEN=" + token + "\nWIZARD_ADMIN_TOKEN=s3cr3t-admin\n",
		".env.local":         "OPENAI_API_KEY=sk-" + strings.Repeat("a1B2", 10) + "\n",
		"wizard/server.log":  "INFO started\n",
		"memory/udos.sqlite": "SQLite format 3\x00",
		".venv/pyvenv.cfg":   "home = /usr/bin\n",
	}
	for p, data := range ignored {
		write(t, dst, p, data)
	}
	if !opts.Secrets {
		return
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	write(t, dst, "wizard/config/.oauth_key", base64.URLEncoding.EncodeToString(key)) // 44 characters
	write(t, dst, "wizard/config/deploy.env", "WIZARD_PORT=8765\nGITHUB_TOKEN="+token+"\n")
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	write(t, dst, "wizard/config/tls/server.key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})))
}

// Untrack applies the secrets remedy to a checkout: git rm --cached, the
// paths added to .gitignore, committed.
func Untrack(t testing.TB, dir string, paths ...string) {
	t.Helper()
	Git(t, dir, append([]string{"rm", "-q", "--cached", "--"}, paths...)...)
	f, err := os.OpenFile(filepath.Join(dir, ".gitignore"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		if _, err := f.WriteString("/" + p + "\n"); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	Git(t, dir, "add", ".gitignore")
	Git(t, dir, "commit", "-q", "-m", "untrack secrets")
}

// Git runs git in dir with a fixed identity and dates, failing the test on error.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=uDOS fixture", "-c", "user.email=fixture@udos.invalid", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_DATE=2026-03-04T12:00:00Z", "GIT_COMMITTER_DATE=2026-03-04T12:00:00Z", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func write(t testing.TB, root, rel, data string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// FirstLine runs name with args in dir, as a user would start a fixture's
// launcher (UDOS_ROOT unset, no bytecode written into the tree, env added
// to the test's environment), and returns the first line it printed; a
// failure to run fails t with all of the output.
func FirstLine(t testing.TB, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "UDOS_ROOT=", "PYTHONDONTWRITEBYTECODE=1"), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s in %s: %v\n%s", name, strings.Join(args, " "), dir, err, out)
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return line
}

// Names are the fixture trees, oldest first.
var Names = []string{"udos-v1.4", "udos-v1.5"}

// Each runs fn in a parallel subtest for each of Names, with a fresh git
// checkout src of the tree and the version it is of.
func Each(t *testing.T, fn func(t *testing.T, name, src, version string)) {
	for _, name := range Names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, name, Repo(t, name, Options{}), Version(name))
		})
	}
}
