package e2e

import (
	"archive/tar"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fredbook/udos-dist/internal/tarball/tartest"
)

// tftpRoot unpacks the netboot bundle the build wrote beside the ISO into
// a folder QEMU's built-in TFTP server serves, with the ISO beside it (the
// install script fetches it from there), as an operator would.
func tftpRoot(t *testing.T) string {
	t.Helper()
	iso := sharedISO(t)
	if isoRes.Netboot == "" {
		t.Fatal("the build wrote no netboot bundle")
	}
	dir := t.TempDir()
	tartest.WalkFile(t, isoRes.Netboot, func(h *tar.Header, body []byte) bool {
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if h.Typeflag == tar.TypeDir {
			os.MkdirAll(p, 0o755)
			return true
		}
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
		return true
	})
	b, err := os.ReadFile(iso)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, filepath.Base(iso)), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// netdev is QEMU's user network with its TFTP server on root and the DHCP
// boot file bootfile, on an e1000 (whose option ROM is iPXE in Debian's
// QEMU: ipxe-qemu).
func netdev(root, bootfile string) []string {
	return []string{"-netdev", "user,id=n0,tftp=" + root + ",bootfile=" + bootfile, "-device", "e1000,netdev=n0", "-boot", "n"}
}

// TestNetboot boots the netboot bundle through QEMU's TFTP server: under
// SeaBIOS the NIC's iPXE runs boot.ipxe; under OVMF the firmware's PXE loads
// the bundle's GRUB EFI binary, which reads the kernel and initramfs over
// TFTP. Both reach the readiness line with source=net and a DHCP lease.
func TestNetboot(t *testing.T) {
	root := tftpRoot(t)
	tests := []struct {
		name, bootfile, firmware string
		args                     []string
	}{
		{"bios-ipxe", "boot.ipxe", "bios", nil},
		{"uefi-grub", "grubnetx64.efi", "uefi", []string{"-bios", ovmf}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.firmware == "uefi" {
				need(t, "OVMF", ovmf, "ovmf")
			}
			b := qemu(t, append(netdev(root, tc.bootfile), tc.args...)...)
			f := readyFields(t, b)
			want := map[string]string{"version": version, "firmware": tc.firmware, "source": "net", "net": "eth0:10.0.2.15"}
			for k, v := range want {
				if f[k] != v {
					t.Errorf("%s=%q, want %q (line: %s)", k, f[k], v, readyRE.FindString(b.out))
				}
			}
			t.Logf("%s: ready after %.1f s", tc.name, b.duration.Seconds())
		})
	}
}

// TestNetbootInstall runs the bundle's install.ipxe: the runtime fetches
// the ISO by TFTP, checks its sha256 against the script's, installs it to a
// blank disk (/dev/sda, the script's default), and that disk then boots
// alone under SeaBIOS.
func TestNetbootInstall(t *testing.T) {
	t.Parallel()
	root := tftpRoot(t)
	disk := filepath.Join(t.TempDir(), "disk.raw")
	if err := os.WriteFile(disk, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(disk, 320<<20); err != nil {
		t.Fatal(err)
	}
	inst := qemu(t, append(netdev(root, "install.ipxe"), "-drive", "file="+disk+",format=raw,if=ide")...)
	if !strings.Contains(inst.out, "SONIC-INSTALLED target=/dev/sda source=/run/sonic/medium.iso") {
		t.Fatalf("the network install did not finish; serial output:\n%s", tail(inst.out))
	}
	if f := readyFields(t, inst); f["source"] != "net" {
		t.Errorf("installer boot: source=%q", f["source"])
	}
	b := qemu(t, "-net", "none", "-drive", "file="+disk+",format=raw,if=ide,snapshot=on")
	if f := readyFields(t, b); f["source"] != "disk" || f["firmware"] != "bios" || f["version"] != version {
		t.Errorf("installed disk: %s", readyRE.FindString(b.out))
	}
	t.Logf("network install %.1f s, then the disk alone ready after %.1f s", inst.duration.Seconds(), b.duration.Seconds())
}

// A tampered ISO on the server is refused before anything is written.
func TestNetbootInstallRefusesTamperedISO(t *testing.T) {
	t.Parallel()
	root := tftpRoot(t)
	iso := filepath.Join(root, filepath.Base(isoRes.ISO))
	f, err := os.OpenFile(iso, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("tampered"), 40000)
	f.Close()
	disk := filepath.Join(t.TempDir(), "disk.raw")
	os.WriteFile(disk, nil, 0o644)
	os.Truncate(disk, 320<<20)
	inst := qemu(t, append(netdev(root, "install.ipxe"), "-drive", "file="+disk+",format=raw,if=ide")...)
	if !strings.Contains(inst.out, "SONIC-INSTALL-FAILED") || !strings.Contains(inst.out, "not installing it") {
		t.Fatalf("a tampered ISO was not refused; serial output:\n%s", tail(inst.out))
	}
	b, _ := os.ReadFile(disk)
	for _, c := range b[:1<<20] {
		if c != 0 {
			t.Fatal("the target disk was written although the ISO did not verify")
		}
	}
}
