package resolve

import (
	"context"
	"errors"
	"fmt"
	"regexp"
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
	lines := chain("lib-c", n, m, func(int) string { return "lib-base ^2" })
	lines = append(lines, "lib-base 1.0.0", "lib-base 2.0.0")
	sol, err := Resolve(context.Background(), catalog(t, lines...), reqs("lib-c00", "lib-base ^1"), Options{})
	// The explanation walks the chain (two links a line) down to the clash.
	wantFirst := "Because every version of lib-c00 depends on lib-c01 which depends on lib-c02, every version of lib-c00 requires lib-c02."
	wantLast := "So, because you require lib-base ^1 and lib-c00, version solving failed."
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.Lines[0] != wantFirst || ce.Lines[len(ce.Lines)-1] != wantLast || len(ce.Lines) != n/2+1 {
		t.Fatalf("Resolve = %v, %v; want the %d-line derivation from %q to %q", sol, err, n/2+1, wantFirst, wantLast)
	}
	if !strings.Contains(err.Error(), "every version of lib-c28 depends on lib-c29 which depends on lib-base ^2") {
		t.Errorf("the explanation does not name the clashing requirement:\n%v", err)
	}
}

// chain lists the catalog lines of n libraries PREFIX00, PREFIX01, …
// with versions 1.0.0 to m.0.0, each version requiring the next library
// at any version; last(v) is the dependency of the last library's version
// v ("" for none).
func chain(prefix string, n, m int, last func(v int) string) []string {
	var lines []string
	for i := 0; i < n; i++ {
		for v := 1; v <= m; v++ {
			dep := last(v)
			if i+1 < n {
				dep = fmt.Sprintf("%s%02d *", prefix, i+1)
			}
			line := fmt.Sprintf("%s%02d %d.0.0", prefix, i, v)
			if dep != "" {
				line += " -> " + dep
			}
			lines = append(lines, line)
		}
	}
	return lines
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
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "lib-hole") || !strings.HasSuffix(err.Error(), "version solving failed.") {
		t.Fatalf("small pigeonhole: %v, want a conflict on a hole", err)
	}

	// Pigeonholes are exponential for PubGrub too (for any resolution
	// proof): the default budget ends it, in about a second.
	src, roots = pigeonhole(t, 12)
	start := time.Now()
	_, err = Resolve(context.Background(), src, roots, Options{})
	if !errors.Is(err, ErrTooComplex) {
		t.Fatalf("large pigeonhole: %v, want ErrTooComplex", err)
	}
	if !regexp.MustCompile(`gave up after \d+ steps`).MatchString(err.Error()) ||
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
