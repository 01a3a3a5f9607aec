//go:build !unix

package metainfo

import (
	"io/fs"
	"path/filepath"
)

// dirID identifies a directory by its path with symlinks resolved, to
// detect symlink loops.
func dirID(path string, st fs.FileInfo) string {
	if p, err := filepath.EvalSymlinks(path); err == nil {
		return p
	}
	return path
}
