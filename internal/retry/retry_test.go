package retry

import (
	"context"
	"testing"
	"time"
)

func TestDelay(t *testing.T) {
	b := Backoff{Base: 250 * time.Millisecond}
	want := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second}
	for i, w := range want {
		if got := b.Delay(i); got != w {
			t.Fatalf("Delay(%d) = %v, want %v", i, got, w)
		}
	}
	capped := Backoff{Base: time.Second, Max: 30 * time.Second}
	if got := capped.Delay(10); got != 30*time.Second {
		t.Fatalf("capped Delay(10) = %v", got)
	}
	if got := capped.Delay(1000); got != 30*time.Second {
		t.Fatalf("overflowing Delay = %v", got)
	}
	j := Backoff{Base: time.Second, Max: 30 * time.Second, Jitter: true}
	for i := 0; i < 100; i++ {
		if got := j.Delay(2); got < 2*time.Second || got > 4*time.Second {
			t.Fatalf("jittered Delay(2) = %v, want in [2s, 4s]", got)
		}
	}
}

func TestSystemClockSleepHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if err := SystemClock().Sleep(ctx, time.Hour); err == nil {
		t.Fatal("Sleep on a cancelled context returned nil")
	}
	if time.Since(start) > time.Second {
		t.Fatal("Sleep ignored the cancelled context")
	}
	if err := SystemClock().Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatal(err)
	}
}
