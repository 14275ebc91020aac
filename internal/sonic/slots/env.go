// Package slots is the A/B boot slots of an installed Sonic (the model of
// RAUC, Mender and ChromeOS): the installer lays out two slot partitions,
// SONIC-A and SONIC-B, each a FAT file system holding a kernel, an
// initramfs and the GRUB lines that boot them, beside the EFI system
// partition, which holds GRUB, the script that chooses a slot and GRUB's
// environment block (SONIC/GRUBENV).
//
// An update writes the inactive slot, and only once it is written and
// synced arms it for one trial boot (sonic_trial, sonic_tries=1 in the
// environment block). GRUB spends the try (save_env sonic_tries=0) before it
// boots the trial slot; the runtime, once ready in the trial slot, commits
// it (sonic_default). A trial that never reaches ready (panic, hang and
// power-off, a kernel that does not load) leaves sonic_tries=0, so the next
// boot takes the default slot by itself, whose runtime then clears the
// failed trial and says so. Every state change is one write of the
// environment block's first sector.
package slots

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// EnvSize is the size of GRUB's environment block file.
const EnvSize = 1024

const envHeader = "# GRUB Environment Block\n"

// Names of the slots.
const (
	A = "a"
	B = "b"
)

// Other returns the slot that is not s.
func Other(s string) string {
	if s == A {
		return B
	}
	return A
}

// Valid reports whether s names a slot.
func Valid(s string) bool { return s == A || s == B }

// State is what the environment block says about the slots.
type State struct {
	// Default is the committed slot, booted unless a trial is due.
	Default string `json:"default"`
	// Trial is the slot armed for a trial boot, "" for none.
	Trial string `json:"trial,omitempty"`
	// Tries is how many trial boots of Trial are left: 1 once armed, 0
	// once GRUB has spent it (a trial still set with Tries 0 at the next
	// boot of Default is a trial that failed).
	Tries int `json:"tries"`
}

// ParseEnv reads an environment block. It must be GRUB's format (the
// header, NAME=VALUE lines, '#' padding to EnvSize); variables other than
// the sonic_ ones are ignored, and a missing sonic_default means slot a.
func ParseEnv(b []byte) (State, error) {
	s := State{Default: A}
	if len(b) != EnvSize || !bytes.HasPrefix(b, []byte(envHeader)) {
		return s, fmt.Errorf("not a GRUB environment block (want %d bytes starting %q)", EnvSize, strings.TrimSpace(envHeader))
	}
	body := string(b[len(envHeader):])
	for _, line := range strings.Split(body, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return s, fmt.Errorf("environment block line %q is not NAME=VALUE", line)
		}
		switch k {
		case "sonic_default":
			if !Valid(v) {
				return s, fmt.Errorf("sonic_default=%q: want a or b", v)
			}
			s.Default = v
		case "sonic_trial":
			if v != "" && !Valid(v) {
				return s, fmt.Errorf("sonic_trial=%q: want a, b or empty", v)
			}
			s.Trial = v
		case "sonic_tries":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 9 {
				return s, fmt.Errorf("sonic_tries=%q: want 0 to 9", v)
			}
			s.Tries = n
		}
	}
	if s.Trial == "" {
		s.Tries = 0
	}
	return s, nil
}

// Env encodes s as an environment block. Its variables fit the first
// sector, so writing a new state is one sector write: a power cut leaves
// the old state or the new one.
func (s State) Env() ([]byte, error) {
	if !Valid(s.Default) || (s.Trial != "" && !Valid(s.Trial)) || s.Tries < 0 || s.Tries > 9 {
		return nil, fmt.Errorf("slot state %+v is not valid", s)
	}
	b := []byte(envHeader + "sonic_default=" + s.Default + "\nsonic_trial=" + s.Trial + "\nsonic_tries=" + strconv.Itoa(s.Tries) + "\n")
	return append(b, bytes.Repeat([]byte{'#'}, EnvSize-len(b))...), nil
}

// Event is what the runtime did with the state once ready.
type Event string

const (
	// Nothing: no trial was pending.
	Nothing Event = ""
	// Committed: the running slot was on trial and is now the default.
	Committed Event = "committed"
	// FellBack: a trial of the other slot did not reach ready; this boot
	// is the fallback to the default, and the trial is cleared.
	FellBack Event = "fell-back"
)

// AtReady is the state to write once the runtime is ready in slot
// running, and what happened.
func AtReady(s State, running string) (State, Event) {
	switch {
	case s.Trial == "":
		return s, Nothing
	case s.Trial == running:
		return State{Default: running}, Committed
	default:
		return State{Default: s.Default}, FellBack
	}
}

// ErrNotCommitted refuses an update while the running slot is not the
// default one.
var ErrNotCommitted = errors.New("the running slot is not the committed default")

// Arm is the state after the inactive slot of running has been written:
// that slot booted once on trial. It refuses when running is not the
// default (then a fallback or a trial is in progress: writing the other
// slot would overwrite the one the next boot takes).
func Arm(s State, running string) (State, error) {
	if !Valid(running) {
		return s, fmt.Errorf("running slot %q: want a or b", running)
	}
	if s.Default != running {
		return s, fmt.Errorf("%w: running slot %s, default %s (reboot first, so the runtime settles the slots)", ErrNotCommitted, running, s.Default)
	}
	return State{Default: running, Trial: Other(running), Tries: 1}, nil
}

// Disarm is the state to write before the inactive slot is overwritten: a
// trial of it that is still pending is cancelled, so a half-written slot is
// never booted.
func Disarm(s State, target string) State {
	if s.Trial == target {
		return State{Default: s.Default}
	}
	return s
}
