package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/sonic/build"
	"github.com/fredbook/udos-dist/internal/sonic/iso"
	"github.com/fredbook/udos-dist/internal/sonic/iso/isotest"
	"github.com/fredbook/udos-dist/internal/tarball"
	"github.com/fredbook/udos-dist/internal/testenv"
)

const (
	version = "1.4.6"
	ovmf    = "/usr/share/ovmf/OVMF.fd"
)

var epoch = time.Unix(1764115200, 0).UTC()

// need returns a tool's path or skips the test (fails it in CI).
func need(t testing.TB, what, path, pkg string) string {
	t.Helper()
	if !strings.Contains(path, "/") {
		p, err := exec.LookPath(path)
		if err == nil {
			return p
		}
	} else if _, err := os.Stat(path); err == nil {
		return path
	}
	testenv.Missing(t, fmt.Sprintf("%s %s not found (install %s; .ci/setup.d/50-sonic.sh does)", what, path, pkg))
	return ""
}

// staticBuild is one static binary built for the images.
type staticBuild struct {
	once sync.Once
	path string
	err  error
}

var (
	staticMu     sync.Mutex
	staticBuilds = map[string]*staticBuild{}
)

// staticBin builds the command pkg statically (CGO_ENABLED=0), once per
// test binary: the image's init (sonic-runtime) and the binaries it
// carries (build.Options.Bins).
func staticBin(t testing.TB, pkg string) string {
	t.Helper()
	staticMu.Lock()
	b := staticBuilds[pkg]
	if b == nil {
		b = &staticBuild{}
		staticBuilds[pkg] = b
	}
	staticMu.Unlock()
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "sonic-bin-")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, filepath.Base(pkg))
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", b.path, pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("building %s: %v\n%s", pkg, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// sonicRuntime is cmd/sonic-runtime, the image's init.
func sonicRuntime(t testing.TB) string {
	return staticBin(t, "github.com/fredbook/udos-dist/cmd/sonic-runtime")
}

// coreTarball writes a small stand-in for the core-slim variant.
func coreTarball(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "core")
	os.MkdirAll(filepath.Join(src, "core"), 0o755)
	os.WriteFile(filepath.Join(src, "version.json"), []byte(`{"version": "1.4.6", "variant": "core-slim"}`+"\n"), 0o644)
	os.WriteFile(filepath.Join(src, "core", "main.py"), []byte("print('uDOS')\n"), 0o644)
	return tarDir(t, src, filepath.Join(dir, "core-slim.tar.gz"))
}

// tarDir writes the tree src as the reproducible tar.gz out.
func tarDir(t testing.TB, src, out string) string {
	t.Helper()
	entries, err := tarball.FromDir(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := tarball.Write(f, entries, tarball.Options{MTime: epoch}); err != nil {
		t.Fatal(err)
	}
	return out
}

// buildISO builds the test ISO into dir.
func buildISO(t testing.TB, dir string) build.Result {
	t.Helper()
	vmlinuz, modules := isotest.Kernel(t, iso.AMD64)
	need(t, "qemu", "qemu-system-x86_64", "qemu-system-x86")
	tools := isotest.Tools(t, iso.AMD64)
	res, err := build.Build(context.Background(), build.Options{
		Version: version, Kernel: vmlinuz, Modules: modules,
		Busybox: need(t, "busybox", "/bin/busybox", "busybox-static"),
		Runtime: sonicRuntime(t), Core: coreTarball(t),
		// Power off once ready so QEMU exits by itself.
		Cmdline: "sonic.poweroff=1", OutputDir: dir, Time: epoch, Tools: tools,
		TempDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

var (
	isoOnce sync.Once
	isoRes  build.Result
	isoDir  string
	isoErr  string
)

// sharedISO is built once and booted by every boot test.
func sharedISO(t *testing.T) string {
	t.Helper()
	isoOnce.Do(func() {
		isoDir, _ = os.MkdirTemp("", "sonic-e2e-")
		ft := &fatalRecorder{TB: t}
		func() {
			defer func() { recover() }()
			isoRes = buildISO(ft, isoDir)
		}()
		isoErr = ft.msg
	})
	if isoErr != "" {
		t.Fatal(isoErr)
	}
	if isoRes.ISO == "" {
		t.Skip("ISO not built (tools missing)")
	}
	return isoRes.ISO
}

// fatalRecorder lets the once-built ISO report a failure to every test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Fatal(args ...any) { f.msg = fmt.Sprint(args...); panic(f.msg) }
func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(f.msg)
}
func (f *fatalRecorder) Skip(args ...any) { panic("skip") }

func TestMain(m *testing.M) {
	code := m.Run()
	// SONIC_E2E_KEEP=DIR keeps the built ISO for manual boots.
	if keep := os.Getenv("SONIC_E2E_KEEP"); keep != "" && isoRes.ISO != "" {
		if b, err := os.ReadFile(isoRes.ISO); err == nil {
			os.WriteFile(filepath.Join(keep, filepath.Base(isoRes.ISO)), b, 0o644)
		}
	}
	if isoDir != "" {
		os.RemoveAll(isoDir)
	}
	for _, b := range staticBuilds {
		if b.path != "" {
			os.RemoveAll(filepath.Dir(b.path))
		}
	}
	os.Exit(code)
}

// qemuSlots bounds concurrent VMs to the machine's two cores.
var qemuSlots = make(chan struct{}, 2)

type boot struct {
	out      string
	duration time.Duration // QEMU start to readiness line
}

var readyRE = regexp.MustCompile(`SONIC-READY [^\r\n]*`)

// qemu boots with args, returning the serial output. Under TCG on a
// loaded machine the guest kernel now and then stalls for good early in
// boot (seen: output stops after "Policy zone: DMA32"): a run that prints
// nothing for stallLimit is killed and tried once more, and the test log
// says so.
func qemu(t *testing.T, args ...string) boot {
	t.Helper()
	return qemuOn(t, pc, args...)
}

// machine is an emulator and the arguments every boot of it starts with.
type machine struct {
	bin  string
	base []string
	// limit bounds one boot: a VM still running then fails the test.
	limit time.Duration
}

// pc is the x86_64 PC every test but arm64's boots.
var pc = machine{
	bin:   "qemu-system-x86_64",
	base:  []string{"-accel", "tcg", "-m", "512", "-nographic", "-no-reboot", "-monitor", "none"},
	limit: 180 * time.Second,
}

// qemuOn is qemu on machine m.
func qemuOn(t *testing.T, m machine, args ...string) boot {
	t.Helper()
	b, stalled := qemuOnce(t, m, args...)
	if stalled {
		t.Logf("QEMU stalled (no serial output for %s); retrying once. Last output:\n%s", stallLimit, tail(b.out))
		b, stalled = qemuOnce(t, m, args...)
		if stalled {
			t.Fatalf("QEMU stalled twice; output:\n%s", tail(b.out))
		}
	}
	return b
}

const stallLimit = 45 * time.Second

func qemuOnce(t *testing.T, m machine, args ...string) (boot, bool) {
	t.Helper()
	qemuSlots <- struct{}{}
	defer func() { <-qemuSlots }()
	ctx, cancel := context.WithTimeout(context.Background(), m.limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, m.bin, append(m.base, args...)...)
	out := newConsoleBuffer()
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var readyAt time.Duration
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	lastLen, lastChange := 0, time.Now()
	for {
		select {
		case err := <-done:
			if readyAt == 0 {
				readyAt = time.Since(start)
			}
			s := out.String()
			if err != nil && ctx.Err() != nil {
				t.Fatalf("QEMU did not power off within the limit; output:\n%s", tail(s))
			}
			return boot{out: s, duration: readyAt}, false
		case <-tick.C:
			s := out.String()
			if readyAt == 0 && readyRE.MatchString(s) {
				readyAt = time.Since(start)
			}
			if len(s) != lastLen {
				lastLen, lastChange = len(s), time.Now()
			} else if time.Since(lastChange) > stallLimit {
				cmd.Process.Kill()
				<-done
				return boot{out: out.String()}, true
			}
		}
	}
}

func tail(s string) string {
	if len(s) > 6000 {
		return "…" + s[len(s)-6000:]
	}
	return s
}

// readyFields parses the readiness line.
func readyFields(t *testing.T, b boot) map[string]string {
	t.Helper()
	line := readyRE.FindString(b.out)
	if line == "" {
		t.Fatalf("no SONIC-READY line; serial output:\n%s", tail(b.out))
	}
	f := map[string]string{}
	for _, kv := range strings.Fields(strings.TrimSpace(line))[1:] {
		k, v, _ := strings.Cut(kv, "=")
		f[k] = v
	}
	return f
}

func TestBoot(t *testing.T) {
	isoPath := sharedISO(t)
	tests := []struct {
		name     string
		args     []string
		firmware string
		net      string
	}{
		{"bios-cdrom", []string{"-nic", "user,model=e1000", "-cdrom", isoPath}, "bios", "eth0:10.0.2.15"},
		{"uefi-cdrom", []string{"-net", "none", "-bios", ovmf, "-cdrom", isoPath}, "uefi", "none"},
		{"bios-harddisk", []string{"-net", "none", "-drive", "file=" + isoPath + ",format=raw,snapshot=on"}, "bios", "none"},
		{"uefi-usb", []string{"-net", "none", "-bios", ovmf, "-device", "qemu-xhci", "-drive", "if=none,id=u,file=" + isoPath + ",format=raw,snapshot=on", "-device", "usb-storage,drive=u"}, "uefi", "none"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.firmware == "uefi" {
				need(t, "OVMF", ovmf, "ovmf")
			}
			b := qemu(t, tc.args...)
			f := readyFields(t, b)
			want := map[string]string{"version": version, "firmware": tc.firmware, "source": "iso", "net": tc.net, "cpus": "1"}
			for k, v := range want {
				if f[k] != v {
					t.Errorf("%s=%q, want %q (line: %s)", k, f[k], v, readyRE.FindString(b.out))
				}
			}
			if f["disks"] == "0" || f["mem_mb"] == "" || f["mem_mb"] == "0" {
				t.Errorf("hardware not detected: %v", f)
			}
			if os.Getenv("SONIC_E2E_LOG") != "" {
				t.Log(b.out)
			}
			t.Logf("%s: ready after %.1f s: %s", tc.name, b.duration.Seconds(), readyRE.FindString(b.out))
		})
	}
}

// TestInstall boots an unattended-install ISO (sonic.mode=install on its
// command line) under OVMF with a blank virtio disk, then boots that disk
// alone under OVMF and under SeaBIOS: it must come up on its own, from the
// disk, both ways.
func TestInstall(t *testing.T) {
	t.Parallel()
	need(t, "OVMF", ovmf, "ovmf")
	vmlinuz, modules := isotest.Kernel(t, iso.AMD64)
	tools := isotest.Tools(t, iso.AMD64)
	dir := t.TempDir()
	res, err := build.Build(context.Background(), build.Options{
		Version: version, Kernel: vmlinuz, Modules: modules,
		Busybox:   need(t, "busybox", "/bin/busybox", "busybox-static"),
		Runtime:   sonicRuntime(t),
		Cmdline:   "sonic.mode=install sonic.target=/dev/vda sonic.poweroff=1",
		OutputDir: dir, Time: epoch, Tools: tools, TempDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	disk := filepath.Join(dir, "disk.raw")
	if err := os.WriteFile(disk, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(disk, 320<<20); err != nil {
		t.Fatal(err)
	}
	inst := qemu(t, "-net", "none", "-bios", ovmf, "-cdrom", res.ISO,
		"-drive", "file="+disk+",format=raw,if=virtio")
	if !strings.Contains(inst.out, "SONIC-INSTALLED target=/dev/vda") {
		t.Fatalf("installer did not finish; serial output:\n%s", tail(inst.out))
	}
	f := readyFields(t, inst)
	if f["source"] != "iso" {
		t.Errorf("installer boot: source=%q", f["source"])
	}
	for _, fw := range []string{"uefi", "bios"} {
		args := []string{"-net", "none", "-drive", "file=" + disk + ",format=raw,if=virtio,snapshot=on"}
		if fw == "uefi" {
			args = append(args, "-bios", ovmf)
		}
		b := qemu(t, args...)
		f = readyFields(t, b)
		if f["source"] != "disk" || f["firmware"] != fw || f["version"] != version {
			t.Errorf("installed disk, %s: %s", fw, readyRE.FindString(b.out))
		}
		t.Logf("installed disk, %s: ready after %.1f s: %s", fw, b.duration.Seconds(), readyRE.FindString(b.out))
	}
	t.Logf("install: %.1f s", inst.duration.Seconds())
}

// TestElToritoReport checks the ISO with xorriso, the reference tool: both
// boot entries, the BIOS one with a boot-info table and isohybrid-ready.
func TestElToritoReport(t *testing.T) {
	isoPath := sharedISO(t)
	xorriso := need(t, "xorriso", "xorriso", "xorriso")
	out, err := exec.Command(xorriso, "-indev", isoPath, "-report_el_torito", "plain").CombinedOutput()
	if err != nil {
		t.Fatalf("xorriso: %v\n%s", err, out)
	}
	type img struct{ platform, emul, ldsiz, path, opts string }
	imgs := map[string]*img{}
	get := func(n string) *img {
		if imgs[n] == nil {
			imgs[n] = &img{}
		}
		return imgs[n]
	}
	var bootRecord string
	for _, line := range strings.Split(string(out), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k, f := strings.TrimSpace(k), strings.Fields(v)
		switch {
		case k == "Boot record":
			bootRecord = strings.TrimSpace(v)
		case k == "El Torito boot img" && len(f) >= 7:
			// N Pltf B Emul Ld_seg Hdpt Ldsiz LBA
			i := get(f[0])
			i.platform, i.emul, i.ldsiz = f[1], f[3], f[6]
		case k == "El Torito img path" && len(f) >= 2:
			get(f[0]).path = f[1]
		case k == "El Torito img opts" && len(f) >= 2:
			get(f[0]).opts = strings.Join(f[1:], " ")
		}
	}
	if !strings.Contains(bootRecord, "El Torito") || !strings.Contains(bootRecord, "MBR isohybrid") {
		t.Errorf("boot record %q: want El Torito and an isohybrid MBR", bootRecord)
	}
	want := map[string]img{
		"1": {"BIOS", "none", "4", "/isolinux/isolinux.bin", "boot-info-table isohybrid-suitable"},
		"2": {"UEFI", "none", "4096", "/boot/efiboot.img", ""},
	}
	for n, w := range want {
		g := imgs[n]
		if g == nil {
			t.Errorf("entry %s missing in:\n%s", n, out)
			continue
		}
		if *g != w {
			t.Errorf("entry %s = %+v, want %+v", n, *g, w)
		}
	}
	if len(imgs) != 2 {
		t.Errorf("%d boot entries, want 2:\n%s", len(imgs), out)
	}
}

// TestReproducible builds the ISO twice from the same inputs, a clock
// second apart, and wants identical bytes.
func TestReproducible(t *testing.T) {
	t.Parallel()
	a := buildISO(t, t.TempDir())
	time.Sleep(1100 * time.Millisecond)
	b := buildISO(t, t.TempDir())
	if a.SHA256 != b.SHA256 || a.Size != b.Size {
		t.Fatalf("two builds differ: %s (%d bytes) vs %s (%d bytes)", a.SHA256, a.Size, b.SHA256, b.Size)
	}
	t.Logf("ISO %d bytes, initramfs %d bytes, sha256 %s", a.Size, a.Initramfs, a.SHA256)
}

// TestRecoveryShell boots an ISO without sonic.poweroff: the console must
// offer a shell in which `sonic report` prints the hardware report, the
// boot-time report file is there, and busybox can power the machine off.
// Each command is typed only once the shell has printed its prompt on the
// serial console: input typed earlier can be lost while the shell sets up
// its terminal.
func TestRecoveryShell(t *testing.T) {
	t.Parallel()
	vmlinuz, modules := isotest.Kernel(t, iso.AMD64)
	need(t, "qemu", "qemu-system-x86_64", "qemu-system-x86")
	tools := isotest.Tools(t, iso.AMD64)
	dir := t.TempDir()
	res, err := build.Build(context.Background(), build.Options{
		Version: version, Kernel: vmlinuz, Modules: modules,
		Busybox: need(t, "busybox", "/bin/busybox", "busybox-static"),
		Runtime: sonicRuntime(t), OutputDir: dir, Time: epoch, Tools: tools, TempDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
	defer cancel()
	con := bootConsole(ctx, t, exec.CommandContext, pc, "-net", "none", "-drive", "file="+res.ISO+",format=raw,snapshot=on")
	if err := con.shell(ctx); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"sonic report", "cat /run/sonic/hardware.json"} {
		if err := con.run(ctx, line); err != nil {
			t.Fatal(err)
		}
	}
	if err := con.send("poweroff -f"); err != nil {
		t.Fatal(err)
	}
	if err := con.wait(ctx); err != nil {
		t.Fatal(err)
	}
	s := con.out.String()
	if os.Getenv("SONIC_E2E_LOG") != "" {
		t.Log(s)
	}
	// Once from `sonic report`, once from the report file.
	if strings.Count(s, `"firmware": "bios"`) != 2 || !strings.Contains(s, `"memory_mb"`) {
		t.Errorf("sonic report or /run/sonic/hardware.json missing; console:\n%s", tail(s))
	}
}

// rootPromptRE is busybox ash's prompt for root; ourPromptRE the one
// TestRecoveryShell sets.
var (
	rootPromptRE = regexp.MustCompile(`# `)
	ourPromptRE  = regexp.MustCompile(`SONIC-PROMPT# `)
)

// bootConsole starts machine m with args (made a command by command, e.g.
// exec.CommandContext, or one that runs it in a network namespace) for a
// test to drive the guest's serial console. It holds one of qemuSlots until
// the test ends; QEMU is killed then if it still runs. ctx bounds the boot,
// not m.limit.
func bootConsole(ctx context.Context, t *testing.T, command func(ctx context.Context, name string, args ...string) *exec.Cmd, m machine, args ...string) *console {
	t.Helper()
	qemuSlots <- struct{}{}
	t.Cleanup(func() { <-qemuSlots })
	cmd := command(ctx, m.bin, append(m.base, args...)...)
	out := newConsoleBuffer()
	cmd.Stdout, cmd.Stderr = out, out
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	// The exit status goes to the first receiver; the channel is closed
	// after it, so every later wait (the cleanup's too) returns at once.
	go func() { done <- cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			cmd.Process.Kill()
			<-done
		}
	})
	return &console{out: out, in: stdin, exited: done}
}

// console drives a guest's shell over the serial console.
type console struct {
	out    *consoleBuffer
	in     io.Writer
	exited <-chan error
	seen   int // output up to here has been matched already
}

// expect waits until re matches serial output that arrived after the last
// match, the guest exits, or ctx ends.
func (c *console) expect(ctx context.Context, what string, re *regexp.Regexp) error {
	for {
		s, changed := c.out.snapshot()
		if loc := re.FindStringIndex(s[c.seen:]); loc != nil {
			c.seen += loc[1]
			return nil
		}
		select {
		case <-changed:
		case err := <-c.exited:
			return fmt.Errorf("QEMU exited (%v) while waiting for %s; output:\n%s", err, what, tail(c.out.String()))
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w; output:\n%s", what, ctx.Err(), tail(c.out.String()))
		}
	}
}

func (c *console) send(line string) error {
	if _, err := io.WriteString(c.in, line+"\n"); err != nil {
		return fmt.Errorf("typing %q: %w", line, err)
	}
	return nil
}

// run types line and waits for the shell's next prompt.
func (c *console) run(ctx context.Context, line string) error {
	if err := c.send(line); err != nil {
		return err
	}
	return c.expect(ctx, fmt.Sprintf("the prompt after %q", line), ourPromptRE)
}

// shell waits for the readiness line and the console shell's first
// prompt, then sets a prompt of our own, so that no other output can pass
// for it (the quotes keep the echoed command line from matching).
func (c *console) shell(ctx context.Context) error {
	if err := c.expect(ctx, "the readiness line", readyRE); err != nil {
		return err
	}
	if err := c.expect(ctx, "the first shell prompt", rootPromptRE); err != nil {
		return err
	}
	return c.run(ctx, `PS1='SONIC''-PROMPT# '`)
}

// runOutput is run, returning what the console showed from the end of
// the last match to the prompt: the echoed line and the command's output.
func (c *console) runOutput(ctx context.Context, line string) (string, error) {
	from := c.seen
	if err := c.run(ctx, line); err != nil {
		return "", err
	}
	return c.out.String()[from:c.seen], nil
}

// wait waits for the guest to power off (after poweroff -f).
func (c *console) wait(ctx context.Context) error {
	select {
	case <-c.exited:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("no power off: %w; output:\n%s", ctx.Err(), tail(c.out.String()))
	}
}

// consoleBuffer collects serial output and tells waiters when more came.
type consoleBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{} // closed and replaced on every write
}

func newConsoleBuffer() *consoleBuffer { return &consoleBuffer{changed: make(chan struct{})} }

func (c *consoleBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.b.Write(p)
	close(c.changed)
	c.changed = make(chan struct{})
	return n, err
}

// snapshot returns the output so far and a channel closed by the next write.
func (c *consoleBuffer) snapshot() (string, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.b.String(), c.changed
}

func (c *consoleBuffer) String() string {
	s, _ := c.snapshot()
	return s
}
