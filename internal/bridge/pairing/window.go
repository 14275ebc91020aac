// Package pairing is the host side of pairing a Sonic: a pairing window
// opened by the operator (`udos-lib bridge pair`), during which one client
// whose key is not yet authorized may offer itself; the operator compares
// the short code both screens show and confirms, and only then is the key
// authorized. The window closes after one offer (confirmed or not) or its
// timeout. The operator's command reaches the running `bridge serve`
// through a Unix socket in the bridge folder (control.go).
package pairing

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/fredbook/udos-dist/internal/bridge/hostauth"
)

// Offer is a client asking to be paired.
type Offer struct {
	Key     ssh.PublicKey
	Comment string
	Addr    string
	// Code is the short authentication string as the host computed it.
	Code string
}

// Fingerprint of the offered key.
func (o Offer) Fingerprint() string { return hostauth.Fingerprint(o.Key) }

var (
	// ErrNoWindow: no pairing window is open.
	ErrNoWindow = errors.New("no pairing window is open on the host (run 'udos-lib bridge pair' there, then retry)")
	// ErrBusy: the open window already has its one client.
	ErrBusy = errors.New("another client is pairing with the host in this window (the window pairs one client; open a new one with 'udos-lib bridge pair')")
	// ErrDeclined: the operator did not confirm the code.
	ErrDeclined = errors.New("the host's operator declined the pairing (the codes must match): nothing authorized")
	// ErrTimeout: the window closed before a client offered or the operator answered.
	ErrTimeout = errors.New("the pairing window closed before the pairing was confirmed: nothing authorized")
	// ErrWindowOpen: a second window while one is open.
	ErrWindowOpen = errors.New("a pairing window is already open on this host")
	// ErrClientGone: the client left before the operator answered.
	ErrClientGone = errors.New("the client disconnected before the pairing was confirmed: nothing authorized")
)

// Window is the host's pairing window; the zero value is closed. Authorize
// is called with a confirmed offer and must store its key durably.
type Window struct {
	Authorize func(Offer) error

	mu  sync.Mutex
	cur *window
}

type window struct {
	offers chan offerReq
	closed chan struct{}
	taken  bool
}

type offerReq struct {
	offer Offer
	ctx   context.Context // the client's connection
	res   chan error
}

// IsOpen reports whether a window is open, i.e. whether an unknown client
// key may connect to offer itself.
func (w *Window) IsOpen() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cur != nil
}

// Open opens the window for at most timeout, calls opened (when not nil)
// once clients can offer, and waits for one offer. decide
// shows it to the operator and returns the verdict; its context ends when
// the window times out or the client leaves. Open returns the paired offer,
// or ErrTimeout, ErrDeclined, ErrClientGone, ctx's error, or Authorize's
// error; in each case the window is closed again.
func (w *Window) Open(ctx context.Context, timeout time.Duration, opened func(), decide func(context.Context, Offer) (bool, error)) (*Offer, error) {
	if timeout <= 0 {
		return nil, fmt.Errorf("pairing window of %s: the timeout must be positive", timeout)
	}
	w.mu.Lock()
	if w.cur != nil {
		w.mu.Unlock()
		return nil, ErrWindowOpen
	}
	cur := &window{offers: make(chan offerReq), closed: make(chan struct{})}
	w.cur = cur
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.cur = nil
		w.mu.Unlock()
		close(cur.closed)
	}()
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if opened != nil {
		opened()
	}
	var req offerReq
	select {
	case <-wctx.Done():
		return nil, windowErr(ctx)
	case req = <-cur.offers:
	}
	dctx, dcancel := context.WithCancel(wctx)
	defer dcancel()
	stop := context.AfterFunc(req.ctx, dcancel)
	defer stop()
	ok, err := decide(dctx, req.offer)
	switch {
	case req.ctx.Err() != nil:
		err = ErrClientGone
	case wctx.Err() != nil:
		err = windowErr(ctx)
	case err != nil:
		err = fmt.Errorf("asking the operator: %w", err)
	case !ok:
		err = ErrDeclined
	default:
		if err = w.Authorize(req.offer); err != nil {
			err = fmt.Errorf("authorizing %s: %w", req.offer.Fingerprint(), err)
		}
	}
	req.res <- err
	if err != nil {
		return nil, err
	}
	return &req.offer, nil
}

// windowErr is why a window ended without a verdict: the operator's own
// cancellation, or the timeout.
func windowErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return ErrTimeout
}

// Offer hands a client's offer to the open window and waits for the
// verdict: nil when the key is authorized now. ctx is the client's
// connection: when it ends, the offer is withdrawn.
func (w *Window) Offer(ctx context.Context, o Offer) error {
	w.mu.Lock()
	cur := w.cur
	switch {
	case cur == nil:
		w.mu.Unlock()
		return ErrNoWindow
	case cur.taken:
		w.mu.Unlock()
		return ErrBusy
	}
	cur.taken = true
	w.mu.Unlock()
	req := offerReq{offer: o, ctx: ctx, res: make(chan error, 1)}
	select {
	case cur.offers <- req:
	case <-cur.closed:
		// Timed out between the check and the hand-over.
		return ErrTimeout
	case <-ctx.Done():
		// Left before the window took the offer: the window stays open for
		// another client.
		w.mu.Lock()
		cur.taken = false
		w.mu.Unlock()
		return ctx.Err()
	}
	// Open always answers an offer it took, also when the client left.
	return <-req.res
}
