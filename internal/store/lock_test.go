package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// TestLockHonoursContext: a wait for a held lock ends soon after ctx is
// cancelled (flock is per open file, so a second Lock in this process
// contends like another process would), and a timeout still times out.
func TestLockHonoursContext(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "lock")
	held, err := Lock(context.Background(), path, time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Unlock()

	ctx, cancel := context.WithCancel(context.Background())
	told := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		_, err := Lock(ctx, path, time.Hour, func(h string) { told <- h })
		errc <- err
	}()
	if h := <-told; h == "" {
		t.Errorf("waiting was told no holder")
	}
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want context.Canceled", err)
		}
	case <-time.After(time.Second):
		t.Fatal("Lock did not return within a second of the cancellation")
	}

	if _, err := Lock(context.Background(), path, 100*time.Millisecond, nil); !errors.Is(err, ErrLockTimeout) {
		t.Fatalf("error %v, want ErrLockTimeout", err)
	}
	held.Unlock()
	l, err := Lock(context.Background(), path, time.Second, nil)
	if err != nil {
		t.Fatalf("after Unlock: %v", err)
	}
	l.Unlock()
}
