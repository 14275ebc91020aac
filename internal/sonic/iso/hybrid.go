package iso

import (
	"encoding/binary"
	"fmt"
)

// Geometry isohybrid uses; CHS only matters to very old BIOSes.
const (
	hybridHeads   = 64
	hybridSectors = 32
)

func chs(lba uint32) [3]byte {
	c := lba / (hybridHeads * hybridSectors)
	if c > 1023 {
		return [3]byte{0xFE, 0xFF, 0xFF}
	}
	h := (lba / hybridSectors) % hybridHeads
	s := lba%hybridSectors + 1
	return [3]byte{byte(h), byte(s) | byte(c>>8)<<6, byte(c)}
}

func partitionEntry(b []byte, boot bool, typ byte, start, count uint32) {
	if boot {
		b[0] = 0x80
	}
	first := chs(start)
	last := chs(start + count - 1)
	copy(b[1:4], first[:])
	b[4] = typ
	copy(b[5:8], last[:])
	binary.LittleEndian.PutUint32(b[8:], start)
	binary.LittleEndian.PutUint32(b[12:], count)
}

// HybridMBR returns the 512-byte isohybrid master boot record for an image:
// the boot code from isohdpfx.bin (first 432 bytes), the 512-byte LBA of
// isolinux.bin at offset 432 (where that code looks for it), a disk
// signature, a bootable type 0x00 partition over the whole image (as
// isohybrid and xorriso write it) and a type 0xEF partition over the El
// Torito EFI image so UEFI firmware finds an EFI system partition on a disk.
// No code (nil) makes the MBR of a UEFI-only image: the same partitions,
// no boot code.
func HybridMBR(code []byte, info Info, signature uint32) ([]byte, error) {
	if code != nil && len(code) < 432 {
		return nil, fmt.Errorf("isohybrid MBR code is %d bytes, want at least 432 (isohdpfx.bin)", len(code))
	}
	if info.Size%512 != 0 || info.Size/512 > 0xFFFFFFFF {
		return nil, fmt.Errorf("image size %d cannot be described by an MBR", info.Size)
	}
	if info.EFIImageSize <= 0 {
		return nil, fmt.Errorf("image has no EFI boot image")
	}
	mbr := make([]byte, 512)
	if code != nil {
		copy(mbr, code[:432])
		binary.LittleEndian.PutUint32(mbr[432:], info.BIOSBootLBA*4)
	}
	binary.LittleEndian.PutUint32(mbr[440:], signature)
	partitionEntry(mbr[446:462], true, 0x00, 0, uint32(info.Size/512))
	partitionEntry(mbr[462:478], false, 0xEF, info.EFIImageLBA*4, uint32(info.EFIImageSize/512))
	mbr[510], mbr[511] = 0x55, 0xAA
	return mbr, nil
}
