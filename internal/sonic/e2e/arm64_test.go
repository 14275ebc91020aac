package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/relmanifest"
	"github.com/fredbook/udos-dist/internal/sonic/build"
	"github.com/fredbook/udos-dist/internal/sonic/iso"
	"github.com/fredbook/udos-dist/internal/sonic/iso/isotest"
	"github.com/fredbook/udos-dist/internal/sonic/runtime"
)

// aavmf is QEMU's UEFI firmware for Arm machines (Debian qemu-efi-aarch64),
// a flash image -bios loads.
const aavmf = "/usr/share/qemu-efi-aarch64/QEMU_EFI.fd"

// virt is QEMU's generic Arm machine: a Cortex-A57 (plain ARMv8.0, the
// quickest to emulate: -cpu max spends TCG's time on pointer
// authentication), the AAVMF firmware, PL011 serial on stdio. TCG emulates
// a foreign CPU several times slower than the PC, so a boot gets longer.
var virt = machine{
	bin: "qemu-system-aarch64",
	base: []string{"-M", "virt", "-cpu", "cortex-a57", "-accel", "tcg", "-m", "512",
		"-nographic", "-no-reboot", "-monitor", "none", "-bios", aavmf},
	limit: 10 * time.Minute,
}

// arm64Kernel finds the arm64 test kernel (an uncompressed Image), its
// modules and the arm64 static busybox, which .ci/setup.d/50-sonic.sh
// unpacks from Debian's arm64 packages.
func arm64Kernel(t testing.TB) (image, modules, busybox string) {
	t.Helper()
	image, modules = isotest.Kernel(t, iso.ARM64)
	busybox = need(t, "arm64 busybox", filepath.Join(filepath.Dir(image), "busybox"), "busybox-static:arm64, unpacked")
	return image, modules, busybox
}

// crossRuntime builds cmd/sonic-runtime for linux/arch into dir.
func crossRuntime(t testing.TB, arch, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "sonic-runtime-"+arch)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "github.com/fredbook/udos-dist/cmd/sonic-runtime")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building sonic-runtime for %s: %v\n%s", arch, err, out)
	}
	return bin
}

// TestBootARM64 builds the arm64 image (UEFI only: GRUB arm64-efi, the
// cross-compiled runtime, Debian's arm64 kernel) and boots it from a CD on
// virtio-scsi in QEMU's virt machine under AAVMF, to the ready line naming
// uefi and arm64.
func TestBootARM64(t *testing.T) {
	t.Parallel()
	image, modules, busybox := arm64Kernel(t)
	need(t, "qemu", virt.bin, "qemu-system-arm")
	need(t, "AAVMF", aavmf, "qemu-efi-aarch64")
	tools := isotest.Tools(t, iso.ARM64)
	dir := t.TempDir()
	res, err := build.Build(context.Background(), build.Options{
		Version: version, Arch: iso.ARM64, Kernel: image, Modules: modules, Busybox: busybox,
		Runtime: crossRuntime(t, iso.ARM64, t.TempDir()), Core: coreTarball(t),
		Cmdline: "sonic.poweroff=1", OutputDir: dir, Time: epoch, Tools: tools, TempDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "udos-sonic-v" + version + "-arm64.iso"; filepath.Base(res.ISO) != want {
		t.Errorf("ISO %s, want %s", filepath.Base(res.ISO), want)
	}
	checkARM64Manifest(t, res.Manifest, filepath.Base(res.ISO))

	b := qemuOn(t, virt, "-net", "none", "-device", "virtio-scsi-pci,id=scsi",
		"-drive", "if=none,id=cd,file="+res.ISO+",format=raw,media=cdrom,readonly=on", "-device", "scsi-cd,drive=cd")
	f := readyFields(t, b)
	for k, v := range map[string]string{"version": version, "firmware": "uefi", "arch": "arm64", "source": "iso", "cpus": "1"} {
		if f[k] != v {
			t.Errorf("%s=%q, want %q (line: %s)", k, f[k], v, readyRE.FindString(b.out))
		}
	}
	hw := hardwareReport(t, b)
	if hw.Arch != "arm64" || hw.Firmware != "uefi" {
		t.Errorf("hardware report says arch %q firmware %q, want arm64 uefi", hw.Arch, hw.Firmware)
	}
	// The boot CD, seen through the virtio-scsi driver the image loaded.
	if !slices.ContainsFunc(hw.Disks, func(d runtime.Disk) bool { return d.Kind == "cdrom" && d.Bus == "virtio-scsi" }) {
		t.Errorf("no CD on virtio-scsi in %+v", hw.Disks)
	}
	if os.Getenv("SONIC_E2E_LOG") != "" {
		t.Log(b.out)
	}
}

// checkARM64Manifest: the arm64 image is a variant of its own, for
// linux-arm64, booting from UEFI without a BIOS fallback.
func checkARM64Manifest(t *testing.T, path, isoName string) {
	t.Helper()
	m, err := relmanifest.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	v, ok := m.Variants[build.Variant(iso.ARM64)]
	if !ok {
		t.Fatalf("manifest %s has no %s entry", path, build.Variant(iso.ARM64))
	}
	if v.Filename != isoName || !slices.Equal(v.Platforms, []string{"linux-arm64"}) ||
		v.UEFISupported == nil || !*v.UEFISupported || v.BIOSFallback == nil || *v.BIOSFallback {
		t.Errorf("arm64 entry %+v: want %s for linux-arm64, UEFI, no BIOS fallback", v, isoName)
	}
	if _, ok := m.Variants[build.VariantName]; ok {
		t.Errorf("an arm64 build wrote the amd64 entry %s", build.VariantName)
	}
}
