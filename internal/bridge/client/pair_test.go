package client_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/fredbook/udos-dist/internal/bridge/client"
	"github.com/fredbook/udos-dist/internal/bridge/hostauth"
	"github.com/fredbook/udos-dist/internal/bridge/pairing"
	"github.com/fredbook/udos-dist/internal/bridge/server"
)

// newSonic is a client key the host does not know.
func newSonic(t *testing.T) ssh.Signer {
	t.Helper()
	k, err := hostauth.LoadOrCreateKey(filepath.Join(t.TempDir(), "client"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// openWindow opens the pairing window in the background with decide and
// returns once clients can offer; the result arrives on the channel.
func (fx *fixture) openWindow(t *testing.T, timeout time.Duration, decide func(context.Context, pairing.Offer) (bool, error)) <-chan windowResult {
	t.Helper()
	res := make(chan windowResult, 1)
	opened := make(chan struct{})
	go func() {
		o, err := fx.window.Open(t.Context(), timeout, func() { close(opened) }, decide)
		res <- windowResult{o, err}
	}()
	<-opened
	return res
}

// openUnanswered opens a window whose operator does not answer in time:
// asked is closed once an offer reaches the operator, who says yes only
// after the offer ended (the window closed or the client left), a verdict
// that must not count.
func (fx *fixture) openUnanswered(t *testing.T, timeout time.Duration) (res <-chan windowResult, asked <-chan struct{}) {
	t.Helper()
	offered := make(chan struct{})
	res = fx.openWindow(t, timeout, func(ctx context.Context, _ pairing.Offer) (bool, error) {
		close(offered)
		<-ctx.Done()
		return true, nil
	})
	return res, offered
}

// unpaired checks that the window ends with want and k stays unauthorized.
func (fx *fixture) unpaired(t *testing.T, res <-chan windowResult, want error, k ssh.Signer) {
	t.Helper()
	if r := <-res; !errors.Is(r.err, want) {
		t.Fatalf("window: %+v, want %v", r, want)
	}
	if fx.isAuthorized(t, k) {
		t.Fatalf("a key was authorized by a window that ended with %v", want)
	}
}

type windowResult struct {
	offer *pairing.Offer
	err   error
}

func (fx *fixture) isAuthorized(t *testing.T, k ssh.Signer) bool {
	t.Helper()
	keys, err := fx.ak.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range keys {
		if bytes.Equal(a.Key.Marshal(), k.PublicKey().Marshal()) {
			return true
		}
	}
	return false
}

func TestPairConfirmedAuthorizesTheKey(t *testing.T) {
	fx := newFixture(t, 0)
	fx.pin(t)
	sonic := newSonic(t)
	offers := make(chan pairing.Offer, 1)
	res := fx.openWindow(t, time.Minute, func(_ context.Context, o pairing.Offer) (bool, error) {
		offers <- o
		return true, nil
	})
	c := fx.dialKey(t, sonic)
	// The pairing connection may pair and nothing else.
	if err := c.Run(context.Background(), []string{"ucode", "x"}, nil, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "not authorized") {
		t.Fatalf("run on a pairing connection: %v", err)
	}
	code := c.PairCode()
	already, err := c.Pair(context.Background(), "sonic-1\nssh-ed25519 AAAAinjected")
	if err != nil || already {
		t.Fatalf("pair: already=%v %v", already, err)
	}
	o := <-offers
	if o.Code != code || len(code) != hostauth.PairCodeDigits {
		t.Fatalf("the host shows code %q, the Sonic %q", o.Code, code)
	}
	if !bytes.Equal(o.Key.Marshal(), sonic.PublicKey().Marshal()) {
		t.Fatalf("the host was offered %s, not the Sonic's key", o.Fingerprint())
	}
	if r := <-res; r.err != nil || r.offer.Fingerprint() != hostauth.Fingerprint(sonic.PublicKey()) {
		t.Fatalf("window: %+v", r)
	}
	if !fx.isAuthorized(t, sonic) {
		t.Fatal("the confirmed key is not in authorized_keys")
	}
	b, _ := os.ReadFile(fx.ak.File)
	if n := strings.Count(string(b), "\n"); n != 1 || !strings.HasSuffix(string(b), " sonic-1 ssh-ed25519 AAAAinjected\n") {
		t.Fatalf("authorized_keys must hold one line with the comment on it:\n%s", b)
	}
	if fi, _ := os.Stat(fx.ak.File); fi.Mode().Perm() != 0o600 {
		t.Fatalf("authorized_keys mode %v", fi.Mode())
	}
	// A new connection is an authorized one: it runs commands.
	c2 := fx.dialKey(t, sonic)
	var out bytes.Buffer
	if err := c2.Run(context.Background(), []string{"ucode", "hi"}, nil, &out, io.Discard); err != nil || out.String() != "[hi]\n" {
		t.Fatalf("run after pairing: %q %v", out.String(), err)
	}
	// The window paired one client and is closed: another unknown key is
	// refused at authentication again.
	if fx.window.IsOpen() {
		t.Fatal("the window is still open after a pairing")
	}
	if _, err := client.Dial(context.Background(), fx.cfgKey(newSonic(t))); !client.IsUnauthorized(err) {
		t.Fatalf("unknown client after the window: %v", err)
	}
}

func TestPairDeclinedAuthorizesNothing(t *testing.T) {
	fx := newFixture(t, 0)
	fx.pin(t)
	sonic := newSonic(t)
	res := fx.openWindow(t, time.Minute, func(context.Context, pairing.Offer) (bool, error) { return false, nil })
	c := fx.dialKey(t, sonic)
	_, err := c.Pair(context.Background(), "sonic")
	if !errors.Is(err, client.ErrNotPaired) || !strings.Contains(err.Error(), "declined") {
		t.Fatalf("declined pairing: %v", err)
	}
	fx.unpaired(t, res, pairing.ErrDeclined, sonic)
	if _, err := client.Dial(context.Background(), fx.cfgKey(sonic)); !client.IsUnauthorized(err) {
		t.Fatalf("declined client after the window: %v", err)
	}
}

func TestPairTimeout(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, 0)
	fx.pin(t)
	// Nobody offers: the window closes by itself.
	res := fx.openWindow(t, 100*time.Millisecond, func(context.Context, pairing.Offer) (bool, error) {
		t.Error("decide called without an offer")
		return true, nil
	})
	if r := <-res; !errors.Is(r.err, pairing.ErrTimeout) {
		t.Fatalf("idle window: %+v", r)
	}
	// The operator does not answer before the timeout: the waiting Sonic is
	// told, nothing is authorized.
	sonic := newSonic(t)
	res, asked := fx.openUnanswered(t, 2*time.Second)
	c := fx.dialKey(t, sonic)
	_, err := c.Pair(context.Background(), "sonic")
	<-asked
	if !errors.Is(err, client.ErrNotPaired) || !strings.Contains(err.Error(), "window closed") {
		t.Fatalf("pairing past the timeout: %v", err)
	}
	fx.unpaired(t, res, pairing.ErrTimeout, sonic)
}

func TestPairSecondClientDuringWindow(t *testing.T) {
	fx := newFixture(t, 0)
	fx.pin(t)
	first, second := newSonic(t), newSonic(t)
	asked, release := make(chan struct{}), make(chan struct{})
	res := fx.openWindow(t, time.Minute, func(context.Context, pairing.Offer) (bool, error) {
		close(asked)
		<-release
		return true, nil
	})
	c1 := fx.dialKey(t, first)
	paired := make(chan error, 1)
	go func() { _, err := c1.Pair(context.Background(), "first"); paired <- err }()
	<-asked
	// The second client gets in (the window is open) but may not pair, run
	// or sync.
	c2 := fx.dialKey(t, second)
	if _, err := c2.Pair(context.Background(), "second"); !errors.Is(err, client.ErrNotPaired) || !strings.Contains(err.Error(), "another client") {
		t.Fatalf("second pairing in one window: %v", err)
	}
	if err := c2.Run(context.Background(), []string{"ucode"}, nil, io.Discard, io.Discard); err == nil {
		t.Fatal("an unpaired client ran a command")
	}
	if _, err := c2.Subsystem(server.SyncSubsystem); err == nil {
		t.Fatal("an unpaired client opened the sync subsystem")
	}
	close(release)
	if err := <-paired; err != nil {
		t.Fatalf("first pairing: %v", err)
	}
	if r := <-res; r.err != nil {
		t.Fatalf("window: %+v", r)
	}
	if !fx.isAuthorized(t, first) || fx.isAuthorized(t, second) {
		t.Fatalf("authorized: first %v, second %v", fx.isAuthorized(t, first), fx.isAuthorized(t, second))
	}
}

func TestPairClientLeavesBeforeTheVerdict(t *testing.T) {
	fx := newFixture(t, 0)
	fx.pin(t)
	sonic := newSonic(t)
	res, asked := fx.openUnanswered(t, time.Minute)
	c := fx.dialKey(t, sonic)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-asked; c.Close(); cancel() }()
	if _, err := c.Pair(ctx, "sonic"); err == nil {
		t.Fatal("pairing survived its connection")
	}
	fx.unpaired(t, res, pairing.ErrClientGone, sonic)
}

func TestPairNeedsTrustAndWindow(t *testing.T) {
	fx := newFixture(t, 1)
	sonic := newSonic(t)
	res := fx.openWindow(t, time.Minute, func(context.Context, pairing.Offer) (bool, error) {
		t.Error("an offer from an untrusted host connection")
		return true, nil
	})
	// Not trusted: refused before anything is offered.
	var ue *hostauth.UnknownError
	if _, err := client.Dial(context.Background(), fx.cfgKey(sonic)); !errors.As(err, &ue) {
		t.Fatalf("pairing with an untrusted host: %v", err)
	}
	fx.pin(t)
	// An authorized client asking to pair is told it already is, and the
	// window stays open for the Sonic it was opened for.
	c := fx.dial(t, 0)
	if already, err := c.Pair(context.Background(), "sonic-0"); err != nil || !already {
		t.Fatalf("authorized client pairing: %v %v", already, err)
	}
	if !fx.window.IsOpen() {
		t.Fatal("the window closed without an offer")
	}
	select {
	case r := <-res:
		t.Fatalf("window ended: %+v", r)
	default:
	}
}

func TestPairWithoutWindow(t *testing.T) {
	fx := newFixture(t, 0)
	fx.pin(t)
	sonic := newSonic(t)
	if _, err := client.Dial(context.Background(), fx.cfgKey(sonic)); !client.IsUnauthorized(err) {
		t.Fatalf("unknown client, no window: %v", err)
	}
	if !strings.Contains(fx.log.String(), "refusing unknown client key "+hostauth.Fingerprint(sonic.PublicKey())) {
		t.Fatalf("host log: %s", fx.log)
	}
}
