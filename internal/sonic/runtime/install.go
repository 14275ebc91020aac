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
)

// Target is the disk the installer writes: a block device in the image, a
// plain file in tests.
type Target interface {
	io.ReaderAt
	io.WriterAt
	io.Seeker
	Stat() (fs.FileInfo, error)
	Read([]byte) (int, error)
	Close() error
	Sync() error
}

// InstallOptions describe one installation.
type InstallOptions struct {
	// Source is the Sonic ISO's file system (the boot medium), holding the
	// kernel, the initramfs and the disk GRUB binary at their iso paths.
	Source fs.FS
	// Cmdline is the kernel command line of the installed system
	// (console settings and carried sonic.* options; sonic.source=disk is added).
	Cmdline string
	// VolumeID and Label of the ESP.
	VolumeID uint32
}

// Disk layout: a BIOS boot partition for GRUB's core image in the gap
// between the GPT entries (LBA 2-33) and the 1 MiB-aligned ESP, which is up
// to 256 MiB (FAT16 territory, which every UEFI firmware reads).
const (
	biosBootLBA  = 1024
	espStartLBA  = 2048
	espMaxBytes  = 256 << 20
	minESPBytes  = 32 << 20
	maxCoreBytes = (espStartLBA - biosBootLBA) * 512
)

// Install partitions target with GPT and makes it boot on its own under
// UEFI and BIOS: an EFI system partition (FAT16) holding the GRUB EFI
// binary at EFI/BOOT/BOOTX64.EFI, the kernel, the initramfs and the GRUB
// script that boots them, plus GRUB's BIOS core image in a BIOS boot
// partition and its boot code in the protective MBR. Everything on target
// is lost; a refusal (too small, incomplete source) writes nothing.
func Install(ctx context.Context, target Target, opts InstallOptions) (InstallResult, error) {
	var res InstallResult
	size, err := target.Seek(0, io.SeekEnd)
	if err != nil {
		return res, fmt.Errorf("sizing the target: %w", err)
	}
	files, need, err := payload(opts)
	if err != nil {
		return res, err
	}
	mbrCode, core, err := biosBoot(opts.Source)
	if err != nil {
		return res, err
	}
	// GPT needs 33 sectors at the end for its backup header and entries.
	avail := (size/512 - espStartLBA - 34) * 512
	espBytes := int64(espMaxBytes)
	if avail < espBytes {
		espBytes = avail / (1 << 20) * (1 << 20)
	}
	if espBytes < minESPBytes || espBytes < need+need/10+(4<<20) {
		return res, fmt.Errorf("target is %d MiB: too small for a %d MiB system partition", size>>20, (need+need/10+(4<<20))>>20)
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	table := &gpt.Table{
		LogicalSectorSize:  512,
		PhysicalSectorSize: 512,
		ProtectiveMBR:      true,
		Partitions: []*gpt.Partition{{
			Index: 1, Start: espStartLBA, End: espStartLBA + uint64(espBytes/512) - 1,
			Size: uint64(espBytes), Type: gpt.EFISystemPartition, Name: "SONIC-ESP",
		}, {
			Index: 2, Start: biosBootLBA, End: espStartLBA - 1,
			Size: maxCoreBytes, Type: gpt.BIOSBoot, Name: "SONIC-BIOS",
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
	if err := fatimg.Write(esp, files, fo); err != nil {
		return res, fmt.Errorf("writing the system partition: %w", err)
	}
	if err := target.Sync(); err != nil {
		return res, fmt.Errorf("flushing the target: %w", err)
	}
	res.ESPBytes = espBytes
	res.DiskBytes = size
	return res, nil
}

// InstallResult tells what was written.
type InstallResult struct {
	DiskBytes int64
	ESPBytes  int64
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

func payload(opts InstallOptions) ([]fatimg.File, int64, error) {
	if opts.Source == nil {
		return nil, 0, errors.New("no installation source")
	}
	cmd := strings.TrimSpace(opts.Cmdline + " sonic.source=disk")
	cfg := iso.DiskConfig(cmd)
	files := []fatimg.File{fatimg.BytesFile(iso.DiskMarker, []byte(cfg))}
	var need int64 = int64(len(cfg))
	for _, c := range []struct{ src, dst string }{
		{iso.DiskEFIPath, "EFI/BOOT/BOOTX64.EFI"},
		{iso.KernelPath, iso.DiskKernel},
		{iso.InitrdPath, iso.DiskInitrd},
	} {
		fi, err := fs.Stat(opts.Source, c.src)
		if err != nil {
			return nil, 0, fmt.Errorf("installation source lacks %s: %w", c.src, err)
		}
		src := c.src
		files = append(files, fatimg.File{Path: c.dst, Size: fi.Size(), Open: func() (io.ReadCloser, error) {
			return opts.Source.Open(src)
		}})
		need += fi.Size()
	}
	return files, need, nil
}
