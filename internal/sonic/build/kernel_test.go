package build

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/ghrelease/ghtest"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/sonic/iso"
	"github.com/fredbook/udos-dist/internal/sonic/iso/isotest"
	"github.com/fredbook/udos-dist/internal/testenv"
)

// debPackage builds a real Debian package with dpkg-deb, shaped like
// Debian's kernel packages: linux-image-<ver>-amd64 with boot/vmlinuz-<ver>
// (a bzImage-shaped file) and lib/modules/<ver>/.
func debPackage(t *testing.T) string {
	t.Helper()
	dpkg := testenv.Tool(t, "dpkg-deb")
	const ver = "6.1.0-99-amd64"
	root := filepath.Join(t.TempDir(), "pkg")
	for dir, files := range map[string]map[string][]byte{
		"DEBIAN":                   {"control": []byte("Package: linux-image-" + ver + "\nVersion: 6.1.999-1\nArchitecture: amd64\nMaintainer: test <t@example.org>\nDescription: test kernel package\n")},
		"boot":                     {"vmlinuz-" + ver: isotest.BzImage()},
		"lib/modules/" + ver + "/": {"modules.dep": []byte("")},
	} {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range files {
			if err := os.WriteFile(filepath.Join(root, dir, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	deb := filepath.Join(t.TempDir(), "linux-image-"+ver+"_6.1.999-1_amd64.deb")
	if out, err := exec.Command(dpkg, "--root-owner-group", "--build", root, deb).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb: %v\n%s", err, out)
	}
	return deb
}

func TestCheckKernel(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	shifted := make([]byte, 0x1000)
	copy(shifted[0x200:], "HdrS")
	var zImage bytes.Buffer
	zw := gzip.NewWriter(&zImage)
	zw.Write(arm64Image())
	zw.Close()
	tests := []struct {
		name, path string
		arch       string
		want       []string // "" for a kernel that passes
	}{
		{"bzImage header", write("vmlinuz", isotest.BzImage()), "", nil},
		{"bzImage for amd64", write("vmlinuz-amd64", isotest.BzImage()), "amd64", nil},
		{"arm64 Image", write("Image", arm64Image()), "arm64", nil},
		{"arm64 Image for amd64", write("Image-amd64", arm64Image()), "amd64", []string{"Image-amd64", "is an arm64 kernel", "(amd64)", "linux-image-amd64", "or build for arm64"}},
		{"bzImage for arm64", write("bz-arm64", isotest.BzImage()), "arm64", []string{"bz-arm64", "is an amd64 kernel", "(arm64)", "linux-image-arm64", "or build for amd64"}},
		{"gzip arm64 Image", write("vmlinuz-arm64", zImage.Bytes()), "arm64", []string{"vmlinuz-arm64", "gzip-compressed arm64 Image", "gzip -dc"}},
		{"ELF for arm64", write("vmlinux-arm64", append([]byte("\x7fELF\x02\x01\x01"), make([]byte, 0x400)...)), "arm64", []string{"an ELF file", "arm64 Image", `"ARM\x64" at offset 0x38`}},
		{"Debian kernel package", debPackage(t), "", []string{"linux-image-6.1.0-99-amd64_6.1.999-1_amd64.deb", "is a Debian package", "dpkg -x", "boot/vmlinuz-<version>", `"HdrS" at offset 0x202`}},
		{"ELF vmlinux", write("vmlinux", append([]byte("\x7fELF\x02\x01\x01"), make([]byte, 0x400)...)), "", []string{"vmlinux", "an ELF file", "bzImage"}},
		{"gzip", write("linux-lts.apk", append([]byte{0x1f, 0x8b, 8, 0}, make([]byte, 0x400)...)), "", []string{"linux-lts.apk", "gzip-compressed", "tar -xzf"}},
		{"short file", write("tiny", []byte("kernel")), "", []string{"tiny", "only 6 bytes long"}},
		{"magic off by two", write("shifted", shifted), "", []string{"shifted", "not a bzImage"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkKernel(tc.path, tc.arch)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrNotKernel) {
				t.Fatalf("err = %v, want ErrNotKernel", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
		})
	}
	// The machine's real test kernel, when there is one, passes.
	for _, arch := range iso.Arches {
		real := isotest.KernelPath(arch)
		if !fileExists(real) {
			continue
		}
		if err := checkKernel(real, arch); err != nil {
			t.Errorf("the real %s kernel %s was refused: %v", arch, real, err)
		}
		other := map[string]string{"amd64": "arm64", "arm64": "amd64"}[arch]
		if err := checkKernel(real, other); !errors.Is(err, ErrNotKernel) {
			t.Errorf("the real %s kernel %s passed as %s: %v", arch, real, other, err)
		}
	}
}

// arm64Image is the 64-byte header of an arm64 kernel Image, then code.
func arm64Image() []byte {
	b := make([]byte, 0x1000)
	copy(b, "MZ")
	copy(b[0x38:], "ARM\x64")
	return b
}

// TestBinaryArch: a busybox or runtime of the other architecture is
// refused by name before the build starts.
func TestBinaryArch(t *testing.T) {
	t.Parallel()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The test binary is an ELF of the machine's architecture.
	mine := goruntime.GOARCH
	other := map[string]string{"amd64": "arm64", "arm64": "amd64"}[mine]
	if other == "" {
		t.Skipf("no other image architecture for %s", mine)
	}
	if err := checkBinaryArch("runtime", self, mine); err != nil {
		t.Errorf("own architecture refused: %v", err)
	}
	err = checkBinaryArch("runtime", self, other)
	if err == nil || !strings.Contains(err.Error(), self) || !strings.Contains(err.Error(), "GOARCH="+other) {
		t.Errorf("err = %v, want the runtime refused with a GOARCH=%s hint", err, other)
	}
	if err := checkBinaryArch("busybox", self, other); err == nil || !strings.Contains(err.Error(), "busybox-static:"+other) {
		t.Errorf("err = %v, want a busybox-static:%s hint", err, other)
	}
	// Not an ELF: left to the boot.
	if err := checkBinaryArch("runtime", stand(t, "script"), other); err != nil {
		t.Errorf("non-ELF refused: %v", err)
	}
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// TestDebKernelRefusedBeforeAnything: a .deb given as the kernel stops the
// build before a file is written, signed or uploaded.
func TestDebKernelRefusedBeforeAnything(t *testing.T) {
	t.Parallel()
	deb := debPackage(t)
	gh := ghtest.Serve(t, ghtest.Options{Login: "ci", Repos: []string{"fredbook/uDOS"}})
	rep := gh.Replica
	priv, _, err := pgpsign.GenerateTestKey("CI", "ci@example.org", nil)
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := pgpsign.LoadSigner(priv, nil)
	out := t.TempDir()
	res, err := Build(context.Background(), Options{
		Version: "1.4.6", Kernel: deb, Busybox: stand(t, "busybox"), Runtime: stand(t, "sonic-runtime"),
		OutputDir: out, Time: time.Unix(1764115200, 0), Signer: signer, TempDir: t.TempDir(),
		Publish: &Publish{Client: gh.Client, Owner: "fredbook", Repo: "uDOS"},
	})
	if !errors.Is(err, ErrNotKernel) || !strings.Contains(err.Error(), filepath.Base(deb)) {
		t.Fatalf("err = %v, want the .deb refused by name", err)
	}
	if len(res.Steps) != 0 || res.ISO != "" {
		t.Errorf("steps ran: %+v", res)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("output after a refused kernel: %v", entries)
	}
	if n := rep.Count("", ""); n != 0 {
		t.Errorf("%d requests to GitHub for a refused kernel", n)
	}
}
