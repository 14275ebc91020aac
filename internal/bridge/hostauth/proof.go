package hostauth

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/ssh"
)

// ProofRequest is the SSH global request by which a client asks the host to
// prove, after the handshake, that it holds the pinned host key in this
// session. Its payload is a 32-byte nonce; the reply is an ssh.Signature.
const ProofRequest = "udos-bridge-auth-v1@udos"

// proofDomain separates what the host signs from anything else it signs
// (the SSH exchange hash is a bare 32- or 64-byte hash): the host key is
// never made to sign data chosen by a client alone.
const proofDomain = "udos-bridge-auth-v1"

// NonceSize is the length of the client's challenge.
const NonceSize = 32

// ErrBadProof is a host whose proof does not verify.
var ErrBadProof = errors.New("the host's proof of its key does not verify for this session")

// ProofMessage is what the host signs: domain ‖ session id ‖ nonce.
func ProofMessage(sessionID, nonce []byte) []byte {
	m := make([]byte, 0, len(proofDomain)+len(sessionID)+len(nonce))
	m = append(m, proofDomain...)
	m = append(m, sessionID...)
	return append(m, nonce...)
}

// SignProof answers a client's challenge on the host side.
func SignProof(host ssh.Signer, sessionID, nonce []byte) ([]byte, error) {
	if len(nonce) != NonceSize {
		return nil, fmt.Errorf("nonce of %d bytes; want %d", len(nonce), NonceSize)
	}
	sig, err := host.Sign(rand.Reader, ProofMessage(sessionID, nonce))
	if err != nil {
		return nil, fmt.Errorf("signing the proof: %w", err)
	}
	return ssh.Marshal(sig), nil
}

// VerifyProof checks a host's answer against the pinned key, this session's
// id and the nonce the client sent; a signature made for another session or
// another nonce (a replay) fails.
func VerifyProof(pinned ssh.PublicKey, sessionID, nonce, reply []byte) error {
	var sig ssh.Signature
	if err := ssh.Unmarshal(reply, &sig); err != nil {
		return fmt.Errorf("%w: %v", ErrBadProof, err)
	}
	if sig.Format != pinned.Type() {
		return fmt.Errorf("%w: signature of type %s from a %s key", ErrBadProof, sig.Format, pinned.Type())
	}
	if err := pinned.Verify(ProofMessage(sessionID, nonce), &sig); err != nil {
		return fmt.Errorf("%w: %v", ErrBadProof, err)
	}
	return nil
}

// Requester is the part of an ssh.Conn the challenge needs.
type Requester interface {
	SessionID() []byte
	SendRequest(name string, wantReply bool, payload []byte) (bool, []byte, error)
}

// Challenge sends a fresh nonce over conn and verifies the host's answer
// against pinned.
func Challenge(conn Requester, pinned ssh.PublicKey, random io.Reader) error {
	nonce := make([]byte, NonceSize)
	if _, err := io.ReadFull(random, nonce); err != nil {
		return fmt.Errorf("making a nonce: %w", err)
	}
	ok, reply, err := conn.SendRequest(ProofRequest, true, nonce)
	if err != nil {
		return fmt.Errorf("asking the host to prove its key: %w", err)
	}
	if !ok {
		return fmt.Errorf("%w: the host declined the challenge (not a uDOS bridge?)", ErrBadProof)
	}
	return VerifyProof(pinned, bytes.Clone(conn.SessionID()), nonce, reply)
}
