package runtime

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"

	"github.com/fredbook/udos-dist/internal/sonic/iso"
)

// Medium is the Sonic ISO found on a device.
type Medium struct {
	Device string
	FS     fs.FS
	f      *os.File
}

// Close releases the device.
func (m *Medium) Close() error { return m.f.Close() }

// FindMedium looks through devices (paths such as /dev/sr0, /dev/sda) for
// the Sonic ISO of this version, identified by its marker file, and opens
// its file system read-only with go-diskfs: the kernel needs no iso9660
// driver for that. The same works for a CD and for the image written to a
// USB stick (the ISO starts at sector 0 of the stick).
func FindMedium(devices []string, version string) (*Medium, error) {
	var tried []string
	for _, dev := range devices {
		f, err := os.Open(dev)
		if err != nil {
			tried = append(tried, dev+": "+err.Error())
			continue
		}
		m, err := openISO(f, version)
		if err != nil {
			f.Close()
			tried = append(tried, dev+": "+err.Error())
			continue
		}
		m.Device = dev
		return m, nil
	}
	return nil, fmt.Errorf("no device holds the Sonic %s ISO (%s)", version, strings.Join(tried, "; "))
}

func openISO(f *os.File, version string) (*Medium, error) {
	sig := make([]byte, 6)
	if _, err := f.ReadAt(sig, 16*2048); err != nil || string(sig[1:6]) != "CD001" {
		return nil, fmt.Errorf("no ISO9660 volume")
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, fmt.Errorf("sizing: %w", err)
	}
	isofs, err := iso9660.Read(file.New(f, true), size, 0, 2048)
	if err != nil {
		return nil, fmt.Errorf("reading ISO9660: %w", err)
	}
	if _, err := fs.Stat(isofs, iso.MarkerPath(version)); err != nil {
		return nil, fmt.Errorf("not the Sonic %s ISO", version)
	}
	return &Medium{FS: isofs, f: f}, nil
}

// BlockDevices lists /dev paths of the disks in hw, CD-ROMs first (the
// usual boot medium), leaving out exclude.
func BlockDevices(hw Hardware, exclude string) []string {
	var cds, disks []string
	for _, d := range hw.Disks {
		p := "/dev/" + d.Name
		if p == exclude {
			continue
		}
		if d.Kind == "cdrom" {
			cds = append(cds, p)
		} else {
			disks = append(disks, p)
		}
	}
	return append(cds, disks...)
}
