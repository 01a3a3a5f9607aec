package metainfo

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"unicode/utf8"
)

// Limits on paths taken from a torrent.
const (
	// MaxComponentLen is the longest path component accepted, in bytes
	// (NAME_MAX on Linux and most file systems).
	MaxComponentLen = 255
	// MaxPathLen is the longest whole path accepted, in bytes, counting
	// one separator between components (PATH_MAX on Linux).
	MaxPathLen = 4096
)

// ErrUnsafePath is wrapped by every error SafePath returns.
var ErrUnsafePath = errors.New("unsafe path")

// SafePath turns the path components of a file in a torrent into a
// relative local path, joined with the operating system's separator. It
// is the one function through which every consumer of torrent file names
// (the client's storage, verification, extraction tools) must go before
// touching the file system: the names in a .torrent are hostile input.
//
// On every platform it rejects, with an error wrapping ErrUnsafePath:
//   - an empty list of components (the path would be the directory itself);
//   - an empty component, "." or ".." (BEP 52 requires sanitizing those;
//     rejecting them also rules out traversal and absolute paths);
//   - a component containing NUL, '/' or '\\' (a separator inside one
//     component would smuggle in more components, and '\\' is a separator
//     on Windows), or any other control character (bytes 0x01-0x1f, 0x7f);
//   - a component longer than MaxComponentLen bytes, or a whole path longer
//     than MaxPathLen bytes.
//
// On Windows it also rejects what that platform would interpret
// specially: a ':' anywhere (a drive letter such as "C:" or an alternate
// data stream), the characters < > " | ? *, a component ending in '.' or
// ' ' (Windows strips them, so two names would collide), and the
// reserved device names CON, PRN, AUX, NUL, COM0-COM9 and LPT0-LPT9
// (also with superscript digits) in any case and with any extension.
// These names are ordinary and common (titles with a colon) on other
// systems, so elsewhere they are accepted: a torrent that is valid on
// Linux stays valid there. Parse applies only the platform-independent
// rules, so whether a torrent parses does not depend on the platform.
//
// Invalid UTF-8 is accepted: BEP 52 allows it and Unix file names are
// bytes.
func SafePath(components []string) (string, error) {
	if err := checkPath(components, runtime.GOOS == "windows"); err != nil {
		return "", err
	}
	return filepath.Join(components...), nil
}

// checkPath applies SafePath's rules; windows adds the Windows rules.
func checkPath(components []string, windows bool) error {
	if len(components) == 0 {
		return fmt.Errorf("%w: empty path", ErrUnsafePath)
	}
	total := len(components) - 1
	for _, c := range components {
		if err := checkComponent(c, windows); err != nil {
			return err
		}
		total += len(c)
	}
	if total > MaxPathLen {
		return fmt.Errorf("%w: path is %d bytes long, limit %d", ErrUnsafePath, total, MaxPathLen)
	}
	return nil
}

func checkComponent(c string, windows bool) error {
	switch c {
	case "":
		return fmt.Errorf("%w: empty path component", ErrUnsafePath)
	case ".", "..":
		return fmt.Errorf("%w: path component %q", ErrUnsafePath, c)
	}
	if len(c) > MaxComponentLen {
		return fmt.Errorf("%w: path component of %d bytes, limit %d", ErrUnsafePath, len(c), MaxComponentLen)
	}
	for i := 0; i < len(c); i++ {
		switch b := c[i]; {
		case b == 0:
			return fmt.Errorf("%w: NUL byte in path component %q", ErrUnsafePath, c)
		case b == '/' || b == '\\':
			return fmt.Errorf("%w: separator %q inside path component %q", ErrUnsafePath, b, c)
		case b < 0x20 || b == 0x7f:
			return fmt.Errorf("%w: control character %#x in path component %q", ErrUnsafePath, b, c)
		case windows && strings.IndexByte(`:<>"|?*`, b) >= 0:
			return fmt.Errorf("%w: character %q in path component %q is special on Windows", ErrUnsafePath, b, c)
		}
	}
	if windows {
		if last := c[len(c)-1]; last == '.' || last == ' ' {
			return fmt.Errorf("%w: path component %q ends in %q (Windows strips it)", ErrUnsafePath, c, last)
		}
		if isWindowsDevice(c) {
			return fmt.Errorf("%w: %q is a reserved device name on Windows", ErrUnsafePath, c)
		}
	}
	return nil
}

// isWindowsDevice reports whether c names a DOS device (CON, NUL.txt,
// com1.tar.gz ...): the part before the first dot, with trailing spaces
// removed, compared case-insensitively.
func isWindowsDevice(c string) bool {
	base := c
	if i := strings.IndexByte(base, '.'); i >= 0 {
		base = base[:i]
	}
	base = strings.TrimRight(base, " ")
	switch strings.ToUpper(base) {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return true
	}
	if len(base) < 4 {
		return false
	}
	prefix := strings.ToUpper(base[:3])
	if prefix != "COM" && prefix != "LPT" {
		return false
	}
	rest := base[3:]
	if len(rest) == 1 && rest[0] >= '0' && rest[0] <= '9' {
		return true
	}
	// Superscript one, two and three count as digits for device names.
	r, n := utf8.DecodeRuneInString(rest)
	return n == len(rest) && (r == '¹' || r == '²' || r == '³')
}
