// Package fatimg writes small FAT12/FAT16 file systems deterministically.
//
// It exists for the Sonic boot media: the El Torito EFI image (efiboot.img)
// and the EFI system partition the installer writes. Both must boot in
// OVMF, which rejects FAT32 volumes below ~33 MiB, and the ISO must be
// byte-for-byte reproducible, so every timestamp, the volume serial and the
// cluster layout come from the inputs alone. Names are 8.3 only (no long
// file name entries): boot loaders and firmware look files up
// case-insensitively, and 8.3 keeps the directory format trivial.
package fatimg

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"
)

const sectorSize = 512

// File is one regular file to place in the image. Directories are implied by
// the paths.
type File struct {
	// Path is slash separated, relative, 8.3 components, e.g. "EFI/BOOT/BOOTX64.EFI".
	Path string
	// Size is the exact number of bytes Open yields.
	Size int64
	// Open returns the content.
	Open func() (io.ReadCloser, error)
}

// Options fix everything that would otherwise vary between builds.
type Options struct {
	// Size of the file system in bytes (a multiple of 512).
	Size int64
	// Label is the volume label (up to 11 characters, upper case); empty means "NO NAME".
	Label string
	// VolumeID is the volume serial number.
	VolumeID uint32
	// Time stamps every directory entry.
	Time time.Time
	// HiddenSectors is the LBA of the partition start when the file system
	// lives in a partition (firmware ignores it, DOS-era tools read it).
	HiddenSectors uint32
	// MinCluster, when set, asks for clusters of at least this many bytes
	// (a power of two) where the size allows them: GRUB reads a file
	// cluster by cluster, and under BIOS each read is a slow real-mode
	// disk call, so a big kernel and initramfs load far faster from large
	// clusters.
	MinCluster int64
}

// Layout describes the geometry chosen for an image.
type Layout struct {
	Bits              int // 12 or 16
	SectorsPerCluster int
	SectorsPerFAT     int
	RootEntries       int
	Clusters          int
	TotalSectors      int
}

const reservedSectors = 1

// chooseLayout picks the geometry for size bytes, with clusters of at
// least minCluster bytes when a FAT12/16 layout has such clusters (else
// the smallest that fit).
func chooseLayout(size, minCluster int64) (Layout, error) {
	if minCluster > sectorSize {
		if l, err := layoutFrom(size, int(minCluster/sectorSize)); err == nil {
			return l, nil
		}
	}
	return layoutFrom(size, 1)
}

func layoutFrom(size int64, minSPC int) (Layout, error) {
	if size%sectorSize != 0 {
		return Layout{}, fmt.Errorf("FAT image size %d is not a multiple of %d", size, sectorSize)
	}
	total := int(size / sectorSize)
	if total > 0xFFFFFFF {
		return Layout{}, fmt.Errorf("FAT image size %d is too large", size)
	}
	for _, bits := range []int{12, 16} {
		// FAT12 only for small images (clusters up to 4 KiB); larger
		// volumes get FAT16, which is what firmware expects of them.
		maxSPC := 64
		if bits == 12 {
			maxSPC = 8
		}
		for spc := minSPC; spc <= maxSPC; spc *= 2 {
			l := Layout{Bits: bits, SectorsPerCluster: spc, RootEntries: 512, TotalSectors: total}
			rootSectors := l.RootEntries * 32 / sectorSize
			// Iterate to a fixed point: the FAT size depends on the
			// cluster count, which depends on the FAT size.
			fat := 1
			for i := 0; i < 16; i++ {
				data := total - reservedSectors - 2*fat - rootSectors
				if data <= 0 {
					break
				}
				l.Clusters = data / spc
				need := ((l.Clusters+2)*bits/8 + sectorSize) / sectorSize
				if need == fat {
					break
				}
				fat = need
			}
			l.SectorsPerFAT = fat
			if l.Clusters <= 0 {
				continue
			}
			// Microsoft's rule: the cluster count alone decides the FAT type.
			if bits == 12 && l.Clusters < 4085 {
				return l, nil
			}
			if bits == 16 && l.Clusters >= 4085 && l.Clusters < 65525 {
				return l, nil
			}
		}
	}
	return Layout{}, fmt.Errorf("no FAT12/FAT16 layout fits %d bytes (FAT16 ends near 2 GiB)", size)
}

type node struct {
	name     string // 8.3 as typed
	dir      bool
	children map[string]*node
	file     *File
	cluster  int
	clusters int
}

func shortName(name string) ([11]byte, error) {
	var out [11]byte
	for i := range out {
		out[i] = ' '
	}
	base, ext, _ := strings.Cut(name, ".")
	if base == "" || len(base) > 8 || len(ext) > 3 || strings.Contains(ext, ".") {
		return out, fmt.Errorf("name %q is not an 8.3 name", name)
	}
	for _, c := range base + ext {
		ok := (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strings.ContainsRune("!#$%&'()-@^_`{}~", c)
		if !ok {
			return out, fmt.Errorf("name %q: character %q is not allowed in an upper-case 8.3 name", name, c)
		}
	}
	copy(out[:8], base)
	copy(out[8:], ext)
	return out, nil
}

func buildTree(files []File) (*node, error) {
	root := &node{dir: true, children: map[string]*node{}}
	for i := range files {
		f := &files[i]
		if f.Path == "" || strings.HasPrefix(f.Path, "/") || f.Path == ".." || strings.HasPrefix(f.Path, "../") || path.Clean(f.Path) != f.Path {
			return nil, fmt.Errorf("file path %q must be relative and clean", f.Path)
		}
		if f.Size < 0 || f.Size > 0xFFFFFFFF {
			return nil, fmt.Errorf("file %q: size %d does not fit FAT", f.Path, f.Size)
		}
		parts := strings.Split(f.Path, "/")
		cur := root
		for j, p := range parts {
			if _, err := shortName(p); err != nil {
				return nil, fmt.Errorf("file %q: %w", f.Path, err)
			}
			last := j == len(parts)-1
			child, ok := cur.children[p]
			if !ok {
				child = &node{name: p, dir: !last, children: map[string]*node{}}
				if last {
					child.file = f
				}
				cur.children[p] = child
			} else if last || !child.dir {
				return nil, fmt.Errorf("file %q collides with another entry", f.Path)
			}
			cur = child
		}
	}
	return root, nil
}

func sortedChildren(n *node) []*node {
	out := make([]*node, 0, len(n.children))
	for _, c := range n.children {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func dosTime(t time.Time) (date, tm uint16) {
	t = t.UTC()
	if t.Year() < 1980 {
		t = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if t.Year() > 2107 {
		t = time.Date(2107, 12, 31, 23, 59, 58, 0, time.UTC)
	}
	date = uint16((t.Year()-1980)<<9 | int(t.Month())<<5 | t.Day())
	tm = uint16(t.Hour()<<11 | t.Minute()<<5 | t.Second()/2)
	return date, tm
}

func dirEntry(name [11]byte, attr byte, cluster int, size uint32, t time.Time) []byte {
	e := make([]byte, 32)
	copy(e[0:11], name[:])
	e[11] = attr
	date, tm := dosTime(t)
	binary.LittleEndian.PutUint16(e[14:], tm)
	binary.LittleEndian.PutUint16(e[16:], date)
	binary.LittleEndian.PutUint16(e[18:], date)
	binary.LittleEndian.PutUint16(e[20:], uint16(cluster>>16))
	binary.LittleEndian.PutUint16(e[22:], tm)
	binary.LittleEndian.PutUint16(e[24:], date)
	binary.LittleEndian.PutUint16(e[26:], uint16(cluster))
	binary.LittleEndian.PutUint32(e[28:], size)
	return e
}

// Plan returns the layout Write would use for opts.Size.
func Plan(size int64) (Layout, error) { return chooseLayout(size, 0) }

// Write lays the files out in a fresh FAT file system of opts.Size bytes,
// writing through w at offsets 0..opts.Size. Every metadata sector is written
// in full; data clusters past the last file are left as they are (callers
// writing a fresh image file should truncate it to opts.Size first).
func Write(w io.WriterAt, files []File, opts Options) error {
	l, err := chooseLayout(opts.Size, opts.MinCluster)
	if err != nil {
		return err
	}
	label := opts.Label
	if label == "" {
		label = "NO NAME"
	}
	if len(label) > 11 {
		return fmt.Errorf("volume label %q is longer than 11 characters", label)
	}
	root, err := buildTree(files)
	if err != nil {
		return err
	}
	clusterBytes := l.SectorsPerCluster * sectorSize
	rootSectors := l.RootEntries * 32 / sectorSize
	firstData := reservedSectors + 2*l.SectorsPerFAT + rootSectors
	if len(root.children)+1 > l.RootEntries {
		return fmt.Errorf("%d entries do not fit the root directory (%d)", len(root.children), l.RootEntries-1)
	}

	// Allocate clusters contiguously, depth first in name order.
	next := 2
	var order []*node
	var alloc func(n *node) error
	alloc = func(n *node) error {
		for _, c := range sortedChildren(n) {
			var bytes int64
			if c.dir {
				bytes = int64(len(c.children)+2) * 32
			} else {
				bytes = c.file.Size
			}
			c.clusters = int((bytes + int64(clusterBytes) - 1) / int64(clusterBytes))
			if c.clusters > 0 {
				c.cluster = next
				next += c.clusters
			}
			if next-2 > l.Clusters {
				return fmt.Errorf("files need more than the %d clusters of a %d-byte FAT%d image", l.Clusters, opts.Size, l.Bits)
			}
			order = append(order, c)
			if c.dir {
				if err := alloc(c); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := alloc(root); err != nil {
		return err
	}

	// Boot sector.
	bs := make([]byte, sectorSize)
	copy(bs[0:3], []byte{0xEB, 0x3C, 0x90})
	copy(bs[3:11], "UDOSSONC")
	binary.LittleEndian.PutUint16(bs[11:], sectorSize)
	bs[13] = byte(l.SectorsPerCluster)
	binary.LittleEndian.PutUint16(bs[14:], reservedSectors)
	bs[16] = 2
	binary.LittleEndian.PutUint16(bs[17:], uint16(l.RootEntries))
	if l.TotalSectors < 0x10000 {
		binary.LittleEndian.PutUint16(bs[19:], uint16(l.TotalSectors))
	} else {
		binary.LittleEndian.PutUint32(bs[32:], uint32(l.TotalSectors))
	}
	bs[21] = 0xF8
	binary.LittleEndian.PutUint16(bs[22:], uint16(l.SectorsPerFAT))
	binary.LittleEndian.PutUint16(bs[24:], 32)
	binary.LittleEndian.PutUint16(bs[26:], 64)
	binary.LittleEndian.PutUint32(bs[28:], opts.HiddenSectors)
	bs[36] = 0x80
	bs[38] = 0x29
	binary.LittleEndian.PutUint32(bs[39:], opts.VolumeID)
	lb := []byte(fmt.Sprintf("%-11s", label))
	copy(bs[43:54], lb)
	copy(bs[54:62], fmt.Sprintf("FAT%-5d", l.Bits))
	// Not bootable as a BIOS volume: the code prints nothing and halts.
	copy(bs[62:], []byte{0xFA, 0xF4, 0xEB, 0xFD})
	bs[510], bs[511] = 0x55, 0xAA
	if _, err := w.WriteAt(bs, 0); err != nil {
		return fmt.Errorf("writing FAT boot sector: %w", err)
	}

	// File allocation tables.
	fat := make([]byte, l.SectorsPerFAT*sectorSize)
	set := func(cl, v int) {
		if l.Bits == 16 {
			binary.LittleEndian.PutUint16(fat[cl*2:], uint16(v))
			return
		}
		off := cl * 3 / 2
		if cl%2 == 0 {
			fat[off] = byte(v)
			fat[off+1] = fat[off+1]&0xF0 | byte(v>>8)&0x0F
		} else {
			fat[off] = fat[off]&0x0F | byte(v<<4)
			fat[off+1] = byte(v >> 4)
		}
	}
	eoc := 0xFFF
	if l.Bits == 16 {
		eoc = 0xFFFF
	}
	set(0, 0xFF8|(eoc&^0xFFF))
	set(1, eoc)
	for _, n := range order {
		for i := 0; i < n.clusters; i++ {
			v := n.cluster + i + 1
			if i == n.clusters-1 {
				v = eoc
			}
			set(n.cluster+i, v)
		}
	}
	for i := 0; i < 2; i++ {
		if _, err := w.WriteAt(fat, int64(reservedSectors+i*l.SectorsPerFAT)*sectorSize); err != nil {
			return fmt.Errorf("writing FAT %d: %w", i+1, err)
		}
	}

	entriesOf := func(n *node) ([]byte, error) {
		var b []byte
		for _, c := range sortedChildren(n) {
			sn, _ := shortName(c.name)
			if c.dir {
				b = append(b, dirEntry(sn, 0x10, c.cluster, 0, opts.Time)...)
			} else {
				b = append(b, dirEntry(sn, 0x20, c.cluster, uint32(c.file.Size), opts.Time)...)
			}
		}
		return b, nil
	}
	clusterOffset := func(cl int) int64 {
		return int64(firstData+(cl-2)*l.SectorsPerCluster) * sectorSize
	}

	// Root directory: the volume label first, then the entries.
	rootDir := make([]byte, rootSectors*sectorSize)
	var lbn [11]byte
	copy(lbn[:], lb)
	copy(rootDir, dirEntry(lbn, 0x08, 0, 0, opts.Time))
	rb, _ := entriesOf(root)
	copy(rootDir[32:], rb)
	if _, err := w.WriteAt(rootDir, int64(reservedSectors+2*l.SectorsPerFAT)*sectorSize); err != nil {
		return fmt.Errorf("writing FAT root directory: %w", err)
	}

	var parents func(n *node, parentCluster int) error
	parents = func(n *node, parentCluster int) error {
		for _, c := range sortedChildren(n) {
			if c.dir {
				buf := make([]byte, c.clusters*clusterBytes)
				var dot, dotdot [11]byte
				copy(dot[:], ".          ")
				copy(dotdot[:], "..         ")
				copy(buf, dirEntry(dot, 0x10, c.cluster, 0, opts.Time))
				copy(buf[32:], dirEntry(dotdot, 0x10, parentCluster, 0, opts.Time))
				eb, _ := entriesOf(c)
				copy(buf[64:], eb)
				if _, err := w.WriteAt(buf, clusterOffset(c.cluster)); err != nil {
					return fmt.Errorf("writing FAT directory %q: %w", c.name, err)
				}
				if err := parents(c, c.cluster); err != nil {
					return err
				}
				continue
			}
			if err := writeFile(w, c, clusterOffset(c.cluster), clusterBytes); err != nil {
				return err
			}
		}
		return nil
	}
	return parents(root, 0)
}

func writeFile(w io.WriterAt, n *node, off int64, clusterBytes int) error {
	if n.file.Size == 0 {
		return nil
	}
	r, err := n.file.Open()
	if err != nil {
		return fmt.Errorf("opening %q: %w", n.file.Path, err)
	}
	defer r.Close()
	ow := io.NewOffsetWriter(w, off)
	copied, err := io.Copy(ow, io.LimitReader(r, n.file.Size))
	if err != nil {
		return fmt.Errorf("copying %q into the FAT image: %w", n.file.Path, err)
	}
	if copied != n.file.Size {
		return fmt.Errorf("copying %q: got %d bytes, want %d", n.file.Path, copied, n.file.Size)
	}
	// Zero the tail of the last cluster so stale device content never
	// shows through, and so image files are identical however they were
	// pre-filled.
	if tail := int(n.file.Size % int64(clusterBytes)); tail != 0 {
		if _, err := ow.Write(make([]byte, clusterBytes-tail)); err != nil {
			return fmt.Errorf("padding %q: %w", n.file.Path, err)
		}
	}
	var extra [1]byte
	if k, _ := r.Read(extra[:]); k != 0 {
		return fmt.Errorf("copying %q: content is longer than its declared size %d", n.file.Path, n.file.Size)
	}
	return nil
}

// BytesFile is a File holding b.
func BytesFile(p string, b []byte) File {
	return File{Path: p, Size: int64(len(b)), Open: func() (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(string(b))), nil
	}}
}

// DiskFile is a File read from the regular file at osPath.
func DiskFile(p, osPath string) (File, error) {
	fi, err := os.Stat(osPath)
	if err != nil {
		return File{}, fmt.Errorf("reading %q for the FAT image: %w", osPath, err)
	}
	if !fi.Mode().IsRegular() {
		return File{}, fmt.Errorf("%q is not a regular file", osPath)
	}
	return File{Path: p, Size: fi.Size(), Open: func() (io.ReadCloser, error) { return os.Open(osPath) }}, nil
}
