package sonic

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// reboot restarts the machine once the disks are synced (the armed slot's
// environment block already is).
func reboot() error {
	unix.Sync()
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART); err != nil {
		return fmt.Errorf("sonic update --reboot: %w (the slot is armed: reboot by hand)", err)
	}
	return nil
}
