// Package accept serves a listener until a context ends: one goroutine a
// connection, and every one of them finished before Serve returns. The
// bridge's SSH server and its pairing control socket both serve this way.
package accept

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
)

// Serve accepts connections on ln and hands each to handle in its own
// goroutine, until ctx ends (then it closes ln and returns nil once every
// handle has returned) or Accept fails for good. A timeout from Accept is
// passed over: a listener with deadlines, or a transient EMFILE reported as
// a timeout, must not end the service. handle owns the connection.
func Serve(ctx context.Context, ln net.Listener, handle func(context.Context, net.Conn)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { <-ctx.Done(); ln.Close() }()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("accepting on %s: %w", ln.Addr(), err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			handle(ctx, c)
		}()
	}
}
