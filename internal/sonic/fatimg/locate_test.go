package fatimg

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/fredbook/udos-dist/internal/testenv"
)

// TestLocate finds files in images this package wrote (FAT12 and FAT16)
// and in one mtools wrote, the reference implementation.
func TestLocate(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat([]byte("0123456789abcdef"), 70000)
	files := []File{
		BytesFile("EFI/BOOT/BOOTX64.EFI", big),
		BytesFile("SONIC/GRUBENV", bytes.Repeat([]byte{'#'}, 1024)),
		BytesFile("SONIC/EMPTY", nil),
	}
	imgs := []string{writeImage(t, 2<<20, files), writeImage(t, 40<<20, files)}
	if mformat, mcopy, mmd := testenv.Tool(t, "mformat"), testenv.Tool(t, "mcopy"), testenv.Tool(t, "mmd"); mformat != "" {
		dir := t.TempDir()
		img := filepath.Join(dir, "mtools.img")
		os.WriteFile(img, make([]byte, 20<<20), 0o644)
		run := func(name string, args ...string) {
			if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
				t.Fatalf("%s %v: %v\n%s", name, args, err, out)
			}
		}
		run(mformat, "-i", img, "-N", "12345678", "::")
		run(mmd, "-i", img, "::/EFI", "::/EFI/BOOT", "::/SONIC")
		for _, f := range files[:2] {
			src := filepath.Join(dir, filepath.Base(f.Path))
			r, _ := f.Open()
			b, _ := io.ReadAll(r)
			os.WriteFile(src, b, 0o644)
			run(mcopy, "-i", img, src, "::/"+f.Path)
		}
		imgs = append(imgs, img)
	}
	for _, img := range imgs {
		f, err := os.Open(img)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, want := range files[:2] {
			ext, err := Locate(f, want.Path)
			if err != nil {
				t.Fatalf("%s: %s: %v", filepath.Base(img), want.Path, err)
			}
			got := make([]byte, ext.Size)
			f.ReadAt(got, ext.Offset)
			r, _ := want.Open()
			w, _ := io.ReadAll(r)
			if !bytes.Equal(got, w) {
				t.Errorf("%s: %s: the extent holds other bytes", filepath.Base(img), want.Path)
			}
		}
		if _, err := Locate(f, "SONIC/NOPE"); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: a missing file: %v", filepath.Base(img), err)
		}
		if _, err := Locate(f, "SONIC"); err == nil {
			t.Errorf("%s: a directory located as a file", filepath.Base(img))
		}
		if id, err := VolumeID(f); err != nil || id != 0x12345678 {
			t.Errorf("%s: volume id %08x, %v", filepath.Base(img), id, err)
		}
	}
	if _, err := Locate(bytes.NewReader(make([]byte, 4096)), "X"); err == nil {
		t.Error("a blank device located a file")
	}
}

// TestLocateFragmented refuses a file whose clusters are not in one run.
func TestLocateFragmented(t *testing.T) {
	t.Parallel()
	img := writeImage(t, 2<<20, []File{BytesFile("A.BIN", make([]byte, 10000)), BytesFile("B.BIN", []byte("b"))})
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// A.BIN starts at cluster 2 (FAT12, 1 sector a cluster): point its
	// first cluster's successor elsewhere (cluster 40).
	fat := make([]byte, 3)
	f.ReadAt(fat, 512+3)
	fat[0] = 40
	fat[1] = fat[1]&0xF0 | 0
	f.WriteAt(fat, 512+3)
	if _, err := Locate(f, "A.BIN"); err == nil {
		t.Error("a fragmented file located")
	}
}
