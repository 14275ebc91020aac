// Package client is the Sonic end of the bridge's transport: one kept-alive
// SSH connection per host (TCP_NODELAY, keepalive requests), the host key
// checked against the pin and proven by the post-handshake challenge, and
// one session per command with output streamed as it comes.
package client

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/fredbook/udos-dist/internal/bridge/hostauth"
	"github.com/fredbook/udos-dist/internal/bridge/server"
)

// Config of a connection.
type Config struct {
	// Host and Port are where to connect; Name is the host's name for the
	// pin (the discovered instance name, or Host).
	Host string
	Port int
	Name string
	Key  ssh.Signer
	// HostKey decides whether the offered key is acceptable (the pin check,
	// or the trust step's capture).
	HostKey func(key ssh.PublicKey) error
	// KeepAlive is the interval of keepalive requests; three unanswered ones
	// close the connection so a cut link is an error, not a hang.
	KeepAlive   time.Duration
	DialTimeout time.Duration
}

// Pinned returns a HostKey check against known_hosts for name:port.
func Pinned(kh hostauth.KnownHosts, name string, port int) func(ssh.PublicKey) error {
	return func(key ssh.PublicKey) error { return kh.Check(name, port, key) }
}

// Conn is one connection to a host.
type Conn struct {
	ssh     *ssh.Client
	hostKey ssh.PublicKey
	key     ssh.PublicKey // this client's
	done    chan struct{}
	once    sync.Once
	err     error
	errMu   sync.Mutex
}

// ErrLinkLost is the connection dropping under a command or a sync.
var ErrLinkLost = errors.New("the connection to the host was lost")

// Dial connects, checks the host key, authenticates and runs the challenge.
func Dial(ctx context.Context, cfg Config) (*Conn, error) {
	if cfg.Port == 0 {
		cfg.Port = hostauth.DefaultPort
	}
	if cfg.Name == "" {
		cfg.Name = cfg.Host
	}
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = 5 * time.Second
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	d := net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: cfg.KeepAlive}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", addr, err)
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	var offered ssh.PublicKey
	sc := &ssh.ClientConfig{
		User: "udos",
		Auth: []ssh.AuthMethod{ssh.PublicKeys(cfg.Key)},
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			offered = key
			return cfg.HostKey(key)
		},
		HostKeyAlgorithms: []string{hostauth.KeyAlgo},
		ClientVersion:     "SSH-2.0-udos-bridge",
		Timeout:           cfg.DialTimeout,
	}
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(cfg.DialTimeout))
	c, chans, reqs, err := ssh.NewClientConn(nc, addr, sc)
	stop()
	if err != nil {
		nc.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// The host-key decision is the error to show, not SSH's wrapping.
		var ue *hostauth.UnknownError
		var me *hostauth.MismatchError
		if errors.As(err, &ue) || errors.As(err, &me) {
			return nil, unwrapHostKey(err)
		}
		return nil, fmt.Errorf("SSH handshake with %s: %w", addr, err)
	}
	_ = nc.SetDeadline(time.Time{})
	cl := ssh.NewClient(c, chans, reqs)
	if err := hostauth.Challenge(c, offered, rand.Reader); err != nil {
		cl.Close()
		return nil, fmt.Errorf("host %s: %w", addr, err)
	}
	conn := &Conn{ssh: cl, hostKey: offered, key: cfg.Key.PublicKey(), done: make(chan struct{})}
	go func() { _ = cl.Wait(); conn.close(ErrLinkLost) }()
	go conn.keepAlive(cfg.KeepAlive)
	return conn, nil
}

func unwrapHostKey(err error) error {
	var ue *hostauth.UnknownError
	if errors.As(err, &ue) {
		return ue
	}
	var me *hostauth.MismatchError
	errors.As(err, &me)
	return me
}

func (c *Conn) close(err error) {
	c.once.Do(func() {
		c.errMu.Lock()
		c.err = err
		c.errMu.Unlock()
		close(c.done)
		c.ssh.Close()
	})
}

func (c *Conn) lost() error {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	return c.err
}

func (c *Conn) keepAlive(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	missed := 0
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		r := make(chan error, 1)
		go func() { _, _, err := c.ssh.SendRequest("keepalive@openssh.com", true, nil); r <- err }()
		select {
		case err := <-r:
			if err != nil {
				c.close(ErrLinkLost)
				return
			}
			missed = 0
		case <-time.After(every):
			if missed++; missed >= 3 {
				c.close(fmt.Errorf("%w: no answer to %d keepalives in %s", ErrLinkLost, missed, 3*every))
				return
			}
		case <-c.done:
			return
		}
	}
}

// HostKey is the host's (verified) key.
func (c *Conn) HostKey() ssh.PublicKey { return c.hostKey }

// Close closes the connection.
func (c *Conn) Close() error { c.close(net.ErrClosed); return nil }

// ExitError is a remote command that ended unsuccessfully.
type ExitError struct {
	Status int
	Signal string
}

func (e *ExitError) Error() string {
	if e.Signal != "" {
		return "the remote command was killed by SIG" + e.Signal
	}
	return fmt.Sprintf("the remote command exited with status %d", e.Status)
}

// Run runs argv on the host in a new session, streaming its output to
// stdout and stderr (and stdin, when not nil, to it). When ctx ends it
// signals the remote command with INT and returns ctx's error once the
// command has ended or after a short grace. A non-zero exit is an
// *ExitError.
func (c *Conn) Run(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	sess, err := c.ssh.NewSession()
	if err != nil {
		return c.wrapLost(fmt.Errorf("opening a session: %w", err))
	}
	defer sess.Close()
	sess.Stdout, sess.Stderr = stdout, stderr
	if stdin != nil {
		sess.Stdin = stdin
	}
	if err := sess.Start(server.Quote(argv)); err != nil {
		return c.wrapLost(fmt.Errorf("starting %q: %w", argv[0], err))
	}
	res := make(chan error, 1)
	go func() { res <- sess.Wait() }()
	select {
	case err = <-res:
	case <-c.done:
		return c.lost()
	case <-ctx.Done():
		_ = sess.Signal(ssh.SIGINT)
		select {
		case <-res:
		case <-c.done:
		case <-time.After(3 * time.Second):
			_ = sess.Signal(ssh.SIGKILL)
		}
		return ctx.Err()
	}
	var ee *ssh.ExitError
	var me *ssh.ExitMissingError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee):
		return &ExitError{Status: ee.ExitStatus(), Signal: ee.Signal()}
	case errors.As(err, &me):
		return c.wrapLost(fmt.Errorf("%w: the command's exit status never arrived", ErrLinkLost))
	default:
		return c.wrapLost(err)
	}
}

func (c *Conn) wrapLost(err error) error {
	select {
	case <-c.done:
		if l := c.lost(); l != nil && !errors.Is(l, net.ErrClosed) {
			return fmt.Errorf("%w (%v)", l, err)
		}
	default:
	}
	return err
}

// Subsystem opens a session running the named subsystem and returns its
// channel as a stream.
func (c *Conn) Subsystem(name string) (io.ReadWriteCloser, error) {
	sess, err := c.ssh.NewSession()
	if err != nil {
		return nil, c.wrapLost(fmt.Errorf("opening a session: %w", err))
	}
	w, err := sess.StdinPipe()
	if err != nil {
		sess.Close()
		return nil, err
	}
	r, err := sess.StdoutPipe()
	if err != nil {
		sess.Close()
		return nil, err
	}
	if err := sess.RequestSubsystem(name); err != nil {
		sess.Close()
		return nil, c.wrapLost(fmt.Errorf("the host refused subsystem %s: %w", name, err))
	}
	return &stream{Reader: r, w: w, s: sess}, nil
}

type stream struct {
	io.Reader
	w io.WriteCloser
	s *ssh.Session
}

func (s *stream) Write(p []byte) (int, error) { return s.w.Write(p) }
func (s *stream) Close() error                { s.w.Close(); return s.s.Close() }

// Done is closed when the connection is gone.
func (c *Conn) Done() <-chan struct{} { return c.done }

// PairCode is the short code this connection's pairing shows on both
// screens (hostauth.PairCode of its session and both keys).
func (c *Conn) PairCode() string {
	return hostauth.PairCode(c.ssh.SessionID(), c.hostKey, c.key)
}

// ErrNotPaired is a pairing the host did not complete (no window, another
// client in it, declined, timed out); the error says which.
var ErrNotPaired = errors.New("not paired")

// Pair offers this client's key to the host's open pairing window under
// comment and waits for the operator's verdict (show PairCode first: the
// operator compares it). already is true when the key was authorized
// before. A refusal wraps ErrNotPaired with the host's reason.
func (c *Conn) Pair(ctx context.Context, comment string) (already bool, err error) {
	ch, reqs, err := c.ssh.OpenChannel(hostauth.PairChannel, ssh.Marshal(struct{ Comment string }{comment}))
	if err != nil {
		return false, c.wrapLost(fmt.Errorf("the host refused to pair: %w", err))
	}
	defer ch.Close()
	go ssh.DiscardRequests(reqs)
	type answer struct {
		b   []byte
		err error
	}
	got := make(chan answer, 1)
	go func() { b, err := io.ReadAll(ch); got <- answer{b, err} }()
	var a answer
	select {
	case a = <-got:
	case <-c.done:
		return false, c.lost()
	case <-ctx.Done():
		return false, ctx.Err()
	}
	var res hostauth.PairResult
	if a.err != nil || ssh.Unmarshal(a.b, &res) != nil {
		return false, c.wrapLost(fmt.Errorf("%w: no answer from the host (%v)", ErrLinkLost, a.err))
	}
	if !res.Paired {
		return false, fmt.Errorf("%w: %s", ErrNotPaired, res.Message)
	}
	return res.Already, nil
}

// Probe connects to learn the host's key without trusting it yet: the SSH
// handshake has already verified the host's signature with that key when
// the callback sees it. check may refuse the key (a fingerprint mismatch).
// When this client is authorized, the post-handshake challenge is run too;
// authorized reports whether it was.
func Probe(ctx context.Context, cfg Config, check func(ssh.PublicKey) error) (key ssh.PublicKey, authorized bool, err error) {
	cfg.HostKey = func(k ssh.PublicKey) error {
		key = k
		return check(k)
	}
	c, err := Dial(ctx, cfg)
	if err == nil {
		defer c.Close()
		// While the host's pairing window is open an unknown key is let in
		// too, to pair only: authorized means a session may be opened.
		s, err := c.ssh.NewSession()
		if err != nil {
			var oe *ssh.OpenChannelError
			if errors.As(err, &oe) && oe.Reason == ssh.Prohibited {
				return key, false, nil
			}
			return key, false, c.wrapLost(fmt.Errorf("opening a session: %w", err))
		}
		s.Close()
		return key, true, nil
	}
	if key != nil && IsUnauthorized(err) {
		return key, false, nil
	}
	return key, false, err
}

// IsUnauthorized reports whether err is the host refusing this client's key.
func IsUnauthorized(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "unable to authenticate") || strings.Contains(err.Error(), "no supported methods remain"))
}
