package selfrelease_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/checksum"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/selfrelease"
	"github.com/fredbook/udos-dist/internal/testenv"
)

// TestReleaseAndInstallScript builds udos-lib for this machine twice (the
// same sha256: reproducible), then runs install.sh against the release
// served on loopback: it installs a udos-lib that runs; with a signature by
// another key, or bytes that differ from its list, it installs nothing.
func TestReleaseAndInstallScript(t *testing.T) {
	testenv.Tool(t, "gpg")
	testenv.Tool(t, "curl")
	t.Parallel()
	priv, pub, err := pgpsign.GenerateTestKey("udos-dist Release", "r@example.org", nil)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := pgpsign.LoadSigner(priv, nil)
	if err != nil {
		t.Fatal(err)
	}
	host := selfrelease.Platform{OS: runtime.GOOS, Arch: runtime.GOARCH}
	build := func(out string) *selfrelease.Result {
		t.Helper()
		res, err := selfrelease.Build(context.Background(), selfrelease.Config{
			Version: "9.9.9", Module: "../..", Output: out, Env: os.Environ(),
			Programs:   []selfrelease.Program{{Name: "udos-lib", Pkg: "./cmd/udos-lib"}},
			Platforms:  []selfrelease.Platform{host},
			SourceDate: time.Unix(1764000000, 0), Signer: signer, PublicKey: pub,
			BaseURL: "https://github.com/fredbook/udos-dist/releases/download/v9.9.9",
		})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	a, b := build(t.TempDir()), build(t.TempDir())
	da, _ := checksum.File(a.Archives[0])
	db, _ := checksum.File(b.Archives[0])
	if da.SHA256 != db.SHA256 {
		t.Fatalf("two builds differ: %s vs %s", da.SHA256, db.SHA256)
	}
	sa, _ := os.ReadFile(a.SBOM)
	if !strings.Contains(string(sa), `"name": "github.com/spf13/cobra"`) || !strings.Contains(string(sa), `"specVersion": "1.6"`) {
		t.Fatalf("the SBOM lacks the modules:\n%.600s", sa)
	}
	formula, err := os.ReadFile(a.Formula)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(formula), `url "https://github.com/fredbook/udos-dist/releases/download/v9.9.9/udos-lib-v9.9.9-`+host.String()+`.tar.gz"`) ||
		!strings.Contains(string(formula), `sha256 "`+da.SHA256+`"`) || !strings.Contains(string(formula), `bin.install "udos-lib"`) ||
		strings.Contains(string(formula), `url ""`) {
		t.Fatalf("formula:\n%s", formula)
	}
	if rb, err := exec.LookPath("ruby"); err == nil { // the formula is valid Ruby
		if out, err := exec.Command(rb, "-c", a.Formula).CombinedOutput(); err != nil {
			t.Fatalf("ruby -c: %v\n%s", err, out)
		}
	}
	for _, f := range []string{"SHA256SUMS", "SHA512SUMS", "install.sh", "udos-lib.rb"} {
		if _, err := os.Stat(filepath.Join(filepath.Dir(a.SBOM), f+".asc")); err != nil {
			t.Errorf("%s is not signed: %v", f, err)
		}
	}

	dir := filepath.Dir(a.Archives[0])
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer srv.Close()
	install := func(prefix string) (string, error) {
		cmd := exec.Command("sh", filepath.Join(dir, "install.sh"), "udos-lib", prefix)
		cmd.Env = append(os.Environ(), "UDOS_DIST_BASE="+srv.URL, "HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	prefix := filepath.Join(t.TempDir(), "p")
	if out, err := install(prefix); err != nil {
		t.Fatalf("install.sh: %v\n%s", err, out)
	}
	if out, err := exec.Command(filepath.Join(prefix, "bin", "udos-lib"), "--version").CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "udos-lib 9.9.9 ") {
		t.Errorf("the installed udos-lib --version says %q (%v), want the release's 9.9.9", out, err)
	}
	out, err := exec.Command(filepath.Join(prefix, "bin", "udos-lib"), "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "udos-lib") {
		t.Fatalf("the installed udos-lib does not run: %v\n%s", err, out)
	}

	// A signature by another key: nothing installed.
	_, otherPriv := mustKey(t)
	other, _ := pgpsign.LoadSigner(otherPriv, nil)
	good, _ := os.ReadFile(a.Archives[0] + ".asc")
	if _, err := pgpsign.SignFile(other, a.Archives[0]); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(t.TempDir(), "q")
	if out, err := install(fresh); err == nil || !strings.Contains(out, "signature does not verify") {
		t.Fatalf("a bad signature: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(fresh, "bin", "udos-lib")); err == nil {
		t.Fatal("a badly signed archive was installed")
	}
	// Other bytes, signed by the release key (a rebuilt archive): the
	// embedded digest refuses them.
	if err := os.WriteFile(a.Archives[0]+".asc", good, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(a.Archives[0], append(mustRead(t, a.Archives[0]), 0), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := pgpsign.SignFile(signer, a.Archives[0]); err != nil {
		t.Fatal(err)
	}
	if out, err := install(fresh); err == nil || !strings.Contains(out, "is not the release's") {
		t.Fatalf("other bytes: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(fresh, "bin", "udos-lib")); err == nil {
		t.Fatal("an archive that is not the release's was installed")
	}
}

func mustKey(t *testing.T) ([]byte, []byte) {
	priv, pub, err := pgpsign.GenerateTestKey("Mallory", "m@example.org", nil)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func mustRead(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
