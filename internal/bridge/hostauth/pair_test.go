package hostauth_test

import (
	"bytes"
	"crypto/ed25519"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/fredbook/udos-dist/internal/bridge/hostauth"
)

// key is a deterministic ed25519 public key from a seed byte.
func key(t *testing.T, seed byte) ssh.PublicKey {
	t.Helper()
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
	k, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestPairCode(t *testing.T) {
	host, sonic, other := key(t, 1), key(t, 2), key(t, 3)
	sid := bytes.Repeat([]byte{0xAB}, 32)
	otherSID := append(bytes.Clone(sid[:31]), 0xAC)
	base := hostauth.PairCode(sid, host, sonic)
	if len(base) != hostauth.PairCodeDigits || len(bytes.Trim([]byte(base), "0123456789")) != 0 {
		t.Fatalf("code %q is not %d digits", base, hostauth.PairCodeDigits)
	}
	for _, tc := range []struct {
		name         string
		sid          []byte
		host, client ssh.PublicKey
		same         bool
	}{
		{"both sides, same inputs", bytes.Clone(sid), key(t, 1), key(t, 2), true},
		{"another client key", sid, host, other, false},
		{"another host key", sid, other, sonic, false},
		{"another session", otherSID, host, sonic, false},
		{"keys swapped", sid, sonic, host, false},
		// Length prefixes: moving a byte from the session id into the key
		// field boundary cannot give the same transcript.
		{"truncated session", sid[:31], host, sonic, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := hostauth.PairCode(tc.sid, tc.host, tc.client)
			if (got == base) != tc.same {
				t.Fatalf("code %s vs %s: want same=%v", got, base, tc.same)
			}
		})
	}
}

// TestPairCodeKnownAnswer pins the derivation: both ends of the wire (and
// any other implementation) must compute the same digits.
func TestPairCodeKnownAnswer(t *testing.T) {
	got := hostauth.PairCode(bytes.Repeat([]byte{0xAB}, 32), key(t, 1), key(t, 2))
	// sha256(ssh string "udos-bridge-pair-v1" ‖ string sid ‖ string host ‖
	// string client), first 8 bytes big-endian mod 10⁶; computed
	// independently with Python's hashlib (see docs/BRIDGE.md).
	const want = "640777"
	if got != want {
		t.Fatalf("PairCode = %s, want %s", got, want)
	}
}
