package runtime

import (
	"context"
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

// ESP geometry: 1 MiB aligned, up to 256 MiB (FAT16 territory, which every
// UEFI firmware reads).
const (
	espStartLBA = 2048
	espMaxBytes = 256 << 20
	minESPBytes = 32 << 20
)

// Install partitions target with GPT (one EFI system partition) and writes
// a FAT16 ESP holding the GRUB EFI binary at EFI/BOOT/BOOTX64.EFI, the
// kernel, the initramfs and the GRUB script that boots them, so the disk
// boots on its own under UEFI. Everything on target is lost.
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
		}},
	}
	if err := table.Write(target, size); err != nil {
		return res, fmt.Errorf("writing the GPT: %w", err)
	}
	esp := io.NewOffsetWriter(target, espStartLBA*512)
	// Clear the old first MiB of the ESP so no stale signature survives.
	if _, err := esp.WriteAt(make([]byte, 1<<20), 0); err != nil {
		return res, fmt.Errorf("clearing the system partition: %w", err)
	}
	fo := fatimg.Options{Size: espBytes, Label: "SONIC", VolumeID: opts.VolumeID, HiddenSectors: espStartLBA}
	if err := fatimg.Write(offsetWriterAt{target, espStartLBA * 512}, files, fo); err != nil {
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

type offsetWriterAt struct {
	w   io.WriterAt
	off int64
}

func (o offsetWriterAt) WriteAt(p []byte, off int64) (int, error) { return o.w.WriteAt(p, o.off+off) }

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
