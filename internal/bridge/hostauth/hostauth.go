// Package hostauth holds the bridge's identities and trust on disk: the
// host's and the client's ed25519 keys, the pinned host keys (known_hosts in
// OpenSSH format), the authorized client keys, and the post-handshake proof
// by which a host shows it holds the pinned key in this very session.
//
// Everything lives under <root>/bridge/, created on first use with 0700 for
// folders and 0600 for files.
package hostauth

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/fredbook/udos-dist/internal/atomicfile"
)

// DefaultPort is the bridge's TCP port.
const DefaultPort = 7622

// KeyAlgo is the one host-key algorithm the bridge uses and pins, so a key of
// another type offered by the host is a refusal, not a confusing mismatch.
const KeyAlgo = ssh.KeyAlgoED25519

// Paths are the bridge's files under a uDOS root.
type Paths struct{ Dir string }

// For returns the bridge paths of a uDOS root.
func For(root string) Paths { return Paths{Dir: filepath.Join(root, "bridge")} }

func (p Paths) HostKey() string        { return filepath.Join(p.Dir, "host_ed25519_key") }
func (p Paths) ClientKey() string      { return filepath.Join(p.Dir, "client_ed25519_key") }
func (p Paths) KnownHosts() string     { return filepath.Join(p.Dir, "known_hosts") }
func (p Paths) AuthorizedKeys() string { return filepath.Join(p.Dir, "authorized_keys") }
func (p Paths) Clients() string        { return filepath.Join(p.Dir, "clients.json") }
func (p Paths) Journal() string        { return filepath.Join(p.Dir, "sync-journal.json") }
func (p Paths) StateStore() string     { return filepath.Join(p.Dir, "state") }
func (p Paths) ScanCache() string      { return filepath.Join(p.Dir, "scan-cache.json") }
func (p Paths) PairSocket() string     { return filepath.Join(p.Dir, "pair.sock") }

// Ensure creates the bridge folder (0700) and tightens it if it exists with
// wider permissions: it holds private keys.
func (p Paths) Ensure() error {
	if err := os.MkdirAll(p.Dir, 0o700); err != nil {
		return fmt.Errorf("creating the bridge folder %s: %w", p.Dir, err)
	}
	if err := os.Chmod(p.Dir, 0o700); err != nil {
		return fmt.Errorf("restricting the bridge folder %s: %w", p.Dir, err)
	}
	return nil
}

// LoadOrCreateKey reads the ed25519 private key at path (OpenSSH format) or,
// when there is none, makes one and writes it with 0600. A key file readable
// by others is refused, as OpenSSH does.
func LoadOrCreateKey(path string) (ssh.Signer, error) {
	if fi, err := os.Stat(path); err == nil {
		if fi.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("key %s has permissions %04o: it must be readable by its owner only (chmod 600 %s)", path, fi.Mode().Perm(), path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading key %s: %w", path, err)
		}
		s, err := ssh.ParsePrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("parsing key %s: %w", path, err)
		}
		if s.PublicKey().Type() != KeyAlgo {
			return nil, fmt.Errorf("key %s is %s; the bridge uses %s keys", path, s.PublicKey().Type(), KeyAlgo)
		}
		return s, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading key %s: %w", path, err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating an ed25519 key: %w", err)
	}
	blk, err := ssh.MarshalPrivateKey(priv, "udos-bridge")
	if err != nil {
		return nil, fmt.Errorf("encoding key %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	if err := atomicfile.WriteFile(path, pem.EncodeToMemory(blk), 0o600); err != nil {
		return nil, err
	}
	return ssh.NewSignerFromKey(priv)
}

// Fingerprint is OpenSSH's SHA256 fingerprint of a key ("SHA256:…").
func Fingerprint(k ssh.PublicKey) string { return ssh.FingerprintSHA256(k) }

// HostPattern is the known_hosts name of a bridge host: "[host]:port" as
// OpenSSH writes it for a non-default port. Characters a known_hosts pattern
// cannot hold (blanks, commas) in a discovered instance name become '_'.
func HostPattern(host string, port int) string {
	return knownhosts.Normalize(net.JoinHostPort(patternHost(host), strconv.Itoa(port)))
}

func patternHost(host string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == ',' || r == '#' {
			return '_'
		}
		return r
	}, host)
}

// ErrUnknownHost is returned when a host has no pinned key.
var ErrUnknownHost = errors.New("unknown host")

// MismatchError is a pinned host presenting another key: possibly an attack.
type MismatchError struct {
	Host, File string
	Line       int
	Want, Got  string // fingerprints
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf(`@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!
The host key of %s does not match the pinned one:
  pinned (%s:%d): %s
  offered:        %s
Connection refused. If the host's key really changed, remove line %d of %s
and trust it again with 'udos-lib sonic trust %s --fingerprint %s'.`,
		e.Host, e.File, e.Line, e.Want, e.Got, e.Line, e.File, e.Host, e.Got)
}

// UnknownError is a host with no pinned key.
type UnknownError struct {
	Host, File, Got string
}

func (e *UnknownError) Error() string {
	return fmt.Sprintf("host %s is not trusted (no key pinned in %s); it offers %s: check that fingerprint on the host ('udos-lib bridge serve' prints it) and pin it with 'udos-lib sonic trust %s --fingerprint %s'",
		e.Host, e.File, e.Got, e.Host, e.Got)
}

func (e *UnknownError) Unwrap() error { return ErrUnknownHost }

// KnownHosts is the pinned host keys file.
type KnownHosts struct{ File string }

// Check verifies key against the pin of host:port. It returns nil, an
// *UnknownError or a *MismatchError.
func (k KnownHosts) Check(host string, port int, key ssh.PublicKey) error {
	name := HostPattern(host, port)
	if _, err := os.Stat(k.File); errors.Is(err, fs.ErrNotExist) {
		return &UnknownError{Host: name, File: k.File, Got: Fingerprint(key)}
	}
	cb, err := knownhosts.New(k.File)
	if err != nil {
		return fmt.Errorf("reading pinned host keys %s: %w", k.File, err)
	}
	err = cb(net.JoinHostPort(patternHost(host), strconv.Itoa(port)), &net.TCPAddr{IP: net.IPv4zero}, key)
	var ke *knownhosts.KeyError
	if errors.As(err, &ke) {
		if len(ke.Want) == 0 {
			return &UnknownError{Host: name, File: k.File, Got: Fingerprint(key)}
		}
		w := ke.Want[0]
		for _, kk := range ke.Want {
			if kk.Key.Type() == key.Type() {
				w = kk
			}
		}
		return &MismatchError{Host: name, File: w.Filename, Line: w.Line, Want: Fingerprint(w.Key), Got: Fingerprint(key)}
	}
	return err
}

// Add pins key for host:port, appending one OpenSSH known_hosts line.
func (k KnownHosts) Add(host string, port int, key ssh.PublicKey) error {
	line := knownhosts.Line([]string{HostPattern(host, port)}, key) + "\n"
	old, err := os.ReadFile(k.File)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("reading %s: %w", k.File, err)
	}
	if len(old) > 0 && !bytes.HasSuffix(old, []byte("\n")) {
		old = append(old, '\n')
	}
	return atomicfile.WriteFile(k.File, append(old, line...), 0o600)
}

// Hosts lists the pinned hosts with their fingerprints, in file order.
func (k KnownHosts) Hosts() ([]Pin, error) {
	b, err := os.ReadFile(k.File)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", k.File, err)
	}
	var pins []Pin
	rest := b
	for len(rest) > 0 {
		_, hosts, key, _, r, err := ssh.ParseKnownHosts(rest)
		if err != nil {
			if err.Error() == "EOF" {
				break
			}
			return nil, fmt.Errorf("parsing %s: %w", k.File, err)
		}
		rest = r
		pins = append(pins, Pin{Hosts: hosts, Fingerprint: Fingerprint(key), Type: key.Type()})
	}
	return pins, nil
}

// Pin is one pinned host key.
type Pin struct {
	Hosts       []string `json:"hosts"`
	Type        string   `json:"type"`
	Fingerprint string   `json:"fingerprint"`
}

// AuthorizedKeys is the host's list of client keys (OpenSSH
// authorized_keys format; options are not supported and refused).
type AuthorizedKeys struct{ File string }

// AuthorizedKey is one authorized client.
type AuthorizedKey struct {
	Key     ssh.PublicKey
	Comment string
}

// Load reads the file; a missing file is an empty list.
func (a AuthorizedKeys) Load() ([]AuthorizedKey, error) {
	b, err := os.ReadFile(a.File)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading authorized keys %s: %w", a.File, err)
	}
	var out []AuthorizedKey
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, comment, opts, _, err := ssh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			return nil, fmt.Errorf("authorized keys %s line %d: %w", a.File, n+1, err)
		}
		if len(opts) > 0 {
			return nil, fmt.Errorf("authorized keys %s line %d: options (%s) are not supported by the bridge; list the bare key", a.File, n+1, strings.Join(opts, ","))
		}
		out = append(out, AuthorizedKey{Key: k, Comment: comment})
	}
	return out, nil
}

// Add authorizes key (idempotent).
func (a AuthorizedKeys) Add(key ssh.PublicKey, comment string) (added bool, err error) {
	keys, err := a.Load()
	if err != nil {
		return false, err
	}
	for _, k := range keys {
		if bytes.Equal(k.Key.Marshal(), key.Marshal()) {
			return false, nil
		}
	}
	old, err := os.ReadFile(a.File)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("reading %s: %w", a.File, err)
	}
	if len(old) > 0 && !bytes.HasSuffix(old, []byte("\n")) {
		old = append(old, '\n')
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
	if comment != "" {
		line += " " + comment
	}
	return true, atomicfile.WriteFile(a.File, append(old, line+"\n"...), 0o600)
}
