package accept

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

func TestServeWaitsForEveryConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var finished atomic.Int32
	started := make(chan struct{}, 3)
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ln, func(ctx context.Context, c net.Conn) {
			defer c.Close()
			started <- struct{}{}
			<-ctx.Done()
			time.Sleep(50 * time.Millisecond) // a handler still cleaning up
			finished.Add(1)
		})
	}()
	for range 3 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		<-started
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve after cancel = %v, want nil", err)
	}
	if n := finished.Load(); n != 3 {
		t.Fatalf("Serve returned with %d of 3 handlers finished", n)
	}
}

func TestServeReportsAFailedListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	err = Serve(context.Background(), ln, func(context.Context, net.Conn) { t.Error("handler called") })
	if !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Serve on a closed listener = %v, want net.ErrClosed", err)
	}
}
