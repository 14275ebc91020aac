package pairing_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/fredbook/udos-dist/internal/bridge/pairing"
)

func pubKey(t *testing.T) ssh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// control serves w on a real Unix socket in a fresh folder.
func control(t *testing.T, w *pairing.Window) (sock string) {
	t.Helper()
	sock = filepath.Join(t.TempDir(), "pair.sock")
	ln, err := pairing.Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket: %v %v", fi, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pairing.ServeControl(ctx, ln, w, func(string) {}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return sock
}

// offerWhenOpen offers o once the window is open and returns the verdict.
func offerWhenOpen(w *pairing.Window, opened <-chan struct{}, o pairing.Offer) <-chan error {
	res := make(chan error, 1)
	go func() { <-opened; res <- w.Offer(context.Background(), o) }()
	return res
}

func TestControlConfirmAndDecline(t *testing.T) {
	var authorized []pairing.Offer
	w := &pairing.Window{Authorize: func(o pairing.Offer) error { authorized = append(authorized, o); return nil }}
	sock := control(t, w)
	for _, tc := range []struct {
		name    string
		confirm bool
		want    error
	}{
		{"confirmed", true, nil},
		{"declined", false, pairing.ErrDeclined},
	} {
		t.Run(tc.name, func(t *testing.T) {
			authorized = nil
			o := pairing.Offer{Key: pubKey(t), Comment: "sonic", Addr: "192.0.2.7:5000", Code: "123456"}
			opened := make(chan struct{})
			res := offerWhenOpen(w, opened, o)
			var seen pairing.Offer
			got, err := pairing.Pair(context.Background(), sock, time.Minute, func() { close(opened) }, func(_ context.Context, so pairing.Offer) (bool, error) {
				seen = so
				return tc.confirm, nil
			})
			if !errors.Is(err, tc.want) && (tc.want != nil || err != nil) {
				t.Fatalf("operator: %v, want %v", err, tc.want)
			}
			if cerr := <-res; !errors.Is(cerr, tc.want) && (tc.want != nil || cerr != nil) {
				t.Fatalf("client: %v, want %v", cerr, tc.want)
			}
			if seen.Code != o.Code || seen.Comment != o.Comment || seen.Addr != o.Addr || seen.Fingerprint() != o.Fingerprint() {
				t.Fatalf("the operator saw %+v, the client offered %+v", seen, o)
			}
			if tc.confirm != (len(authorized) == 1) || tc.confirm != (got != nil) {
				t.Fatalf("confirm=%v: authorized %d, returned %v", tc.confirm, len(authorized), got)
			}
			if w.IsOpen() {
				t.Fatal("the window stayed open after one pairing")
			}
		})
	}
}

func TestControlOperatorLeavesClosesTheWindow(t *testing.T) {
	w := &pairing.Window{Authorize: func(pairing.Offer) error { t.Error("authorized"); return nil }}
	sock := control(t, w)
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() {
		_, err := pairing.Pair(ctx, sock, time.Hour, cancel, func(context.Context, pairing.Offer) (bool, error) { return true, nil })
		res <- err
	}()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Fatalf("operator Ctrl-C: %v", err)
	}
	// serve notices the operator's socket closing and closes the window;
	// an offer from then on finds none (bounded wait for serve's reader).
	for i := 0; w.IsOpen(); i++ {
		if i > 500 {
			t.Fatal("the window stayed open after its operator left")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := w.Offer(context.Background(), pairing.Offer{Key: pubKey(t)}); !errors.Is(err, pairing.ErrNoWindow) {
		t.Fatalf("offer after the window: %v", err)
	}
}

func TestControlOneWindowAtATime(t *testing.T) {
	w := &pairing.Window{Authorize: func(pairing.Offer) error { return nil }}
	sock := control(t, w)
	opened := make(chan struct{})
	first := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_, err := pairing.Pair(ctx, sock, time.Hour, func() { close(opened) }, func(context.Context, pairing.Offer) (bool, error) { return true, nil })
		first <- err
	}()
	<-opened
	if _, err := pairing.Pair(context.Background(), sock, time.Minute, nil, nil); !errors.Is(err, pairing.ErrWindowOpen) {
		t.Fatalf("second window: %v", err)
	}
	cancel()
	<-first
}

func TestListenSocket(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "pair.sock")
	// A socket left by a serve that died is replaced.
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	ln, err = pairing.Listen(sock)
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	// A live one is another serve on this root.
	if _, err := pairing.Listen(sock); err == nil || !strings.Contains(err.Error(), "another 'bridge serve'") {
		t.Fatalf("live socket: %v", err)
	}
	// No serve at all: the operator is told to start one.
	if _, err := pairing.Pair(context.Background(), filepath.Join(dir, "none.sock"), time.Minute, nil, nil); err == nil || !strings.Contains(err.Error(), "no 'udos-lib bridge serve' is running") {
		t.Fatalf("no serve: %v", err)
	}
	if _, err := pairing.Listen(filepath.Join(dir, strings.Repeat("x", 120))); err == nil || !strings.Contains(err.Error(), "longer than a Unix socket allows") {
		t.Fatalf("long path: %v", err)
	}
}

func TestWindowRefusals(t *testing.T) {
	w := &pairing.Window{Authorize: func(pairing.Offer) error { return errors.New("disk full") }}
	if err := w.Offer(context.Background(), pairing.Offer{Key: pubKey(t)}); !errors.Is(err, pairing.ErrNoWindow) {
		t.Fatalf("no window: %v", err)
	}
	if _, err := w.Open(context.Background(), 0, nil, nil); err == nil {
		t.Fatal("a window of no time opened")
	}
	// Authorize failing is the pairing failing, on both ends.
	opened := make(chan struct{})
	res := offerWhenOpen(w, opened, pairing.Offer{Key: pubKey(t)})
	_, err := w.Open(context.Background(), time.Minute, func() { close(opened) }, func(context.Context, pairing.Offer) (bool, error) { return true, nil })
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("operator: %v", err)
	}
	if err := <-res; err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("client: %v", err)
	}
}
