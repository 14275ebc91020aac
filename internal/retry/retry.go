// Package retry holds the one clock and the one backoff rule of udos-dist's
// network clients (the GitHub layer and the registry fetcher), so tests can
// replace time in one way and every retry waits by the same rule.
package retry

import (
	"context"
	"math/rand/v2"
	"time"
)

// Clock is a client's notion of time. Tests inject one whose Sleep returns
// at once so retries and rate-limit waits cost nothing.
type Clock interface {
	Now() time.Time
	// Sleep waits d or until ctx is done, returning ctx.Err() in that case.
	Sleep(ctx context.Context, d time.Duration) error
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SystemClock is the real clock.
func SystemClock() Clock { return systemClock{} }

// Backoff is exponential backoff: Base before the first retry, doubled each
// retry, capped at Max (no cap when Max is 0).
type Backoff struct {
	Base time.Duration
	Max  time.Duration
	// Jitter spreads each delay over [d/2, d] so that parallel jobs do not
	// retry in lockstep; off, the delays are exact (what a user is told).
	Jitter bool
}

// Delay is the wait before retry number attempt (0 for the first retry).
func (b Backoff) Delay(attempt int) time.Duration {
	if attempt < 0 {
		attempt = 0
	}
	d := b.Base << min(attempt, 30)
	if d <= 0 || (b.Max > 0 && d > b.Max) {
		// Overflow or past the cap.
		d = b.Max
		if d <= 0 {
			d = b.Base
		}
	}
	if b.Jitter && d > 1 {
		return d/2 + rand.N(d/2+1)
	}
	return d
}
