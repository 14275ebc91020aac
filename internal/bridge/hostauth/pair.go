package hostauth

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"golang.org/x/crypto/ssh"
)

// PairChannel is the SSH channel type by which a Sonic whose key is not yet
// authorized asks, during the host's pairing window, to be authorized. Its
// extra data is the Sonic's comment (an SSH string); the host answers with
// one PairResult message and closes the channel.
const PairChannel = "udos-pair-v1@udos"

// pairDomain separates the pairing transcript from every other hash the
// bridge computes (the host proof, SSH's own exchange hash).
const pairDomain = "udos-bridge-pair-v1"

// PairCodeDigits is the length of the short authentication string.
const PairCodeDigits = 6

// PairCode is the short authentication string both ends show when a Sonic
// pairs: 6 decimal digits of SHA-256 over the domain, the SSH session id,
// the host's and the client's public keys, each length-prefixed (SSH wire
// strings) so no two transcripts share an encoding. Neither side chooses it
// alone: the session id is the key exchange's hash over both sides'
// ephemeral keys and nonces. A client other than the Sonic the operator
// looks at (another key, or a man in the middle, which would need a session
// of its own) gets another code, 1 in 10⁶ the same.
func PairCode(sessionID []byte, host, client ssh.PublicKey) string {
	sum := sha256.Sum256(ssh.Marshal(struct {
		Domain    string
		SessionID []byte
		Host      []byte
		Client    []byte
	}{pairDomain, sessionID, host.Marshal(), client.Marshal()}))
	// 2⁶⁴ mod 10⁶ is a bias of under 10⁻¹³: negligible.
	return fmt.Sprintf("%06d", binary.BigEndian.Uint64(sum[:8])%1_000_000)
}

// PairResult is the host's answer on a pairing channel.
type PairResult struct {
	// Paired is true when the client key is authorized now.
	Paired bool
	// Already is true when it was authorized before this pairing.
	Already bool
	// Message says why the pairing failed.
	Message string
}
