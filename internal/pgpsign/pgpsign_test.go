package pgpsign

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fredbook/udos-dist/internal/testenv"
)

func TestSignVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	priv, pub, err := GenerateKey("Round Trip", "rt@example.org", nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := LoadSigner(priv, nil)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := LoadKeyring(pub)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("hello uDOS\n")
	sig, err := s.SignDetached(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	v, err := kr.VerifyDetached(bytes.NewReader(data), bytes.NewReader(sig))
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if v.Fingerprint != s.Fingerprint() {
		t.Errorf("fingerprint %s, want %s", v.Fingerprint, s.Fingerprint())
	}
	if !strings.Contains(v.UserID, "Round Trip") {
		t.Errorf("user id %q", v.UserID)
	}

	cases := []struct {
		name string
		data []byte
		sig  []byte
		want error
	}{
		{"tampered data", []byte("hello uDOS!\n"), sig, ErrBadSignature},
		{"garbage signature", data, []byte("not a signature"), ErrMalformedSignature},
		{"armored public key instead of signature", data, pub, ErrMalformedSignature},
		{"empty signature", data, nil, ErrMalformedSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := kr.VerifyDetached(bytes.NewReader(c.data), bytes.NewReader(c.sig))
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}

	t.Run("unknown signer", func(t *testing.T) {
		_, otherPub, err := GenerateKey("Other", "o@example.org", nil)
		if err != nil {
			t.Fatal(err)
		}
		other, _ := LoadKeyring(otherPub)
		if _, err := other.VerifyDetached(bytes.NewReader(data), bytes.NewReader(sig)); !errors.Is(err, ErrUnknownSigner) {
			t.Fatalf("got %v, want ErrUnknownSigner", err)
		}
	})
	t.Run("empty keyring", func(t *testing.T) {
		if _, err := (&Keyring{}).VerifyDetached(bytes.NewReader(data), bytes.NewReader(sig)); !errors.Is(err, ErrEmptyKeyring) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestPassphrase(t *testing.T) {
	t.Parallel()
	priv, _, err := GenerateKey("Locked", "l@example.org", []byte("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSigner(priv, nil); !errors.Is(err, ErrPassphraseRequired) {
		t.Fatalf("no passphrase: got %v", err)
	}
	if _, err := LoadSigner(priv, []byte("wrong")); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: got %v", err)
	}
	if _, err := LoadSigner(priv, []byte("s3cret")); err != nil {
		t.Fatalf("right passphrase: %v", err)
	}
	if _, err := LoadSigner([]byte("junk"), nil); err == nil {
		t.Fatal("junk key accepted")
	}
	_, pub, _ := GenerateKey("Pub", "p@example.org", nil)
	if _, err := LoadSigner(pub, nil); !errors.Is(err, ErrNoSigningKey) {
		t.Fatalf("public key as signer: got %v", err)
	}
}

func TestKeyringConcatenated(t *testing.T) {
	t.Parallel()
	privA, pubA, _ := GenerateKey("A", "a@example.org", nil)
	_, pubB, _ := GenerateKey("B", "b@example.org", nil)
	dir := t.TempDir()
	f := filepath.Join(dir, "keys.asc")
	os.WriteFile(f, append(append([]byte{}, pubB...), pubA...), 0o644)
	kr, err := LoadKeyringFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if kr.Len() != 2 {
		t.Fatalf("keys %d, want 2", kr.Len())
	}
	s, _ := LoadSigner(privA, nil)
	data := filepath.Join(dir, "data.bin")
	os.WriteFile(data, []byte("payload"), 0o644)
	asc, err := SignFile(s, data)
	if err != nil {
		t.Fatal(err)
	}
	if asc != data+".asc" {
		t.Fatalf("asc path %q", asc)
	}
	if _, err := kr.VerifyFile(data, ""); err != nil {
		t.Fatal(err)
	}
}

// gpgHome makes a throwaway GNUPGHOME.
func gpgHome(t *testing.T) (run func(args ...string) ([]byte, error)) {
	gpg := testenv.Tool(t, "gpg")
	home, err := os.MkdirTemp("", "gpg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
		os.RemoveAll(home)
	})
	os.Chmod(home, 0o700)
	return func(args ...string) ([]byte, error) {
		cmd := exec.Command(gpg, append([]string{"--homedir", home, "--batch", "--no-tty", "--pinentry-mode", "loopback"}, args...)...)
		var out bytes.Buffer
		cmd.Stdout = &out
		cmd.Stderr = &out
		err := cmd.Run()
		return out.Bytes(), err
	}
}

// Our signature, checked by the real gpg.
func TestGPGVerifiesOurSignature(t *testing.T) {
	t.Parallel()
	gpg := gpgHome(t)
	priv, pub, err := GenerateKey("uDOS Demo", "demo@example.org", []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pubFile := filepath.Join(dir, "pub.asc")
	os.WriteFile(pubFile, pub, 0o644)
	if out, err := gpg("--import", pubFile); err != nil {
		t.Fatalf("gpg import: %v\n%s", err, out)
	}
	s, err := LoadSigner(priv, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "udos-core-slim-v1.4.6.tar.gz")
	os.WriteFile(data, bytes.Repeat([]byte("x"), 100000), 0o644)
	asc, err := SignFile(s, data)
	if err != nil {
		t.Fatal(err)
	}
	out, err := gpg("--verify", asc, data)
	if err != nil || !bytes.Contains(out, []byte("Good signature")) {
		t.Fatalf("gpg --verify failed: %v\n%s", err, out)
	}
	os.WriteFile(data, bytes.Repeat([]byte("y"), 100000), 0o644)
	if out, err := gpg("--verify", asc, data); err == nil {
		t.Fatalf("gpg accepted a signature over changed data:\n%s", out)
	}
}

// gpg's signatures (RSA key, passphrase-protected), checked by us; gpg's
// exported private key used by us.
func TestWeVerifyGPGSignature(t *testing.T) {
	t.Parallel()
	gpg := gpgHome(t)
	if out, err := gpg("--passphrase", "hunter2", "--quick-gen-key", "GPG Made <gpg@example.org>", "rsa3072", "sign", "never"); err != nil {
		t.Fatalf("gen key: %v\n%s", err, out)
	}
	pub, err := gpg("--armor", "--export", "gpg@example.org")
	if err != nil {
		t.Fatal(err)
	}
	priv, err := gpg("--passphrase", "hunter2", "--armor", "--export-secret-keys", "gpg@example.org")
	if err != nil {
		t.Fatalf("export secret: %v\n%s", err, priv)
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "catalog.json")
	os.WriteFile(data, []byte(`{"catalog_version":"1.0"}`), 0o644)
	if out, err := gpg("--passphrase", "hunter2", "--armor", "--detach-sign", data); err != nil {
		t.Fatalf("gpg sign: %v\n%s", err, out)
	}
	kr, err := LoadKeyring(pub)
	if err != nil {
		t.Fatal(err)
	}
	v, err := kr.VerifyFile(data, "")
	if err != nil {
		t.Fatalf("verify gpg signature: %v", err)
	}
	if !strings.Contains(v.UserID, "GPG Made") {
		t.Errorf("user id %q", v.UserID)
	}
	// gpg's passphrase-protected secret key, used by us, checked by gpg.
	s, err := LoadSigner(priv, []byte("hunter2"))
	if err != nil {
		t.Fatalf("load gpg secret key: %v", err)
	}
	os.Remove(data + ".asc")
	if _, err := SignFile(s, data); err != nil {
		t.Fatal(err)
	}
	if out, err := gpg("--verify", data+".asc", data); err != nil {
		t.Fatalf("gpg rejects our signature made with its key: %v\n%s", err, out)
	}
}
