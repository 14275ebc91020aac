package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"

	"golang.org/x/crypto/ssh"

	"github.com/fredbook/udos-dist/internal/bridge/hostauth"
	"github.com/fredbook/udos-dist/internal/bridge/pairing"
)

// pairingExt marks, in a connection's permissions, a client let in by the
// pairing window only; its value is the client's wire-format key.
const pairingExt = "udos-pairing-key"

type pairOpenMsg struct{ Comment string }

// pair serves one pairing channel: the client's offer goes to the window,
// and the verdict back to the client. An already authorized client is told
// so; nothing else ever happens on this channel.
func (s *Server) pair(ctx context.Context, conn *ssh.ServerConn, nch ssh.NewChannel, cl Client, pairingOnly bool, wireKey string) {
	var m pairOpenMsg
	if err := ssh.Unmarshal(nch.ExtraData(), &m); err != nil {
		_ = nch.Reject(ssh.ConnectionFailed, "bad pairing request")
		return
	}
	ch, reqs, err := nch.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	go discard(reqs)
	res := hostauth.PairResult{Paired: true, Already: true}
	if pairingOnly {
		key, err := ssh.ParsePublicKey([]byte(wireKey))
		if err != nil {
			res = hostauth.PairResult{Message: "bad client key"}
		} else {
			// The offer is withdrawn when the client closes the channel or
			// the connection drops.
			cctx, cancel := context.WithCancel(ctx)
			go func() { _, _ = io.Copy(io.Discard, ch); cancel() }()
			o := pairing.Offer{Key: key, Comment: cleanComment(m.Comment), Addr: cl.Addr,
				Code: hostauth.PairCode(conn.SessionID(), s.cfg.HostKey.PublicKey(), key)}
			err := s.cfg.Pairing.Offer(cctx, o)
			cancel()
			res = hostauth.PairResult{Paired: err == nil}
			if err != nil {
				if errors.Is(err, context.Canceled) {
					err = pairing.ErrClientGone
				}
				res.Message = err.Error()
				s.cfg.Log(fmt.Sprintf("pairing %s from %s: %v", cl.Fingerprint, cl.Addr, err))
			}
		}
	}
	_, _ = ch.Write(ssh.Marshal(res))
	_ = ch.CloseWrite()
}

// cleanComment makes the client's comment safe to show and to store as the
// authorized_keys comment: printable, one line (a newline would smuggle in
// a second key line), at most 64 runes.
func cleanComment(c string) string {
	c = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return ' '
		}
		if !unicode.IsPrint(r) {
			return -1
		}
		return r
	}, c)
	c = strings.Join(strings.Fields(c), " ")
	if r := []rune(c); len(r) > 64 {
		c = string(r[:64])
	}
	return c
}
