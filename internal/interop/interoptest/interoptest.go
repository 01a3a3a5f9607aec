// Package interoptest holds what the real-program tests share: finding
// the Debian tools they drive (skipping without them, failing when
// GALE_REQUIRE_INTEROP=1, as in CI) and building the gale binary once.
// It is imported by tests only.
package interoptest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// Required is true when missing tools must fail the tests (CI).
var Required = os.Getenv("GALE_REQUIRE_INTEROP") == "1"

// Missing skips the test, or fails it when GALE_REQUIRE_INTEROP=1.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required {
		t.Fatalf("%s (GALE_REQUIRE_INTEROP=1)", msg)
	}
	t.Skip(msg)
}

// Tool returns the path of a program from the Debian package pkg.
func Tool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, "%s not found (apt-get install %s)", name, pkg)
	}
	return p
}

// SystemPython is the interpreter that has python3-libtorrent (the Debian
// one, not a pyenv python3 earlier on PATH).
const SystemPython = "/usr/bin/python3"

var libtorrentCheck struct {
	once sync.Once
	err  error
}

// Python returns SystemPython once it can import libtorrent.
func Python(t testing.TB) string {
	t.Helper()
	libtorrentCheck.once.Do(func() {
		out, err := exec.Command(SystemPython, "-c", "import libtorrent").CombinedOutput()
		if err != nil {
			libtorrentCheck.err = fmt.Errorf("%v: %s", err, out)
		}
	})
	if libtorrentCheck.err != nil {
		Missing(t, "%s cannot import libtorrent (apt-get install python3-libtorrent): %v", SystemPython, libtorrentCheck.err)
	}
	return SystemPython
}

var galeBuild struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// GaleBinary builds cmd/gale once per test binary run; call Cleanup from
// TestMain to remove it.
func GaleBinary(t testing.TB) string {
	t.Helper()
	galeBuild.once.Do(func() {
		galeBuild.dir, galeBuild.err = os.MkdirTemp("", "gale-interop-")
		if galeBuild.err != nil {
			return
		}
		galeBuild.path = filepath.Join(galeBuild.dir, "gale")
		cmd := exec.Command("go", "build", "-o", galeBuild.path, "github.com/gale-bt/gale/cmd/gale")
		if out, err := cmd.CombinedOutput(); err != nil {
			galeBuild.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if galeBuild.err != nil {
		t.Fatal(galeBuild.err)
	}
	return galeBuild.path
}

// Cleanup removes the binary GaleBinary built.
func Cleanup() {
	if galeBuild.dir != "" {
		os.RemoveAll(galeBuild.dir)
	}
}
