package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/fredbook/udos-dist/internal/store"
)

// testPause is the hook behind UDOS_LIB_TEST_PAUSE=point[,point...], which
// only the test binary honours (TestMain installs it; the shipped binary
// has no such hook): at a named point the process announces itself on
// stderr and sleeps, so a test can kill or interrupt it there.
func testPause() store.Hook {
	spec := os.Getenv("UDOS_LIB_TEST_PAUSE")
	if spec == "" {
		return nil
	}
	points := map[string]bool{}
	for _, p := range strings.Split(spec, ",") {
		points[strings.TrimSpace(p)] = true
	}
	return func(point string) {
		if points[point] {
			fmt.Fprintf(os.Stderr, "udos-lib: test pause at %s (pid %d)\n", point, os.Getpid())
			time.Sleep(10 * time.Minute)
		}
	}
}
