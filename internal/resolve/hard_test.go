package resolve

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// A dead end under a long chain: every version of the last library clashes
// with the user's own requirement. Plain backtracking would try 5^29
// combinations of the chain; learning that each version of the last
// library is hopeless makes it linear.
func TestResolveDeadEndUnderLongChain(t *testing.T) {
	t.Parallel()
	const n, m = 30, 5
	var lines []string
	for i := 0; i < n; i++ {
		for v := 1; v <= m; v++ {
			line := fmt.Sprintf("lib-c%02d %d.0.0", i, v)
			if i+1 < n {
				line += fmt.Sprintf(" -> lib-c%02d *", i+1)
			} else {
				line += " -> lib-base ^2"
			}
			lines = append(lines, line)
		}
	}
	lines = append(lines, "lib-base 1.0.0", "lib-base 2.0.0")
	sol, err := Resolve(context.Background(), catalog(t, lines...), reqs("lib-c00", "lib-base ^1"), Options{})
	want := "you require lib-base ^1 and lib-c29 5.0.0 requires lib-base ^2; no version of lib-base satisfies both"
	if err == nil || err.Error() != want {
		t.Fatalf("Resolve = %v, %v; want error %q", sol, err, want)
	}
}

// pigeonhole asks n libraries to each take a different one of n-1 slots:
// unsatisfiable, and exponential for a search that learns no more than
// single versions.
func pigeonhole(t testing.TB, n int) (*memSource, []Requirement) {
	var lines []string
	var roots []string
	for p := 0; p < n; p++ {
		for h := 1; h < n; h++ {
			lines = append(lines, fmt.Sprintf("lib-pigeon%02d %d.0.0 -> lib-hole%02d =%d.0.0", p, h, h, p+1))
		}
		roots = append(roots, fmt.Sprintf("lib-pigeon%02d", p))
	}
	for h := 1; h < n; h++ {
		for p := 0; p < n; p++ {
			lines = append(lines, fmt.Sprintf("lib-hole%02d %d.0.0", h, p+1))
		}
	}
	return catalog(t, lines...), reqs(roots...)
}

func TestResolvePathologicalInputIsBounded(t *testing.T) {
	t.Parallel()
	src, roots := pigeonhole(t, 5)
	_, err := Resolve(context.Background(), src, roots, Options{})
	var ce *ConflictError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "no version of lib-hole") {
		t.Fatalf("small pigeonhole: %v, want a conflict on a hole", err)
	}

	// A fifth of the default budget keeps the test quick (also under -race);
	// the default costs about five times as long (~2 s here).
	src, roots = pigeonhole(t, 12)
	start := time.Now()
	_, err = Resolve(context.Background(), src, roots, Options{MaxSteps: DefaultMaxSteps / 5})
	if !errors.Is(err, ErrTooComplex) {
		t.Fatalf("large pigeonhole: %v, want ErrTooComplex", err)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("gave up after %d steps", DefaultMaxSteps/5)) ||
		!strings.Contains(err.Error(), "; the latest conflict: ") {
		t.Errorf("error %q does not say how far it went and what it last hit", err)
	}
	t.Logf("gave up after %v: %v", time.Since(start), err)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = Resolve(ctx, src, roots, Options{MaxSteps: 1 << 30})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("with a deadline: %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the deadline was honoured only after %v", d)
	}
}
