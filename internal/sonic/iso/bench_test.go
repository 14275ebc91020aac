package iso

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/testenv"
)

// benchTree stages the ISO tree once: the test kernel when present (else
// an 8 MiB stand-in) and a 5 MiB incompressible initramfs.
func benchTree(b *testing.B) (string, Tools) {
	b.Helper()
	tools, err := FindTools(exec.LookPath)
	if err != nil {
		testenv.Missing(b, err.Error())
	}
	dir := b.TempDir()
	kernel := os.Getenv("UDOS_TEST_KERNEL")
	if kernel == "" {
		kernel = "/var/cache/udos-test/kernel/vmlinuz"
	}
	if _, err := os.Stat(kernel); err != nil {
		kernel = filepath.Join(dir, "vmlinuz")
		blob := make([]byte, 8<<20)
		rand.Read(blob)
		os.WriteFile(kernel, blob, 0o644)
	}
	initrd := filepath.Join(dir, "initrd.gz")
	blob := make([]byte, 5<<20)
	rand.Read(blob)
	os.WriteFile(initrd, blob, 0o644)
	tree := filepath.Join(dir, "tree")
	err = Stage(context.Background(), Options{Version: "1.4.6", Kernel: kernel, Initramfs: initrd, Time: time.Unix(1764115200, 0), Tools: tools}, tree)
	if err != nil {
		b.Fatal(err)
	}
	return tree, tools
}

// BenchmarkWriteImage is this package's writer: go-diskfs, then the
// normalisation pass and the hybrid MBR.
func BenchmarkWriteImage(b *testing.B) {
	tree, tools := benchTree(b)
	work := b.TempDir()
	out := filepath.Join(work, "go.iso")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// go-diskfs consumes (deletes) its workspace: give it a
		// hard-linked copy, outside the timing.
		b.StopTimer()
		ws := filepath.Join(work, fmt.Sprint("ws", i))
		linkTree(b, tree, ws)
		b.StartTimer()
		if _, err := WriteImage(ws, out, tools.IsoHdpfx, time.Unix(1764115200, 0)); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	fi, _ := os.Stat(out)
	b.ReportMetric(float64(fi.Size()), "bytes")
}

func linkTree(b *testing.B, from, to string) {
	b.Helper()
	err := filepath.Walk(from, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if fi.IsDir() {
			if err := os.Mkdir(dst, 0o755); err != nil {
				return err
			}
			return os.Chtimes(dst, fi.ModTime(), fi.ModTime())
		}
		return os.Link(p, dst)
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkXorriso writes the same tree with the tool a user would
// otherwise run: xorriso -as mkisofs with the same El Torito entries and an
// isohybrid MBR (+ the EFI partition, -isohybrid-gpt-basdat).
func BenchmarkXorriso(b *testing.B) {
	tree, tools := benchTree(b)
	xorriso := testenv.Tool(b, "xorriso")
	out := filepath.Join(b.TempDir(), "xorriso.iso")
	args := []string{"-as", "mkisofs", "-quiet", "-o", out, "-R", "-V", volumeID,
		"-isohybrid-mbr", tools.IsoHdpfx,
		"-c", "isolinux/boot.cat", "-b", "isolinux/isolinux.bin", "-no-emul-boot", "-boot-load-size", "4", "-boot-info-table",
		"-eltorito-alt-boot", "-e", EFIImagePath, "-no-emul-boot", "-isohybrid-gpt-basdat", tree}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		os.Remove(out)
		cmd := exec.Command(xorriso, args...)
		cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1764115200")
		if o, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v\n%s", err, o)
		}
	}
	b.StopTimer()
	fi, _ := os.Stat(out)
	b.ReportMetric(float64(fi.Size()), "bytes")
}
