// Package iso builds the bootable Sonic ISO: an ISO9660 + Rock Ridge image
// (written with go-diskfs) with two El Torito entries — isolinux for BIOS,
// a FAT efiboot.img holding a GRUB EFI binary for UEFI — and an isohybrid
// MBR so the same file also boots from a USB stick or hard disk.
//
// The image is reproducible: go-diskfs stamps directory records, Rock Ridge
// TF fields and the volume descriptor with time.Now() and copies owners and
// link counts from the workspace, so after Finalize this package rewrites
// every one of those fields from Options.Time and the tree itself.
package iso

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"

	"github.com/fredbook/udos-dist/internal/sonic/fatimg"
)

// Tools are the host files the build needs, with the Debian package that
// ships each one.
type Tools struct {
	IsolinuxBin string // isolinux: /usr/lib/ISOLINUX/isolinux.bin
	LDLinux     string // syslinux-common: /usr/lib/syslinux/modules/bios/ldlinux.c32
	IsoHdpfx    string // isolinux: /usr/lib/ISOLINUX/isohdpfx.bin (the isohybrid MBR code)
	GrubMkimage string // grub-common: grub-mkimage
	GrubModDir  string // grub-efi-amd64-bin: /usr/lib/grub/x86_64-efi
	GrubPCDir   string // grub-pc-bin: /usr/lib/grub/i386-pc (BIOS boot of installed disks)
	// GrubARM64Dir is grub-efi-arm64-bin's /usr/lib/grub/arm64-efi, for
	// arm64 images (FindToolsFor), which need none of the PC tools above.
	GrubARM64Dir string
}

// FindTools locates the tools of an amd64 image at their Debian paths, failing with a message
// that names the package to install. lookPath is exec.LookPath in
// production.
func FindTools(lookPath func(string) (string, error)) (Tools, error) {
	t := Tools{
		IsolinuxBin: "/usr/lib/ISOLINUX/isolinux.bin",
		LDLinux:     "/usr/lib/syslinux/modules/bios/ldlinux.c32",
		IsoHdpfx:    "/usr/lib/ISOLINUX/isohdpfx.bin",
		GrubModDir:  "/usr/lib/grub/x86_64-efi",
		GrubPCDir:   "/usr/lib/grub/i386-pc",
	}
	var missing []string
	for _, c := range []struct{ path, pkg string }{
		{t.IsolinuxBin, "isolinux"},
		{t.IsoHdpfx, "isolinux"},
		{t.LDLinux, "syslinux-common"},
		{filepath.Join(t.GrubModDir, "linux.mod"), "grub-efi-amd64-bin"},
		{filepath.Join(t.GrubPCDir, "boot.img"), "grub-pc-bin"},
	} {
		if _, err := os.Stat(c.path); err != nil {
			missing = append(missing, fmt.Sprintf("%s (Debian package %s)", c.path, c.pkg))
		}
	}
	p, err := lookPath("grub-mkimage")
	if err != nil {
		missing = append(missing, "grub-mkimage (Debian package grub-common)")
	}
	t.GrubMkimage = p
	if len(missing) > 0 {
		return t, fmt.Errorf("the Sonic ISO build needs: %s; install with apt-get install isolinux syslinux-common grub-common grub-efi-amd64-bin grub-pc-bin", strings.Join(missing, ", "))
	}
	return t, nil
}

// Options describe one ISO.
type Options struct {
	Version string // e.g. "1.4.6"; names the marker file and the volume
	// Arch is the image's architecture: amd64 (the default: BIOS and
	// UEFI) or arm64 (UEFI only); Tools must be found for it.
	Arch      string
	Kernel    string    // path to the kernel (bzImage; an arm64 Image)
	Initramfs string    // path to the initramfs (gzip newc cpio)
	Cmdline   string    // extra kernel command line arguments
	Output    string    // the .iso to write
	Time      time.Time // every timestamp in the image (SOURCE_DATE_EPOCH)
	Tools     Tools
	// TempDir holds the staging tree; empty means os.TempDir().
	TempDir string
}

// Info describes a finished image.
type Info struct {
	Size int64 // bytes, equal to the ISO9660 volume size
	// BIOSBootLBA is isolinux.bin's sector; 0 in a UEFI-only image.
	BIOSBootLBA  uint32
	EFIImageLBA  uint32
	EFIImageSize int64
}

// Paths inside the image.
const (
	KernelPath   = "boot/vmlinuz"
	InitrdPath   = "boot/initrd.gz"
	EFIImagePath = "boot/efiboot.img"
	// DiskEFIPath is the GRUB EFI binary the installer copies to a target
	// disk's ESP (its embedded config is DiskGrubConfig).
	DiskEFIPath = "boot/sonic/bootx64.efi"
	// DiskBIOSBoot and DiskBIOSCore are GRUB's BIOS boot sector code and
	// core image (DiskGrubConfig embedded) for installed disks.
	DiskBIOSBoot  = "boot/sonic/boot.img"
	DiskBIOSCore  = "boot/sonic/core.img"
	isolinuxDir   = "isolinux"
	efiImageBytes = 2 << 20
	volumeID      = "UDOS_SONIC"
)

// MarkerPath is the file GRUB searches for to find the ISO's own file
// system among all the devices the firmware exposes.
func MarkerPath(version string) string { return "sonic/udos-sonic-v" + version + ".id" }

// BaseCmdline is the kernel command line every ISO boot entry uses. The last
// console= is /dev/console, so the runtime's lines reach the serial port.
const BaseCmdline = "console=tty0 console=ttyS0,115200 sonic.source=iso"

// Build writes the ISO.
func Build(ctx context.Context, opts Options) (Info, error) {
	stage, err := os.MkdirTemp(opts.TempDir, "sonic-iso-")
	if err != nil {
		return Info{}, fmt.Errorf("creating the ISO staging tree: %w", err)
	}
	defer os.RemoveAll(stage)
	tree := filepath.Join(stage, "tree")
	if err := Stage(ctx, opts, tree); err != nil {
		return Info{}, err
	}
	a, _ := lookupArch(opts.Arch) // Stage checked it
	hdpfx := ""
	if a.bios {
		hdpfx = opts.Tools.IsoHdpfx
	}
	return WriteImage(tree, opts.Output, hdpfx, opts.Time)
}

// Stage lays out the ISO's file tree in dir (which must not exist): boot
// loaders and their configuration, the EFI boot image, kernel, initramfs,
// and marker file, with normalised modes and times.
func Stage(ctx context.Context, opts Options, tree string) error {
	if opts.Version == "" || strings.ContainsAny(opts.Version, "/ \t\n\"'") {
		return fmt.Errorf("version %q is empty or holds characters a file name cannot", opts.Version)
	}
	for _, p := range []string{opts.Kernel, opts.Initramfs} {
		if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
			return fmt.Errorf("boot file %q is not a readable regular file", p)
		}
	}
	a, err := lookupArch(opts.Arch)
	if err != nil {
		return err
	}
	if opts.Tools.GrubMkimage == "" || opts.Tools.grubDir(a) == "" || (a.bios && (opts.Tools.IsolinuxBin == "" || opts.Tools.LDLinux == "")) {
		return fmt.Errorf("the ISO build tools for %s are not set (FindToolsFor locates them)", opts.Arch)
	}
	cmdline := strings.TrimSpace(Cmdline(opts.Arch) + " " + opts.Cmdline)
	copies := map[string]string{
		KernelPath: opts.Kernel,
		InitrdPath: opts.Initramfs,
	}
	writes := map[string]string{
		MarkerPath(opts.Version): "udos-sonic " + opts.Version + "\n",
	}
	if a.bios {
		copies[isolinuxDir+"/isolinux.bin"] = opts.Tools.IsolinuxBin
		copies[isolinuxDir+"/ldlinux.c32"] = opts.Tools.LDLinux
		copies[DiskBIOSBoot] = filepath.Join(opts.Tools.GrubPCDir, "boot.img")
		writes[isolinuxDir+"/isolinux.cfg"] = IsolinuxConfig(cmdline)
	}
	if err := os.Mkdir(tree, 0o755); err != nil {
		return fmt.Errorf("creating the ISO staging tree: %w", err)
	}
	for dst, src := range copies {
		if err := copyFile(filepath.Join(tree, filepath.FromSlash(dst)), src); err != nil {
			return err
		}
	}
	for dst, content := range writes {
		if err := writeFile(filepath.Join(tree, filepath.FromSlash(dst)), []byte(content)); err != nil {
			return err
		}
	}
	efi := filepath.Join(filepath.Dir(tree), path.Base(a.efiBoot))
	if err := grubEFI(ctx, opts.Tools, a, ISOGrubConfig(opts.Version, cmdline), efi); err != nil {
		return err
	}
	defer os.Remove(efi)
	// The installer (internal/sonic/runtime) lays out PC disks, BIOS and
	// UEFI: its boot loaders ship on the amd64 image only.
	if a.bios {
		if err := GrubEFI(ctx, opts.Tools, DiskGrubConfig(), filepath.Join(tree, filepath.FromSlash(DiskEFIPath))); err != nil {
			return err
		}
		if err := GrubBIOSCore(ctx, opts.Tools, DiskGrubConfig(), filepath.Join(tree, filepath.FromSlash(DiskBIOSCore))); err != nil {
			return err
		}
	}
	if err := efiBootImage(filepath.Join(tree, filepath.FromSlash(EFIImagePath)), a.efiBoot, efi, opts.Time); err != nil {
		return err
	}
	return normaliseTree(tree, opts.Time)
}

// WriteImage writes the staged tree as a bootable hybrid ISO: ISO9660 +
// Rock Ridge via go-diskfs, El Torito entries for isolinux and the EFI
// image, then trimmed, normalised and given its isohybrid MBR (the code
// from hdpfx, isohdpfx.bin). An empty hdpfx makes a UEFI-only image: the
// EFI entry alone, and an MBR without boot code.
func WriteImage(tree, out, hdpfx string, t time.Time) (Info, error) {
	if err := writeISO(tree, out, hdpfx != ""); err != nil {
		return Info{}, err
	}
	return finish(out, hdpfx, t)
}

// IsolinuxConfig is the BIOS boot menu: one entry, no prompt, serial console.
func IsolinuxConfig(cmdline string) string {
	return "SERIAL 0 115200\nDEFAULT sonic\nPROMPT 0\nTIMEOUT 0\n\nLABEL sonic\n" +
		"  KERNEL /" + KernelPath + "\n  INITRD /" + InitrdPath + "\n  APPEND " + cmdline + "\n"
}

// ISOGrubConfig is the configuration embedded in the ISO's GRUB EFI binary:
// it finds the ISO by its marker file and boots the kernel from it.
func ISOGrubConfig(version, cmdline string) string {
	return grubPreamble +
		"search --no-floppy --file --set=root /" + MarkerPath(version) + "\n" +
		"linux /" + KernelPath + " " + cmdline + "\n" +
		"initrd /" + InitrdPath + "\n" +
		"boot\n"
}

const grubPreamble = "serial --unit=0 --speed=115200\nterminal_input console serial\nterminal_output console serial\nset timeout=0\n"

// DiskMarker is the GRUB script on an installed disk's ESP that chooses
// the A/B slot to boot (internal/sonic/slots writes it).
const DiskMarker = "SONIC/SONIC.CFG"

// DiskGrubConfig is embedded in the GRUB EFI binary the installer puts on
// the target disk: it finds the ESP by DiskMarker and runs the slot
// chooser the installer wrote there.
func DiskGrubConfig() string {
	return grubPreamble +
		"search --no-floppy --file --set=root /" + DiskMarker + "\n" +
		"source /" + DiskMarker + "\n"
}

// GrubModules are built into the GRUB EFI binaries: enough to find a
// file on GPT/MBR disks and CDs, load a Linux kernel and talk on serial.
var GrubModules = []string{
	"part_gpt", "part_msdos", "fat", "iso9660", "search", "search_fs_file",
	"linux", "gzio", "normal", "configfile", "echo", "test", "ls", "cat",
	"serial", "terminal", "efi_gop", "efi_uga", "all_video", "reboot", "halt",
	"loadenv", "search_fs_uuid",
}

// GrubBIOSModules are built into the BIOS core image of installed disks.
var GrubBIOSModules = []string{
	"biosdisk", "part_gpt", "part_msdos", "fat", "search", "search_fs_file",
	"linux", "gzio", "normal", "configfile", "echo", "test", "serial", "terminal",
	"loadenv", "search_fs_uuid",
}

// GrubBIOSCore writes GRUB's i386-pc core.img with config embedded, for a
// GPT BIOS boot partition; the installer patches its location into
// boot.img and into the image's own first sector.
func GrubBIOSCore(ctx context.Context, t Tools, config, out string) error {
	return grubMkimage(ctx, t, "i386-pc", t.GrubPCDir, "/SONIC", GrubBIOSModules, config, out)
}

// GrubEFI writes a standalone GRUB EFI binary (BOOTX64.EFI) with config
// embedded. grub-mkstandalone would pack its modules in a memdisk tar
// stamped with the build time, so its output differs run to run; grub-mkimage
// with the modules linked in and the config embedded is the same kind of
// image and is byte-for-byte reproducible.
func GrubEFI(ctx context.Context, t Tools, config, out string) error {
	return grubEFI(ctx, t, arches[AMD64], config, out)
}

// grubEFI is GrubEFI for an architecture.
func grubEFI(ctx context.Context, t Tools, a arch, config, out string) error {
	return grubMkimage(ctx, t, a.grubFormat, t.grubDir(a), "/EFI/BOOT", a.modules, config, out)
}

func grubMkimage(ctx context.Context, t Tools, format, modDir, prefix string, modules []string, config, out string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fmt.Errorf("creating %q: %w", filepath.Dir(out), err)
	}
	dir, err := os.MkdirTemp(filepath.Dir(out), "grubcfg-")
	if err != nil {
		return fmt.Errorf("creating GRUB work dir: %w", err)
	}
	defer os.RemoveAll(dir)
	cfg := filepath.Join(dir, "embedded.cfg")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		return fmt.Errorf("writing GRUB config: %w", err)
	}
	args := append([]string{"-O", format, "-d", modDir, "-c", cfg, "-p", prefix, "-o", out}, modules...)
	cmd := exec.CommandContext(ctx, t.GrubMkimage, args...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("running grub-mkimage -O %s: %w: %s", format, err, strings.TrimSpace(string(b)))
	}
	return nil
}

// EFIBootImage writes the El Torito EFI image: a 2 MiB FAT12 volume with
// EFI/BOOT/BOOTX64.EFI.
func EFIBootImage(out, bootx64 string, t time.Time) error {
	return efiBootImage(out, arches[AMD64].efiBoot, bootx64, t)
}

// efiBootImage is EFIBootImage with the binary at name (the boot path of
// the image's architecture).
func efiBootImage(out, name, binary string, t time.Time) error {
	f, err := fatimg.DiskFile(name, binary)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fmt.Errorf("creating %q: %w", filepath.Dir(out), err)
	}
	img, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("creating %q: %w", out, err)
	}
	defer img.Close()
	if err := img.Truncate(efiImageBytes); err != nil {
		return fmt.Errorf("sizing %q: %w", out, err)
	}
	opts := fatimg.Options{Size: efiImageBytes, Label: "SONIC_EFI", VolumeID: uint32(t.Unix()), Time: t}
	if err := fatimg.Write(img, []fatimg.File{f}, opts); err != nil {
		return fmt.Errorf("writing %q: %w", out, err)
	}
	return img.Close()
}

func copyFile(dst, src string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("creating %q: %w", filepath.Dir(dst), err)
	}
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("reading %q: %w", src, err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("creating %q: %w", dst, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copying %q: %w", src, err)
	}
	return out.Close()
}

func writeFile(dst string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("creating %q: %w", filepath.Dir(dst), err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		return fmt.Errorf("writing %q: %w", dst, err)
	}
	return nil
}

// normaliseTree fixes what go-diskfs copies from the workspace into Rock
// Ridge: modes (the root would otherwise keep MkdirTemp's 0700) and
// modification times.
func normaliseTree(root string, t time.Time) error {
	return filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if fi.IsDir() {
			mode = 0o755
		}
		if err := os.Chmod(p, mode); err != nil {
			return fmt.Errorf("normalising %q: %w", p, err)
		}
		return os.Chtimes(p, t, t)
	})
}

func writeISO(tree, out string, bios bool) error {
	var total int64
	err := filepath.Walk(tree, func(_ string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		total += (fi.Size() + 2047) / 2048 * 2048
		return nil
	})
	if err != nil {
		return fmt.Errorf("sizing the ISO tree: %w", err)
	}
	// Room for descriptors, directories and path tables; trimmed after.
	size := total + 4<<20
	if err := os.Remove(out); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("replacing %q: %w", out, err)
	}
	be, err := file.CreateFromPath(out, size)
	if err != nil {
		return fmt.Errorf("creating %q: %w", out, err)
	}
	fsys, err := iso9660.Create(be, size, 0, 2048, tree)
	if err != nil {
		be.Close()
		return fmt.Errorf("creating the ISO9660 file system: %w", err)
	}
	efiEntry := &iso9660.ElToritoEntry{Platform: iso9660.EFI, Emulation: iso9660.NoEmulation, BootFile: "/" + EFIImagePath}
	biosEntry := &iso9660.ElToritoEntry{Platform: iso9660.BIOS, Emulation: iso9660.NoEmulation, BootFile: "/" + isolinuxDir + "/isolinux.bin", BootTable: true}
	biosEntry.SetLoadSize(4)
	entries := []*iso9660.ElToritoEntry{biosEntry, efiEntry}
	catalog := "/" + isolinuxDir + "/boot.cat"
	if !bios {
		entries, catalog = []*iso9660.ElToritoEntry{efiEntry}, "/boot/boot.cat"
	}
	err = fsys.Finalize(iso9660.FinalizeOptions{
		RockRidge: true,
		// Joliet moves the boot record off sector 17, where SeaBIOS looks.
		Joliet:           false,
		VolumeIdentifier: volumeID,
		ElTorito: &iso9660.ElTorito{
			BootCatalog: catalog,
			Entries:     entries,
		},
	})
	if cerr := be.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing the ISO9660 file system to %q: %w", out, err)
	}
	return nil
}

// finish trims the image to its volume size, makes its metadata
// reproducible and writes the isohybrid MBR.
func finish(out, hdpfx string, t time.Time) (Info, error) {
	f, err := os.OpenFile(out, os.O_RDWR, 0)
	if err != nil {
		return Info{}, fmt.Errorf("opening %q: %w", out, err)
	}
	defer f.Close()
	info, err := Inspect(f)
	if err != nil {
		return Info{}, fmt.Errorf("reading back %q: %w", out, err)
	}
	if err := f.Truncate(info.Size); err != nil {
		return Info{}, fmt.Errorf("trimming %q: %w", out, err)
	}
	if err := normaliseMetadata(f, t); err != nil {
		return Info{}, fmt.Errorf("normalising %q: %w", out, err)
	}
	var mbrCode []byte
	if hdpfx != "" {
		if mbrCode, err = os.ReadFile(hdpfx); err != nil {
			return Info{}, fmt.Errorf("reading the isohybrid MBR code: %w", err)
		}
	}
	mbr, err := HybridMBR(mbrCode, info, uint32(t.Unix()))
	if err != nil {
		return Info{}, err
	}
	if _, err := f.WriteAt(mbr, 0); err != nil {
		return Info{}, fmt.Errorf("writing the MBR of %q: %w", out, err)
	}
	return info, f.Close()
}

// Inspect reads the volume size and the El Torito boot catalog of an image.
func Inspect(r io.ReaderAt) (Info, error) {
	pvd := make([]byte, 2048)
	if _, err := r.ReadAt(pvd, 16*2048); err != nil {
		return Info{}, fmt.Errorf("reading the primary volume descriptor: %w", err)
	}
	if pvd[0] != 1 || string(pvd[1:6]) != "CD001" {
		return Info{}, fmt.Errorf("sector 16 is not an ISO9660 primary volume descriptor")
	}
	var info Info
	info.Size = int64(binary.LittleEndian.Uint32(pvd[80:])) * int64(binary.LittleEndian.Uint16(pvd[128:]))
	brvd := make([]byte, 2048)
	if _, err := r.ReadAt(brvd, 17*2048); err != nil {
		return Info{}, fmt.Errorf("reading the boot record: %w", err)
	}
	if brvd[0] != 0 || string(brvd[1:6]) != "CD001" || !strings.HasPrefix(string(brvd[7:39]), "EL TORITO SPECIFICATION") {
		return Info{}, fmt.Errorf("sector 17 is not an El Torito boot record")
	}
	cat := make([]byte, 2048)
	if _, err := r.ReadAt(cat, int64(binary.LittleEndian.Uint32(brvd[0x47:]))*2048); err != nil {
		return Info{}, fmt.Errorf("reading the boot catalog: %w", err)
	}
	if cat[0] != 1 || cat[0x1e] != 0x55 || cat[0x1f] != 0xAA {
		return Info{}, fmt.Errorf("boot catalog has no validation entry")
	}
	if cat[0x20] != 0x88 {
		return Info{}, fmt.Errorf("default boot entry is not bootable")
	}
	if cat[1] == byte(iso9660.EFI) {
		// A UEFI-only image: the default entry is the EFI image.
		info.EFIImageLBA = binary.LittleEndian.Uint32(cat[0x28:])
	} else {
		info.BIOSBootLBA = binary.LittleEndian.Uint32(cat[0x28:])
		// Section header at 0x40, its single entry at 0x60.
		if cat[0x41] != byte(iso9660.EFI) || cat[0x60] != 0x88 {
			return Info{}, fmt.Errorf("boot catalog has no bootable EFI section")
		}
		info.EFIImageLBA = binary.LittleEndian.Uint32(cat[0x68:])
	}
	// The EFI image's size comes from its FAT boot sector: the catalog's
	// sector count is 16 bits and some writers leave it 1.
	bs := make([]byte, 512)
	if _, err := r.ReadAt(bs, int64(info.EFIImageLBA)*2048); err != nil {
		return Info{}, fmt.Errorf("reading the EFI image: %w", err)
	}
	sectors := int64(binary.LittleEndian.Uint16(bs[19:]))
	if sectors == 0 {
		sectors = int64(binary.LittleEndian.Uint32(bs[32:]))
	}
	info.EFIImageSize = sectors * 512
	return info, nil
}
