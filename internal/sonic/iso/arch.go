package iso

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Architectures an image is built for, by their Go names (GOARCH), which
// are also the names in release platforms ("linux-arm64") and asset names.
const (
	AMD64 = "amd64"
	ARM64 = "arm64"
)

// Arches are the architectures Build knows, amd64 first (the default).
var Arches = []string{AMD64, ARM64}

// arch is what differs between the images of two architectures.
type arch struct {
	// grubFormat is grub-mkimage's -O for the EFI binaries.
	grubFormat string
	// efiBoot is the removable-media boot path UEFI looks for on this
	// architecture (UEFI spec 2.10, 3.5.1.1).
	efiBoot string
	// console is the serial console device of the kernel: the 16550 UART
	// of a PC, the PL011 of an Arm machine (QEMU virt, most servers).
	console string
	// bios says the image also boots from a PC BIOS (isolinux, GRUB's
	// i386-pc core image for installed disks).
	bios bool
	// grubPkg is the Debian package holding the GRUB EFI modules.
	grubPkg string
	// modules are built into every GRUB EFI binary.
	modules []string
	// netGrub is the netboot bundle's GRUB EFI binary.
	netGrub string
}

var arches = map[string]arch{
	AMD64: {
		grubFormat: "x86_64-efi", efiBoot: "EFI/BOOT/BOOTX64.EFI", console: "ttyS0", bios: true,
		grubPkg: "grub-efi-amd64-bin", modules: GrubModules, netGrub: NetGrubEFI,
	},
	ARM64: {
		grubFormat: "arm64-efi", efiBoot: "EFI/BOOT/BOOTAA64.EFI", console: "ttyAMA0",
		// efi_uga is a PC thing; GRUB has no such module for arm64.
		grubPkg: "grub-efi-arm64-bin", modules: without(GrubModules, "efi_uga"), netGrub: NetGrubEFIARM64,
	},
}

func without(list []string, drop string) []string {
	var out []string
	for _, s := range list {
		if s != drop {
			out = append(out, s)
		}
	}
	return out
}

// lookupArch returns the parameters of an architecture ("" is amd64).
func lookupArch(name string) (arch, error) {
	if name == "" {
		name = AMD64
	}
	a, ok := arches[name]
	if !ok {
		return arch{}, fmt.Errorf("architecture %q: the Sonic image is built for %s", name, strings.Join(Arches, " or "))
	}
	return a, nil
}

// CheckArch reports whether the ISO builder knows the architecture ("" is
// amd64), with an error naming the ones it knows.
func CheckArch(name string) error {
	_, err := lookupArch(name)
	return err
}

// Cmdline is the kernel command line every ISO boot entry of an
// architecture uses (BaseCmdline on amd64). The last console= is
// /dev/console, so the runtime's lines reach the serial port.
func Cmdline(archName string) string {
	a, err := lookupArch(archName)
	if err != nil || a.console == "ttyS0" {
		return BaseCmdline
	}
	return strings.Replace(BaseCmdline, "console=ttyS0,", "console="+a.console+",", 1)
}

// FindToolsFor locates the tools an image of the architecture needs at
// their Debian paths (FindTools is amd64's), failing with a message that
// names the packages to install. An arm64 image boots from UEFI only: it
// needs GRUB's arm64-efi modules and no isolinux. lookPath is
// exec.LookPath in production.
func FindToolsFor(archName string, lookPath func(string) (string, error)) (Tools, error) {
	a, err := lookupArch(archName)
	if err != nil {
		return Tools{}, err
	}
	if a.bios {
		return FindTools(lookPath)
	}
	t := Tools{GrubARM64Dir: "/usr/lib/grub/" + a.grubFormat}
	var missing []string
	if _, err := os.Stat(filepath.Join(t.GrubARM64Dir, "linux.mod")); err != nil {
		missing = append(missing, fmt.Sprintf("%s (Debian package %s)", filepath.Join(t.GrubARM64Dir, "linux.mod"), a.grubPkg))
	}
	p, err := lookPath("grub-mkimage")
	if err != nil {
		missing = append(missing, "grub-mkimage (Debian package grub-common)")
	}
	t.GrubMkimage = p
	if len(missing) > 0 {
		return t, fmt.Errorf("the %s Sonic ISO build needs: %s; install with apt-get install grub-common %s", archName, strings.Join(missing, ", "), a.grubPkg)
	}
	return t, nil
}

// grubDir is the GRUB EFI module directory of the architecture in t.
func (t Tools) grubDir(a arch) string {
	if a.grubFormat == "arm64-efi" {
		return t.GrubARM64Dir
	}
	return t.GrubModDir
}
