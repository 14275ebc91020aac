package iso

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/testenv"
)

// requireBuildTools returns the host tools or skips (fails in CI).
func requireBuildTools(t *testing.T) Tools {
	t.Helper()
	tools, err := FindTools(exec.LookPath)
	if err != nil {
		testenv.Missing(t, err.Error())
	}
	return tools
}

func fakeBootFiles(t *testing.T) (kernel, initrd string) {
	t.Helper()
	dir := t.TempDir()
	kernel = filepath.Join(dir, "vmlinuz")
	initrd = filepath.Join(dir, "initrd.gz")
	if err := os.WriteFile(kernel, bytes.Repeat([]byte("K"), 300000), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(initrd, bytes.Repeat([]byte("I"), 5000), 0o644); err != nil {
		t.Fatal(err)
	}
	return kernel, initrd
}

func build(t *testing.T, tools Tools, out string) Info {
	t.Helper()
	kernel, initrd := fakeBootFiles(t)
	info, err := Build(context.Background(), Options{
		Version: "1.4.6", Kernel: kernel, Initramfs: initrd, Output: out,
		Time: time.Unix(1700000000, 0), Tools: tools, Cmdline: "quiet",
		TempDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func TestBuildReproducible(t *testing.T) {
	t.Parallel()
	tools := requireBuildTools(t)
	dir := t.TempDir()
	a := filepath.Join(dir, "a.iso")
	b := filepath.Join(dir, "b.iso")
	build(t, tools, a)
	// go-diskfs stamps records with the wall clock (second resolution):
	// make sure the clock moved.
	time.Sleep(1100 * time.Millisecond)
	build(t, tools, b)
	ab, _ := os.ReadFile(a)
	bb, _ := os.ReadFile(b)
	if !bytes.Equal(ab, bb) {
		for i := range ab {
			if i < len(bb) && ab[i] != bb[i] {
				t.Fatalf("images differ first at byte %d (sector %d)", i, i/2048)
			}
		}
		t.Fatalf("images differ in length: %d vs %d", len(ab), len(bb))
	}
}

func TestBuildLayout(t *testing.T) {
	t.Parallel()
	tools := requireBuildTools(t)
	out := filepath.Join(t.TempDir(), "s.iso")
	info := build(t, tools, out)
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != info.Size {
		t.Errorf("file is %d bytes, volume %d", fi.Size(), info.Size)
	}
	img, _ := os.ReadFile(out)
	mbr := img[:512]
	if mbr[510] != 0x55 || mbr[511] != 0xAA {
		t.Fatal("no MBR signature")
	}
	if got := binary.LittleEndian.Uint32(mbr[432:]); got != info.BIOSBootLBA*4 {
		t.Errorf("isolinux LBA in MBR %d, want %d", got, info.BIOSBootLBA*4)
	}
	p1, p2 := mbr[446:462], mbr[462:478]
	if p1[0] != 0x80 || p1[4] != 0 || binary.LittleEndian.Uint32(p1[12:]) != uint32(info.Size/512) {
		t.Errorf("partition 1 = % x", p1)
	}
	if p2[4] != 0xEF || binary.LittleEndian.Uint32(p2[8:]) != info.EFIImageLBA*4 || binary.LittleEndian.Uint32(p2[12:]) != 4096 {
		t.Errorf("partition 2 = % x", p2)
	}
	// Rock Ridge root is world readable; owners are root. xorriso, the
	// reference reader, checks it (a subtest, so the checks above still run
	// where xorriso is missing locally).
	t.Run("xorriso", func(t *testing.T) {
		xorriso := testenv.Tool(t, "xorriso")
		ls, err := exec.Command(xorriso, "-indev", out, "-lsdl", "/", "/isolinux/isolinux.cfg", "--").CombinedOutput()
		if err != nil {
			t.Fatalf("xorriso: %v\n%s", err, ls)
		}
		if !strings.Contains(string(ls), "dr-xr-xr-x") && !strings.Contains(string(ls), "drwxr-xr-x") {
			t.Errorf("root not 0755:\n%s", ls)
		}
		cat, err := exec.Command(xorriso, "-osirrox", "on", "-indev", out, "-extract", "/isolinux/isolinux.cfg", filepath.Join(t.TempDir(), "cfg")).CombinedOutput()
		if err != nil {
			t.Fatalf("xorriso extract: %v\n%s", err, cat)
		}
	})
}

func TestFindToolsNamesPackages(t *testing.T) {
	t.Parallel()
	_, err := FindTools(func(string) (string, error) { return "", errors.New("not found") })
	if err == nil || !strings.Contains(err.Error(), "grub-common") {
		t.Fatalf("err = %v, want a hint at grub-common", err)
	}
}

func TestBuildRejectsBadInput(t *testing.T) {
	t.Parallel()
	kernel, initrd := fakeBootFiles(t)
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no version", Options{Kernel: kernel, Initramfs: initrd}, "version"},
		{"slash version", Options{Version: "1/2", Kernel: kernel, Initramfs: initrd}, "version"},
		{"missing kernel", Options{Version: "1", Kernel: "/nonexistent", Initramfs: initrd}, "/nonexistent"},
		{"no tools", Options{Version: "1", Kernel: kernel, Initramfs: initrd}, "FindTools"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Output = filepath.Join(t.TempDir(), "x.iso")
			tc.opts.TempDir = t.TempDir()
			_, err := Build(context.Background(), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if _, err := os.Stat(tc.opts.Output); !os.IsNotExist(err) {
				t.Error("output written despite the error")
			}
		})
	}
}

func TestHybridMBRRejects(t *testing.T) {
	t.Parallel()
	if _, err := HybridMBR(make([]byte, 100), Info{Size: 2048, EFIImageSize: 512}, 1); err == nil {
		t.Error("short MBR code accepted")
	}
	if _, err := HybridMBR(make([]byte, 432), Info{Size: 2048}, 1); err == nil {
		t.Error("image without EFI image accepted")
	}
}

func TestInspectRejectsNonISO(t *testing.T) {
	t.Parallel()
	if _, err := Inspect(bytes.NewReader(make([]byte, 40*2048))); err == nil {
		t.Error("blank image accepted")
	}
}
