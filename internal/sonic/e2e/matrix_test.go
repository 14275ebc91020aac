package e2e

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/fredbook/udos-dist/internal/sonic/runtime"
)

// -update-hardware-table rewrites the generated matrix of
// docs/SONIC-HARDWARE-SUPPORT.md from what the boots found.
var updateTable = flag.Bool("update-hardware-table", false, "rewrite the generated table in docs/SONIC-HARDWARE-SUPPORT.md")

// profile is one machine of the hardware matrix: the QEMU arguments and
// what its hardware report must show. Each profile differs from TestBoot's
// four modes in machine type, disk bus, USB generation, CPU count or NIC.
type profile struct {
	name  string
	about string // the row's hardware column
	args  func(iso, blank string) []string
	uefi  bool
	// want
	machine string   // substring of the DMI product name
	cpus    int      // CPU count
	bus     string   // a disk on this bus must be found
	drivers []string // bound PCI drivers that must be present
	nic     string   // network driver ("" = no NIC)
}

func (p profile) cmdline() string {
	return "go test ./internal/sonic/e2e -run 'TestHardwareMatrix/" + p.name + "$' -v"
}

var matrix = []profile{
	{
		name: "q35-sata-cd-4cpu-virtio-net", about: "q35, CD on AHCI/SATA, 4 CPUs, virtio-net",
		args: func(iso, _ string) []string {
			return []string{"-M", "q35", "-smp", "4", "-nic", "user,model=virtio-net-pci", "-cdrom", iso}
		},
		machine: "Q35", cpus: 4, bus: "ata", drivers: []string{"ahci", "virtio-pci"}, nic: "virtio_net",
	},
	{
		name: "i440fx-ide-disk-e1000", about: "i440fx, stick image on IDE, e1000",
		args: func(iso, _ string) []string {
			return []string{"-M", "pc", "-nic", "user,model=e1000", "-drive", "file=" + iso + ",format=raw,if=ide,snapshot=on"}
		},
		machine: "i440FX", cpus: 1, bus: "ata", drivers: []string{"ata_piix", "e1000"}, nic: "e1000",
	},
	{
		name: "i440fx-nvme-rtl8139", about: "i440fx, CD on IDE plus an NVMe disk, rtl8139",
		args: func(iso, blank string) []string {
			return []string{"-M", "pc", "-nic", "user,model=rtl8139", "-cdrom", iso,
				"-drive", "if=none,id=nv,file=" + blank + ",format=raw,snapshot=on", "-device", "nvme,drive=nv,serial=sonic0"}
		},
		machine: "i440FX", cpus: 1, bus: "nvme", drivers: []string{"nvme", "8139cp"}, nic: "8139cp",
	},
	{
		name: "q35-uefi-nvme-boot", about: "q35 under OVMF, booted from an NVMe disk",
		args: func(iso, _ string) []string {
			return []string{"-M", "q35", "-bios", ovmf, "-net", "none",
				"-drive", "if=none,id=nv,file=" + iso + ",format=raw,snapshot=on", "-device", "nvme,drive=nv,serial=sonic0"}
		},
		uefi: true, machine: "Q35", cpus: 1, bus: "nvme", drivers: []string{"nvme"},
	},
	{
		name: "i440fx-usb2-ehci-stick", about: "i440fx, booted from a USB 2 (EHCI) stick",
		args: func(iso, _ string) []string {
			return []string{"-M", "pc", "-net", "none", "-device", "usb-ehci,id=ehci",
				"-drive", "if=none,id=u,file=" + iso + ",format=raw,snapshot=on", "-device", "usb-storage,bus=ehci.0,drive=u"}
		},
		machine: "i440FX", cpus: 1, bus: "usb", drivers: []string{"ehci-pci"},
	},
	{
		name: "q35-virtio-scsi-cd-xhci", about: "q35, CD on virtio-scsi, a USB 3 (xHCI) controller",
		args: func(iso, _ string) []string {
			return []string{"-M", "q35", "-net", "none", "-device", "qemu-xhci", "-device", "virtio-scsi-pci,id=scsi",
				"-drive", "if=none,id=s,file=" + iso + ",format=raw,snapshot=on", "-device", "scsi-cd,drive=s"}
		},
		machine: "Q35", cpus: 1, bus: "virtio-scsi", drivers: []string{"virtio-pci", "xhci_hcd"},
	},
}

var hardwareRE = regexp.MustCompile(`SONIC-HARDWARE (\{[^\r\n]*\})`)

// hardwareReport parses the boot's SONIC-HARDWARE line.
func hardwareReport(t *testing.T, b boot) runtime.Hardware {
	t.Helper()
	m := hardwareRE.FindStringSubmatch(b.out)
	if m == nil {
		t.Fatalf("no SONIC-HARDWARE line; serial output:\n%s", tail(b.out))
	}
	var hw runtime.Hardware
	if err := json.Unmarshal([]byte(m[1]), &hw); err != nil {
		t.Fatalf("hardware report: %v\n%s", err, m[1])
	}
	return hw
}

// matrixRow is what one boot found, for the generated table.
type matrixRow struct {
	p    profile
	hw   runtime.Hardware
	net  string
	line map[string]string
}

var (
	rowsMu sync.Mutex
	rows   = map[string]matrixRow{}
)

func TestHardwareMatrix(t *testing.T) {
	iso := sharedISO(t)
	blank := filepath.Join(t.TempDir(), "blank.img")
	if err := os.WriteFile(blank, make([]byte, 64<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("boots", func(t *testing.T) {
		for _, p := range matrix {
			t.Run(p.name, func(t *testing.T) {
				t.Parallel()
				if p.uefi {
					need(t, "OVMF", ovmf, "ovmf")
				}
				b := qemu(t, p.args(iso, blank)...)
				f := readyFields(t, b)
				hw := hardwareReport(t, b)
				checkProfile(t, p, hw, f)
				rowsMu.Lock()
				rows[p.name] = matrixRow{p: p, hw: hw, net: f["net"], line: f}
				rowsMu.Unlock()
			})
		}
	})
	if t.Failed() {
		return
	}
	checkTable(t)
}

func checkProfile(t *testing.T, p profile, hw runtime.Hardware, ready map[string]string) {
	t.Helper()
	firmware := map[bool]string{false: "bios", true: "uefi"}[p.uefi]
	if ready["firmware"] != firmware || ready["source"] != "iso" || ready["version"] != version {
		t.Errorf("ready line %v: want firmware=%s source=iso version=%s", ready, firmware, version)
	}
	if !strings.Contains(hw.Machine, p.machine) {
		t.Errorf("machine %q, want %q", hw.Machine, p.machine)
	}
	if hw.CPU.Count != p.cpus {
		t.Errorf("%d CPUs, want %d", hw.CPU.Count, p.cpus)
	}
	if hw.MemoryMB < 400 || hw.MemoryMB > 512 {
		t.Errorf("memory %d MB with -m 512", hw.MemoryMB)
	}
	if !slices.ContainsFunc(hw.Disks, func(d runtime.Disk) bool { return d.Bus == p.bus }) {
		t.Errorf("no disk on bus %q: %+v", p.bus, hw.Disks)
	}
	for _, d := range p.drivers {
		if !slices.Contains(hw.PCIDrivers, d) {
			t.Errorf("PCI driver %q not bound; bound: %v", d, hw.PCIDrivers)
		}
	}
	if p.nic == "" {
		if ready["net"] != "none" {
			t.Errorf("net=%s without a NIC", ready["net"])
		}
		return
	}
	if len(hw.Network) == 0 || hw.Network[0].Driver != p.nic {
		t.Errorf("network %+v, want a %s card", hw.Network, p.nic)
	}
	// QEMU's user network hands out 10.0.2.15 by DHCP.
	if ready["net"] != "eth0:10.0.2.15" {
		t.Errorf("net=%s, want a DHCP lease eth0:10.0.2.15", ready["net"])
	}
}

const (
	tableBegin = "<!-- hardware-matrix:begin (generated by TestHardwareMatrix; go test ./internal/sonic/e2e -run TestHardwareMatrix -update-hardware-table) -->"
	tableEnd   = "<!-- hardware-matrix:end -->"
)

// renderTable is the generated section: one row a profile, from what the
// boot reported (nothing timing-dependent, so the section is stable).
func renderTable() string {
	var b strings.Builder
	b.WriteString("| machine | firmware | found: machine, CPUs, disks (bus) | bound PCI drivers | network | reproduce |\n| --- | --- | --- | --- | --- | --- |\n")
	names := make([]string, 0, len(rows))
	for n := range rows {
		names = append(names, n)
	}
	sort.SliceStable(names, func(i, j int) bool {
		return slices.IndexFunc(matrix, func(p profile) bool { return p.name == names[i] }) <
			slices.IndexFunc(matrix, func(p profile) bool { return p.name == names[j] })
	})
	for _, n := range names {
		r := rows[n]
		var disks []string
		for _, d := range r.hw.Disks {
			bus := d.Bus
			if bus == "" {
				bus = "?"
			}
			disks = append(disks, fmt.Sprintf("%s (%s, %s)", d.Name, d.Kind, bus))
		}
		nic := "none"
		if len(r.hw.Network) > 0 && r.hw.Network[0].Driver != "" {
			nic = fmt.Sprintf("%s, DHCP `%s`", r.hw.Network[0].Driver, r.net)
		}
		fmt.Fprintf(&b, "| %s | %s | %s; %d CPU; %s | %s | %s | `%s` |\n",
			r.p.about, r.line["firmware"], r.hw.Machine, r.hw.CPU.Count, strings.Join(disks, ", "),
			strings.Join(r.hw.PCIDrivers, ", "), nic, r.p.cmdline())
	}
	return b.String()
}

const hardwareDoc = "../../../docs/SONIC-HARDWARE-SUPPORT.md"

// checkTable compares the doc's generated section with what was booted,
// or rewrites it with -update-hardware-table. Only a full run (every
// profile booted) can judge the whole table.
func checkTable(t *testing.T) {
	t.Helper()
	if len(rows) != len(matrix) {
		return
	}
	doc, err := os.ReadFile(hardwareDoc)
	if err != nil {
		t.Fatal(err)
	}
	i, j := bytes.Index(doc, []byte(tableBegin)), bytes.Index(doc, []byte(tableEnd))
	if i < 0 || j < i {
		t.Fatalf("%s has no %q … %q section", hardwareDoc, tableBegin, tableEnd)
	}
	got := string(doc[i+len(tableBegin) : j])
	want := "\n" + renderTable()
	if got == want {
		return
	}
	if *updateTable {
		out := append(append(append([]byte{}, doc[:i+len(tableBegin)]...), want...), doc[j:]...)
		if err := os.WriteFile(hardwareDoc, out, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote the hardware matrix in %s", hardwareDoc)
		return
	}
	t.Errorf("docs/SONIC-HARDWARE-SUPPORT.md's hardware matrix is not what the boots found; rerun with -update-hardware-table.\nwant:\n%s\nhave:\n%s", want, got)
}
