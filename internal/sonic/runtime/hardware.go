package runtime

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

// Hardware is what the runtime found; it is also the JSON hardware report.
type Hardware struct {
	Firmware string      `json:"firmware"` // "uefi" or "bios"
	CPU      CPU         `json:"cpu"`
	MemoryMB int64       `json:"memory_mb"`
	Disks    []Disk      `json:"disks"`
	Network  []Interface `json:"network"`
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
}

// Interface is one network interface from /sys/class/net.
type Interface struct {
	Name    string `json:"name"`
	MAC     string `json:"mac"`
	Carrier bool   `json:"carrier"`
	Address string `json:"address,omitempty"`
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
	hw.Disks, err = detectDisks(fsys)
	if err != nil {
		return hw, err
	}
	hw.Network, err = detectInterfaces(fsys)
	return hw, err
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
	return fmt.Sprintf("SONIC-READY version=%s firmware=%s cpus=%d mem_mb=%d disks=%d net=%s source=%s",
		version, hw.Firmware, hw.CPU.Count, hw.MemoryMB, len(hw.Disks), NetSummary(hw.Network), source)
}
