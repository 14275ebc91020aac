// Package testenv holds the one rule for tests that need an outside tool
// (gpg, qemu, act, jekyll…): skip where it is missing on a developer's
// machine, fail where CI=true, since .ci/run installs every tool and a test
// that silently skips in CI does not exist.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run under CI (CI=true).
func InCI() bool { return os.Getenv("CI") == "true" }

// Tool returns the path of the named program on PATH. Where it is missing
// the test is skipped, or failed under CI.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name+" is not on PATH")
	}
	return p
}

// Missing skips the test with reason, or fails it under CI. Use it for a
// prerequisite that is not a single program (a kernel image, a firmware
// file, a tool set found by the code under test).
func Missing(t testing.TB, reason string) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s (CI=true: .ci/run must install it)", reason)
	}
	t.Skip(reason)
}
