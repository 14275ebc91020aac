package iso

import (
	"encoding/binary"
	"fmt"
	"io"
	"time"
)

type rw interface {
	io.ReaderAt
	io.WriterAt
}

// normaliseMetadata rewrites every field go-diskfs fills from the clock or
// the workspace's inodes: the volume descriptor's dates, each directory
// record's date, and the Rock Ridge TF (times) and PX (uid, gid, links)
// entries, including those in continuation areas.
func normaliseMetadata(f rw, t time.Time) error {
	t = t.UTC()
	pvd := make([]byte, 2048)
	if _, err := f.ReadAt(pvd, 16*2048); err != nil {
		return fmt.Errorf("reading the primary volume descriptor: %w", err)
	}
	dec := decTime(t)
	copy(pvd[813:], dec)                    // creation
	copy(pvd[830:], dec)                    // modification
	copy(pvd[847:], "0000000000000000\x00") // expiration: none
	copy(pvd[864:], dec)                    // effective
	copy(pvd[156+18:], recTime(t))          // root directory record
	if _, err := f.WriteAt(pvd, 16*2048); err != nil {
		return fmt.Errorf("writing the primary volume descriptor: %w", err)
	}
	rootLBA := binary.LittleEndian.Uint32(pvd[156+2:])
	rootLen := binary.LittleEndian.Uint32(pvd[156+10:])

	// First pass: count subdirectories so directory link counts follow
	// POSIX (2 + subdirectories) whatever file system the workspace was on.
	subdirs := map[uint32]int{}
	if err := walkDirs(f, rootLBA, rootLen, map[uint32]bool{}, func(dir uint32, rec []byte, isDir, dot bool) error {
		if isDir && !dot {
			subdirs[dir]++
		}
		return nil
	}); err != nil {
		return err
	}
	return walkDirs(f, rootLBA, rootLen, map[uint32]bool{}, func(dir uint32, rec []byte, isDir, dot bool) error {
		copy(rec[18:25], recTime(t))
		links := uint32(1)
		if isDir {
			target := binary.LittleEndian.Uint32(rec[2:])
			links = uint32(2 + subdirs[target])
		}
		nameLen := int(rec[32])
		su := 33 + nameLen
		if nameLen%2 == 0 {
			su++
		}
		if su > len(rec) {
			return nil
		}
		return patchSUSP(f, rec[su:], t, links, 0)
	})
}

// walkDirs calls fn for each record of each directory (rewriting the
// sector after fn returns). dot is true for the "." and ".." records.
func walkDirs(f rw, lba, length uint32, seen map[uint32]bool, fn func(dir uint32, rec []byte, isDir, dot bool) error) error {
	if seen[lba] {
		return nil
	}
	seen[lba] = true
	var children [][2]uint32
	for off := uint32(0); off < length; off += 2048 {
		sector := make([]byte, 2048)
		pos := int64(lba)*2048 + int64(off)
		if _, err := f.ReadAt(sector, pos); err != nil {
			return fmt.Errorf("reading directory sector at %d: %w", pos, err)
		}
		for i := 0; i < 2048; {
			n := int(sector[i])
			if n == 0 {
				break // records never cross sectors; the rest is padding
			}
			if n < 34 || i+n > 2048 {
				return fmt.Errorf("malformed directory record at byte %d", pos+int64(i))
			}
			rec := sector[i : i+n]
			isDir := rec[25]&2 != 0
			dot := rec[32] == 1 && (rec[33] == 0 || rec[33] == 1)
			if err := fn(lba, rec, isDir, dot); err != nil {
				return err
			}
			if isDir && !dot {
				children = append(children, [2]uint32{binary.LittleEndian.Uint32(rec[2:]), binary.LittleEndian.Uint32(rec[10:])})
			}
			i += n
		}
		if _, err := f.WriteAt(sector, pos); err != nil {
			return fmt.Errorf("writing directory sector at %d: %w", pos, err)
		}
	}
	for _, c := range children {
		if err := walkDirs(f, c[0], c[1], seen, fn); err != nil {
			return err
		}
	}
	return nil
}

func patchSUSP(f rw, b []byte, t time.Time, links uint32, depth int) error {
	if depth > 8 {
		return fmt.Errorf("continuation areas nest too deeply")
	}
	for i := 0; i+4 <= len(b); {
		sig := string(b[i : i+2])
		n := int(b[i+2])
		if n < 4 || i+n > len(b) {
			return nil
		}
		e := b[i : i+n]
		switch sig {
		case "TF":
			patchTF(e, t)
		case "PX":
			if n >= 36 {
				putBoth32(e[12:], links)
				putBoth32(e[20:], 0)
				putBoth32(e[28:], 0)
			}
		case "CE":
			if n >= 28 {
				lba := binary.LittleEndian.Uint32(e[4:])
				off := binary.LittleEndian.Uint32(e[12:])
				ln := binary.LittleEndian.Uint32(e[20:])
				area := make([]byte, ln)
				pos := int64(lba)*2048 + int64(off)
				if _, err := f.ReadAt(area, pos); err != nil {
					return fmt.Errorf("reading continuation area at %d: %w", pos, err)
				}
				if err := patchSUSP(f, area, t, links, depth+1); err != nil {
					return err
				}
				if _, err := f.WriteAt(area, pos); err != nil {
					return fmt.Errorf("writing continuation area at %d: %w", pos, err)
				}
			}
		case "ST":
			return nil
		}
		i += n
	}
	return nil
}

func patchTF(e []byte, t time.Time) {
	flags := e[4]
	size, stamp := 7, recTime(t)
	if flags&0x80 != 0 {
		size, stamp = 17, decTime(t)
	}
	pos := 5
	for bit := 0; bit < 7; bit++ {
		if flags&(1<<bit) == 0 {
			continue
		}
		if pos+size > len(e) {
			return
		}
		copy(e[pos:pos+size], stamp)
		pos += size
	}
}

func putBoth32(b []byte, v uint32) {
	binary.LittleEndian.PutUint32(b, v)
	binary.BigEndian.PutUint32(b[4:], v)
}

// recTime is the 7-byte directory record date (UTC).
func recTime(t time.Time) []byte {
	return []byte{byte(t.Year() - 1900), byte(t.Month()), byte(t.Day()), byte(t.Hour()), byte(t.Minute()), byte(t.Second()), 0}
}

// decTime is the 17-byte volume descriptor date (UTC).
func decTime(t time.Time) []byte {
	return append([]byte(t.Format("20060102150405")+"00"), 0)
}
