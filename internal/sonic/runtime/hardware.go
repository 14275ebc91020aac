package runtime

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	goruntime "runtime"
	"sort"
	"strconv"
	"strings"
)

// Hardware is what the runtime found; it is also the JSON hardware report.
type Hardware struct {
	Firmware string `json:"firmware"` // "uefi" or "bios"
	// Arch is the machine's architecture by its Go name ("amd64",
	// "arm64"), the name of release platforms and Sonic images.
	Arch string `json:"arch"`
	// Machine is the DMI product name ("Standard PC (Q35 + ICH9, 2009)").
	Machine  string      `json:"machine,omitempty"`
	CPU      CPU         `json:"cpu"`
	MemoryMB int64       `json:"memory_mb"`
	Disks    []Disk      `json:"disks"`
	Network  []Interface `json:"network"`
	// PCIDrivers are the kernel drivers bound to PCI devices (ahci, nvme,
	// xhci_hcd, e1000, …), sorted and unique: which controllers work.
	PCIDrivers []string `json:"pci_drivers"`
}

// CPU summarises /proc/cpuinfo.
type CPU struct {
	Model string `json:"model"`
	Count int    `json:"count"`
}

// Disk is one block device from /sys/block.
type Disk struct {
	Name      string `json:"name"`
	SizeBytes int64  `json:"size_bytes"`
	Model     string `json:"model,omitempty"`
	Removable bool   `json:"removable"`
	ReadOnly  bool   `json:"read_only"`
	Kind      string `json:"kind"` // disk, cdrom
	// Bus is how the disk is attached: ata, nvme, virtio-blk, virtio-scsi,
	// scsi, usb, mmc, or "" when sysfs does not say.
	Bus string `json:"bus,omitempty"`
}

// Interface is one network interface from /sys/class/net.
type Interface struct {
	Name    string `json:"name"`
	MAC     string `json:"mac"`
	Carrier bool   `json:"carrier"`
	Address string `json:"address,omitempty"`
	// Driver is the kernel driver of the card (e1000, virtio_net, 8139cp).
	Driver string `json:"driver,omitempty"`
}

func readTrim(fsys fs.FS, p string) string {
	b, err := fs.ReadFile(fsys, p)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// Detect reads the hardware from fsys, the root of the file system
// ("proc/cpuinfo", "sys/block", ...). Missing optional parts read as empty;
// an unreadable /proc is an error since nothing else can be trusted then.
func Detect(fsys fs.FS) (Hardware, error) {
	hw := Hardware{Firmware: "bios", Disks: []Disk{}, Network: []Interface{}}
	if fi, err := fs.Stat(fsys, "sys/firmware/efi"); err == nil && fi.IsDir() {
		hw.Firmware = "uefi"
	}
	hw.Arch = detectArch(fsys)
	cpuinfo, err := fs.ReadFile(fsys, "proc/cpuinfo")
	if err != nil {
		return hw, fmt.Errorf("reading /proc/cpuinfo: %w", err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(cpuinfo)))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "processor":
			hw.CPU.Count++
		case "model name":
			if hw.CPU.Model == "" {
				hw.CPU.Model = strings.TrimSpace(v)
			}
		}
	}
	meminfo, err := fs.ReadFile(fsys, "proc/meminfo")
	if err != nil {
		return hw, fmt.Errorf("reading /proc/meminfo: %w", err)
	}
	sc = bufio.NewScanner(strings.NewReader(string(meminfo)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return hw, fmt.Errorf("parsing MemTotal %q: %w", f[1], err)
			}
			hw.MemoryMB = kb / 1024
		}
	}
	hw.Machine = readTrim(fsys, "sys/class/dmi/id/product_name")
	hw.Disks, err = detectDisks(fsys)
	if err != nil {
		return hw, err
	}
	hw.PCIDrivers = detectPCIDrivers(fsys)
	hw.Network, err = detectInterfaces(fsys)
	return hw, err
}

// kernelArches maps the kernel's machine names (uname -m) to Go's.
var kernelArches = map[string]string{"x86_64": "amd64", "aarch64": "arm64", "i386": "386", "i686": "386", "armv7l": "arm", "riscv64": "riscv64"}

// detectArch is the kernel's architecture (/proc/sys/kernel/arch, uname
// -m) in Go's name; a kernel without that file runs this binary, so its
// own GOARCH is the answer then.
func detectArch(fsys fs.FS) string {
	m := readTrim(fsys, "proc/sys/kernel/arch")
	if a, ok := kernelArches[m]; ok {
		return a
	}
	if m != "" {
		return m
	}
	return goruntime.GOARCH
}

// linkBase is the last element of the symbolic link name points to ("" when
// it is not a link): sysfs names a device's driver by such a link.
func linkBase(fsys fs.FS, name string) string {
	target, err := fs.ReadLink(fsys, name)
	if err != nil {
		return ""
	}
	return path.Base(target)
}

// diskBus reads the attachment from the device path /sys/block/NAME links
// to, e.g. ../devices/pci0000:00/0000:00:1f.2/ata1/host0/…/block/sda.
func diskBus(fsys fs.FS, name string) string {
	target, err := fs.ReadLink(fsys, "sys/block/"+name)
	if err != nil {
		return ""
	}
	has := func(prefix string) bool {
		for _, el := range strings.Split(target, "/") {
			if strings.HasPrefix(el, prefix) {
				return true
			}
		}
		return false
	}
	switch {
	case has("usb"):
		return "usb"
	case has("nvme"):
		return "nvme"
	case has("mmc"):
		return "mmc"
	case has("ata"):
		return "ata"
	case has("virtio") && has("host"):
		return "virtio-scsi"
	case has("virtio"):
		return "virtio-blk"
	case has("host"):
		return "scsi"
	}
	return ""
}

func detectPCIDrivers(fsys fs.FS) []string {
	seen := map[string]bool{}
	ents, _ := fs.ReadDir(fsys, "sys/bus/pci/devices")
	for _, e := range ents {
		if d := linkBase(fsys, "sys/bus/pci/devices/"+e.Name()+"/driver"); d != "" {
			seen[d] = true
		}
	}
	out := make([]string, 0, len(seen))
	for d := range seen {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

func detectDisks(fsys fs.FS) ([]Disk, error) {
	disks := []Disk{}
	ents, err := fs.ReadDir(fsys, "sys/block")
	if errors.Is(err, fs.ErrNotExist) {
		return disks, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading /sys/block: %w", err)
	}
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, "loop") || strings.HasPrefix(n, "ram") || strings.HasPrefix(n, "zram") {
			continue
		}
		base := "sys/block/" + n
		sectors, _ := strconv.ParseInt(readTrim(fsys, base+"/size"), 10, 64)
		d := Disk{
			Name:      n,
			SizeBytes: sectors * 512,
			Model:     readTrim(fsys, base+"/device/model"),
			Removable: readTrim(fsys, base+"/removable") == "1",
			ReadOnly:  readTrim(fsys, base+"/ro") == "1",
			Kind:      "disk",
			Bus:       diskBus(fsys, n),
		}
		if strings.HasPrefix(n, "sr") {
			d.Kind = "cdrom"
		}
		disks = append(disks, d)
	}
	sort.Slice(disks, func(i, j int) bool { return disks[i].Name < disks[j].Name })
	return disks, nil
}

func detectInterfaces(fsys fs.FS) ([]Interface, error) {
	ifs := []Interface{}
	ents, err := fs.ReadDir(fsys, "sys/class/net")
	if errors.Is(err, fs.ErrNotExist) {
		return ifs, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading /sys/class/net: %w", err)
	}
	for _, e := range ents {
		n := e.Name()
		if n == "lo" {
			continue
		}
		base := "sys/class/net/" + n
		ifs = append(ifs, Interface{
			Name:    n,
			MAC:     readTrim(fsys, base+"/address"),
			Carrier: readTrim(fsys, base+"/carrier") == "1",
			Driver:  linkBase(fsys, base+"/device/driver"),
		})
	}
	sort.Slice(ifs, func(i, j int) bool { return ifs[i].Name < ifs[j].Name })
	return ifs, nil
}

// NetSummary is the readiness line's net= value: "none" without a usable
// interface, else name:address for each configured one (name:nolease when
// DHCP found no server).
func NetSummary(ifs []Interface) string {
	var parts []string
	for _, i := range ifs {
		if !i.Carrier {
			continue
		}
		a := i.Address
		if a == "" {
			a = "nolease"
		}
		parts = append(parts, i.Name+":"+a)
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ",")
}

// ReadyLine is the one line the runtime prints when the system is up.
// Tests and operators grep for its first word.
func ReadyLine(version string, hw Hardware, source string) string {
	return fmt.Sprintf("SONIC-READY version=%s firmware=%s arch=%s cpus=%d mem_mb=%d disks=%d net=%s source=%s",
		version, hw.Firmware, hw.Arch, hw.CPU.Count, hw.MemoryMB, len(hw.Disks), NetSummary(hw.Network), source)
}

// HardwareLine is the hardware report on one console line, printed before
// the readiness line so that a boot log alone says what was found (the
// hardware matrix of docs/SONIC-HARDWARE-SUPPORT.md is read from it).
func HardwareLine(hw Hardware) string {
	b, err := json.Marshal(hw)
	if err != nil {
		// Hardware holds only strings, numbers and slices of them.
		panic(err)
	}
	return "SONIC-HARDWARE " + string(b)
}
