//go:build !linux

package sonic

import "errors"

// reboot is Linux-only: Sonic is Linux.
func reboot() error {
	return errors.New("sonic update --reboot: not on Linux (the slot is armed: reboot by hand)")
}
