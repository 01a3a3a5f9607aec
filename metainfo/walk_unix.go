//go:build unix

package metainfo

import (
	"fmt"
	"io/fs"
	"syscall"
)

// dirID identifies a directory by device and inode, to detect symlink
// loops.
func dirID(path string, st fs.FileInfo) string {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return fmt.Sprint(s.Dev, ":", s.Ino)
	}
	return path
}
