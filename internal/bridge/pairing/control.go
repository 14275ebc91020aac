package pairing

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/fredbook/udos-dist/internal/bridge/accept"
)

// The control socket joins `bridge pair` (the operator) to the running
// `bridge serve` (which owns the window): one JSON object a line.
//
//	pair  → serve  {"op":"open","timeout":"2m0s"}
//	serve → pair   {"event":"open"}
//	serve → pair   {"event":"offer","key":"ssh-ed25519 …","comment":…,"addr":…,"code":"123456"}
//	pair  → serve  {"confirm":true|false}
//	serve → pair   {"event":"result","paired":true} | {"event":"result","error":…,"kind":…}
//
// The socket lives in the 0700 bridge folder with mode 0600: only the user
// running serve can open a window. Closing the connection closes the window.
type message struct {
	Op      string `json:"op,omitempty"`
	Timeout string `json:"timeout,omitempty"`
	Event   string `json:"event,omitempty"`
	Key     string `json:"key,omitempty"`
	Comment string `json:"comment,omitempty"`
	Addr    string `json:"addr,omitempty"`
	Code    string `json:"code,omitempty"`
	Confirm *bool  `json:"confirm,omitempty"`
	Paired  bool   `json:"paired,omitempty"`
	Error   string `json:"error,omitempty"`
	Kind    string `json:"kind,omitempty"`
}

var kinds = map[string]error{
	"timeout": ErrTimeout, "declined": ErrDeclined, "gone": ErrClientGone, "open": ErrWindowOpen,
}

func kindOf(err error) string {
	for k, e := range kinds {
		if errors.Is(err, e) {
			return k
		}
	}
	return ""
}

// maxSocketPath is sun_path's size on Linux less its NUL (macOS: 104).
const maxSocketPath = 103

// Listen creates the control socket at path. A socket left behind by a
// serve that died is replaced; one another serve still answers on is an
// error (two serves on one root would race for the window).
func Listen(path string) (net.Listener, error) {
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("pairing socket %s: the path is longer than a Unix socket allows (%d bytes); use a uDOS root with a shorter path", path, maxSocketPath)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("pairing socket %s: another 'bridge serve' is running on this root", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("removing the stale pairing socket %s: %w", path, err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("creating the pairing socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("restricting the pairing socket %s: %w", path, err)
	}
	return ln, nil
}

// ServeControl serves operators on ln until ctx ends, each connection one
// window of w.
func ServeControl(ctx context.Context, ln net.Listener, w *Window, log func(string)) error {
	return accept.Serve(ctx, ln, func(ctx context.Context, c net.Conn) {
		defer c.Close()
		serveOperator(ctx, c, w, log)
	})
}

func serveOperator(ctx context.Context, c net.Conn, w *Window, log func(string)) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	enc := json.NewEncoder(c)
	// One reader: it hands the operator's answers over and notices the
	// operator leaving (Ctrl-C on `bridge pair`), which closes the window.
	answers := make(chan message, 1)
	go func() {
		defer cancel()
		sc := bufio.NewScanner(c)
		for sc.Scan() {
			var m message
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				return
			}
			answers <- m
		}
	}()
	var req message
	select {
	case req = <-answers:
	case <-ctx.Done():
		return
	}
	timeout, err := time.ParseDuration(req.Timeout)
	if req.Op != "open" || err != nil {
		_ = enc.Encode(message{Event: "result", Error: fmt.Sprintf("bad request %+v", req)})
		return
	}
	var mu sync.Mutex // enc is used by decide and by the final result
	paired, err := w.Open(ctx, timeout, func() {
		mu.Lock()
		_ = enc.Encode(message{Event: "open"})
		mu.Unlock()
	}, func(dctx context.Context, o Offer) (bool, error) {
		log(fmt.Sprintf("pairing: %s (%s) from %s offers itself, code %s; asking the operator", o.Fingerprint(), o.Comment, o.Addr, o.Code))
		mu.Lock()
		err := enc.Encode(message{Event: "offer", Key: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(o.Key))), Comment: o.Comment, Addr: o.Addr, Code: o.Code})
		mu.Unlock()
		if err != nil {
			return false, err
		}
		select {
		case a := <-answers:
			return a.Confirm != nil && *a.Confirm, nil
		case <-dctx.Done():
			return false, dctx.Err()
		}
	})
	res := message{Event: "result", Paired: err == nil}
	if err != nil {
		res.Error, res.Kind = err.Error(), kindOf(err)
		log("pairing: " + err.Error())
	} else {
		log(fmt.Sprintf("pairing: %s (%s) authorized", paired.Fingerprint(), paired.Comment))
	}
	mu.Lock()
	_ = enc.Encode(res)
	mu.Unlock()
}

// Pair is the operator's end: it opens a window of the serve listening on
// the socket at path, calls opened once it is open, and confirm with the
// client's offer (its context ends when the window does). It returns the
// paired offer, or ErrTimeout, ErrDeclined, ErrClientGone, ErrWindowOpen or
// another error.
func Pair(ctx context.Context, path string, timeout time.Duration, opened func(), confirm func(context.Context, Offer) (bool, error)) (*Offer, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("no 'udos-lib bridge serve' is running on this uDOS root (%s): start it first, then open the pairing window", path)
		}
		return nil, fmt.Errorf("opening the pairing socket %s: %w", path, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := json.NewEncoder(c).Encode(message{Op: "open", Timeout: timeout.String()}); err != nil {
		return nil, fmt.Errorf("asking bridge serve for a pairing window: %w", err)
	}
	msgs := make(chan message)
	readErr := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(c)
		for sc.Scan() {
			var m message
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				readErr <- fmt.Errorf("bad message from bridge serve: %w", err)
				return
			}
			msgs <- m
		}
		readErr <- errors.New("bridge serve closed the pairing socket (did it stop?)")
	}()
	next := func() (message, error) {
		select {
		case m := <-msgs:
			return m, nil
		case err := <-readErr:
			if ctx.Err() != nil {
				return message{}, ctx.Err()
			}
			return message{}, err
		}
	}
	var offer *Offer
	for {
		m, err := next()
		if err != nil {
			return nil, err
		}
		switch m.Event {
		case "open":
			if opened != nil {
				opened()
			}
		case "offer":
			key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(m.Key))
			if err != nil {
				return nil, fmt.Errorf("bridge serve offered a bad key %q: %w", m.Key, err)
			}
			offer = &Offer{Key: key, Comment: m.Comment, Addr: m.Addr, Code: m.Code}
			// The window may end (timeout, client gone) while the operator
			// is still deciding: that result arrives on msgs meanwhile.
			cctx, ccancel := context.WithCancel(ctx)
			verdict := make(chan error, 1)
			var ok bool
			go func() {
				var err error
				ok, err = confirm(cctx, *offer)
				verdict <- err
			}()
			select {
			case err := <-verdict:
				ccancel()
				if err != nil {
					return nil, err
				}
				if err := json.NewEncoder(c).Encode(message{Confirm: &ok}); err != nil {
					return nil, fmt.Errorf("sending the answer to bridge serve: %w", err)
				}
			case m := <-msgs:
				ccancel()
				return nil, resultErr(m)
			case err := <-readErr:
				ccancel()
				return nil, err
			}
		case "result":
			if m.Paired {
				return offer, nil
			}
			return nil, resultErr(m)
		}
	}
}

func resultErr(m message) error {
	if m.Paired {
		return nil
	}
	if e, ok := kinds[m.Kind]; ok {
		return e
	}
	return errors.New(m.Error)
}
