// Package isotest is test support for building Sonic ISOs: it finds the
// host tools under testenv's rule (where they are missing the test is
// skipped on a developer's machine and failed under CI) and makes a
// stand-in kernel.
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

// BzImage is a stand-in amd64 kernel: the boot sector signature and the
// setup header's magic ("HdrS" at 0x202) where the x86 boot protocol puts
// them, which the build checks, and no kernel behind them (building does
// not run it; booting is the e2e tests' job).
func BzImage() []byte {
	b := make([]byte, 0x1000)
	b[0x1FE], b[0x1FF] = 0x55, 0xAA
	copy(b[0x202:], "HdrS\x0f\x02")
	return b
}
