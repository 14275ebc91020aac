package verify_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/testenv"
	"github.com/fredbook/udos-dist/internal/verify"
)

// TestWithGnuPG checks files the way stock tools make them: signed by gpg,
// listed by sha256sum and sha512sum.
func TestWithGnuPG(t *testing.T) {
	gpg := testenv.Tool(t, "gpg")
	sha256sum := testenv.Tool(t, "sha256sum")
	sha512sum := testenv.Tool(t, "sha512sum")
	t.Parallel()
	home := t.TempDir()
	dir := t.TempDir()
	run := func(name string, args ...string) []byte {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GNUPGHOME="+home)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s %v: %v", name, args, err)
		}
		return out
	}
	run(gpg, "--batch", "--passphrase", "", "--quick-gen-key", "Publisher <p@example.org>", "ed25519", "sign", "never")
	pub := run(gpg, "--armor", "--export")
	kr, err := pgpsign.LoadKeyring(pub)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "udos-sonic-v1.4.6.iso")
	if err := os.WriteFile(file, []byte(strings.Repeat("iso bytes ", 5000)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "SHA256SUMS"), run(sha256sum, "udos-sonic-v1.4.6.iso"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "SHA512SUMS"), run(sha512sum, "udos-sonic-v1.4.6.iso"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"udos-sonic-v1.4.6.iso", "SHA256SUMS", "SHA512SUMS"} {
		run(gpg, "--batch", "--yes", "--armor", "--detach-sign", f)
	}
	v, err := verify.File(verify.Input{File: file, Keyring: kr})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(v.Checked, ", "); got != "sha256 = SHA256SUMS (signed), sha512 = SHA512SUMS (signed)" || v.SignerID != "Publisher <p@example.org>" {
		t.Fatalf("verdict: %s", v.Line())
	}

	// One byte changed and the file re-signed: the signed lists catch it.
	if err := os.WriteFile(file, []byte(strings.Repeat("iso bytes ", 4999)+"iso bytez "), 0o644); err != nil {
		t.Fatal(err)
	}
	run(gpg, "--batch", "--yes", "--armor", "--detach-sign", "udos-sonic-v1.4.6.iso")
	if _, err := verify.File(verify.Input{File: file, Keyring: kr}); !errors.Is(err, verify.ErrFailed) || !strings.Contains(err.Error(), "does not match SHA256SUMS") {
		t.Fatalf("changed file: %v", err)
	}
	// An unsigned list beside the file is refused, not ignored.
	os.Remove(filepath.Join(dir, "SHA512SUMS.asc"))
	if _, err := verify.File(verify.Input{File: file, Keyring: kr}); !errors.Is(err, verify.ErrFailed) || !strings.Contains(err.Error(), "SHA512SUMS has no signature") {
		t.Fatalf("unsigned SHA512SUMS: %v", err)
	}
}
