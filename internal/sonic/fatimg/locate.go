package fatimg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrNotFound is returned by Locate for a path the file system lacks.
var ErrNotFound = errors.New("no such file in the FAT file system")

// Extent is where a file's bytes lie in the file system: Size bytes from
// Offset (relative to the file system's first byte).
type Extent struct {
	Offset int64
	Size   int64
}

// Locate finds the regular file at p (slash separated, 8.3 names) in the
// FAT12/16 file system read through r, and returns where its content lies.
// It only accepts contiguous files (Write lays every file out so): a file
// whose clusters are scattered cannot be read or rewritten in place by
// offset, and saying so is better than returning a wrong extent.
func Locate(r io.ReaderAt, p string) (Extent, error) {
	bs := make([]byte, sectorSize)
	if _, err := r.ReadAt(bs, 0); err != nil {
		return Extent{}, fmt.Errorf("reading the FAT boot sector: %w", err)
	}
	if bs[510] != 0x55 || bs[511] != 0xAA || binary.LittleEndian.Uint16(bs[11:]) != sectorSize {
		return Extent{}, errors.New("not a FAT file system with 512-byte sectors")
	}
	spc := int64(bs[13])
	reserved := int64(binary.LittleEndian.Uint16(bs[14:]))
	fats := int64(bs[16])
	rootEntries := int64(binary.LittleEndian.Uint16(bs[17:]))
	total := int64(binary.LittleEndian.Uint16(bs[19:]))
	if total == 0 {
		total = int64(binary.LittleEndian.Uint32(bs[32:]))
	}
	perFAT := int64(binary.LittleEndian.Uint16(bs[22:]))
	if spc == 0 || fats == 0 || perFAT == 0 || rootEntries == 0 {
		return Extent{}, errors.New("not a FAT12/FAT16 file system (FAT32 or a damaged boot sector)")
	}
	rootSectors := (rootEntries*32 + sectorSize - 1) / sectorSize
	rootOff := (reserved + fats*perFAT) * sectorSize
	firstData := reserved + fats*perFAT + rootSectors
	clusters := (total - firstData) / spc
	bits := 16
	if clusters < 4085 {
		bits = 12
	}
	clusterBytes := spc * sectorSize
	fat := make([]byte, perFAT*sectorSize)
	if _, err := r.ReadAt(fat, reserved*sectorSize); err != nil {
		return Extent{}, fmt.Errorf("reading the FAT: %w", err)
	}
	next := func(cl int64) int64 {
		if bits == 16 {
			if cl*2+2 > int64(len(fat)) {
				return -1
			}
			return int64(binary.LittleEndian.Uint16(fat[cl*2:]))
		}
		off := cl * 3 / 2
		if off+2 > int64(len(fat)) {
			return -1
		}
		v := int64(binary.LittleEndian.Uint16(fat[off:]))
		if cl%2 == 1 {
			return v >> 4
		}
		return v & 0xFFF
	}
	eoc := int64(0xFF8)
	if bits == 16 {
		eoc = 0xFFF8
	}
	// chain checks that the clusters from first are contiguous and
	// returns their count.
	chain := func(first int64, what string) (int64, error) {
		n := int64(0)
		for cl := first; ; cl++ {
			n++
			if n > clusters {
				return 0, fmt.Errorf("%s: cluster chain loops", what)
			}
			v := next(cl)
			if v >= eoc {
				return n, nil
			}
			if v != cl+1 {
				return 0, fmt.Errorf("%s is not contiguous on the FAT file system", what)
			}
		}
	}
	clusterOff := func(cl int64) int64 { return (firstData + (cl-2)*spc) * sectorSize }

	dir := make([]byte, rootSectors*sectorSize)
	if _, err := r.ReadAt(dir, rootOff); err != nil {
		return Extent{}, fmt.Errorf("reading the root directory: %w", err)
	}
	parts := strings.Split(strings.Trim(p, "/"), "/")
	for i, part := range parts {
		want, err := shortName(part)
		if err != nil {
			return Extent{}, err
		}
		var ent []byte
		for o := 0; o+32 <= len(dir); o += 32 {
			e := dir[o : o+32]
			if e[0] == 0 {
				break
			}
			if e[0] == 0xE5 || e[11]&0x08 != 0 {
				continue
			}
			if string(e[:11]) == string(want[:]) {
				ent = e
				break
			}
		}
		if ent == nil {
			return Extent{}, fmt.Errorf("%s: %w", p, ErrNotFound)
		}
		first := int64(binary.LittleEndian.Uint16(ent[26:]))
		isDir := ent[11]&0x10 != 0
		if i == len(parts)-1 {
			if isDir {
				return Extent{}, fmt.Errorf("%s is a directory", p)
			}
			size := int64(binary.LittleEndian.Uint32(ent[28:]))
			if size == 0 {
				return Extent{Offset: 0, Size: 0}, nil
			}
			n, err := chain(first, p)
			if err != nil {
				return Extent{}, err
			}
			if n*clusterBytes < size {
				return Extent{}, fmt.Errorf("%s: %d clusters cannot hold its %d bytes", p, n, size)
			}
			return Extent{Offset: clusterOff(first), Size: size}, nil
		}
		if !isDir {
			return Extent{}, fmt.Errorf("%s: %s is not a directory", p, part)
		}
		n, err := chain(first, part)
		if err != nil {
			return Extent{}, err
		}
		dir = make([]byte, n*clusterBytes)
		if _, err := r.ReadAt(dir, clusterOff(first)); err != nil {
			return Extent{}, fmt.Errorf("reading directory %s: %w", part, err)
		}
	}
	return Extent{}, fmt.Errorf("%s: %w", p, ErrNotFound)
}

// VolumeID reads the volume serial number of the FAT file system read
// through r (what GRUB's search --fs-uuid calls XXXX-XXXX).
func VolumeID(r io.ReaderAt) (uint32, error) {
	bs := make([]byte, sectorSize)
	if _, err := r.ReadAt(bs, 0); err != nil {
		return 0, fmt.Errorf("reading the FAT boot sector: %w", err)
	}
	if bs[510] != 0x55 || bs[511] != 0xAA || bs[38] != 0x29 {
		return 0, errors.New("not a FAT12/FAT16 file system with a volume serial")
	}
	return binary.LittleEndian.Uint32(bs[39:]), nil
}
