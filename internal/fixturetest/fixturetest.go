// Package fixturetest makes git checkouts of the uDOS fixture trees in the
// repository's testdata/ (udos-v1.4, udos-v1.5: small trees shaped like the
// real uDOS repository at those versions), for tests of the variant
// builder, the release workflow and the action.
//
// A fixture in the repository cannot hold a .git, its symlinks would not
// survive every checkout, and key material does not belong in a commit; so
// Repo copies the tree, makes the symlinks listed in testdata/<name>.symlinks,
// writes the working-copy state git must ignore (.env files with tokens,
// logs, a SQLite file) and, on request, the tracked secrets the real tree
// has, all generated now, then commits and tags it.
package fixturetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/fredbook/udos-dist/internal/testenv"
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

// Dir returns the fixture tree testdata/<name> of this repository.
func Dir(t testing.TB, name string) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("fixturetest: cannot locate the repository")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", name)
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

// Repo returns a fresh git checkout of the fixture tree name.
func Repo(t testing.TB, name string, opts Options) string {
	t.Helper()
	testenv.Tool(t, "git")
	src := Dir(t, name)
	dst := filepath.Join(t.TempDir(), "uDOS")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatalf("copying fixture %s: %v", name, err)
	}
	// os.CopyFS drops the executable bits the launchers need.
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		return os.Chmod(filepath.Join(dst, rel), fi.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
	links, err := os.ReadFile(src + ".symlinks")
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(links)), "\n") {
		from, to, ok := strings.Cut(l, " -> ")
		if !ok {
			continue
		}
		p := filepath.Join(dst, filepath.FromSlash(from))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.FromSlash(to), p); err != nil {
			t.Fatal(err)
		}
	}
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
	if opts.Secrets {
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
	tag := opts.Tag
	if tag == "" {
		tag = "v" + Version(name)
	}
	Git(t, dst, "init", "-q", "-b", "main")
	Git(t, dst, "add", "-A")
	Git(t, dst, "commit", "-q", "-m", "uDOS fixture "+name)
	Git(t, dst, "tag", tag)
	return dst
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
