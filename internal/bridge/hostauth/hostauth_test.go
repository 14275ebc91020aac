package hostauth

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func TestKeyCreatedPrivateAndReloaded(t *testing.T) {
	p := For(t.TempDir())
	if err := p.Ensure(); err != nil {
		t.Fatal(err)
	}
	k1, err := LoadOrCreateKey(p.HostKey())
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{p.Dir: 0o700, p.HostKey(): 0o600} {
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != want {
			t.Fatalf("%s: mode %v, want %04o (%v)", path, fi.Mode().Perm(), want, err)
		}
	}
	k2, err := LoadOrCreateKey(p.HostKey())
	if err != nil || !bytes.Equal(k1.PublicKey().Marshal(), k2.PublicKey().Marshal()) {
		t.Fatalf("reloaded key differs (%v)", err)
	}
	if err := os.Chmod(p.HostKey(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKey(p.HostKey()); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a world-readable key was accepted: %v", err)
	}
}

func TestKnownHosts(t *testing.T) {
	dir := t.TempDir()
	kh := KnownHosts{File: filepath.Join(dir, "known_hosts")}
	a, _ := LoadOrCreateKey(filepath.Join(dir, "a"))
	b, _ := LoadOrCreateKey(filepath.Join(dir, "b"))
	var ue *UnknownError
	if err := kh.Check("wizard", 7622, a.PublicKey()); !errors.As(err, &ue) || !errors.Is(err, ErrUnknownHost) {
		t.Fatalf("no file: %v", err)
	}
	if err := kh.Add("uDOS Wizard on x", 7622, a.PublicKey()); err != nil {
		t.Fatal(err)
	}
	if err := kh.Check("uDOS Wizard on x", 7622, a.PublicKey()); err != nil {
		t.Fatalf("pinned key refused: %v", err)
	}
	if err := kh.Check("uDOS Wizard on x", 7623, a.PublicKey()); !errors.As(err, &ue) {
		t.Fatalf("other port: %v", err)
	}
	var me *MismatchError
	err := kh.Check("uDOS Wizard on x", 7622, b.PublicKey())
	if !errors.As(err, &me) {
		t.Fatalf("changed key: %v", err)
	}
	for _, want := range []string{"REMOTE HOST IDENTIFICATION HAS CHANGED", Fingerprint(a.PublicKey()), Fingerprint(b.PublicKey())} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("mismatch message lacks %q:\n%v", want, err)
		}
	}
	// The file is OpenSSH's format: ssh-keygen -F style parsing works.
	pins, err := kh.Hosts()
	if err != nil || len(pins) != 1 || pins[0].Hosts[0] != "[uDOS_Wizard_on_x]:7622" {
		t.Fatalf("pins %+v %v", pins, err)
	}
	fi, _ := os.Stat(kh.File)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("known_hosts mode %v", fi.Mode())
	}
}

func TestAuthorizedKeys(t *testing.T) {
	dir := t.TempDir()
	ak := AuthorizedKeys{File: filepath.Join(dir, "authorized_keys")}
	a, _ := LoadOrCreateKey(filepath.Join(dir, "a"))
	if added, err := ak.Add(a.PublicKey(), "sonic-1"); err != nil || !added {
		t.Fatal(added, err)
	}
	if added, err := ak.Add(a.PublicKey(), "sonic-1"); err != nil || added {
		t.Fatalf("second add: %v %v", added, err)
	}
	keys, err := ak.Load()
	if err != nil || len(keys) != 1 || keys[0].Comment != "sonic-1" {
		t.Fatalf("%+v %v", keys, err)
	}
	line := `command="/bin/sh" ` + string(ssh.MarshalAuthorizedKey(a.PublicKey()))
	os.WriteFile(ak.File, []byte(line), 0o600)
	if _, err := ak.Load(); err == nil || !strings.Contains(err.Error(), "options") {
		t.Fatalf("options accepted: %v", err)
	}
}

type fakeConn struct {
	sid  []byte
	sign func(nonce []byte) []byte
}

func (f fakeConn) SessionID() []byte { return f.sid }
func (f fakeConn) SendRequest(name string, _ bool, payload []byte) (bool, []byte, error) {
	return true, f.sign(payload), nil
}

func TestProof(t *testing.T) {
	dir := t.TempDir()
	host, _ := LoadOrCreateKey(filepath.Join(dir, "h"))
	other, _ := LoadOrCreateKey(filepath.Join(dir, "o"))
	sid := bytes.Repeat([]byte{7}, 32)
	honest := func(n []byte) []byte { s, _ := SignProof(host, sid, n); return s }
	if err := Challenge(fakeConn{sid, honest}, host.PublicKey(), rand.Reader); err != nil {
		t.Fatalf("honest host: %v", err)
	}
	// A signature recorded in another session (other session id).
	oldSID := bytes.Repeat([]byte{8}, 32)
	recorded := func(n []byte) []byte { s, _ := SignProof(host, oldSID, n); return s }
	// A replay of one answer to a different nonce.
	fixed, _ := SignProof(host, sid, bytes.Repeat([]byte{1}, NonceSize))
	replay := func([]byte) []byte { return fixed }
	impostor := func(n []byte) []byte { s, _ := SignProof(other, sid, n); return s }
	for name, sign := range map[string]func([]byte) []byte{"other session": recorded, "replay": replay, "other key": impostor, "garbage": func([]byte) []byte { return []byte("x") }} {
		if err := Challenge(fakeConn{sid, sign}, host.PublicKey(), rand.Reader); !errors.Is(err, ErrBadProof) {
			t.Errorf("%s: accepted (%v)", name, err)
		}
	}
	if _, err := SignProof(host, sid, []byte("short")); err == nil {
		t.Error("signed a nonce of the wrong size")
	}
	// What is signed always starts with the domain: never raw client data.
	if m := ProofMessage(sid, []byte("n")); !bytes.HasPrefix(m, []byte(proofDomain)) {
		t.Error("proof message lacks the domain")
	}
}
