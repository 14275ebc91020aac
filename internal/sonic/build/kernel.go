package build

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
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

// ErrNotKernel is returned (wrapped) for a kernel input that is not a
// bzImage.
var ErrNotKernel = errors.New("not a Linux kernel image (bzImage)")

// checkKernel refuses anything but a bzImage as the kernel, before the
// build starts: a wrong file (a linux-image .deb, an uncompressed vmlinux)
// would make an image that signs, uploads and then stops at boot with
// "Booting kernel failed: Invalid argument". The error names the file,
// says what it is instead and how to get the kernel out of it.
func checkKernel(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("kernel %q: %w", path, err)
	}
	defer f.Close()
	head := make([]byte, headerOffset+len(headerMagic))
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return fmt.Errorf("kernel %q: %w", path, err)
	}
	head = head[:n]
	if n == headerOffset+len(headerMagic) && string(head[headerOffset:]) == headerMagic && head[bootFlagOffset] == 0x55 && head[bootFlagOffset+1] == 0xAA {
		return nil
	}
	what, remedy := describe(head)
	return fmt.Errorf("kernel %q is %s, %w: it has no Linux boot header (%q at offset 0x%X); %s",
		path, what, ErrNotKernel, headerMagic, headerOffset, remedy)
}

// describe names a non-kernel file by its first bytes and says how to get
// a bzImage from it.
func describe(head []byte) (what, remedy string) {
	switch {
	case bytes.HasPrefix(head, []byte("!<arch>\ndebian-binary")):
		return "a Debian package (.deb, such as linux-image-*.deb)",
			"unpack it without installing (dpkg -x FILE.deb DIR) and pass DIR/boot/vmlinuz-<version> as kernel, and DIR/lib/modules/<version> as modules"
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return "gzip-compressed data (an Alpine .apk or a tarball?)",
			"unpack it (tar -xzf FILE -C DIR) and pass the bzImage inside (boot/vmlinuz-*) as kernel"
	case bytes.HasPrefix(head, []byte("\x7fELF")):
		return "an ELF file (an uncompressed vmlinux?)",
			"pass the bootable bzImage instead (arch/x86/boot/bzImage of a kernel build, or /boot/vmlinuz-* of a distribution)"
	case len(head) < headerOffset+len(headerMagic):
		return fmt.Sprintf("only %d bytes long", len(head)),
			"pass the bootable bzImage (boot/vmlinuz-* of a linux-image package, unpacked)"
	}
	return "not a bzImage", "pass the bootable bzImage (boot/vmlinuz-* of a linux-image package, unpacked)"
}
