package runtime

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/diskfs/go-diskfs/partition/gpt"

	"github.com/fredbook/udos-dist/internal/sonic/fatimg"
	"github.com/fredbook/udos-dist/internal/sonic/iso"
	"github.com/fredbook/udos-dist/internal/sonic/slots"
)

// Target is the disk the installer writes: a block device in the image, a
// plain file in tests.
type Target = slots.Device

// InstallOptions describe one installation.
type InstallOptions struct {
	// Source is the Sonic ISO's file system (the boot medium), holding the
	// kernel, the initramfs and the disk GRUB binary at their iso paths.
	Source fs.FS
	// Version is the Sonic version being installed (slot a's).
	Version string
	// Cmdline is the kernel command line of the installed system
	// (console settings and carried sonic.* options; sonic.source=disk and
	// panic=10 are added: a kernel panic reboots, so a trial slot that
	// panics falls back by itself).
	Cmdline string
	// VolumeID of the ESP; the slots' file systems get the next two.
	VolumeID uint32
}

// Disk layout: a BIOS boot partition for GRUB's core image in the gap
// between the GPT entries (LBA 2-33) and the 1 MiB-aligned ESP (FAT16,
// which every UEFI firmware reads: GRUB, the slot chooser and GRUB's
// environment block), then the two slots (internal/sonic/slots), each half
// of the rest up to 1 GiB, and at least half as large again as this
// image's kernel and initramfs, so a bigger release still fits.
const (
	biosBootLBA  = 1024
	espStartLBA  = 2048
	espBytes     = 32 << 20
	slotMaxBytes = 1 << 30
	maxCoreBytes = (espStartLBA - biosBootLBA) * 512
)

// Install partitions target with GPT and makes it boot on its own under
// UEFI and BIOS: an EFI system partition holding the GRUB EFI binary at
// EFI/BOOT/BOOTX64.EFI, the GRUB script that chooses a slot and the slots'
// environment block; slot a holding the kernel and the initramfs, slot b
// empty; plus GRUB's BIOS core image in a BIOS boot partition and its boot
// code in the protective MBR. Everything on target is lost; a refusal (too
// small, incomplete source) writes nothing.
func Install(ctx context.Context, target Target, opts InstallOptions) (InstallResult, error) {
	var res InstallResult
	size, err := target.Seek(0, io.SeekEnd)
	if err != nil {
		return res, fmt.Errorf("sizing the target: %w", err)
	}
	efi, payload, err := installPayload(opts)
	if err != nil {
		return res, err
	}
	mbrCode, core, err := biosBoot(opts.Source)
	if err != nil {
		return res, err
	}
	// GPT needs 33 sectors at the end for its backup header and entries.
	avail := (size/512-espStartLBA-34)*512 - espBytes
	slotBytes := int64(slotMaxBytes)
	if avail/2 < slotBytes {
		slotBytes = avail / 2 / (1 << 20) * (1 << 20)
	}
	need := slots.SlotNeed(payload)
	if want := need + need/2 + (4 << 20); slotBytes < want {
		return res, fmt.Errorf("target is %d MiB: too small for two %d MiB slots and a %d MiB system partition", size>>20, want>>20, espBytes>>20)
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	slotA := uint64(espStartLBA + espBytes/512)
	slotB := slotA + uint64(slotBytes/512)
	table := &gpt.Table{
		LogicalSectorSize:  512,
		PhysicalSectorSize: 512,
		ProtectiveMBR:      true,
		Partitions: []*gpt.Partition{{
			Index: 1, Start: espStartLBA, End: espStartLBA + espBytes/512 - 1,
			Size: espBytes, Type: gpt.EFISystemPartition, Name: slots.ESPName,
		}, {
			Index: 2, Start: biosBootLBA, End: espStartLBA - 1,
			Size: maxCoreBytes, Type: gpt.BIOSBoot, Name: "SONIC-BIOS",
		}, {
			Index: 3, Start: slotA, End: slotB - 1,
			Size: uint64(slotBytes), Type: gpt.MicrosoftBasicData, Name: slots.SlotAName,
		}, {
			Index: 4, Start: slotB, End: slotB + uint64(slotBytes/512) - 1,
			Size: uint64(slotBytes), Type: gpt.MicrosoftBasicData, Name: slots.SlotBName,
		}},
	}
	if err := table.Write(target, size); err != nil {
		return res, fmt.Errorf("writing the GPT: %w", err)
	}
	// GRUB's boot code goes in front of the protective MBR's disk
	// signature and partition table, which stay as written.
	mbr := make([]byte, 512)
	if _, err := target.ReadAt(mbr, 0); err != nil {
		return res, fmt.Errorf("reading back the protective MBR: %w", err)
	}
	copy(mbr[:mbrCodeBytes], mbrCode[:mbrCodeBytes])
	if _, err := target.WriteAt(mbr, 0); err != nil {
		return res, fmt.Errorf("writing the MBR boot code: %w", err)
	}
	if _, err := target.WriteAt(core, biosBootLBA*512); err != nil {
		return res, fmt.Errorf("writing the BIOS boot partition: %w", err)
	}
	esp := io.NewOffsetWriter(target, espStartLBA*512)
	// Clear the old first MiB of the ESP so no stale signature survives.
	if _, err := esp.WriteAt(make([]byte, 1<<20), 0); err != nil {
		return res, fmt.Errorf("clearing the system partition: %w", err)
	}
	fo := fatimg.Options{Size: espBytes, Label: "SONIC", VolumeID: opts.VolumeID, HiddenSectors: espStartLBA}
	if err := fatimg.Write(esp, append([]fatimg.File{efi}, slots.ESPFiles(opts.VolumeID)...), fo); err != nil {
		return res, fmt.Errorf("writing the system partition: %w", err)
	}
	if err := target.Sync(); err != nil {
		return res, fmt.Errorf("flushing the target: %w", err)
	}
	d, err := slots.Open(target)
	if err != nil {
		return res, fmt.Errorf("reading back the new layout: %w", err)
	}
	if err := d.WriteSlot(ctx, slots.A, payload); err != nil {
		return res, err
	}
	if err := d.Blank(slots.B); err != nil {
		return res, err
	}
	res.ESPBytes, res.SlotBytes, res.DiskBytes = espBytes, slotBytes, size
	return res, nil
}

// InstallResult tells what was written.
type InstallResult struct {
	DiskBytes int64
	ESPBytes  int64
	SlotBytes int64
}

// Offsets in GRUB's i386-pc boot.img and in the first sector of core.img
// (grub-core/boot/i386/pc/boot.S and diskboot.S), as grub-bios-setup
// patches them.
const (
	mbrCodeBytes     = 0x1b8 // boot code up to the disk signature
	bootKernelSector = 0x5c  // LBA of core.img's first sector
	bootDriveCheck   = 0x66  // "jmp" over the drive check: NOPed for hard disks
	coreBlocklist    = 0x1f4 // start LBA of the rest of core.img (8 bytes), then length (2)
)

// biosBoot reads GRUB's boot.img and core.img from the source and patches
// them for core.img at biosBootLBA.
func biosBoot(src fs.FS) (mbrCode, core []byte, err error) {
	if src == nil {
		return nil, nil, errors.New("no installation source")
	}
	boot, err := fs.ReadFile(src, iso.DiskBIOSBoot)
	if err != nil {
		return nil, nil, fmt.Errorf("installation source lacks %s: %w", iso.DiskBIOSBoot, err)
	}
	core, err = fs.ReadFile(src, iso.DiskBIOSCore)
	if err != nil {
		return nil, nil, fmt.Errorf("installation source lacks %s: %w", iso.DiskBIOSCore, err)
	}
	if len(boot) != 512 {
		return nil, nil, fmt.Errorf("%s is %d bytes, want 512", iso.DiskBIOSBoot, len(boot))
	}
	if len(core) < 1024 || len(core) > maxCoreBytes {
		return nil, nil, fmt.Errorf("%s is %d bytes, want 1 KiB to %d KiB", iso.DiskBIOSCore, len(core), maxCoreBytes>>10)
	}
	sectors := (len(core) + 511) / 512
	if got := int(binary.LittleEndian.Uint16(core[coreBlocklist+8:])); got != sectors-1 {
		return nil, nil, fmt.Errorf("%s: its blocklist says %d sectors follow, the file has %d: not a grub-mkimage i386-pc core image", iso.DiskBIOSCore, got, sectors-1)
	}
	core = append(core, make([]byte, sectors*512-len(core))...)
	binary.LittleEndian.PutUint64(core[coreBlocklist:], biosBootLBA+1)
	mbrCode = append([]byte(nil), boot...)
	binary.LittleEndian.PutUint64(mbrCode[bootKernelSector:], biosBootLBA)
	mbrCode[bootDriveCheck], mbrCode[bootDriveCheck+1] = 0x90, 0x90
	return mbrCode, core, nil
}

// installPayload is the ESP's GRUB EFI binary and slot a's payload, from
// the source.
func installPayload(opts InstallOptions) (fatimg.File, slots.Payload, error) {
	var efi fatimg.File
	if opts.Source == nil {
		return efi, slots.Payload{}, errors.New("no installation source")
	}
	if opts.Version == "" {
		return efi, slots.Payload{}, errors.New("no version given for the installed system")
	}
	var files [3]fatimg.File
	for i, src := range []string{iso.DiskEFIPath, iso.KernelPath, iso.InitrdPath} {
		f, err := SourceFile(opts.Source, src)
		if err != nil {
			return efi, slots.Payload{}, fmt.Errorf("installation source lacks %s: %w", src, err)
		}
		files[i] = f
	}
	files[0].Path = "EFI/BOOT/BOOTX64.EFI"
	p := slots.Payload{Kernel: files[1], Initrd: files[2], Version: opts.Version,
		Cmdline: strings.TrimSpace(opts.Cmdline + " sonic.source=disk panic=10")}
	return files[0], p, nil
}

// SourceFile is the file at p of an image's file system, as a FAT file.
func SourceFile(src fs.FS, p string) (fatimg.File, error) {
	fi, err := fs.Stat(src, p)
	if err != nil {
		return fatimg.File{}, err
	}
	if !fi.Mode().IsRegular() {
		return fatimg.File{}, fmt.Errorf("%s is not a regular file", p)
	}
	return fatimg.File{Path: p, Size: fi.Size(), Open: func() (io.ReadCloser, error) { return src.Open(p) }}, nil
}
