// Package runtime is the logic of sonic-runtime, the init (PID 1) of the
// Sonic image: reading the kernel command line, detecting hardware from
// /proc and /sys, bootstrapping the network, loading kernel modules,
// printing the readiness line and installing Sonic to a disk. Everything
// here takes the file system root, command runner and clock as arguments
// so it runs in tests against a fake /sys tree; cmd/sonic-runtime does the
// syscalls.
package runtime

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/fredbook/udos-dist/internal/sonic/slots"
)

// Config is what the kernel command line asks of the runtime.
type Config struct {
	Mode   string // "" (live) or "install"
	Target string // install target device, e.g. /dev/sda
	Source string // "iso", "disk" or "net": what the boot loader booted from
	// ISO is where a network boot fetches the Sonic ISO to install from
	// (sonic.iso=tftp://host/file or http(s)://…), and ISOSHA256 the
	// digest it must have (sonic.iso_sha256=…): the netboot bundle's
	// install script carries both, so nothing unverified is installed.
	ISO       string
	ISOSHA256 string
	// Slot is the A/B slot an installed Sonic booted from (sonic.slot=a|b,
	// set by the slot's GRUB script), and ESP the volume serial of its
	// install's ESP (sonic.esp=8 hex digits), which finds its disk.
	Slot     string
	ESP      uint32
	Poweroff bool // power off once ready (used by tests and unattended installs)
	Shell    bool // start a shell on the console once ready (default true)
	Carry    []string
}

// ParseCmdline reads the sonic.* options of a kernel command line.
func ParseCmdline(cmdline string) (Config, error) {
	c := Config{Source: "unknown", Shell: true}
	for _, f := range strings.Fields(cmdline) {
		k, v, _ := strings.Cut(f, "=")
		if !strings.HasPrefix(k, "sonic.") {
			continue
		}
		switch k {
		case "sonic.mode":
			if v != "install" && v != "live" {
				return c, fmt.Errorf("sonic.mode=%q: want install or live", v)
			}
			if v == "install" {
				c.Mode = v
			}
		case "sonic.target":
			if !strings.HasPrefix(v, "/dev/") || strings.Contains(v, "..") {
				return c, fmt.Errorf("sonic.target=%q: want a device under /dev", v)
			}
			c.Target = v
		case "sonic.source":
			c.Source = v
		case "sonic.iso":
			u, err := url.Parse(v)
			if err != nil || u.Host == "" || (u.Scheme != "tftp" && u.Scheme != "http" && u.Scheme != "https") || strings.Contains(u.Path, "..") {
				return c, fmt.Errorf("sonic.iso=%q: want tftp://HOST/FILE or http(s)://HOST/FILE", v)
			}
			c.ISO = v
		case "sonic.iso_sha256":
			if len(v) != 64 || strings.Trim(strings.ToLower(v), "0123456789abcdef") != "" {
				return c, fmt.Errorf("sonic.iso_sha256=%q: want 64 hex digits", v)
			}
			c.ISOSHA256 = strings.ToLower(v)
		case "sonic.slot":
			if !slots.Valid(v) {
				return c, fmt.Errorf("sonic.slot=%q: want a or b", v)
			}
			c.Slot = v
		case "sonic.esp":
			n, err := strconv.ParseUint(v, 16, 32)
			if err != nil || len(v) != 8 {
				return c, fmt.Errorf("sonic.esp=%q: want 8 hex digits", v)
			}
			c.ESP = uint32(n)
		case "sonic.poweroff":
			c.Poweroff = v == "1" || v == "yes" || v == "true"
			c.Carry = append(c.Carry, f)
		case "sonic.shell":
			c.Shell = !(v == "0" || v == "no" || v == "false")
			c.Carry = append(c.Carry, f)
		default:
			return c, fmt.Errorf("unknown kernel option %q", k)
		}
	}
	if c.ISO != "" && c.ISOSHA256 == "" {
		return c, fmt.Errorf("sonic.iso needs sonic.iso_sha256: a fetched ISO is only used once its digest is checked")
	}
	if (c.Slot == "") != (c.ESP == 0) {
		return c, fmt.Errorf("sonic.slot and sonic.esp go together (a slot's GRUB script sets both)")
	}
	if c.Mode == "install" && c.Target == "" {
		return c, fmt.Errorf("sonic.mode=install needs sonic.target=/dev/...")
	}
	sort.Strings(c.Carry)
	return c, nil
}
