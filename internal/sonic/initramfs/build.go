package initramfs

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Paths the runtime relies on.
const (
	InitPath        = "init"
	BusyboxPath     = "bin/busybox"
	CorePath        = "opt/udos"
	BinDir          = "usr/local/bin"
	ReleasePath     = "etc/sonic-release"
	ModuleListPath  = "lib/modules/sonic-load.list"
	UdhcpcScript    = "usr/share/udhcpc/default.script"
	maxEntryBytes   = 1 << 30
	maxTarballBytes = 2 << 30 // tarball contents are held in memory while merging
	maxArchiveFiles = 200000
)

// Options describe one initramfs.
type Options struct {
	Version string    // written to /etc/sonic-release
	Runtime string    // static sonic-runtime binary, installed as /init
	Busybox string    // static busybox, /bin/busybox (the runtime installs the applet links)
	Rootfs  string    // optional base root file system (tar or tar.gz), e.g. Alpine minirootfs
	Core    string    // optional uDOS core-slim tarball, unpacked under /opt/udos
	Bins    []string  // extra static binaries, installed in /usr/local/bin
	Modules *Modules  // optional kernel modules to load at boot
	Time    time.Time // every mtime
	Level   int       // gzip level; 0 means gzip.DefaultCompression
	// SingleStream writes one gzip stream, the layout before delta
	// updates (a little smaller; any change recompresses everything after
	// it). Off, the archive is a series of independent members (below).
	SingleStream bool
}

// Members: the initramfs is a concatenation of complete cpio archives,
// each compressed on its own, which the kernel unpacks in order as one
// tree (the layout early-microcode initrds use). Every file of memberFile
// bytes or more is a member of its own; smaller entries are grouped, a new
// group starting at a name that hashes to 0 mod memberEvery or once it
// holds memberMax bytes. Boundaries are fixed by the names and files, not
// by offsets, so a changed file changes only its own member's compressed
// bytes and a delta update (internal/sonic/delta) fetches about that much.
// The cost is compression across files: see BENCHMARKS.md.
const (
	memberFile  = 4 << 10
	memberEvery = 8
	memberMax   = 64 << 10
)

func memberStart(name string) bool {
	h := fnv.New32a()
	h.Write([]byte(name))
	return h.Sum32()%memberEvery == 0
}

type entry struct {
	mode   uint32 // permission bits
	kind   byte   // 'd', 'f', 'l', 'c', 'b'
	target string
	major  uint32
	minor  uint32
	data   []byte // small content held in memory (from tarballs)
	src    string // host file for large content
	size   int64
}

type tree map[string]*entry

func (t tree) mkdirs(p string) {
	for d := path.Dir(p); d != "." && d != "/"; d = path.Dir(d) {
		if _, ok := t[d]; !ok {
			t[d] = &entry{kind: 'd', mode: 0o755}
		}
	}
}

func (t tree) put(p string, e *entry) {
	t.mkdirs(p)
	t[p] = e
}

func (t tree) hostFile(p, src string, mode uint32) error {
	fi, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("reading %q for the initramfs: %w", src, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%q is not a regular file", src)
	}
	t.put(p, &entry{kind: 'f', mode: mode, src: src, size: fi.Size()})
	return nil
}

// Build writes the gzip-compressed initramfs to w.
func Build(w io.Writer, opts Options) error {
	if opts.Runtime == "" || opts.Busybox == "" {
		return errors.New("the initramfs needs the sonic-runtime and busybox binaries")
	}
	t := tree{}
	if opts.Rootfs != "" {
		if err := addTarball(t, opts.Rootfs, "", true); err != nil {
			return err
		}
	}
	// The skeleton the kernel and runtime expect, on top of any base.
	for _, d := range []string{"dev", "proc", "sys", "run", "tmp", "bin", "sbin", "etc", "root", "mnt", "lib/modules", BinDir} {
		t.put(d, &entry{kind: 'd', mode: 0o755})
	}
	t["tmp"].mode = 0o1777
	// The kernel opens /dev/console for init before devtmpfs is mounted.
	t.put("dev/console", &entry{kind: 'c', mode: 0o600, major: 5, minor: 1})
	t.put("dev/null", &entry{kind: 'c', mode: 0o666, major: 1, minor: 3})
	if err := t.hostFile(InitPath, opts.Runtime, 0o755); err != nil {
		return err
	}
	if err := t.hostFile(BusyboxPath, opts.Busybox, 0o755); err != nil {
		return err
	}
	// Busybox is the shell whatever the base had: sh must exist for the
	// recovery console and for udhcpc's script.
	t.put("bin/sh", &entry{kind: 'l', target: "busybox", mode: 0o777})
	// The runtime's shell commands: sonic report, sonic install.
	t.put("usr/sbin/sonic", &entry{kind: 'l', target: "/init", mode: 0o777})
	t.put(UdhcpcScript, &entry{kind: 'f', mode: 0o755, data: []byte(udhcpcScript), size: int64(len(udhcpcScript))})
	release := "udos-sonic " + opts.Version + "\n"
	t.put(ReleasePath, &entry{kind: 'f', mode: 0o644, data: []byte(release), size: int64(len(release))})
	if opts.Core != "" {
		if err := addTarball(t, opts.Core, CorePath, false); err != nil {
			return err
		}
	}
	for _, b := range opts.Bins {
		if err := t.hostFile(path.Join(BinDir, filepath.Base(b)), b, 0o755); err != nil {
			return err
		}
	}
	if opts.Modules != nil {
		if err := opts.Modules.add(t); err != nil {
			return err
		}
	}
	return write(w, t, opts)
}

func write(w io.Writer, t tree, opts Options) error {
	level := opts.Level
	if level == 0 {
		level = gzip.DefaultCompression
	}
	var zw *gzip.Writer
	var cw *CPIOWriter
	var held int64 // bytes in the current member
	prevBig := false
	finish := func() error {
		if cw == nil {
			return nil
		}
		if err := cw.Close(); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return fmt.Errorf("finishing gzip: %w", err)
		}
		cw = nil
		return nil
	}
	begin := func() error {
		if err := finish(); err != nil {
			return err
		}
		// No name and a zero time in the gzip header: reproducible.
		var err error
		if zw, err = gzip.NewWriterLevel(w, level); err != nil {
			return fmt.Errorf("starting gzip: %w", err)
		}
		cw, held = NewCPIOWriter(zw, opts.Time), 0
		return nil
	}
	if err := begin(); err != nil {
		return err
	}
	var err error
	names := make([]string, 0, len(t))
	for n := range t {
		names = append(names, n)
	}
	// Sorted order puts every directory before its contents.
	sort.Strings(names)
	for _, n := range names {
		// A layer may have put a file where another needs a directory
		// (a symlink to a directory is fine: the kernel follows it).
		if d := path.Dir(n); d != "." {
			if p := t[d]; p.kind != 'd' && p.kind != 'l' {
				return fmt.Errorf("initramfs: %q needs %q to be a directory, but a layer put a file there", n, d)
			}
		}
		e := t[n]
		big := e.kind == 'f' && e.size >= memberFile
		if !opts.SingleStream && held > 0 && (big || prevBig || memberStart(n) || held+e.size > memberMax) {
			if err := begin(); err != nil {
				return err
			}
		}
		prevBig = big
		held += e.size + 110 + int64(len(n))
		switch e.kind {
		case 'd':
			err = cw.Dir(n, e.mode)
		case 'l':
			err = cw.Symlink(n, e.target)
		case 'c', 'b':
			err = cw.Device(n, e.mode, e.kind == 'c', e.major, e.minor)
		case 'f':
			if e.src == "" {
				err = cw.File(n, e.mode, e.size, bytes.NewReader(e.data))
				break
			}
			var f *os.File
			f, err = os.Open(e.src)
			if err != nil {
				return fmt.Errorf("reading %q for the initramfs: %w", e.src, err)
			}
			err = cw.File(n, e.mode, e.size, f)
			f.Close()
		}
		if err != nil {
			return err
		}
	}
	return finish()
}

// addTarball merges a tar or tar.gz under prefix. Names that climb out of
// the tree are refused, and so are links that point out of it: for the base
// root file system (absTargets) an absolute symlink target is inside the
// tree (it will be the root), for the core tarball it is not.
func addTarball(t tree, file, prefix string, absTargets bool) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("opening tarball %q: %w", file, err)
	}
	defer f.Close()
	var r io.Reader = f
	head := make([]byte, 2)
	if _, err := io.ReadFull(f, head); err == nil && head[0] == 0x1f && head[1] == 0x8b {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("reading tarball %q: %w", file, err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			return fmt.Errorf("reading tarball %q: %w", file, err)
		}
		defer zr.Close()
		r = zr
	} else if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("reading tarball %q: %w", file, err)
	}
	tr := tar.NewReader(r)
	count := 0
	var total int64
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading tarball %q: %w", file, err)
		}
		if count++; count > maxArchiveFiles {
			return fmt.Errorf("tarball %q has more than %d entries", file, maxArchiveFiles)
		}
		rel, err := cleanMember(h.Name)
		if err != nil {
			return fmt.Errorf("tarball %q: %w", file, err)
		}
		if rel == "" {
			continue // the archive's "./" itself
		}
		name := path.Join(prefix, rel)
		if prefix == "" {
			name = rel
		}
		mode := uint32(h.Mode) & 0o7777
		switch h.Typeflag {
		case tar.TypeDir:
			t.put(name, &entry{kind: 'd', mode: mode | 0o700})
		case tar.TypeReg:
			if h.Size > maxEntryBytes {
				return fmt.Errorf("tarball %q: %q is %d bytes, over the %d limit", file, h.Name, h.Size, maxEntryBytes)
			}
			if total += h.Size; total > maxTarballBytes {
				return fmt.Errorf("tarball %q unpacks to more than %d bytes", file, int64(maxTarballBytes))
			}
			data, err := io.ReadAll(tr)
			if err != nil {
				return fmt.Errorf("tarball %q: reading %q: %w", file, h.Name, err)
			}
			t.put(name, &entry{kind: 'f', mode: mode, data: data, size: int64(len(data))})
		case tar.TypeSymlink:
			if err := linkInside(rel, h.Linkname, absTargets); err != nil {
				return fmt.Errorf("tarball %q: %w", file, err)
			}
			t.put(name, &entry{kind: 'l', target: h.Linkname, mode: 0o777})
		case tar.TypeLink:
			lrel, err := cleanMember(h.Linkname)
			if err != nil || lrel == "" {
				return fmt.Errorf("tarball %q: hard link %q -> %q leaves the tree", file, h.Name, h.Linkname)
			}
			target := path.Join(prefix, lrel)
			if prefix == "" {
				target = lrel
			}
			src, ok := t[target]
			if !ok || src.kind != 'f' {
				return fmt.Errorf("tarball %q: hard link %q -> %q: target is not an earlier regular file", file, h.Name, h.Linkname)
			}
			cp := *src
			t.put(name, &cp)
		case tar.TypeChar, tar.TypeBlock:
			kind := byte('c')
			if h.Typeflag == tar.TypeBlock {
				kind = 'b'
			}
			t.put(name, &entry{kind: kind, mode: mode, major: uint32(h.Devmajor), minor: uint32(h.Devminor)})
		case tar.TypeXGlobalHeader:
		default:
			// FIFOs and the like have no place in an initramfs.
			return fmt.Errorf("tarball %q: %q has unsupported type %q", file, h.Name, h.Typeflag)
		}
	}
	return nil
}

// cleanMember turns a tar member name into a clean relative path.
func cleanMember(name string) (string, error) {
	n := strings.TrimPrefix(name, "./")
	n = strings.TrimSuffix(n, "/")
	if n == "" || n == "." {
		return "", nil
	}
	if strings.HasPrefix(n, "/") {
		return "", fmt.Errorf("member %q has an absolute path", name)
	}
	for _, p := range strings.Split(n, "/") {
		if p == ".." {
			return "", fmt.Errorf("member %q climbs out of the tree", name)
		}
	}
	return path.Clean(n), nil
}

// linkInside checks that symlink rel -> target resolves inside the tree.
func linkInside(rel, target string, absTargets bool) error {
	if target == "" {
		return fmt.Errorf("symlink %q has an empty target", rel)
	}
	var resolved string
	if strings.HasPrefix(target, "/") {
		if !absTargets {
			return fmt.Errorf("symlink %q -> %q points out of the tree", rel, target)
		}
		resolved = path.Clean(target[1:])
	} else {
		resolved = path.Join(path.Dir(rel), target)
	}
	if resolved == ".." || strings.HasPrefix(resolved, "../") {
		return fmt.Errorf("symlink %q -> %q points out of the tree", rel, target)
	}
	return nil
}

// udhcpcScript applies a lease with busybox ip; udhcpc runs it with the
// lease in the environment.
const udhcpcScript = `#!/bin/sh
# Written by the Sonic initramfs builder: apply a DHCP lease (busybox udhcpc).
case "$1" in
deconfig)
	ip addr flush dev "$interface"
	ip link set "$interface" up
	;;
bound|renew)
	ip addr flush dev "$interface"
	ip addr add "$ip/${mask:-24}" dev "$interface"
	if [ -n "$router" ]; then
		ip route add default via "${router%% *}" dev "$interface"
	fi
	: > /etc/resolv.conf
	for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
	;;
esac
exit 0
`
