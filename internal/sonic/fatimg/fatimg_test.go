package fatimg

import (
	"bytes"
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/testenv"
)

func writeImage(t *testing.T, size int64, files []File) string {
	t.Helper()
	img := filepath.Join(t.TempDir(), "fat.img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	opts := Options{Size: size, Label: "SONIC", VolumeID: 0x12345678, Time: time.Unix(1700000000, 0)}
	if err := Write(f, files, opts); err != nil {
		t.Fatal(err)
	}
	return img
}

func TestLayout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		size int64
		bits int
	}{
		{"efiboot 2MiB", 2 << 20, 12},
		{"8MiB", 8 << 20, 12},
		{"ESP 64MiB", 64 << 20, 16},
		{"ESP 256MiB", 256 << 20, 16},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Plan(tc.size)
			if err != nil {
				t.Fatal(err)
			}
			if l.Bits != tc.bits {
				t.Errorf("FAT%d, want FAT%d (%+v)", l.Bits, tc.bits, l)
			}
		})
	}
	if _, err := Plan(1000); err == nil {
		t.Error("size not a multiple of 512 accepted")
	}
	if _, err := Plan(4 << 30); err == nil {
		t.Error("4 GiB accepted as FAT16")
	}
}

func TestMtoolsReadsImage(t *testing.T) {
	t.Parallel()
	mcopy := testenv.Tool(t, "mcopy")
	big := bytes.Repeat([]byte("0123456789abcdef"), 70000) // > 1 MiB, many clusters
	for _, size := range []int64{2 << 20, 40 << 20} {
		files := []File{
			BytesFile("EFI/BOOT/BOOTX64.EFI", big),
			BytesFile("EFI/BOOT/GRUB.CFG", []byte("set timeout=0\n")),
			BytesFile("SONIC.ID", nil),
			BytesFile("BOOT/A.TXT", []byte("a")),
		}
		img := writeImage(t, size, files)
		for _, f := range files {
			out, err := exec.Command(mcopy, "-n", "-i", img, "::/"+f.Path, "-").Output()
			if err != nil {
				t.Fatalf("size %d: mcopy %s: %v", size, f.Path, err)
			}
			r, _ := f.Open()
			want := new(bytes.Buffer)
			want.ReadFrom(r)
			if !bytes.Equal(out, want.Bytes()) {
				t.Errorf("size %d: %s: read back %d bytes, want %d", size, f.Path, len(out), want.Len())
			}
		}
		info, err := exec.Command(testenv.Tool(t, "minfo"), "-i", img, "::").CombinedOutput()
		if err != nil {
			t.Fatalf("minfo: %v\n%s", err, info)
		}
		if !strings.Contains(string(info), "serial number: 12345678") {
			t.Errorf("minfo does not show the serial:\n%s", info)
		}
	}
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	files := []File{BytesFile("B/X.BIN", []byte("x")), BytesFile("A.TXT", []byte("hello"))}
	sum := func() [32]byte {
		b, err := os.ReadFile(writeImage(t, 2<<20, files))
		if err != nil {
			t.Fatal(err)
		}
		return sha256.Sum256(b)
	}
	// Reverse input order: layout must not depend on it.
	a := sum()
	files[0], files[1] = files[1], files[0]
	if b := sum(); a != b {
		t.Error("two images from the same files differ")
	}
}

func TestRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files []File
		size  int64
		want  string
	}{
		{"long name", []File{BytesFile("LONGFILENAME.TXT", nil)}, 2 << 20, "8.3"},
		{"lower case", []File{BytesFile("efi/boot.efi", nil)}, 2 << 20, "not allowed"},
		{"traversal", []File{BytesFile("../X", nil)}, 2 << 20, "relative and clean"},
		{"absolute", []File{BytesFile("/X", nil)}, 2 << 20, "relative and clean"},
		{"collision", []File{BytesFile("A/B", nil), BytesFile("A", nil)}, 2 << 20, "collides"},
		{"too big", []File{BytesFile("A", make([]byte, 3<<20))}, 2 << 20, "clusters"},
		{"label", nil, 2 << 20, "label"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := Options{Size: tc.size}
			if tc.name == "label" {
				opts.Label = "MUCH TOO LONG LABEL"
			}
			var buf writerAt
			err := Write(&buf, tc.files, opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

type writerAt struct{ b []byte }

func (w *writerAt) WriteAt(p []byte, off int64) (int, error) {
	if need := int(off) + len(p); need > len(w.b) {
		w.b = append(w.b, make([]byte, need-len(w.b))...)
	}
	return copy(w.b[off:], p), nil
}
