// Package server is the Wizard end of the bridge: an SSH server that
// authenticates clients by public key, proves its host key on request, and
// runs only allowed commands (exec requests, argument vectors, no shell, no
// pty, no forwarding) with their output streamed back, plus the state-sync
// subsystem.
package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/fredbook/udos-dist/internal/bridge/accept"
	"github.com/fredbook/udos-dist/internal/bridge/hostauth"
	"github.com/fredbook/udos-dist/internal/bridge/pairing"
)

// SyncSubsystem is the SSH subsystem name of state sync.
const SyncSubsystem = "udos-sync@udos"

// Client is an authenticated client as handlers see it.
type Client struct {
	Fingerprint string
	Comment     string
	Addr        string
}

// SubsystemHandler serves one subsystem channel.
type SubsystemHandler func(ctx context.Context, ch ssh.Channel, c Client) error

// Config of a server.
type Config struct {
	HostKey ssh.Signer
	// Authorized returns the authorized client keys; it is read on every
	// connection, so keys added while serving take effect at once.
	Authorized func() ([]hostauth.AuthorizedKey, error)
	// Commands maps the name a client runs (argv[0]) to the program run.
	Commands map[string]string
	// Dir is the working directory of commands (the uDOS root).
	Dir string
	// Env is the environment of commands.
	Env []string
	// Subsystems beside exec (state sync).
	Subsystems map[string]SubsystemHandler
	// OnAuth is told of every authenticated connection (the client log).
	OnAuth func(c Client)
	// Log receives one line per notable event (refusals, commands).
	Log func(string)
	// KeepAlive is the interval of the host's keepalive requests; a client
	// that misses three is dropped, so a cut link frees its commands.
	KeepAlive time.Duration
	// MaxSessions per connection (default 256).
	MaxSessions int
	// Pairing, when not nil, is the pairing window: while it is open, a
	// client with an unknown key is let in to offer itself on a
	// hostauth.PairChannel, and to do nothing else.
	Pairing *pairing.Window
}

// Server serves bridge connections.
type Server struct {
	cfg Config
	ssh *ssh.ServerConfig
}

// New checks cfg and builds the server.
func New(cfg Config) (*Server, error) {
	if cfg.HostKey == nil {
		return nil, errors.New("server: no host key")
	}
	if cfg.HostKey.PublicKey().Type() != hostauth.KeyAlgo {
		return nil, fmt.Errorf("server: host key is %s, want %s", cfg.HostKey.PublicKey().Type(), hostauth.KeyAlgo)
	}
	if cfg.Log == nil {
		cfg.Log = func(string) {}
	}
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = 15 * time.Second
	}
	if cfg.MaxSessions == 0 {
		cfg.MaxSessions = 256
	}
	s := &Server{cfg: cfg}
	sc := &ssh.ServerConfig{
		PublicKeyCallback: s.checkKey,
		ServerVersion:     "SSH-2.0-udos-bridge",
		MaxAuthTries:      6,
	}
	sc.AddHostKey(cfg.HostKey)
	s.ssh = sc
	return s, nil
}

func (s *Server) checkKey(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	keys, err := s.cfg.Authorized()
	if err != nil {
		s.cfg.Log(fmt.Sprintf("refusing %s: %v", meta.RemoteAddr(), err))
		return nil, err
	}
	for _, k := range keys {
		if bytes.Equal(k.Key.Marshal(), key.Marshal()) {
			return &ssh.Permissions{Extensions: map[string]string{"fp": hostauth.Fingerprint(key), "comment": k.Comment}}, nil
		}
	}
	if s.cfg.Pairing != nil && s.cfg.Pairing.IsOpen() {
		// x/crypto/ssh grants these only once the client has signed with
		// the key, so the key offered for pairing is the client's own.
		s.cfg.Log(fmt.Sprintf("unknown client key %s from %s let in to pair (a pairing window is open)", hostauth.Fingerprint(key), meta.RemoteAddr()))
		return &ssh.Permissions{Extensions: map[string]string{"fp": hostauth.Fingerprint(key), pairingExt: string(key.Marshal())}}, nil
	}
	s.cfg.Log(fmt.Sprintf("refusing unknown client key %s from %s", hostauth.Fingerprint(key), meta.RemoteAddr()))
	return nil, fmt.Errorf("client key %s is not authorized", hostauth.Fingerprint(key))
}

// Serve accepts connections on ln until ctx ends; then it closes the
// listener and every connection (running commands are killed).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	return accept.Serve(ctx, ln, s.serveConn)
}

func (s *Server) serveConn(ctx context.Context, nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
		_ = tc.SetKeepAlive(true)
		_ = tc.SetKeepAlivePeriod(s.cfg.KeepAlive)
	}
	// The handshake must finish in bounded time: a silent peer does not hold
	// a goroutine forever.
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	conn, chans, reqs, err := ssh.NewServerConn(nc, s.ssh)
	if err != nil {
		nc.Close()
		s.cfg.Log(fmt.Sprintf("handshake with %s failed: %v", nc.RemoteAddr(), err))
		return
	}
	_ = nc.SetDeadline(time.Time{})
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer conn.Close()
	cl := Client{Fingerprint: conn.Permissions.Extensions["fp"], Comment: conn.Permissions.Extensions["comment"], Addr: nc.RemoteAddr().String()}
	pairKey, pairingOnly := conn.Permissions.Extensions[pairingExt]
	if s.cfg.OnAuth != nil && !pairingOnly {
		s.cfg.OnAuth(cl)
	}
	go func() { <-ctx.Done(); conn.Close() }()
	go s.keepAlive(ctx, conn)
	go s.globalRequests(conn, reqs)

	sessions := make(chan struct{}, s.cfg.MaxSessions)
	var wg sync.WaitGroup
	defer wg.Wait()
	for nch := range chans {
		if nch.ChannelType() == hostauth.PairChannel {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.pair(ctx, conn, nch, cl, pairingOnly, pairKey)
			}()
			continue
		}
		if pairingOnly {
			s.cfg.Log(fmt.Sprintf("refusing %s channel from unpaired client %s (%s)", nch.ChannelType(), cl.Fingerprint, cl.Addr))
			_ = nch.Reject(ssh.Prohibited, "this client's key is not authorized: it may only pair (udos-lib sonic pair HOST)")
			continue
		}
		if nch.ChannelType() != "session" {
			s.cfg.Log(fmt.Sprintf("refusing %s channel from %s", nch.ChannelType(), cl.Addr))
			_ = nch.Reject(ssh.Prohibited, "only session channels are served (no forwarding)")
			continue
		}
		select {
		case sessions <- struct{}{}:
		default:
			_ = nch.Reject(ssh.ResourceShortage, fmt.Sprintf("too many sessions (at most %d)", s.cfg.MaxSessions))
			continue
		}
		ch, chReqs, err := nch.Accept()
		if err != nil {
			<-sessions
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sessions }()
			s.session(ctx, ch, chReqs, cl)
		}()
	}
}

func (s *Server) globalRequests(conn *ssh.ServerConn, reqs <-chan *ssh.Request) {
	for r := range reqs {
		switch r.Type {
		case hostauth.ProofRequest:
			sig, err := hostauth.SignProof(s.cfg.HostKey, conn.SessionID(), r.Payload)
			if err != nil {
				_ = r.Reply(false, nil)
				continue
			}
			_ = r.Reply(true, sig)
		default:
			// keepalive@openssh.com and anything else (tcpip-forward…): a
			// failure reply, which is what keepalives expect too.
			if r.WantReply {
				_ = r.Reply(false, nil)
			}
		}
	}
}

func (s *Server) keepAlive(ctx context.Context, conn *ssh.ServerConn) {
	t := time.NewTicker(s.cfg.KeepAlive)
	defer t.Stop()
	missed := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		done := make(chan error, 1)
		go func() { _, _, err := conn.SendRequest("keepalive@openssh.com", true, nil); done <- err }()
		select {
		case err := <-done:
			if err != nil {
				return
			}
			missed = 0
		case <-time.After(s.cfg.KeepAlive):
			missed++
			if missed >= 3 {
				s.cfg.Log(fmt.Sprintf("client %s stopped answering keepalives: closing its connection", conn.RemoteAddr()))
				conn.Close()
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

type execMsg struct{ Command string }
type signalMsg struct{ Signal string }
type exitStatusMsg struct{ Status uint32 }
type exitSignalMsg struct {
	Signal     string
	CoreDumped bool
	Error      string
	Lang       string
}

var signals = map[string]syscall.Signal{
	"INT": syscall.SIGINT, "TERM": syscall.SIGTERM, "KILL": syscall.SIGKILL, "HUP": syscall.SIGHUP,
	"QUIT": syscall.SIGQUIT, "USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2,
}

func signalName(sig syscall.Signal) string {
	for n, s := range signals {
		if s == sig {
			return n
		}
	}
	return fmt.Sprintf("SIG%d", int(sig))
}

func (s *Server) session(ctx context.Context, ch ssh.Channel, reqs <-chan *ssh.Request, cl Client) {
	defer ch.Close()
	for r := range reqs {
		switch r.Type {
		case "exec":
			var m execMsg
			if err := ssh.Unmarshal(r.Payload, &m); err != nil {
				_ = r.Reply(false, nil)
				continue
			}
			argv, err := SplitCommand(m.Command)
			if err == nil && len(argv) == 0 {
				err = errors.New("empty command")
			}
			var prog string
			if err == nil {
				var ok bool
				if prog, ok = s.cfg.Commands[argv[0]]; !ok {
					err = fmt.Errorf("command %q is not allowed on this host (allowed: %s)", argv[0], s.allowed())
				}
			}
			if err != nil {
				s.cfg.Log(fmt.Sprintf("refusing exec from %s: %v", cl.Addr, err))
				_ = r.Reply(true, nil)
				fmt.Fprintf(ch.Stderr(), "udos-bridge: %v\n", err)
				_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(exitStatusMsg{Status: 126}))
				return
			}
			_ = r.Reply(true, nil)
			s.cfg.Log(fmt.Sprintf("%s runs %q", cl.Addr, argv))
			s.run(ctx, ch, reqs, prog, argv)
			return
		case "subsystem":
			var m execMsg
			_ = ssh.Unmarshal(r.Payload, &m)
			h, ok := s.cfg.Subsystems[m.Command]
			if !ok {
				_ = r.Reply(false, nil)
				continue
			}
			_ = r.Reply(true, nil)
			go discard(reqs)
			err := h(ctx, ch, cl)
			status := uint32(0)
			if err != nil {
				s.cfg.Log(fmt.Sprintf("%s from %s: %v", m.Command, cl.Addr, err))
				status = 1
			}
			_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(exitStatusMsg{Status: status}))
			return
		default:
			// shell, pty-req, env, x11-req, auth-agent-req…: refused.
			if r.WantReply {
				_ = r.Reply(false, nil)
			}
		}
	}
}

func discard(reqs <-chan *ssh.Request) {
	for r := range reqs {
		if r.WantReply {
			_ = r.Reply(false, nil)
		}
	}
}

func (s *Server) allowed() string {
	if len(s.cfg.Commands) == 0 {
		return "none"
	}
	return strings.Join(slices.Sorted(maps.Keys(s.cfg.Commands)), ", ")
}

func (s *Server) run(ctx context.Context, ch ssh.Channel, reqs <-chan *ssh.Request, prog string, argv []string) {
	cmd := exec.Command(prog, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Dir = s.cfg.Dir
	cmd.Env = s.cfg.Env
	cmd.Stdout = ch
	cmd.Stderr = ch.Stderr()
	// Its own process group, so a signal reaches the command's children too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		fmt.Fprintf(ch.Stderr(), "udos-bridge: starting %s: %v\n", filepath.Base(prog), err)
		_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(exitStatusMsg{Status: 127}))
		return
	}
	go func() { _, _ = io.Copy(stdin, ch); stdin.Close() }()
	done := make(chan struct{})
	go func() {
		for {
			select {
			case r, ok := <-reqs:
				if !ok {
					// The channel is gone (client closed it or the link
					// dropped): nobody reads the output, stop the command.
					_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGHUP)
					return
				}
				if r.Type == "signal" {
					var m signalMsg
					if ssh.Unmarshal(r.Payload, &m) == nil {
						if sig, ok := signals[m.Signal]; ok {
							_ = syscall.Kill(-cmd.Process.Pid, sig)
						}
					}
				}
				if r.WantReply {
					_ = r.Reply(r.Type == "signal", nil)
				}
			case <-ctx.Done():
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				return
			case <-done:
				return
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	var ee *exec.ExitError
	switch {
	case err == nil:
		_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(exitStatusMsg{Status: 0}))
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			_, _ = ch.SendRequest("exit-signal", false, ssh.Marshal(exitSignalMsg{Signal: signalName(ws.Signal()), CoreDumped: ws.CoreDump()}))
		} else {
			_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(exitStatusMsg{Status: uint32(ee.ExitCode())}))
		}
	default:
		fmt.Fprintf(ch.Stderr(), "udos-bridge: %v\n", err)
		_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(exitStatusMsg{Status: 255}))
	}
	_ = ch.CloseWrite()
}

// ResolveAllow turns --allow entries into the command table. An entry is a
// path (relative to root when not absolute; its base name is what clients
// run) or a bare name looked up in root/bin and then on PATH.
func ResolveAllow(root string, entries []string, lookPath func(string) (string, error)) (map[string]string, error) {
	out := map[string]string{}
	for _, e := range entries {
		var p string
		switch {
		case e == "":
			continue
		case filepath.IsAbs(e):
			p = e
		case filepath.Base(e) != e:
			p = filepath.Join(root, e)
		default:
			if c := filepath.Join(root, "bin", e); isExec(c) {
				p = c
			} else if lp, err := lookPath(e); err == nil {
				p = lp
			} else {
				return nil, fmt.Errorf("allowed command %q: not in %s and not on PATH", e, filepath.Join(root, "bin"))
			}
		}
		if !isExec(p) {
			return nil, fmt.Errorf("allowed command %q: %s is not an executable file", e, p)
		}
		out[filepath.Base(e)] = p
	}
	return out, nil
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
