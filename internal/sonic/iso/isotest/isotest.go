// Package isotest is test support for building Sonic ISOs: it finds the
// host tools under testenv's rule (where they are missing the test is
// skipped on a developer's machine and failed under CI) and the test
// kernel, and makes a stand-in kernel.
package isotest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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

// KernelPath is where the test kernel of arch is: UDOS_TEST_KERNEL
// (UDOS_TEST_KERNEL_ARM64 for arm64), else where .ci/setup.d/50-sonic.sh
// unpacks Debian's kernel package for it.
func KernelPath(arch string) string {
	env, def := "UDOS_TEST_KERNEL", "/var/cache/udos-test/kernel/vmlinuz"
	if arch == iso.ARM64 {
		env, def = "UDOS_TEST_KERNEL_ARM64", "/var/cache/udos-test/kernel-arm64/vmlinuz"
	}
	if k := os.Getenv(env); k != "" {
		return k
	}
	return def
}

// Kernel returns the test kernel of arch and its modules directory, the
// one lib/modules/<release> beside it. A missing kernel skips the test
// (fails it under CI); a kernel without exactly one modules directory is
// a broken unpacking and fails it.
func Kernel(t testing.TB, arch string) (vmlinuz, modules string) {
	t.Helper()
	vmlinuz = KernelPath(arch)
	if _, err := os.Stat(vmlinuz); err != nil {
		testenv.Missing(t, fmt.Sprintf("%s test kernel %s not found (.ci/setup.d/50-sonic.sh unpacks it)", arch, vmlinuz))
	}
	dirs, _ := filepath.Glob(filepath.Join(filepath.Dir(vmlinuz), "lib/modules/*"))
	if len(dirs) != 1 {
		t.Fatalf("want one lib/modules/<release> beside %s, found %v", vmlinuz, dirs)
	}
	return vmlinuz, dirs[0]
}
