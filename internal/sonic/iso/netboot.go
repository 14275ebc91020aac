package iso

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fredbook/udos-dist/internal/tarball"
)

// NetbootCmdline is the kernel command line of a network boot: the ISO's,
// with sonic.source=net (there is no medium), then extra.
func NetbootCmdline(extra string) string { return netbootCmdline(AMD64, extra) }

func netbootCmdline(archName, extra string) string {
	return strings.TrimSpace(strings.Replace(Cmdline(archName), "sonic.source=iso", "sonic.source=net", 1) + " " + extra)
}

// Files of the netboot bundle, relative to the TFTP (or HTTP) root the
// bundle is unpacked into. The scripts name the others relatively.
const (
	NetKernel      = "vmlinuz"
	NetInitrd      = "initrd.gz"
	NetIPXE        = "boot.ipxe"
	NetIPXEInstall = "install.ipxe"
	NetGrubEFI     = "grubnetx64.efi"
	// NetGrubEFIARM64 is the GRUB netboot binary of an arm64 bundle, in
	// place of NetGrubEFI.
	NetGrubEFIARM64 = "grubnetaa64.efi"
	NetGrubConfig   = "grub/grub.cfg"
)

// IPXEScript boots Sonic live. Under UEFI the kernel's EFI stub finds the
// initramfs by the initrd= argument, so it is named on the command line.
func IPXEScript(version, cmdline string) string {
	return "#!ipxe\n# uDOS Sonic " + version + ", live, over the network (udos-dist netboot bundle).\n" +
		"kernel " + NetKernel + " initrd=" + NetInitrd + " " + cmdline + "\n" +
		"initrd " + NetInitrd + "\nboot\n"
}

// IPXEInstallScript installs Sonic to ${sonic-target} (default /dev/sda;
// set it at the iPXE prompt or in a chained script) from the ISO beside the
// bundle on the same TFTP server, whose digest it carries so the runtime
// installs nothing else.
func IPXEInstallScript(version, cmdline, isoName, isoSHA256 string) string {
	return "#!ipxe\n# uDOS Sonic " + version + ": install to ${sonic-target} (ERASES IT) from " + isoName + " on this TFTP server.\n" +
		"isset ${sonic-target} || set sonic-target /dev/sda\n" +
		"kernel " + NetKernel + " initrd=" + NetInitrd + " " + cmdline +
		" sonic.mode=install sonic.target=${sonic-target} sonic.iso=tftp://${next-server}/" + isoName + " sonic.iso_sha256=" + isoSHA256 + "\n" +
		"initrd " + NetInitrd + "\nboot\n"
}

// NetbootGrubConfig boots Sonic live from GRUB loaded over the network
// (firmware PXE without iPXE): everything comes from the server GRUB was
// loaded from.
func NetbootGrubConfig(version, cmdline string) string {
	return grubPreamble +
		"echo 'uDOS Sonic " + version + " over the network'\n" +
		"linux ($root)/" + NetKernel + " " + cmdline + "\n" +
		"initrd ($root)/" + NetInitrd + "\n" +
		"boot\n"
}

// GrubNetModules are built into the netboot GRUB EFI binary.
var GrubNetModules = []string{
	"efinet", "net", "tftp", "http", "linux", "gzio", "normal", "configfile", "echo", "test",
	"serial", "terminal", "efi_gop", "efi_uga", "all_video", "reboot", "halt",
}

// NetbootOptions build a netboot bundle.
type NetbootOptions struct {
	Version   string
	Arch      string // as Options.Arch
	Kernel    string // bzImage
	Initramfs string // the same initramfs the ISO boots
	Cmdline   string // extra kernel arguments (as for the ISO)
	// ISOName and ISOSHA256 are the ISO the install script fetches.
	ISOName, ISOSHA256 string
	Output             string // the bundle (.tar.gz)
	Time               time.Time
	Tools              Tools
	TempDir            string
}

// BuildNetboot writes the netboot bundle: a reproducible tar.gz of the
// kernel, the initramfs, the two iPXE scripts and a GRUB EFI netboot
// binary with its configuration, to unpack into a TFTP root.
func BuildNetboot(ctx context.Context, o NetbootOptions) error {
	work, err := os.MkdirTemp(o.TempDir, "netboot-")
	if err != nil {
		return fmt.Errorf("creating the netboot work dir: %w", err)
	}
	defer os.RemoveAll(work)
	a, err := lookupArch(o.Arch)
	if err != nil {
		return err
	}
	cmdline := netbootCmdline(o.Arch, o.Cmdline)
	grubCfg := NetbootGrubConfig(o.Version, cmdline)
	grubEFI := filepath.Join(work, a.netGrub)
	modules := GrubNetModules
	if !a.bios {
		modules = without(modules, "efi_uga")
	}
	// GRUB's $root is the server it was loaded from, (tftp,SERVER) or
	// (http,SERVER); its prefix is that server's grub/.
	if err := grubMkimage(ctx, o.Tools, a.grubFormat, o.Tools.grubDir(a), "/grub", modules, grubCfg, grubEFI); err != nil {
		return err
	}
	texts := map[string]string{
		NetIPXE:        IPXEScript(o.Version, cmdline),
		NetIPXEInstall: IPXEInstallScript(o.Version, cmdline, o.ISOName, o.ISOSHA256),
		NetGrubConfig:  grubCfg,
	}
	var entries []tarball.Entry
	for _, f := range []struct{ name, path string }{{NetKernel, o.Kernel}, {NetInitrd, o.Initramfs}, {a.netGrub, grubEFI}} {
		e, err := tarball.File(f.name, f.path)
		if err != nil {
			return fmt.Errorf("netboot bundle: %w", err)
		}
		entries = append(entries, e)
	}
	entries = append(entries, tarball.Dir("grub/"))
	for _, name := range []string{NetIPXE, NetIPXEInstall, NetGrubConfig} {
		entries = append(entries, tarball.Bytes(name, 0o644, []byte(texts[name])))
	}
	tmp := o.Output + ".partial"
	out, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("creating the netboot bundle: %w", err)
	}
	defer os.Remove(tmp)
	tarball.Sort(entries)
	if err := tarball.Write(out, entries, tarball.Options{MTime: o.Time, Level: 9}); err != nil {
		out.Close()
		return fmt.Errorf("writing the netboot bundle: %w", err)
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, o.Output)
}
