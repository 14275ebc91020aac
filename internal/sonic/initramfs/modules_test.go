package initramfs

import (
	"bytes"
	"compress/gzip"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/fredbook/udos-dist/internal/testenv"
)

// fakeModule is a minimal relocatable x86-64 ELF with a .modinfo section,
// which is all the builder reads of a kernel module.
func fakeModule(t *testing.T, name, depends string) []byte {
	t.Helper()
	info := []byte("license=GPL\x00name=" + name + "\x00depends=" + depends + "\x00vermagic=6.9.0-test SMP mod_unload\x00")
	shstr := []byte("\x00.modinfo\x00.shstrtab\x00")
	const ehsize, shentsize = 64, 64
	infoOff := uint64(ehsize)
	strOff := infoOff + uint64(len(info))
	shoff := (strOff + uint64(len(shstr)) + 7) &^ 7
	var b bytes.Buffer
	hdr := elf.Header64{
		Type: uint16(elf.ET_REL), Machine: uint16(elf.EM_X86_64), Version: uint32(elf.EV_CURRENT),
		Shoff: shoff, Ehsize: ehsize, Shentsize: shentsize, Shnum: 3, Shstrndx: 2,
	}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS], hdr.Ident[elf.EI_DATA], hdr.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	binary.Write(&b, binary.LittleEndian, hdr)
	b.Write(info)
	b.Write(shstr)
	b.Write(make([]byte, int(shoff)-b.Len()))
	for _, sh := range []elf.Section64{
		{},
		{Name: 1, Type: uint32(elf.SHT_PROGBITS), Flags: uint64(elf.SHF_ALLOC), Off: infoOff, Size: uint64(len(info)), Addralign: 1},
		{Name: 10, Type: uint32(elf.SHT_STRTAB), Off: strOff, Size: uint64(len(shstr)), Addralign: 1},
	} {
		binary.Write(&b, binary.LittleEndian, sh)
	}
	return b.Bytes()
}

// compress encodes data as a .ko.zst, .ko.xz or .ko.gz file would hold it.
func compress(t *testing.T, suffix string, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	switch suffix {
	case ".ko":
		return data
	case ".ko.zst":
		w, err := zstd.NewWriter(&b)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		w.Close()
	case ".ko.xz":
		w, err := xz.NewWriter(&b)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		w.Close()
	case ".ko.gz":
		w := gzip.NewWriter(&b)
		w.Write(data)
		w.Close()
	default:
		t.Fatalf("unknown suffix %s", suffix)
	}
	return b.Bytes()
}

func writeFile(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// unpackInitramfs extracts an initramfs with cpio(1) into a directory.
func unpackInitramfs(t *testing.T, archive []byte) string {
	t.Helper()
	cpio := testenv.Tool(t, "cpio")
	dir := t.TempDir()
	for _, m := range members(t, archive) {
		cmd := exec.Command(cpio, "-i", "-d", "--quiet", "--no-absolute-filenames", "-D", dir)
		cmd.Stdin = bytes.NewReader(m)
		// Device nodes cannot be made without privileges; the files we check are regular.
		if out, err := cmd.CombinedOutput(); err != nil && os.Geteuid() == 0 {
			t.Fatalf("cpio -i: %v\n%s", err, out)
		}
	}
	return dir
}

func TestCompressedModules(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "lib", "modules", "6.9.0-test")
	type mod struct{ rel, name, deps string }
	mods := []mod{
		{"kernel/drivers/ata/alpha.ko.zst", "alpha", "beta,gamma,builtin-one"},
		{"kernel/drivers/block/beta.ko.xz", "beta", "delta"},
		{"kernel/drivers/cdrom/gamma.ko.gz", "gamma", ""},
		{"kernel/lib/delta.ko", "delta", ""},
		{"kernel/net/epsilon.ko", "epsilon", ""},
		{"kernel/net/epsilon.ko.zst", "epsilon", "no_such_module"}, // the plain .ko beside it wins
		{"kernel/net/unused.ko.zst", "unused", "no_such_module"},   // not requested: never read
	}
	plain := map[string][]byte{}
	for _, m := range mods {
		elfData := fakeModule(t, m.name, m.deps)
		suffix := m.rel[strings.Index(m.rel, ".ko"):]
		plain[plainName(m.rel)] = elfData
		writeFile(t, filepath.Join(dir, m.rel), compress(t, suffix, elfData))
	}
	plain["kernel/net/epsilon.ko"] = fakeModule(t, "epsilon", "")
	writeFile(t, filepath.Join(dir, "modules.builtin"), []byte("kernel/lib/builtin_one.ko\n"))

	mods2 := &Modules{Dir: dir, Names: []string{"epsilon", "alpha"}}
	order, err := mods2.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	// Dependencies first, in the sorted order of each depends list; the
	// built-in one is left out.
	want := "kernel/lib/delta.ko kernel/drivers/block/beta.ko.xz kernel/drivers/cdrom/gamma.ko.gz kernel/drivers/ata/alpha.ko.zst kernel/net/epsilon.ko"
	if got := strings.Join(order, " "); got != want {
		t.Fatalf("load order\n got %s\nwant %s", got, want)
	}

	opts := baseOptions(t)
	opts.Modules = mods2
	var buf bytes.Buffer
	if err := Build(&buf, opts); err != nil {
		t.Fatal(err)
	}
	root := unpackInitramfs(t, buf.Bytes())
	list, err := os.ReadFile(filepath.Join(root, ModuleListPath))
	if err != nil {
		t.Fatal(err)
	}
	var wantList strings.Builder
	for _, rel := range order {
		wantList.WriteString("/lib/modules/6.9.0-test/" + plainName(rel) + "\n")
	}
	if string(list) != wantList.String() {
		t.Errorf("load list:\n%s\nwant:\n%s", list, wantList.String())
	}
	for _, rel := range order {
		p := filepath.Join(root, "lib/modules/6.9.0-test", plainName(rel))
		got, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		if !bytes.Equal(got, plain[plainName(rel)]) {
			t.Errorf("%s: initramfs holds %d bytes, not the decompressed module (%d bytes)", rel, len(got), len(plain[plainName(rel)]))
		}
		// What the runtime loads is a plain ELF whose .modinfo reads back.
		if _, err := moduleDepends(p, got); err != nil {
			t.Errorf("%s: %v", rel, err)
		}
	}
	matches, _ := filepath.Glob(filepath.Join(root, "lib/modules/6.9.0-test/kernel/*/*/*.ko.*"))
	if len(matches) != 0 {
		t.Errorf("compressed files in the initramfs: %v", matches)
	}
	// Same inputs, same bytes, compressed modules included.
	var again bytes.Buffer
	if err := Build(&again, opts); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Error("two builds with compressed modules differ")
	}
}

func TestCompressedModulesRefused(t *testing.T) {
	t.Parallel()
	gz := compress(t, ".ko.gz", fakeModule(t, "m", ""))
	tests := []struct {
		name string
		file string
		data []byte
		want string
	}{
		{"zst garbage", "m.ko.zst", []byte("not zstd at all"), "decompressing kernel module"},
		{"xz garbage", "m.ko.xz", []byte("not xz at all"), "decompressing kernel module"},
		{"gz truncated", "m.ko.gz", gz[:len(gz)/2], "decompressing kernel module"},
		{"not ELF inside", "m.ko.zst", compress(t, ".ko.zst", []byte("plain text, not a module")), "not an ELF file once decompressed"},
		{"ELF without modinfo", "m.ko.xz", compress(t, ".ko.xz", bytes.Replace(fakeModule(t, "m", ""), []byte(".modinfo"), []byte(".notinfo"), 1)), "no .modinfo section"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "kernel", tc.file), tc.data)
			_, err := (&Modules{Dir: dir, Names: []string{"m"}}).Resolve()
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.file) {
				t.Fatalf("err = %v, want %q naming %s", err, tc.want, tc.file)
			}
		})
	}
}

// TestRealModulesCompressed compresses real modules of the test kernel the
// way Ubuntu (zstd) and others (xz) ship them: the dependencies still come
// out of the decompressed .modinfo.
func TestRealModulesCompressed(t *testing.T) {
	t.Parallel()
	src := testModulesDir(t)
	dir := filepath.Join(t.TempDir(), filepath.Base(src))
	for rel, suffix := range map[string]string{
		"kernel/drivers/ata/libata.ko":       ".ko.xz",
		"kernel/drivers/ata/ata_piix.ko":     ".ko.zst",
		"kernel/drivers/scsi/scsi_mod.ko":    ".ko.gz",
		"kernel/drivers/scsi/scsi_common.ko": ".ko.zst",
	} {
		data, err := os.ReadFile(filepath.Join(src, rel))
		if err != nil {
			testenv.Missing(t, fmt.Sprintf("test kernel lacks %s: %v", rel, err))
		}
		writeFile(t, filepath.Join(dir, strings.TrimSuffix(rel, ".ko")+suffix), compress(t, suffix, data))
	}
	if b, err := os.ReadFile(filepath.Join(src, "modules.builtin")); err == nil {
		writeFile(t, filepath.Join(dir, "modules.builtin"), b)
	}
	order, err := (&Modules{Dir: dir, Names: []string{"ata_piix"}}).Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(order, " "); !strings.HasSuffix(got, "kernel/drivers/ata/libata.ko.xz kernel/drivers/ata/ata_piix.ko.zst") {
		t.Errorf("load order %s: libata (xz) must come right before ata_piix (zst)", got)
	}
}
