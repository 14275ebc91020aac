// Command sonic-runtime is the init (PID 1) of the Sonic image. It mounts
// the kernel file systems, loads the drivers listed by the initramfs
// builder, detects the hardware, brings the network up, installs Sonic to a
// disk when the kernel command line asks (sonic.mode=install
// sonic.target=/dev/sda), writes /run/sonic/hardware.json and prints one
// readiness line:
//
//	SONIC-READY version=1.4.6 firmware=uefi arch=amd64 cpus=1 mem_mb=493 disks=1 net=none source=iso
//
// Then it powers off (sonic.poweroff=1) or runs a shell on the console.
// Run as any other process (not PID 1) it only detects and prints.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fredbook/udos-dist/internal/sonic/initramfs"
	"github.com/fredbook/udos-dist/internal/sonic/runtime"
	"github.com/fredbook/udos-dist/internal/sonic/slots"
)

const reportPath = "/run/sonic/hardware.json"

const usage = `usage: sonic report                  print the hardware report (JSON)
       sonic install --yes DEVICE    install Sonic to DEVICE (erases it)`

func main() {
	if os.Getpid() == 1 {
		boot()
		return
	}
	// From the shell (the image links /usr/sbin/sonic to /init).
	args := os.Args[1:]
	switch {
	case len(args) == 0 || args[0] == "report":
		if err := detectOnly(os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "sonic:", err)
			os.Exit(1)
		}
	case args[0] == "install" && len(args) == 3 && args[1] == "--yes":
		cfg, err := runtime.ParseCmdline("sonic.mode=install sonic.target=" + args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, "sonic:", err)
			os.Exit(2)
		}
		hw, err := runtime.Detect(os.DirFS("/"))
		if err != nil {
			fmt.Fprintln(os.Stderr, "sonic:", err)
			os.Exit(1)
		}
		if !install(context.Background(), cfg, hw, readVersion()) {
			os.Exit(1)
		}
	default:
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
}

func detectOnly(w io.Writer) error {
	hw, err := runtime.Detect(os.DirFS("/"))
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(hw)
}

// screen is the first virtual terminal when /dev/console is elsewhere
// (the boot loaders make the serial port the console, so tests and
// headless machines see everything): the runtime's lines and a shell go to
// both, so a person at the screen has them too.
var screen *os.File

func say(format string, args ...any) {
	line := fmt.Sprintf(format+"\n", args...)
	os.Stdout.WriteString(line)
	if screen != nil {
		screen.WriteString(line)
	}
}

// openScreen opens /dev/tty1 unless it is the console already.
func openScreen() {
	b, err := os.ReadFile("/sys/class/tty/console/active")
	if err != nil {
		return
	}
	active := strings.Fields(string(b))
	// The last active console is /dev/console.
	if len(active) == 0 || active[len(active)-1] == "tty0" || active[len(active)-1] == "tty1" {
		return
	}
	if f, err := os.OpenFile("/dev/tty1", os.O_RDWR|unix.O_NOCTTY, 0); err == nil {
		screen = f
	}
}

func boot() {
	// PID 1 must not exit: the kernel would panic. A bug in the runtime
	// leaves the console shell up instead.
	defer func() {
		if r := recover(); r != nil {
			say("SONIC-ERROR runtime failure: %v", r)
			supervise(true)
		}
	}()
	start := time.Now()
	os.Setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	os.Setenv("HOME", "/root")
	// udos-lib (in /usr/local/bin) finds the uDOS root by UDOS_ROOT: the
	// core's folder, which lives in the RAM root file system and so is
	// writable on every boot (its bridge/ keys and known hosts, memory/
	// state; 'udos-lib sonic sync' keeps that state on a Wizard host).
	os.Setenv("UDOS_ROOT", "/"+initramfs.CorePath)
	_ = os.MkdirAll("/"+initramfs.CorePath, 0o755)
	mountKernelFS()
	openScreen()
	// Keep kernel chatter off the console so our lines stay whole.
	_ = os.WriteFile("/proc/sys/kernel/printk", []byte("4"), 0o644)
	if _, err := os.Stat("/bin/busybox"); err == nil {
		_ = exec.Command("/bin/busybox", "--install", "-s").Run()
	}
	ctx := context.Background()

	cmdline, _ := os.ReadFile("/proc/cmdline")
	cfg, cfgErr := runtime.ParseCmdline(string(cmdline))
	if cfgErr != nil {
		say("SONIC-ERROR %v (continuing in live mode)", cfgErr)
		cfg.Mode = ""
	}
	version := readVersion()

	loaded, errs := runtime.LoadModules(os.DirFS("/"), initramfs.ModuleListPath, loadModule)
	for _, e := range errs {
		if !errors.Is(e, unix.EEXIST) && !errors.Is(e, unix.ENODEV) {
			say("sonic: %v", e)
		}
	}
	settleDevices(cfg.Target, 10*time.Second)

	root := os.DirFS("/")
	hw, err := runtime.Detect(root)
	if err != nil {
		say("SONIC-ERROR hardware detection: %v", err)
	}
	hw.Network = runtime.BringUpNetwork(ctx, root, hw.Network, runtime.NetOptions{
		Run: func(ctx context.Context, name string, args ...string) ([]byte, error) {
			ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			defer cancel()
			return exec.CommandContext(ctx, name, args...).CombinedOutput()
		},
		Sleep:       time.Sleep,
		CarrierWait: 3 * time.Second,
		Script:      "/" + initramfs.UdhcpcScript,
	})
	say("sonic: %d modules loaded, hardware detected in %s", loaded, time.Since(start).Round(time.Millisecond))

	if cfg.Mode == "install" {
		install(ctx, cfg, hw, version)
	}
	if err := writeReport(hw); err != nil {
		say("SONIC-ERROR %v", err)
	}
	ready := runtime.ReadyLine(version, hw, cfg.Source)
	if cfg.Slot != "" {
		settleSlots(cfg, hw, version)
		ready += " slot=" + cfg.Slot
	}
	say("%s", runtime.HardwareLine(hw))
	say("%s", ready)

	if cfg.Poweroff {
		unix.Sync()
		_ = unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	}
	supervise(cfg.Shell)
}

func readVersion() string {
	b, err := os.ReadFile("/" + initramfs.ReleasePath)
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return "unknown"
	}
	return f[1]
}

func mountKernelFS() {
	for _, m := range []struct{ src, dir, typ string }{
		{"proc", "/proc", "proc"},
		{"sysfs", "/sys", "sysfs"},
		{"devtmpfs", "/dev", "devtmpfs"},
		{"tmpfs", "/run", "tmpfs"},
		{"efivarfs", "/sys/firmware/efi/efivars", "efivarfs"},
	} {
		if _, err := os.Stat(m.dir); err != nil {
			continue
		}
		if err := unix.Mount(m.src, m.dir, m.typ, unix.MS_NOSUID|unix.MS_NOEXEC, ""); err != nil && m.typ != "efivarfs" {
			say("sonic: mounting %s: %v", m.dir, err)
		}
	}
}

func loadModule(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.FinitModule(int(f.Fd()), "", 0)
}

// settleDevices waits for driver probing: until the set of block devices
// has not changed for 2.5 s (and, when installing, the target exists),
// at most limit.
func settleDevices(target string, limit time.Duration) {
	if target != "" {
		limit *= 3
	}
	deadline := time.Now().Add(limit)
	last, stableSince := "", time.Now()
	for time.Now().Before(deadline) {
		ents, _ := os.ReadDir("/sys/block")
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		cur := strings.Join(names, ",")
		if cur != last {
			last, stableSince = cur, time.Now()
		}
		_, terr := os.Stat(target)
		// usb-storage waits delay_use (1 s) before it scans a stick, so a
		// set unchanged for one second can still be missing the boot stick.
		if time.Since(stableSince) >= 2500*time.Millisecond && (target == "" || terr == nil) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func install(ctx context.Context, cfg runtime.Config, hw runtime.Hardware, version string) bool {
	say("sonic: installing to %s", cfg.Target)
	devices := runtime.BlockDevices(hw, cfg.Target)
	if cfg.ISO != "" {
		// A network boot has no medium: fetch the ISO the boot script
		// names into RAM, verify it, and install from that file.
		say("sonic: fetching %s", cfg.ISO)
		local := "/run/sonic/medium.iso"
		run := func(ctx context.Context, name string, args ...string) ([]byte, error) {
			return exec.CommandContext(ctx, name, args...).CombinedOutput()
		}
		progress := func(n int64) { say("sonic: fetched %d MiB of the ISO", n>>20) }
		if err := runtime.FetchISO(ctx, cfg.ISO, cfg.ISOSHA256, local, run, &http.Client{Timeout: 10 * time.Minute}, progress); err != nil {
			say("SONIC-INSTALL-FAILED %v", err)
			return false
		}
		devices = []string{local}
	}
	medium, err := runtime.FindMedium(devices, version)
	if err != nil {
		say("SONIC-INSTALL-FAILED %v", err)
		return false
	}
	defer medium.Close()
	target, err := os.OpenFile(cfg.Target, os.O_RDWR|unix.O_EXCL, 0)
	if err != nil {
		say("SONIC-INSTALL-FAILED opening %s: %v", cfg.Target, err)
		return false
	}
	defer target.Close()
	cmdline := strings.Join(append([]string{"console=tty0", "console=ttyS0,115200"}, cfg.Carry...), " ")
	res, err := runtime.Install(ctx, target, runtime.InstallOptions{
		Source: medium.FS, Version: version, Cmdline: cmdline, VolumeID: uint32(time.Now().Unix()),
	})
	if err != nil {
		say("SONIC-INSTALL-FAILED %v", err)
		return false
	}
	// Let the kernel see the new partition table.
	_ = unix.IoctlSetInt(int(target.Fd()), unix.BLKRRPART, 0)
	say("SONIC-INSTALLED target=%s source=%s esp_mb=%d slot_mb=%d", cfg.Target, medium.Device, res.ESPBytes>>20, res.SlotBytes>>20)
	return true
}

// settleSlots is the A/B bookkeeping once an installed Sonic is ready:
// a trial of this slot is committed, a trial of the other that did not
// reach ready is cleared (internal/sonic/slots).
func settleSlots(cfg runtime.Config, hw runtime.Hardware, version string) {
	d, dev, err := slots.Find(runtime.BlockDevices(hw, ""), cfg.ESP)
	if err != nil {
		say("SONIC-ERROR A/B slots: %v", err)
		return
	}
	defer d.Close()
	ev, before, err := d.Ready(cfg.Slot)
	if err != nil {
		say("SONIC-ERROR A/B slots on %s: %v", dev, err)
		return
	}
	switch {
	case ev == slots.Committed:
		say("SONIC-SLOT committed slot=%s version=%s: the trial boot reached ready", cfg.Slot, version)
	case ev == slots.FellBack && before.Tries > 0:
		say("SONIC-FALLBACK slot=%s was not booted (GRUB could not spend its try); its trial is cancelled, running slot %s", before.Trial, cfg.Slot)
	case ev == slots.FellBack:
		say("SONIC-FALLBACK slot=%s did not reach ready on its trial boot; running slot %s", before.Trial, cfg.Slot)
	}
}

func writeReport(hw runtime.Hardware) error {
	if err := os.MkdirAll(filepath.Dir(reportPath), 0o755); err != nil {
		return fmt.Errorf("writing the hardware report: %w", err)
	}
	b, err := json.MarshalIndent(hw, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the hardware report: %w", err)
	}
	if err := os.WriteFile(reportPath, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing the hardware report: %w", err)
	}
	return nil
}

// supervise is PID 1's last duty: reap every orphan for ever and, when
// asked, keep a shell on the console (the recovery path), restarting it
// when it exits. Only this loop waits for children, so no exit status is
// stolen from anyone.
func supervise(shell bool) {
	terms := []*os.File{os.Stdin}
	if screen != nil {
		terms = append(terms, screen)
	}
	pids := map[int]*os.File{}
	startShell := func(term *os.File) {
		cmd := exec.Command("/bin/sh", "-l")
		cmd.Stdin, cmd.Stdout, cmd.Stderr = term, term, term
		cmd.SysProcAttr = &unix.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
		if err := cmd.Start(); err != nil {
			say("sonic: shell: %v", err)
			return
		}
		pids[cmd.Process.Pid] = term
	}
	if shell {
		for _, t := range terms {
			startShell(t)
		}
	}
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, 0, nil)
		if err != nil {
			time.Sleep(time.Second)
			continue
		}
		if term, ok := pids[pid]; ok {
			delete(pids, pid)
			time.Sleep(500 * time.Millisecond)
			startShell(term)
		}
	}
}
