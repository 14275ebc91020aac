package runtime

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/partition/gpt"

	"github.com/fredbook/udos-dist/internal/sonic/iso"
	"github.com/fredbook/udos-dist/internal/sonic/iso/isotest"
	"github.com/fredbook/udos-dist/internal/sonic/slots"
	"github.com/fredbook/udos-dist/internal/testenv"
)

func TestParseCmdline(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cmdline string
		want    Config
		err     string
	}{
		{"live default", "BOOT_IMAGE=/boot/vmlinuz console=ttyS0", Config{Source: "unknown", Shell: true}, ""},
		{"iso poweroff", "console=ttyS0 sonic.source=iso sonic.poweroff=1", Config{Source: "iso", Poweroff: true, Shell: true, Carry: []string{"sonic.poweroff=1"}}, ""},
		{"install", "sonic.mode=install sonic.target=/dev/sda sonic.source=iso", Config{Mode: "install", Target: "/dev/sda", Source: "iso", Shell: true}, ""},
		{"no shell", "sonic.shell=0", Config{Source: "unknown", Carry: []string{"sonic.shell=0"}}, ""},
		{"install without target", "sonic.mode=install", Config{}, "needs sonic.target"},
		{"bad target", "sonic.mode=install sonic.target=/etc/passwd", Config{}, "under /dev"},
		{"climbing target", "sonic.target=/dev/../etc/x", Config{}, "under /dev"},
		{"bad mode", "sonic.mode=erase", Config{}, "want install or live"},
		{"unknown option", "sonic.colour=blue", Config{}, "unknown kernel option"},
		{"net install", "sonic.source=net sonic.mode=install sonic.target=/dev/sda sonic.iso=tftp://10.0.2.2/udos-sonic-v1.4.6.iso sonic.iso_sha256=" + strings.Repeat("ab", 32),
			Config{Mode: "install", Target: "/dev/sda", Source: "net", Shell: true, ISO: "tftp://10.0.2.2/udos-sonic-v1.4.6.iso", ISOSHA256: strings.Repeat("ab", 32)}, ""},
		{"iso without digest", "sonic.iso=http://10.0.2.2/x.iso", Config{}, "needs sonic.iso_sha256"},
		{"iso from a file", "sonic.iso=file:///etc/passwd sonic.iso_sha256=" + strings.Repeat("0", 64), Config{}, "want tftp://"},
		{"iso climbing", "sonic.iso=tftp://h/../x sonic.iso_sha256=" + strings.Repeat("0", 64), Config{}, "want tftp://"},
		{"short digest", "sonic.iso=tftp://h/x sonic.iso_sha256=abc", Config{}, "64 hex digits"},
		{"slot", "sonic.source=disk sonic.slot=b sonic.esp=0000beef", Config{Source: "disk", Shell: true, Slot: "b", ESP: 0xbeef}, ""},
		{"bad slot", "sonic.slot=c sonic.esp=0000beef", Config{}, "want a or b"},
		{"bad esp", "sonic.slot=a sonic.esp=beef", Config{}, "8 hex digits"},
		{"slot without esp", "sonic.slot=a", Config{}, "go together"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCmdline(tc.cmdline)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Mode != tc.want.Mode || got.Target != tc.want.Target || got.Source != tc.want.Source ||
				got.Poweroff != tc.want.Poweroff || got.Shell != tc.want.Shell || strings.Join(got.Carry, " ") != strings.Join(tc.want.Carry, " ") ||
				got.ISO != tc.want.ISO || got.ISOSHA256 != tc.want.ISOSHA256 || got.Slot != tc.want.Slot || got.ESP != tc.want.ESP {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// fakeRoot is a machine with two CPUs, 512 MiB, a disk, a CD, a loop
// device (ignored) and two NICs, one with a link.
func fakeRoot(uefi bool) fstest.MapFS {
	m := fstest.MapFS{
		"proc/cpuinfo":         {Data: []byte("processor\t: 0\nmodel name\t: QEMU Virtual CPU version 2.5+\n\nprocessor\t: 1\nmodel name\t: QEMU Virtual CPU version 2.5+\n")},
		"proc/meminfo":         {Data: []byte("MemTotal:         505000 kB\nMemFree:          400000 kB\n")},
		"proc/sys/kernel/arch": {Data: []byte("x86_64\n")},

		"sys/block/sda/size":            {Data: []byte("41943040\n")},
		"sys/block/sda/removable":       {Data: []byte("0\n")},
		"sys/block/sda/ro":              {Data: []byte("0\n")},
		"sys/block/sda/device/model":    {Data: []byte("QEMU HARDDISK   \n")},
		"sys/block/sr0/size":            {Data: []byte("30032\n")},
		"sys/block/sr0/removable":       {Data: []byte("1\n")},
		"sys/block/sr0/ro":              {Data: []byte("0\n")},
		"sys/block/loop0/size":          {Data: []byte("0\n")},
		"sys/class/net/lo/address":      {Data: []byte("00:00:00:00:00:00\n")},
		"sys/class/net/eth0/address":    {Data: []byte("52:54:00:12:34:56\n")},
		"sys/class/net/eth0/carrier":    {Data: []byte("1\n")},
		"sys/class/net/wlan0/address":   {Data: []byte("52:54:00:aa:bb:cc\n")},
		"sys/class/net/wlan0/carrier":   {Data: []byte("0\n")},
		"sys/firmware/acpi/tables/DSDT": {Data: []byte{}},
		"sys/class/dmi/id/product_name": {Data: []byte("Standard PC (Q35 + ICH9, 2009)\n")},
		// sysfs names devices and drivers by links.
		"sys/block/nvme0n1": {Mode: fs.ModeSymlink, Data: []byte("../devices/pci0000:00/0000:00:04.0/nvme/nvme0/nvme0n1")},
		"sys/devices/pci0000:00/0000:00:04.0/nvme/nvme0/nvme0n1/size": {Data: []byte("2048\n")},
		"sys/block/vda": {Mode: fs.ModeSymlink, Data: []byte("../devices/pci0000:00/0000:00:05.0/virtio2/block/vda")},
		"sys/devices/pci0000:00/0000:00:05.0/virtio2/block/vda/size": {Data: []byte("2048\n")},
		"sys/block/sdb": {Mode: fs.ModeSymlink, Data: []byte("../devices/pci0000:00/0000:00:06.0/virtio3/host2/target2:0:0/2:0:0:0/block/sdb")},
		"sys/devices/pci0000:00/0000:00:06.0/virtio3/host2/target2:0:0/2:0:0:0/block/sdb/size": {Data: []byte("2048\n")},
		"sys/block/sdc": {Mode: fs.ModeSymlink, Data: []byte("../devices/pci0000:00/0000:00:07.0/usb1/1-1/1-1:1.0/host3/target3:0:0/3:0:0:0/block/sdc")},
		"sys/devices/pci0000:00/0000:00:07.0/usb1/1-1/1-1:1.0/host3/target3:0:0/3:0:0:0/block/sdc/size": {Data: []byte("2048\n")},
		"sys/block/sr1": {Mode: fs.ModeSymlink, Data: []byte("../devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sr1")},
		"sys/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sr1/size": {Data: []byte("2048\n")},
		"sys/class/net/eth0/device/driver":                                                  {Mode: fs.ModeSymlink, Data: []byte("../../../bus/pci/drivers/e1000")},
		"sys/bus/pci/devices/0000:00:1f.2/driver":                                           {Mode: fs.ModeSymlink, Data: []byte("../../../bus/pci/drivers/ahci")},
		"sys/bus/pci/devices/0000:00:04.0/driver":                                           {Mode: fs.ModeSymlink, Data: []byte("../../../bus/pci/drivers/nvme")},
		"sys/bus/pci/devices/0000:00:07.0/driver":                                           {Mode: fs.ModeSymlink, Data: []byte("../../../bus/pci/drivers/xhci_hcd")},
		"sys/bus/pci/devices/0000:00:08.0/driver":                                           {Mode: fs.ModeSymlink, Data: []byte("../../../bus/pci/drivers/ahci")},
		"sys/bus/pci/devices/0000:00:09.0/vendor":                                           {Data: []byte("0x8086\n")}, // no driver bound
		"lib/modules/sonic-load.list":                                                       {Data: []byte("# order\n/lib/modules/a.ko\n\n/lib/modules/b.ko\n/lib/modules/c.ko\n")},
	}
	if uefi {
		m["sys/firmware/efi/systab"] = &fstest.MapFile{Data: []byte("ACPI20=0x1\n")}
	}
	return m
}

func TestDetect(t *testing.T) {
	t.Parallel()
	for _, uefi := range []bool{false, true} {
		hw, err := Detect(fakeRoot(uefi))
		if err != nil {
			t.Fatal(err)
		}
		wantFW := map[bool]string{false: "bios", true: "uefi"}[uefi]
		if hw.Firmware != wantFW {
			t.Errorf("firmware %q, want %q", hw.Firmware, wantFW)
		}
		if hw.CPU.Count != 2 || hw.CPU.Model != "QEMU Virtual CPU version 2.5+" {
			t.Errorf("cpu %+v", hw.CPU)
		}
		if hw.MemoryMB != 493 {
			t.Errorf("memory %d MB, want 493", hw.MemoryMB)
		}
		byName := map[string]Disk{}
		for _, d := range hw.Disks {
			byName[d.Name] = d
		}
		if len(hw.Disks) != 7 || byName["sda"].SizeBytes != 20<<30 ||
			byName["sda"].Model != "QEMU HARDDISK" || byName["sr0"].Kind != "cdrom" || !byName["sr0"].Removable {
			t.Errorf("disks %+v", hw.Disks)
		}
		for name, bus := range map[string]string{"sda": "", "nvme0n1": "nvme", "vda": "virtio-blk", "sdb": "virtio-scsi", "sdc": "usb", "sr1": "ata"} {
			if byName[name].Bus != bus {
				t.Errorf("%s: bus %q, want %q", name, byName[name].Bus, bus)
			}
		}
		if byName["nvme0n1"].SizeBytes != 2048*512 {
			t.Errorf("size through the sysfs link: %+v", byName["nvme0n1"])
		}
		if len(hw.Network) != 2 || hw.Network[0].Name != "eth0" || !hw.Network[0].Carrier || hw.Network[1].Carrier ||
			hw.Network[0].Driver != "e1000" || hw.Network[1].Driver != "" {
			t.Errorf("network %+v", hw.Network)
		}
		if got := strings.Join(hw.PCIDrivers, ","); got != "ahci,nvme,xhci_hcd" {
			t.Errorf("pci drivers %q", got)
		}
		if hw.Machine != "Standard PC (Q35 + ICH9, 2009)" {
			t.Errorf("machine %q", hw.Machine)
		}
	}
}

func TestHardwareLine(t *testing.T) {
	hw, err := Detect(fakeRoot(false))
	if err != nil {
		t.Fatal(err)
	}
	line := HardwareLine(hw)
	js, ok := strings.CutPrefix(line, "SONIC-HARDWARE ")
	if !ok || strings.ContainsAny(line, "\r\n") {
		t.Fatalf("not one prefixed line: %q", line)
	}
	var back Hardware
	if err := json.Unmarshal([]byte(js), &back); err != nil || back.Machine != hw.Machine || len(back.Disks) != len(hw.Disks) {
		t.Fatalf("round trip: %v %+v", err, back)
	}
}

func TestDetectArch(t *testing.T) {
	t.Parallel()
	tests := []struct{ kernel, want string }{
		{"x86_64", "amd64"},
		{"aarch64", "arm64"},
		{"riscv64", "riscv64"},
		{"s390x", "s390x"},     // unknown to the table: the kernel's name
		{"", goruntime.GOARCH}, // no /proc/sys/kernel/arch: this binary's
	}
	for _, tc := range tests {
		root := fakeRoot(true)
		if tc.kernel == "" {
			delete(root, "proc/sys/kernel/arch")
		} else {
			root["proc/sys/kernel/arch"] = &fstest.MapFile{Data: []byte(tc.kernel + "\n")}
		}
		hw, err := Detect(root)
		if err != nil {
			t.Fatal(err)
		}
		if hw.Arch != tc.want {
			t.Errorf("kernel arch %q: Arch = %q, want %q", tc.kernel, hw.Arch, tc.want)
		}
		if line := ReadyLine("1.4.6", hw, "iso"); !strings.Contains(line, " firmware=uefi arch="+tc.want+" ") {
			t.Errorf("ready line %q lacks arch=%s", line, tc.want)
		}
	}
}

func TestDetectNeedsProc(t *testing.T) {
	t.Parallel()
	if _, err := Detect(fstest.MapFS{}); err == nil || !strings.Contains(err.Error(), "/proc/cpuinfo") {
		t.Fatalf("err = %v", err)
	}
}

func TestReadyLine(t *testing.T) {
	t.Parallel()
	hw, err := Detect(fakeRoot(true))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		net  []Interface
		want string
	}{
		{"no network", nil, "SONIC-READY version=1.4.6 firmware=uefi arch=amd64 cpus=2 mem_mb=493 disks=7 net=none source=iso"},
		{"no carrier", []Interface{{Name: "eth0"}}, "net=none"},
		{"lease", []Interface{{Name: "eth0", Carrier: true, Address: "10.0.2.15"}}, "net=eth0:10.0.2.15 source=iso"},
		{"no lease", []Interface{{Name: "eth0", Carrier: true}}, "net=eth0:nolease"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := hw
			h.Network = tc.net
			if got := ReadyLine("1.4.6", h, "iso"); !strings.Contains(got, tc.want) {
				t.Errorf("got %q, want it to contain %q", got, tc.want)
			}
		})
	}
}

func TestBringUpNetwork(t *testing.T) {
	t.Parallel()
	root := fakeRoot(false)
	hw, _ := Detect(root)
	var calls []string
	run := func(_ context.Context, name string, args ...string) ([]byte, error) {
		calls = append(calls, name+" "+strings.Join(args, " "))
		if name == "ip" && args[0] == "-4" {
			return []byte("2: eth0    inet 10.0.2.15/24 brd 10.0.2.255 scope global eth0\n"), nil
		}
		return nil, nil
	}
	var slept time.Duration
	got := BringUpNetwork(context.Background(), root, hw.Network, NetOptions{
		Run: run, Sleep: func(d time.Duration) { slept += d }, CarrierWait: time.Second, Script: "/s",
	})
	if NetSummary(got) != "eth0:10.0.2.15" {
		t.Errorf("net = %q (%+v)", NetSummary(got), got)
	}
	// wlan0 never gets a link: the wait is bounded, and no DHCP runs on it.
	if slept < time.Second || slept > 2*time.Second {
		t.Errorf("waited %v for carrier", slept)
	}
	joined := strings.Join(calls, "\n")
	if !strings.Contains(joined, "udhcpc -i eth0 -n -q") || strings.Contains(joined, "udhcpc -i wlan0") {
		t.Errorf("calls:\n%s", joined)
	}
	if got := BringUpNetwork(context.Background(), root, nil, NetOptions{Run: run}); len(got) != 0 {
		t.Error("interfaces invented")
	}
}

func TestLoadModules(t *testing.T) {
	t.Parallel()
	var order []string
	loaded, errs := LoadModules(fakeRoot(false), "/lib/modules/sonic-load.list", func(p string) error {
		order = append(order, p)
		if strings.HasSuffix(p, "b.ko") {
			return errors.New("no such device")
		}
		return nil
	})
	if loaded != 2 || len(errs) != 1 || !strings.Contains(errs[0].Error(), "b.ko") {
		t.Errorf("loaded %d, errs %v", loaded, errs)
	}
	if strings.Join(order, ",") != "/lib/modules/a.ko,/lib/modules/b.ko,/lib/modules/c.ko" {
		t.Errorf("order %v", order)
	}
	if n, errs := LoadModules(fstest.MapFS{}, "/lib/modules/sonic-load.list", nil); n != 0 || errs != nil {
		t.Error("a missing list must mean nothing to load")
	}
}

func installSource() fstest.MapFS {
	boot := bytes.Repeat([]byte{0xB0}, 512)
	// A core image of 3.5 sectors whose first sector says 3 follow.
	core := bytes.Repeat([]byte{0xC0}, 1800)
	binary.LittleEndian.PutUint16(core[0x1fc:], 3)
	return fstest.MapFS{
		iso.KernelPath:   {Data: bytes.Repeat([]byte("K"), 3<<20)},
		iso.InitrdPath:   {Data: bytes.Repeat([]byte("I"), 5<<20+123)},
		iso.DiskEFIPath:  {Data: []byte("MZ-grub")},
		iso.DiskBIOSBoot: {Data: boot},
		iso.DiskBIOSCore: {Data: core},
	}
}

func TestInstall(t *testing.T) {
	t.Parallel()
	disk := filepath.Join(t.TempDir(), "disk.raw")
	f, err := os.Create(disk)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(300 << 20); err != nil {
		t.Fatal(err)
	}
	res, err := Install(context.Background(), f, InstallOptions{Source: installSource(), Version: "1.4.3", Cmdline: "console=ttyS0 sonic.poweroff=1", VolumeID: 7})
	if err != nil {
		t.Fatal(err)
	}
	// 300 MiB less the first MiB, the GPT's tail and the ESP, halved.
	if res.ESPBytes != 32<<20 || res.SlotBytes != 133<<20 {
		t.Errorf("ESP %d bytes, slots %d bytes", res.ESPBytes, res.SlotBytes)
	}
	table, err := gpt.Read(file.New(f, true), 512, 512)
	if err != nil {
		t.Fatalf("reading the GPT back: %v", err)
	}
	if len(table.Partitions) != 4 || table.Partitions[0].Type != gpt.EFISystemPartition || table.Partitions[0].Start != 2048 ||
		table.Partitions[1].Type != gpt.BIOSBoot || table.Partitions[1].Start != 1024 || table.Partitions[1].End != 2047 ||
		table.Partitions[2].Name != slots.SlotAName || table.Partitions[2].Start != 2048+32<<11 ||
		table.Partitions[3].Name != slots.SlotBName || table.Partitions[3].Start != table.Partitions[2].End+1 {
		t.Fatalf("partitions %+v", table.Partitions)
	}
	// GRUB's boot code, patched to find core.img at LBA 1024, in front of
	// the protective MBR's partition table.
	mbr := make([]byte, 512)
	f.ReadAt(mbr, 0)
	if binary.LittleEndian.Uint64(mbr[0x5c:]) != 1024 || mbr[0x66] != 0x90 || mbr[0x10] != 0xB0 {
		t.Errorf("MBR boot code not patched: % x", mbr[0x58:0x68])
	}
	if mbr[0x1c2] != 0xEE || mbr[510] != 0x55 || mbr[511] != 0xAA {
		t.Errorf("protective MBR lost: % x", mbr[0x1be:])
	}
	core := make([]byte, 2048)
	f.ReadAt(core, 1024*512)
	if binary.LittleEndian.Uint64(core[0x1f4:]) != 1025 || core[0x200] != 0xC0 || core[1800] != 0 {
		t.Errorf("core image not placed and patched: % x", core[0x1f0:0x200])
	}
	// mtools, the reference FAT reader, reads every file system.
	mcopy := testenv.Tool(t, "mcopy")
	slotA := fmt.Sprintf("%s@@%d", disk, table.Partitions[2].Start*512)
	for _, c := range []struct{ img, path, want string }{
		{disk + "@@1M", slots.ChooserPath, slots.ChooserConfig(7)},
		{slotA, slots.SlotCfgPath, "linux /SLOT/VMLINUZ console=ttyS0 sonic.poweroff=1 sonic.source=disk panic=10 sonic.slot=a sonic.esp=00000007\ninitrd /SLOT/INITRD.GZ\nboot\n"},
		{slotA, slots.VersionPath, "1.4.3\n"},
		{slotA, slots.KernelPath, string(installSource()[iso.KernelPath].Data)},
		{slotA, slots.InitrdPath, string(installSource()[iso.InitrdPath].Data)},
		{disk + "@@1M", "EFI/BOOT/BOOTX64.EFI", string(installSource()[iso.DiskEFIPath].Data)},
	} {
		got, err := exec.Command(mcopy, "-n", "-i", c.img, "::/"+c.path, "-").Output()
		if err != nil {
			t.Fatalf("mcopy %s: %v", c.path, err)
		}
		if string(got) != c.want {
			t.Errorf("%s differs: %.200q", c.path, got)
		}
	}
	d, err := slots.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	st, err := d.State()
	if err != nil || st != (slots.State{Default: slots.A}) {
		t.Errorf("fresh state %+v, %v", st, err)
	}
	if v, err := d.Version(slots.B); v != "" || err != nil {
		t.Errorf("slot b holds %q (%v), want an empty file system", v, err)
	}
}

func TestInstallRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		size   int64
		source fstest.MapFS
		want   string
	}{
		{"disk too small", 24 << 20, installSource(), "too small"},
		{"source without kernel", 300 << 20, fstest.MapFS{iso.InitrdPath: {}, iso.DiskEFIPath: {}}, iso.KernelPath},
		{"source without BIOS core", 300 << 20, func() fstest.MapFS { m := installSource(); delete(m, iso.DiskBIOSCore); return m }(), iso.DiskBIOSCore},
		{"foreign core image", 300 << 20, func() fstest.MapFS {
			m := installSource()
			m[iso.DiskBIOSCore] = &fstest.MapFile{Data: make([]byte, 4096)}
			return m
		}(), "not a grub-mkimage"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			disk := filepath.Join(t.TempDir(), "disk.raw")
			f, err := os.Create(disk)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			f.Truncate(tc.size)
			if _, err := f.WriteAt([]byte("precious"), 0); err != nil {
				t.Fatal(err)
			}
			_, err = Install(context.Background(), f, InstallOptions{Source: tc.source, Version: "1.4.3"})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			head := make([]byte, 8)
			f.ReadAt(head, 0)
			if string(head) != "precious" {
				t.Error("a refused install touched the disk")
			}
		})
	}
}

func TestFindMedium(t *testing.T) {
	t.Parallel()
	tools := isotest.Tools(t, iso.AMD64)
	dir := t.TempDir()
	kernel := filepath.Join(dir, "k")
	initrd := filepath.Join(dir, "i")
	os.WriteFile(kernel, []byte("kernel"), 0o644)
	os.WriteFile(initrd, []byte("initrd"), 0o644)
	out := filepath.Join(dir, "s.iso")
	if _, err := iso.Build(context.Background(), iso.Options{Version: "9.9.9", Kernel: kernel, Initramfs: initrd, Output: out, Time: time.Unix(1, 0), Tools: tools, TempDir: dir}); err != nil {
		t.Fatal(err)
	}
	blank := filepath.Join(dir, "blank")
	os.WriteFile(blank, make([]byte, 1<<20), 0o644)
	m, err := FindMedium([]string{filepath.Join(dir, "missing"), blank, out}, "9.9.9")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Device != out {
		t.Errorf("found %q", m.Device)
	}
	r, err := m.FS.Open(iso.KernelPath)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	if string(b) != "kernel" {
		t.Errorf("kernel read back as %q", b)
	}
	if _, err := FindMedium([]string{out}, "1.0.0"); err == nil || !strings.Contains(err.Error(), "not the Sonic 1.0.0 ISO") {
		t.Errorf("another version's ISO accepted: %v", err)
	}
}
