package initramfs

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/goldentest"
	"github.com/fredbook/udos-dist/internal/sonic/iso/isotest"
	"github.com/fredbook/udos-dist/internal/testenv"
)

var epoch = time.Unix(1764115200, 0)

type tarEntry struct {
	name, link string
	typ        byte
	body       string
}

func writeTar(t *testing.T, entries []tarEntry, gz bool) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: 0o755, Size: int64(len(e.body)), ModTime: epoch}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	data := buf.Bytes()
	name := "x.tar"
	if gz {
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write(data)
		zw.Close()
		data, name = z.Bytes(), "x.tar.gz"
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func hostFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func baseOptions(t *testing.T) Options {
	return Options{
		Version: "1.4.6",
		Runtime: hostFile(t, "sonic-runtime", "#!runtime"),
		Busybox: hostFile(t, "busybox", "#!busybox"),
		Time:    epoch,
	}
}

// members decompresses each gzip member of an initramfs on its own: each
// is a complete cpio archive, as the kernel reads them.
func members(t *testing.T, archive []byte) [][]byte {
	t.Helper()
	br := bytes.NewReader(archive)
	zr, err := gzip.NewReader(br)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for {
		zr.Multistream(false)
		var raw bytes.Buffer
		if _, err := raw.ReadFrom(zr); err != nil {
			t.Fatal(err)
		}
		if !bytes.HasSuffix(bytes.TrimRight(raw.Bytes(), "\x00"), []byte("TRAILER!!!")) {
			t.Fatalf("member %d does not end with the cpio trailer", len(out))
		}
		out = append(out, raw.Bytes())
		if err := zr.Reset(br); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatal(err)
		}
	}
}

// listing unpacks an initramfs with cpio(1), the reference reader, and
// returns `cpio -tv`-like lines: mode, name, and link target or content.
func listing(t *testing.T, archive []byte) string {
	t.Helper()
	cpio := testenv.Tool(t, "cpio")
	var out []byte
	for _, m := range members(t, archive) {
		cmd := exec.Command(cpio, "-t", "-v", "--quiet")
		cmd.Stdin = bytes.NewReader(m)
		o, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("cpio -t: %v\n%s", err, o)
		}
		out = append(out, o...)
	}
	// Drop the date column: cpio prints it in the local zone.
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		if len(f) < 9 {
			t.Fatalf("odd cpio line %q", l)
		}
		if l[0] == 'c' || l[0] == 'b' {
			// Devices print "major, minor" where files print a size.
			lines = append(lines, f[0]+" "+f[2]+" "+f[3]+" "+f[4]+f[5]+" "+strings.Join(f[9:], " "))
			continue
		}
		lines = append(lines, f[0]+" "+f[2]+" "+f[3]+" "+f[4]+" "+strings.Join(f[8:], " "))
	}
	return strings.Join(lines, "\n") + "\n"
}

func TestBuildGolden(t *testing.T) {
	t.Parallel()
	opts := baseOptions(t)
	opts.Rootfs = writeTar(t, []tarEntry{
		{name: "./", typ: tar.TypeDir},
		{name: "./etc/", typ: tar.TypeDir},
		{name: "./etc/alpine-release", typ: tar.TypeReg, body: "3.20.0\n"},
		{name: "./bin/", typ: tar.TypeDir},
		{name: "./bin/busybox", typ: tar.TypeReg, body: "dynamic busybox"},
		{name: "./bin/ls", typ: tar.TypeSymlink, link: "/bin/busybox"},
		{name: "./bin/sh", typ: tar.TypeSymlink, link: "/bin/busybox"},
		{name: "./sbin/ln", typ: tar.TypeLink, link: "./etc/alpine-release"},
		{name: "./dev/zero", typ: tar.TypeChar},
	}, true)
	opts.Core = writeTar(t, []tarEntry{
		{name: "version.json", typ: tar.TypeReg, body: `{"version": "1.4.6", "variant": "core-slim"}`},
		{name: "core/main.py", typ: tar.TypeReg, body: "print()\n"},
		{name: "bin/udos", typ: tar.TypeSymlink, link: "../core/main.py"},
	}, false)
	opts.Bins = []string{hostFile(t, "udos-lib", "#!udos-lib")}
	var buf bytes.Buffer
	if err := Build(&buf, opts); err != nil {
		t.Fatal(err)
	}
	got := listing(t, buf.Bytes())
	goldentest.Compare(t, filepath.Join("testdata", "initramfs.golden"), []byte(got))
	// Same inputs, same bytes.
	var again bytes.Buffer
	if err := Build(&again, opts); err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(buf.Bytes()) != sha256.Sum256(again.Bytes()) {
		t.Error("two builds from the same inputs differ")
	}
}

func TestBuildRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		rootfs []tarEntry
		core   []tarEntry
		want   string
	}{
		{"core traversal", nil, []tarEntry{{name: "../etc/passwd", typ: tar.TypeReg, body: "x"}}, "climbs out"},
		{"core absolute", nil, []tarEntry{{name: "/etc/passwd", typ: tar.TypeReg, body: "x"}}, "absolute"},
		{"core absolute symlink", nil, []tarEntry{{name: "x", typ: tar.TypeSymlink, link: "/etc/shadow"}}, "points out of the tree"},
		{"core relative symlink out", nil, []tarEntry{{name: "a/x", typ: tar.TypeSymlink, link: "../../etc"}}, "points out of the tree"},
		{"rootfs symlink out", []tarEntry{{name: "bin/x", typ: tar.TypeSymlink, link: "../../../etc"}}, nil, "points out of the tree"},
		{"rootfs hard link out", []tarEntry{{name: "bin/x", typ: tar.TypeLink, link: "../etc/passwd"}}, nil, "leaves the tree"},
		{"hard link to nothing", []tarEntry{{name: "bin/x", typ: tar.TypeLink, link: "bin/y"}}, nil, "not an earlier regular file"},
		{"fifo", []tarEntry{{name: "run/fifo", typ: tar.TypeFifo}}, nil, "unsupported type"},
		{"file where a directory goes", []tarEntry{{name: "opt", typ: tar.TypeReg, body: "x"}}, []tarEntry{{name: "version.json", typ: tar.TypeReg, body: "{}"}}, "needs \"opt\" to be a directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := baseOptions(t)
			if tc.rootfs != nil {
				opts.Rootfs = writeTar(t, tc.rootfs, true)
			}
			if tc.core != nil {
				opts.Core = writeTar(t, tc.core, true)
			}
			err := Build(&bytes.Buffer{}, opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if err := Build(&bytes.Buffer{}, Options{}); err == nil {
		t.Error("an initramfs without runtime and busybox was built")
	}
	o := baseOptions(t)
	o.Core = filepath.Join(t.TempDir(), "missing.tar.gz")
	if err := Build(&bytes.Buffer{}, o); err == nil || !strings.Contains(err.Error(), "missing.tar.gz") {
		t.Errorf("missing core: %v", err)
	}
}

func TestCPIONames(t *testing.T) {
	t.Parallel()
	w := NewCPIOWriter(&bytes.Buffer{}, epoch)
	for _, bad := range []string{"", "/abs", "a/../b", "a//b"} {
		if err := w.Dir(bad, 0o755); err == nil {
			t.Errorf("name %q accepted", bad)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Dir("late", 0o755); err == nil {
		t.Error("write after Close accepted")
	}
}

// testModulesDir is the unpacked Debian kernel's modules, as installed by
// .ci/setup.d/50-sonic.sh.
func testModulesDir(t *testing.T) string {
	t.Helper()
	_, modules := isotest.Kernel(t, "amd64")
	return modules
}

func TestModulesResolve(t *testing.T) {
	t.Parallel()
	dir := testModulesDir(t)
	order, err := (&Modules{Dir: dir, Names: DefaultModules}).Resolve()
	if err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	for i, o := range order {
		pos[modName(o)] = i
	}
	// Each dependency loads before its user.
	for _, pair := range [][2]string{{"libata", "ata_piix"}, {"scsi_mod", "sd_mod"}, {"cdrom", "sr_mod"}, {"virtio", "virtio_blk"}, {"usbcore", "usb_storage"}} {
		d, okd := pos[pair[0]]
		u, oku := pos[pair[1]]
		if !okd || !oku || d > u {
			t.Errorf("%s (at %d, %v) must come before %s (at %d, %v)", pair[0], d, okd, pair[1], u, oku)
		}
	}
	if _, err := (&Modules{Dir: dir, Names: []string{"no_such_driver"}}).Resolve(); err == nil || !strings.Contains(err.Error(), "no_such_driver") {
		t.Errorf("unknown module: %v", err)
	}
	if _, err := (&Modules{Dir: t.TempDir(), Names: []string{"x"}}).Resolve(); err == nil {
		t.Error("empty module directory accepted")
	}
}

// TestModulesResolveARM64: the arm64 default list resolves against
// Debian's arm64 kernel (unpacked by .ci/setup.d/50-sonic.sh), which has
// no uhci_hcd: DefaultModules would not.
func TestModulesResolveARM64(t *testing.T) {
	t.Parallel()
	_, dir := isotest.Kernel(t, "arm64")
	if got := DefaultModulesFor("arm64"); slices.Contains(got, "uhci_hcd") || slices.Contains(got, "ata_piix") || !slices.Contains(got, "virtio_scsi") {
		t.Errorf("arm64 modules %v", got)
	}
	if !slices.Equal(DefaultModulesFor("amd64"), DefaultModules) {
		t.Error("amd64 modules changed")
	}
	order, err := (&Modules{Dir: dir, Names: DefaultModulesFor("arm64")}).Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(order, func(o string) bool { return modName(o) == "virtio_scsi" }) {
		t.Errorf("virtio_scsi not in %v", order)
	}
	if _, err := (&Modules{Dir: dir, Names: DefaultModules}).Resolve(); err == nil || !strings.Contains(err.Error(), "uhci_hcd") {
		t.Errorf("the PC list against the arm64 kernel: %v, want uhci_hcd missing", err)
	}
}
