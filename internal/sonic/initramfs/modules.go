package initramfs

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Modules selects kernel modules from an unpacked kernel package's
// lib/modules/<version> directory. The runtime cannot run modprobe (there is
// no modules.dep in a package that was never installed), so the builder
// resolves dependencies itself from each module's .modinfo "depends=" and
// writes the load order to ModuleListPath.
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
	"e1000", "e1000e",
}

func modName(s string) string {
	s = strings.TrimSuffix(path.Base(s), ".ko")
	return strings.ReplaceAll(s, "-", "_")
}

// Resolve returns the module files (relative to Dir) in load order:
// dependencies before their users. Modules built into the kernel are left
// out; a name that is neither a module nor built in is an error.
func (m *Modules) Resolve() ([]string, error) {
	files := map[string]string{}
	err := filepath.WalkDir(m.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".ko") {
			rel, _ := filepath.Rel(m.Dir, p)
			files[modName(p)] = filepath.ToSlash(rel)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("indexing kernel modules in %q: %w", m.Dir, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no uncompressed kernel modules (*.ko) under %q", m.Dir)
	}
	builtin := map[string]bool{}
	if b, err := os.ReadFile(filepath.Join(m.Dir, "modules.builtin")); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			builtin[modName(sc.Text())] = true
		}
	}
	var order []string
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
		deps, err := moduleDepends(filepath.Join(m.Dir, filepath.FromSlash(rel)))
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
		return nil
	}
	names := append([]string(nil), m.Names...)
	sort.Strings(names)
	for _, n := range names {
		if err := visit(modName(n), []string{"(requested)"}); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// moduleDepends reads "depends=" from a module's .modinfo section.
func moduleDepends(file string) ([]string, error) {
	f, err := elf.Open(file)
	if err != nil {
		return nil, fmt.Errorf("reading kernel module %q: %w", file, err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("kernel module %q has no .modinfo section", file)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("reading .modinfo of %q: %w", file, err)
	}
	for _, kv := range bytes.Split(data, []byte{0}) {
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
	order, err := m.Resolve()
	if err != nil {
		return err
	}
	base := path.Join("lib/modules", filepath.Base(m.Dir))
	var list strings.Builder
	for _, rel := range order {
		if err := t.hostFile(path.Join(base, rel), filepath.Join(m.Dir, filepath.FromSlash(rel)), 0o644); err != nil {
			return err
		}
		list.WriteString("/" + path.Join(base, rel) + "\n")
	}
	t.put(ModuleListPath, &entry{kind: 'f', mode: 0o644, data: []byte(list.String()), size: int64(list.Len())})
	return nil
}
