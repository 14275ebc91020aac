package initramfs

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Modules selects kernel modules from an unpacked kernel package's
// lib/modules/<version> directory. The runtime cannot run modprobe (there is
// no modules.dep in a package that was never installed), so the builder
// resolves dependencies itself from each module's .modinfo "depends=" and
// writes the load order to ModuleListPath.
//
// Distribution kernels often ship compressed modules (Ubuntu: .ko.zst,
// Fedora and others: .ko.xz, some: .ko.gz). The runtime loads with
// finit_module(2) without MODULE_INIT_COMPRESSED_FILE, which only kernels
// built with in-kernel decompression accept, so compressed modules are
// decompressed here and stored as plain .ko in the initramfs.
type Modules struct {
	Dir   string   // .../lib/modules/6.1.0-NN-amd64
	Names []string // module names (dashes and underscores are the same)
}

// DefaultModules are the drivers the Sonic image loads at boot: disk
// controllers (IDE/SATA/NVMe/virtio/USB storage) and CD-ROMs, so the
// installer can read the boot medium and write the target, and common
// network cards for the DHCP bootstrap.
var DefaultModules = []string{
	"ata_piix", "ata_generic", "ahci", "sd_mod", "sr_mod", "nvme", "crct10dif_generic",
	"virtio_pci", "virtio_blk", "virtio_scsi", "virtio_net",
	"xhci_pci", "ehci_pci", "ohci_pci", "uhci_hcd", "usb_storage", "uas",
	"e1000", "e1000e", "8139cp", "8139too",
}

// DefaultModulesARM64 are DefaultModules for an arm64 image: Arm machines
// have no PC IDE (ata_piix) nor UHCI controllers, and Debian's arm64
// kernel has no uhci_hcd; the PCI disk, USB and network drivers are the
// same (QEMU's virt machine and Arm servers have PCIe).
var DefaultModulesARM64 = withoutModules(DefaultModules, "ata_piix", "uhci_hcd")

// DefaultModulesFor is the default driver list of an image architecture
// (GOARCH): DefaultModulesARM64 for arm64, DefaultModules otherwise.
func DefaultModulesFor(arch string) []string {
	if arch == "arm64" {
		return DefaultModulesARM64
	}
	return DefaultModules
}

func withoutModules(list []string, drop ...string) []string {
	var out []string
	for _, m := range list {
		if !slices.Contains(drop, m) {
			out = append(out, m)
		}
	}
	return out
}

// compressions are the module file suffixes the builder reads, with their
// decompressors. A plain .ko is listed first: when a directory holds both
// foo.ko and foo.ko.zst, the plain one is used.
var compressions = []struct {
	suffix string
	open   func(io.Reader) (io.Reader, func(), error)
}{
	{".ko", func(r io.Reader) (io.Reader, func(), error) { return r, func() {}, nil }},
	{".ko.zst", func(r io.Reader) (io.Reader, func(), error) {
		// One decoder goroutine and a bounded window: modules are small.
		d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(64<<20))
		if err != nil {
			return nil, nil, err
		}
		return d, d.Close, nil
	}},
	{".ko.xz", func(r io.Reader) (io.Reader, func(), error) {
		x, err := xz.NewReader(r)
		return x, func() {}, err
	}},
	{".ko.gz", func(r io.Reader) (io.Reader, func(), error) {
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, err
		}
		return z, func() { z.Close() }, nil
	}},
}

// maxModuleBytes bounds a decompressed module: the largest in-tree modules
// are a few tens of MiB, and a corrupt or hostile file must not fill memory.
const maxModuleBytes = 256 << 20

// moduleSuffix returns the module suffix of a file name (".ko", ".ko.zst",
// …) and its index in compressions, or -1.
func moduleSuffix(name string) (string, int) {
	for i, c := range compressions {
		if strings.HasSuffix(name, c.suffix) {
			return c.suffix, i
		}
	}
	return "", -1
}

// plainName is a module file name as stored in the initramfs: the
// compression suffix removed ("kernel/x/ahci.ko.zst" → "kernel/x/ahci.ko").
func plainName(rel string) string {
	if suf, i := moduleSuffix(rel); i > 0 {
		return strings.TrimSuffix(rel, suf) + ".ko"
	}
	return rel
}

func modName(s string) string {
	s = path.Base(s)
	if suf, i := moduleSuffix(s); i >= 0 {
		s = strings.TrimSuffix(s, suf)
	}
	return strings.ReplaceAll(s, "-", "_")
}

// readModule returns a module's ELF bytes, decompressing .ko.zst, .ko.xz
// and .ko.gz.
func readModule(file string) ([]byte, error) {
	_, i := moduleSuffix(file)
	if i < 0 {
		return nil, fmt.Errorf("kernel module %q: not a .ko, .ko.zst, .ko.xz or .ko.gz file", file)
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("reading kernel module %q: %w", file, err)
	}
	defer f.Close()
	r, done, err := compressions[i].open(f)
	if err != nil {
		return nil, fmt.Errorf("decompressing kernel module %q: %w", file, err)
	}
	defer done()
	data, err := io.ReadAll(io.LimitReader(r, maxModuleBytes+1))
	if err != nil {
		return nil, fmt.Errorf("decompressing kernel module %q: %w", file, err)
	}
	if len(data) > maxModuleBytes {
		return nil, fmt.Errorf("kernel module %q decompresses to more than %d MiB", file, maxModuleBytes>>20)
	}
	if !bytes.HasPrefix(data, []byte(elf.ELFMAG)) {
		return nil, fmt.Errorf("kernel module %q is not an ELF file once decompressed", file)
	}
	return data, nil
}

// Resolve returns the module files (relative to Dir, as found there:
// compressed ones keep their suffix) in load order: dependencies before
// their users. Modules built into the kernel are left out; a name that is
// neither a module nor built in is an error.
func (m *Modules) Resolve() ([]string, error) {
	order, _, err := m.resolve()
	return order, err
}

// resolve also returns the decompressed bytes of every module in order,
// read once for .modinfo and kept for the initramfs.
func (m *Modules) resolve() ([]string, map[string][]byte, error) {
	files := map[string]string{}
	rank := map[string]int{}
	err := filepath.WalkDir(m.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		_, i := moduleSuffix(p)
		if i < 0 {
			return nil
		}
		name := modName(p)
		if prev, ok := rank[name]; ok && prev <= i {
			return nil
		}
		rel, _ := filepath.Rel(m.Dir, p)
		files[name], rank[name] = filepath.ToSlash(rel), i
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("indexing kernel modules in %q: %w", m.Dir, err)
	}
	if len(files) == 0 {
		return nil, nil, fmt.Errorf("no kernel modules (*.ko, *.ko.zst, *.ko.xz, *.ko.gz) under %q", m.Dir)
	}
	builtin := map[string]bool{}
	if b, err := os.ReadFile(filepath.Join(m.Dir, "modules.builtin")); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			builtin[modName(sc.Text())] = true
		}
	}
	var order []string
	data := map[string][]byte{}
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(name string, chain []string) error
	visit = func(name string, chain []string) error {
		switch state[name] {
		case 1:
			return fmt.Errorf("kernel modules depend on each other in a cycle: %s", strings.Join(append(chain, name), " -> "))
		case 2:
			return nil
		}
		rel, ok := files[name]
		if !ok {
			if builtin[name] {
				state[name] = 2
				return nil
			}
			return fmt.Errorf("kernel module %q is neither in %q nor built in (needed by %s)", name, m.Dir, strings.Join(chain, " -> "))
		}
		state[name] = 1
		file := filepath.Join(m.Dir, filepath.FromSlash(rel))
		elfData, err := readModule(file)
		if err != nil {
			return err
		}
		deps, err := moduleDepends(file, elfData)
		if err != nil {
			return err
		}
		for _, d := range deps {
			if err := visit(d, append(chain, name)); err != nil {
				return err
			}
		}
		state[name] = 2
		order = append(order, rel)
		data[rel] = elfData
		return nil
	}
	names := append([]string(nil), m.Names...)
	sort.Strings(names)
	for _, n := range names {
		if err := visit(modName(n), []string{"(requested)"}); err != nil {
			return nil, nil, err
		}
	}
	return order, data, nil
}

// moduleDepends reads "depends=" from the .modinfo section of a module's
// (decompressed) ELF bytes; file names it in errors.
func moduleDepends(file string, data []byte) ([]string, error) {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("reading kernel module %q: %w", file, err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("kernel module %q has no .modinfo section", file)
	}
	info, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("reading .modinfo of %q: %w", file, err)
	}
	for _, kv := range bytes.Split(info, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok {
			var deps []string
			for _, d := range strings.Split(string(v), ",") {
				if d != "" {
					deps = append(deps, modName(d))
				}
			}
			sort.Strings(deps)
			return deps, nil
		}
	}
	return nil, nil
}

func (m *Modules) add(t tree) error {
	order, data, err := m.resolve()
	if err != nil {
		return err
	}
	base := path.Join("lib/modules", filepath.Base(m.Dir))
	var list strings.Builder
	for _, rel := range order {
		// Every module goes in as plain ELF (.ko), whatever it came as.
		name := path.Join(base, plainName(rel))
		if _, i := moduleSuffix(rel); i == 0 {
			if err := t.hostFile(name, filepath.Join(m.Dir, filepath.FromSlash(rel)), 0o644); err != nil {
				return err
			}
		} else {
			t.put(name, &entry{kind: 'f', mode: 0o644, data: data[rel], size: int64(len(data[rel]))})
		}
		list.WriteString("/" + name + "\n")
	}
	t.put(ModuleListPath, &entry{kind: 'f', mode: 0o644, data: []byte(list.String()), size: int64(list.Len())})
	return nil
}
