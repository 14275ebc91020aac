// Package pgpsign makes and checks detached, ASCII-armored OpenPGP signatures
// (`<file>.asc`) that stock `gpg --verify` accepts, on top of
// github.com/ProtonMail/go-crypto. Keys are v4 so that GnuPG 2.2 reads them.
package pgpsign

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Sentinel errors, so callers can tell a user what to do.
var (
	// ErrPassphraseRequired: the private key is encrypted and no passphrase was given.
	ErrPassphraseRequired = errors.New("the private key is passphrase-protected and no passphrase was given")
	// ErrWrongPassphrase: the passphrase does not decrypt the private key.
	ErrWrongPassphrase = errors.New("the passphrase does not unlock the private key")
	// ErrNoSigningKey: the armored block holds no usable private signing key.
	ErrNoSigningKey = errors.New("no private signing key found (expected an armored 'PGP PRIVATE KEY BLOCK')")
	// ErrUnknownSigner: the signature was made by a key that is not in the keyring.
	ErrUnknownSigner = errors.New("signature made by a key that is not in the trusted keyring")
	// ErrBadSignature: the signature does not match the data (tampered or wrong file).
	ErrBadSignature = errors.New("signature does not match the data")
	// ErrMalformedSignature: the signature is not an armored OpenPGP signature.
	ErrMalformedSignature = errors.New("not an ASCII-armored OpenPGP signature")
	// ErrEmptyKeyring: verification was asked with no trusted key.
	ErrEmptyKeyring = errors.New("the keyring holds no public key")
)

// config is shared by signing and verification: SHA-256 digests and v4
// packets, both understood by GnuPG 2.2.
func config(now func() time.Time) *packet.Config {
	return &packet.Config{DefaultHash: crypto.SHA256, Time: now}
}

// Signer holds an unlocked private key.
type Signer struct {
	entity *openpgp.Entity
	// Now is the clock used for signature creation times; nil means time.Now.
	Now func() time.Time
}

// LoadSigner reads an armored private key (as exported by
// `gpg --armor --export-secret-keys`) and unlocks it with passphrase when it
// is protected. The first key with a private signing (sub)key is used.
func LoadSigner(armoredPrivateKey []byte, passphrase []byte) (*Signer, error) {
	el, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(armoredPrivateKey))
	if err != nil {
		return nil, fmt.Errorf("reading private key: %w", err)
	}
	for _, e := range el {
		if e.PrivateKey == nil {
			continue
		}
		if err := unlock(e, passphrase); err != nil {
			return nil, err
		}
		if _, ok := e.SigningKey(time.Now()); !ok {
			continue
		}
		return &Signer{entity: e}, nil
	}
	return nil, ErrNoSigningKey
}

// LoadSignerFile is LoadSigner on the contents of a file.
func LoadSignerFile(path string, passphrase []byte) (*Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading signing key %q: %w", path, err)
	}
	s, err := LoadSigner(b, passphrase)
	if err != nil {
		return nil, fmt.Errorf("loading signing key %q: %w", path, err)
	}
	return s, nil
}

func unlock(e *openpgp.Entity, passphrase []byte) error {
	encrypted := e.PrivateKey.Encrypted
	for _, sk := range e.Subkeys {
		if sk.PrivateKey != nil && sk.PrivateKey.Encrypted {
			encrypted = true
		}
	}
	if !encrypted {
		return nil
	}
	if len(passphrase) == 0 {
		return ErrPassphraseRequired
	}
	if err := e.DecryptPrivateKeys(passphrase); err != nil {
		return fmt.Errorf("%w (%v)", ErrWrongPassphrase, err)
	}
	return nil
}

// Fingerprint is the upper-case hex fingerprint of the signing key's primary key.
func (s *Signer) Fingerprint() string {
	return strings.ToUpper(fmt.Sprintf("%x", s.entity.PrimaryKey.Fingerprint))
}

// UserID is the primary user id of the key, e.g. "uDOS Release <release@example.org>".
func (s *Signer) UserID() string {
	if id := s.entity.PrimaryIdentity(); id != nil {
		return id.Name
	}
	return ""
}

// PublicKey returns the armored public key, for publishing beside signatures.
func (s *Signer) PublicKey() ([]byte, error) {
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err != nil {
		return nil, err
	}
	if err := s.entity.Serialize(w); err != nil {
		return nil, fmt.Errorf("serialising public key: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// SignDetached reads all of r and returns an armored detached binary signature.
func (s *Signer) SignDetached(r io.Reader) ([]byte, error) {
	var buf bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&buf, s.entity, r, config(s.Now)); err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// SignFile writes the armored detached signature of path to path+".asc"
// (atomically, through a temporary file) and returns that path.
func SignFile(s *Signer, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("signing %q: %w", path, err)
	}
	defer f.Close()
	sig, err := s.SignDetached(f)
	if err != nil {
		return "", fmt.Errorf("signing %q: %w", path, err)
	}
	asc := path + ".asc"
	tmp := asc + ".tmp"
	if err := os.WriteFile(tmp, sig, 0o644); err != nil {
		return "", fmt.Errorf("writing signature %q: %w", asc, err)
	}
	if err := os.Rename(tmp, asc); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("writing signature %q: %w", asc, err)
	}
	return asc, nil
}

// Keyring is a set of trusted public keys.
type Keyring struct {
	entities openpgp.EntityList
	// Now is the clock used to judge key expiry; nil means time.Now.
	Now func() time.Time
}

// LoadKeyring reads one or more armored public key blocks (private key
// blocks are accepted too; only their public parts are used).
func LoadKeyring(armoredPublicKeys ...[]byte) (*Keyring, error) {
	kr := &Keyring{}
	for i, b := range armoredPublicKeys {
		if err := kr.add(b); err != nil {
			return nil, fmt.Errorf("reading public key block %d: %w", i+1, err)
		}
	}
	return kr, nil
}

// add reads every armored block in b (a keyring file may concatenate several).
func (kr *Keyring) add(b []byte) error {
	const begin = "-----BEGIN PGP"
	text := string(b)
	idx := strings.Index(text, begin)
	if idx < 0 {
		return fmt.Errorf("no armored OpenPGP key block found")
	}
	for idx >= 0 {
		rest := text[idx:]
		next := strings.Index(rest[len(begin):], begin)
		block := rest
		if next >= 0 {
			block = rest[:next+len(begin)]
		}
		el, err := openpgp.ReadArmoredKeyRing(strings.NewReader(block))
		if err != nil {
			return err
		}
		kr.entities = append(kr.entities, el...)
		if next < 0 {
			break
		}
		text = rest[next+len(begin):]
		idx = 0
	}
	return nil
}

// LoadKeyringFile reads a file of concatenated armored public keys.
func LoadKeyringFile(path string) (*Keyring, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading keyring %q: %w", path, err)
	}
	kr, err := LoadKeyring(b)
	if err != nil {
		return nil, fmt.Errorf("reading keyring %q: %w", path, err)
	}
	return kr, nil
}

// Len is the number of keys in the keyring.
func (kr *Keyring) Len() int { return len(kr.entities) }

// Fingerprints lists the primary key fingerprints, upper-case hex.
func (kr *Keyring) Fingerprints() []string {
	var out []string
	for _, e := range kr.entities {
		out = append(out, strings.ToUpper(fmt.Sprintf("%x", e.PrimaryKey.Fingerprint)))
	}
	return out
}

// Verified describes a good signature.
type Verified struct {
	Fingerprint string    // primary key fingerprint, upper-case hex
	UserID      string    // primary user id of the signer
	Created     time.Time // signature creation time
}

// VerifyDetached checks an armored detached signature over data against the keyring.
func (kr *Keyring) VerifyDetached(data io.Reader, armoredSig io.Reader) (Verified, error) {
	if kr == nil || len(kr.entities) == 0 {
		return Verified{}, ErrEmptyKeyring
	}
	sigBytes, err := io.ReadAll(io.LimitReader(armoredSig, 1<<20))
	if err != nil {
		return Verified{}, fmt.Errorf("reading signature: %w", err)
	}
	block, err := armor.Decode(bytes.NewReader(sigBytes))
	if err != nil || block.Type != openpgp.SignatureType {
		return Verified{}, ErrMalformedSignature
	}
	sig, signer, err := openpgp.VerifyDetachedSignature(kr.entities, data, block.Body, config(kr.Now))
	if err != nil {
		var se pgperrors.SignatureError
		switch {
		case errors.Is(err, pgperrors.ErrUnknownIssuer):
			return Verified{}, ErrUnknownSigner
		case errors.As(err, &se):
			return Verified{}, fmt.Errorf("%w: %v", ErrBadSignature, err)
		case errors.Is(err, pgperrors.ErrSignatureExpired), errors.Is(err, pgperrors.ErrKeyExpired):
			return Verified{}, fmt.Errorf("%w: %v", ErrBadSignature, err)
		}
		var ue pgperrors.UnsupportedError
		var se2 pgperrors.StructuralError
		if errors.As(err, &ue) || errors.As(err, &se2) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return Verified{}, fmt.Errorf("%w: %v", ErrMalformedSignature, err)
		}
		return Verified{}, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	v := Verified{Fingerprint: strings.ToUpper(fmt.Sprintf("%x", signer.PrimaryKey.Fingerprint))}
	if id := signer.PrimaryIdentity(); id != nil {
		v.UserID = id.Name
	}
	if sig != nil {
		v.Created = sig.CreationTime
	}
	return v, nil
}

// VerifyFile checks path against path+".asc" (or sigPath when not empty).
func (kr *Keyring) VerifyFile(path, sigPath string) (Verified, error) {
	if sigPath == "" {
		sigPath = path + ".asc"
	}
	data, err := os.Open(path)
	if err != nil {
		return Verified{}, fmt.Errorf("verifying %q: %w", path, err)
	}
	defer data.Close()
	sig, err := os.Open(sigPath)
	if err != nil {
		return Verified{}, fmt.Errorf("verifying %q: reading signature: %w", path, err)
	}
	defer sig.Close()
	v, err := kr.VerifyDetached(data, sig)
	if err != nil {
		return Verified{}, fmt.Errorf("verifying %q against %q: %w", path, sigPath, err)
	}
	return v, nil
}

// GenerateKey makes a fresh v4 Ed25519 signing key, fast enough for tests and
// demos, and returns it armored (private, encrypted with passphrase when not
// empty) together with its armored public key.
func GenerateKey(name, email string, passphrase []byte) (armoredPriv, armoredPub []byte, err error) {
	cfg := &packet.Config{
		Algorithm:   packet.PubKeyAlgoEdDSA,
		Curve:       packet.Curve25519,
		DefaultHash: crypto.SHA256,
	}
	e, err := openpgp.NewEntity(name, "", email, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("generating key: %w", err)
	}
	var pub bytes.Buffer
	w, err := armor.Encode(&pub, openpgp.PublicKeyType, nil)
	if err != nil {
		return nil, nil, err
	}
	if err := e.Serialize(w); err != nil {
		return nil, nil, err
	}
	w.Close()
	pub.WriteByte('\n')
	if len(passphrase) > 0 {
		if err := e.EncryptPrivateKeys(passphrase, cfg); err != nil {
			return nil, nil, fmt.Errorf("encrypting key: %w", err)
		}
	}
	var priv bytes.Buffer
	w, err = armor.Encode(&priv, openpgp.PrivateKeyType, nil)
	if err != nil {
		return nil, nil, err
	}
	if err := e.SerializePrivateWithoutSigning(w, nil); err != nil {
		return nil, nil, fmt.Errorf("serialising key: %w", err)
	}
	w.Close()
	priv.WriteByte('\n')
	return priv.Bytes(), pub.Bytes(), nil
}

// GenerateTestKey is GenerateKey, named for its use in tests.
func GenerateTestKey(name, email string, passphrase []byte) (armoredPriv, armoredPub []byte, err error) {
	return GenerateKey(name, email, passphrase)
}
