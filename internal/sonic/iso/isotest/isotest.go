// Package isotest finds the host tools that build a Sonic ISO for a test,
// under testenv's rule: where they are missing the test is skipped on a
// developer's machine and failed under CI.
package isotest

import (
	"os/exec"
	"testing"

	"github.com/fredbook/udos-dist/internal/sonic/iso"
	"github.com/fredbook/udos-dist/internal/testenv"
)

// Tools returns the host tools of an image for arch (iso.AMD64 or
// iso.ARM64), found on this machine's PATH and Debian paths.
func Tools(t testing.TB, arch string) iso.Tools {
	t.Helper()
	tools, err := iso.FindToolsFor(arch, exec.LookPath)
	if err != nil {
		testenv.Missing(t, err.Error())
	}
	return tools
}
