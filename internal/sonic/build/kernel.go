package build

import (
	"bytes"
	"compress/gzip"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/fredbook/udos-dist/internal/sonic/iso"
)

// The x86 Linux boot protocol: a bzImage carries the boot sector signature
// 0xAA55 at 0x1FE and the setup header's magic "HdrS" at 0x202, which is
// what ISOLINUX and GRUB look for before they load it
// (Documentation/arch/x86/boot.rst).
const (
	bootFlagOffset = 0x1FE
	headerOffset   = 0x202
	headerMagic    = "HdrS"
)

// The arm64 boot protocol: an Image carries "ARM\x64" at 0x38 of its
// 64-byte header (Documentation/arch/arm64/booting.rst); GRUB's arm64
// loader checks it and boots the EFI stub behind it.
const (
	arm64MagicOffset = 0x38
	arm64Magic       = "ARM\x64"
)

// ErrNotKernel is returned (wrapped) for a kernel input that is not a
// bootable kernel of the build's architecture (a bzImage for amd64, an
// Image for arm64).
var ErrNotKernel = errors.New("not a Linux kernel image of the build's architecture")

// kernelKind names the kernel a file's first bytes are: "amd64" for a
// bzImage, "arm64" for an arm64 Image, "arm64-gzip" for a gzip-compressed
// arm64 Image (Debian's arm64 vmlinuz), "" for anything else.
func kernelKind(head []byte) string {
	if len(head) >= headerOffset+len(headerMagic) && string(head[headerOffset:headerOffset+len(headerMagic)]) == headerMagic &&
		head[bootFlagOffset] == 0x55 && head[bootFlagOffset+1] == 0xAA {
		return iso.AMD64
	}
	if isARM64Image(head) {
		return iso.ARM64
	}
	if bytes.HasPrefix(head, []byte{0x1f, 0x8b}) {
		if z, err := gzip.NewReader(bytes.NewReader(head)); err == nil {
			inner := make([]byte, arm64MagicOffset+len(arm64Magic))
			if _, err := io.ReadFull(z, inner); err == nil && isARM64Image(inner) {
				return "arm64-gzip"
			}
		}
	}
	return ""
}

func isARM64Image(head []byte) bool {
	return len(head) >= arm64MagicOffset+len(arm64Magic) && string(head[arm64MagicOffset:arm64MagicOffset+len(arm64Magic)]) == arm64Magic
}

// checkKernel refuses anything but a bootable kernel of arch ("" is amd64)
// before the build starts: a wrong file (a linux-image .deb, an
// uncompressed vmlinux, the kernel of the other architecture) would make an
// image that signs, uploads and then stops at boot with "Booting kernel
// failed: Invalid argument". The error names the file, says what it is
// instead and how to get the kernel out of it.
func checkKernel(path, arch string) error {
	if arch == "" {
		arch = iso.AMD64
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("kernel %q: %w", path, err)
	}
	defer f.Close()
	// Enough for the bzImage header and for a gzip stream's first block
	// to yield the 64-byte arm64 header.
	head := make([]byte, 64<<10)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return fmt.Errorf("kernel %q: %w", path, err)
	}
	head = head[:n]
	kind := kernelKind(head)
	switch {
	case kind == arch:
		return nil
	case kind == "arm64-gzip" && arch == iso.ARM64:
		// GRUB (with gzio) could unpack it, but the netboot bundle hands
		// the kernel to iPXE and the firmware, which start its EFI stub
		// directly: on arm64 that needs the uncompressed Image
		// (Documentation/admin-guide/efi-stub.rst).
		return fmt.Errorf("kernel %q is a gzip-compressed arm64 Image, %w: the image and its netboot bundle boot the kernel's EFI stub, which on arm64 must be the uncompressed Image; unpack it (gzip -dc %s > Image) and pass Image as kernel", path, ErrNotKernel, path)
	case kind != "":
		return fmt.Errorf("kernel %q is an %s kernel, %w (%s): pass the kernel of Debian's linux-image-%s (boot/vmlinuz-*-%s, unpacked), or build for %s",
			path, archOf(kind), ErrNotKernel, arch, arch, arch, archOf(kind))
	}
	what, remedy := describe(head, arch)
	if arch == iso.ARM64 {
		return fmt.Errorf("kernel %q is %s, %w: it has no arm64 Image header (\"ARM\\x64\" at offset 0x%X); %s",
			path, what, ErrNotKernel, arm64MagicOffset, remedy)
	}
	return fmt.Errorf("kernel %q is %s, %w: it has no Linux boot header (%q at offset 0x%X); %s",
		path, what, ErrNotKernel, headerMagic, headerOffset, remedy)
}

func archOf(kind string) string {
	if kind == "arm64-gzip" {
		return iso.ARM64
	}
	return kind
}

// describe names a non-kernel file by its first bytes and says how to get
// the kernel of arch from it.
func describe(head []byte, arch string) (what, remedy string) {
	want := "bzImage"
	if arch == iso.ARM64 {
		want = "arm64 Image"
	}
	switch {
	case bytes.HasPrefix(head, []byte("!<arch>\ndebian-binary")):
		return "a Debian package (.deb, such as linux-image-*.deb)",
			"unpack it without installing (dpkg -x FILE.deb DIR) and pass DIR/boot/vmlinuz-<version> as kernel, and DIR/lib/modules/<version> as modules"
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return "gzip-compressed data (an Alpine .apk or a tarball?)",
			"unpack it (tar -xzf FILE -C DIR) and pass the " + want + " inside (boot/vmlinuz-*) as kernel"
	case bytes.HasPrefix(head, []byte("\x7fELF")):
		return "an ELF file (an uncompressed vmlinux?)",
			"pass the bootable " + want + " instead (" + map[bool]string{true: "arch/arm64/boot/Image of a kernel build, or Debian's /boot/vmlinuz-*-arm64 unpacked with gzip -dc", false: "arch/x86/boot/bzImage of a kernel build, or /boot/vmlinuz-* of a distribution"}[arch == iso.ARM64] + ")"
	case len(head) < headerOffset+len(headerMagic):
		return fmt.Sprintf("only %d bytes long", len(head)),
			"pass the bootable " + want + " (boot/vmlinuz-* of a linux-image package, unpacked)"
	}
	return "not a " + want, "pass the bootable " + want + " (boot/vmlinuz-* of a linux-image package, unpacked)"
}

// elfMachines are the ELF machine of each architecture's binaries.
var elfMachines = map[string]elf.Machine{iso.AMD64: elf.EM_X86_64, iso.ARM64: elf.EM_AARCH64}

// checkBinaryArch refuses an ELF binary (busybox, sonic-runtime, an extra
// binary) built for another architecture than the image's: it would make
// an image whose init cannot run ("Failed to execute /init (error -8)").
// Files that are not ELF are left to the boot to judge (scripts run).
func checkBinaryArch(what, path, arch string) error {
	f, err := elf.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	if arch == "" {
		arch = iso.AMD64
	}
	want := elfMachines[arch]
	if f.Machine == want {
		return nil
	}
	hint := "GOOS=linux GOARCH=" + arch + " CGO_ENABLED=0 go build"
	if what == "busybox" {
		hint = "Debian's busybox-static:" + arch + " (apt-get download busybox-static:" + arch + "; dpkg -x)"
	}
	return fmt.Errorf("%s %q is built for %s, the image is %s (%s): use one built for %s (%s)", what, path, f.Machine, arch, want, arch, hint)
}
