package build

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/assetname"
	"github.com/fredbook/udos-dist/internal/pipe"
	"github.com/fredbook/udos-dist/internal/relmanifest"
	"github.com/fredbook/udos-dist/internal/sonic/delta"
	"github.com/fredbook/udos-dist/internal/sonic/iso"
	"github.com/fredbook/udos-dist/internal/sonic/iso/isotest"
	"github.com/fredbook/udos-dist/internal/tarball/tartest"
)

func stand(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	data := []byte(name)
	if name == "vmlinuz" || name == "k" {
		data = isotest.BzImage()
	}
	if err := os.WriteFile(p, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestValidate(t *testing.T) {
	t.Parallel()
	ok := Options{Version: "1.4.6", Kernel: stand(t, "k"), Busybox: stand(t, "b"), Runtime: stand(t, "r"), OutputDir: t.TempDir(), Time: time.Unix(1, 0)}
	tests := []struct {
		name string
		edit func(o *Options)
		want string
	}{
		{"no version", func(o *Options) { o.Version = "" }, "version"},
		{"path in version", func(o *Options) { o.Version = "../1" }, "version"},
		{"no kernel", func(o *Options) { o.Kernel = "" }, "kernel is required"},
		{"missing runtime", func(o *Options) { o.Runtime = "/nonexistent/sonic-runtime" }, "/nonexistent/sonic-runtime"},
		{"rootfs is a dir", func(o *Options) { o.Rootfs = t.TempDir() }, "rootfs"},
		{"modules not a dir", func(o *Options) { o.Modules = o.Kernel }, "modules"},
		{"no time", func(o *Options) { o.Time = time.Time{} }, "SOURCE_DATE_EPOCH"},
		{"no output", func(o *Options) { o.OutputDir = "" }, "output directory"},
		{"unknown arch", func(o *Options) { o.Arch = "riscv64" }, `architecture "riscv64": the Sonic image is built for amd64 or arm64`},
		{"bzImage for arm64", func(o *Options) { o.Arch = "arm64" }, "is an amd64 kernel"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.edit(&o)
			err := validate(o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if err := validate(ok); err != nil {
		t.Fatalf("valid options refused: %v", err)
	}
}

func TestBuildUnsigned(t *testing.T) {
	t.Parallel()
	tools := isotest.Tools(t, iso.AMD64)
	out := t.TempDir()
	// The kernel and binaries are stand-ins: building does not run them.
	res, err := Build(context.Background(), Options{
		Version: "v1.4.6", Kernel: stand(t, "vmlinuz"), Busybox: stand(t, "busybox"), Runtime: stand(t, "sonic-runtime"),
		OutputDir: out, Time: time.Unix(1764115200, 0), Tools: tools, TempDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(res.ISO) != "udos-sonic-v1.4.6.iso" || res.Signature != "" || len(res.Sidecars) != 6 || filepath.Base(res.Netboot) != "udos-sonic-v1.4.6-netboot.tar.gz" {
		t.Errorf("result %+v", res)
	}
	status := map[string]pipe.Status{}
	for _, s := range res.Steps {
		status[s.Step] = s.Status
	}
	want := map[string]pipe.Status{"initramfs": pipe.StatusOK, "iso": pipe.StatusOK, "checksums": pipe.StatusOK, "manifest": pipe.StatusOK, "sign": pipe.StatusSkipped, "publish": pipe.StatusSkipped}
	for k, v := range want {
		if status[k] != v {
			t.Errorf("step %s: %s, want %s", k, status[k], v)
		}
	}
	m, err := relmanifest.Read(filepath.Join(out, "releases", "v1.4.6-manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	v := m.Variants[VariantName]
	if v.Filename != "udos-sonic-v1.4.6.iso" || v.SHA256 != res.SHA256 || v.Size != res.Size || v.Bootable == nil || !*v.Bootable || v.Signature != "" {
		t.Errorf("manifest entry %+v", v)
	}
	// The block index is listed next to the ISO and describes it.
	f, ok := m.File("udos-sonic-v1.4.6.iso.bix")
	if !ok || f.Type != "delta-index" || f.Variant != VariantName {
		t.Errorf("manifest artifacts %+v: no delta-index of sonic-iso", m.Artifacts)
	}
	raw, _ := os.ReadFile(res.Index)
	ix, err := delta.ParseIndex(raw)
	if err != nil || ix.SHA256Hex() != res.SHA256 || ix.Size != res.Size {
		t.Errorf("index %v: %+v", err, ix)
	}
	if _, err := os.Stat(filepath.Join(out, assetname.Fragment(VariantName, "1.4.6"))); err != nil {
		t.Errorf("no fragment: %v", err)
	}
	sum, _ := os.ReadFile(res.ISO + ".sha256")
	if !strings.HasPrefix(string(sum), res.SHA256+"  udos-sonic-v1.4.6.iso") {
		t.Errorf(".sha256 = %q", sum)
	}
	if entries, _ := filepath.Glob(filepath.Join(out, "*.partial")); len(entries) != 0 {
		t.Errorf("partial files left: %v", entries)
	}
}

func TestBuildFailureLeavesNoISO(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	// A core tarball that is not a tarball: the initramfs step fails, and
	// says so, before any ISO exists.
	_, err := Build(context.Background(), Options{
		Version: "1.4.6", Kernel: stand(t, "vmlinuz"), Busybox: stand(t, "busybox"), Runtime: stand(t, "sonic-runtime"),
		Core: stand(t, "core.tar.gz"), OutputDir: out, Time: time.Unix(1764115200, 0), TempDir: t.TempDir(),
	})
	if err == nil || !strings.HasPrefix(err.Error(), "initramfs: ") || !strings.Contains(err.Error(), "core.tar.gz") {
		t.Fatalf("err = %v", err)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("output after a failed build: %v", entries)
	}
}

// The netboot bundle holds the kernel and initramfs the ISO boots, the
// iPXE scripts (the install one naming this ISO by its digest) and a GRUB
// EFI netboot binary with its configuration; it is reproducible.
func TestNetbootBundle(t *testing.T) {
	t.Parallel()
	tools := isotest.Tools(t, iso.AMD64)
	kernel := stand(t, "vmlinuz")
	build := func() Result {
		res, err := Build(context.Background(), Options{
			Version: "1.4.6", Kernel: kernel, Busybox: stand(t, "busybox"), Runtime: stand(t, "sonic-runtime"),
			Cmdline: "sonic.poweroff=1", OutputDir: t.TempDir(), Time: time.Unix(1764115200, 0), Tools: tools, TempDir: t.TempDir(),
		})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := build()
	files := readTarGz(t, res.Netboot)
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	if got := strings.Join(names, " "); got != "boot.ipxe grub/ grub/grub.cfg grubnetx64.efi initrd.gz install.ipxe vmlinuz" {
		t.Fatalf("bundle holds %s", got)
	}
	if want, _ := os.ReadFile(kernel); !bytes.Equal(files["vmlinuz"], want) {
		t.Error("the bundle's kernel is not the input kernel")
	}
	boot := string(files["boot.ipxe"])
	if !strings.HasPrefix(boot, "#!ipxe\n") || !strings.Contains(boot, "kernel vmlinuz initrd=initrd.gz console=tty0 console=ttyS0,115200 sonic.source=net sonic.poweroff=1\n") {
		t.Errorf("boot.ipxe:\n%s", boot)
	}
	inst := string(files["install.ipxe"])
	for _, want := range []string{"sonic.mode=install", "sonic.target=${sonic-target}", "sonic.iso=tftp://${next-server}/udos-sonic-v1.4.6.iso", "sonic.iso_sha256=" + res.SHA256} {
		if !strings.Contains(inst, want) {
			t.Errorf("install.ipxe lacks %q:\n%s", want, inst)
		}
	}
	if cfg := string(files["grub/grub.cfg"]); !strings.Contains(cfg, "linux ($root)/vmlinuz console=tty0 console=ttyS0,115200 sonic.source=net") {
		t.Errorf("grub.cfg:\n%s", cfg)
	}
	if efi := files["grubnetx64.efi"]; len(efi) < 2 || string(efi[:2]) != "MZ" {
		t.Error("grubnetx64.efi is not a PE image")
	}
	b1, _ := os.ReadFile(res.Netboot)
	b2, _ := os.ReadFile(build().Netboot)
	if !bytes.Equal(b1, b2) {
		t.Error("two builds of the netboot bundle differ")
	}
}

func readTarGz(t *testing.T, path string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	tartest.WalkFile(t, path, func(h *tar.Header, body []byte) bool {
		out[h.Name] = body
		return true
	})
	return out
}

// TestBuildARM64 builds the UEFI-only arm64 image from stand-ins: its own
// names and manifest variant, the amd64 ones untouched, an El Torito
// catalog with the EFI image alone (GRUB's BOOTAA64.EFI in it), no PC boot
// code, and an arm64 GRUB in the netboot bundle.
func TestBuildARM64(t *testing.T) {
	t.Parallel()
	tools := isotest.Tools(t, iso.ARM64)
	out := t.TempDir()
	kernel := filepath.Join(t.TempDir(), "Image")
	if err := os.WriteFile(kernel, arm64Image(), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Build(context.Background(), Options{
		Version: "1.4.6", Arch: iso.ARM64, Kernel: kernel, Busybox: stand(t, "busybox"), Runtime: stand(t, "sonic-runtime"),
		OutputDir: out, Time: time.Unix(1764115200, 0), Tools: tools, TempDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	for got, want := range map[string]string{
		filepath.Base(res.ISO): "udos-sonic-v1.4.6-arm64.iso", filepath.Base(res.Index): "udos-sonic-v1.4.6-arm64.iso.bix",
		filepath.Base(res.Netboot): "udos-sonic-v1.4.6-arm64-netboot.tar.gz", filepath.Base(res.Fragment): "udos-sonic-iso-arm64-v1.4.6.manifest.json",
	} {
		if got != want {
			t.Errorf("produced %s, want %s", got, want)
		}
	}
	m, err := relmanifest.Read(res.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	v, ok := m.Variants["sonic-iso-arm64"]
	if !ok || v.Filename != "udos-sonic-v1.4.6-arm64.iso" || strings.Join(v.Platforms, ",") != "linux-arm64" ||
		!*v.UEFISupported || *v.BIOSFallback || v.SHA256 != res.SHA256 {
		t.Errorf("manifest entry %+v", v)
	}
	if _, ok := m.Variants[VariantName]; ok {
		t.Errorf("the arm64 build wrote a %s entry", VariantName)
	}
	if f, ok := m.File("udos-sonic-v1.4.6-arm64.iso.bix"); !ok || f.Variant != "sonic-iso-arm64" {
		t.Errorf("block index not listed under sonic-iso-arm64: %+v", m.Artifacts)
	}
	img, err := os.Open(res.ISO)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	info, err := iso.Inspect(img)
	if err != nil {
		t.Fatal(err)
	}
	if info.BIOSBootLBA != 0 || info.EFIImageLBA == 0 || info.EFIImageSize != 2<<20 {
		t.Errorf("boot catalog %+v: want the EFI image alone", info)
	}
	mbr := make([]byte, 512)
	img.ReadAt(mbr, 0)
	if !bytes.Equal(mbr[:432], make([]byte, 432)) || mbr[462+4] != 0xEF || mbr[510] != 0x55 {
		t.Errorf("MBR: want no boot code and an EFI partition; % x", mbr[:16])
	}
	// The ESP holds GRUB for arm64 at the removable-media path.
	esp := make([]byte, info.EFIImageSize)
	img.ReadAt(esp, int64(info.EFIImageLBA)*2048)
	if !bytes.Contains(esp, []byte("BOOTAA64EFI")) || bytes.Contains(esp, []byte("BOOTX64 EFI")) {
		t.Error("the EFI image has no EFI/BOOT/BOOTAA64.EFI")
	}
	files := readTarGz(t, res.Netboot)
	efi := files["grubnetaa64.efi"]
	// PE machine type 0xAA64 at the PE header (offset at 0x3C) + 4.
	if len(efi) < 0x40 || string(efi[:2]) != "MZ" {
		t.Fatal("no grubnetaa64.efi PE image in the netboot bundle")
	}
	pe := int(efi[0x3C]) | int(efi[0x3D])<<8
	if pe+6 > len(efi) || efi[pe+4] != 0x64 || efi[pe+5] != 0xAA {
		t.Errorf("grubnetaa64.efi is not an arm64 PE image")
	}
	if cfg := string(files["grub/grub.cfg"]); !strings.Contains(cfg, "console=ttyAMA0,115200 sonic.source=net") {
		t.Errorf("grub.cfg:\n%s", cfg)
	}
}

func TestVariant(t *testing.T) {
	t.Parallel()
	for arch, want := range map[string]string{"": "sonic-iso", "amd64": "sonic-iso", "arm64": "sonic-iso-arm64"} {
		if got := Variant(arch); got != want {
			t.Errorf("Variant(%q) = %s, want %s", arch, got, want)
		}
	}
}
