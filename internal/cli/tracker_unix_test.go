//go:build unix

package cli

import (
	"os"
	"syscall"
)

// sendHUP sends SIGHUP to this process; false where there is none.
func sendHUP() bool {
	return syscall.Kill(os.Getpid(), syscall.SIGHUP) == nil
}
