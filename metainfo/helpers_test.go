package metainfo

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// treeFiles is the test tree behind the golden torrents. With 32 KiB
// pieces it has an empty file, a file of exactly one piece, files of
// several pieces (v2 piece layers), tiny files, and names whose v1
// (whole path) and v2 (per component) orders differ.
var treeFiles = []struct {
	path string
	size int
}{
	{"a-b/y", 1000},
	{"a.txt", 32768},
	{"a/empty", 0},
	{"a/x", 70000},
	{"big", 200000},
	{"z", 3},
}

const singleSize = 100000

// content returns deterministic bytes for a test file.
func content(name string, size int) []byte {
	var seed uint64
	for _, c := range []byte(name) {
		seed = seed*131 + uint64(c)
	}
	r := rand.New(rand.NewPCG(seed, uint64(size)))
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// makeTree writes the test tree under dir/tree and the single file
// dir/single.bin, returning both paths.
func makeTree(t testing.TB, dir string) (tree, single string) {
	t.Helper()
	tree = filepath.Join(dir, "tree")
	for _, f := range treeFiles {
		p := filepath.Join(tree, filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, content(f.path, f.size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	single = filepath.Join(dir, "single.bin")
	if err := os.WriteFile(single, content("single.bin", singleSize), 0o644); err != nil {
		t.Fatal(err)
	}
	return tree, single
}

// needTool returns the path of an external program, skipping the test
// when it is missing unless GALE_REQUIRE_INTEROP=1.
func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("GALE_REQUIRE_INTEROP") == "1" {
			t.Fatalf("%s not found but GALE_REQUIRE_INTEROP=1: %v", name, err)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

// systemPython is the interpreter that has python3-libtorrent.
const systemPython = "/usr/bin/python3"

// needLibtorrent skips (or fails under GALE_REQUIRE_INTEROP=1) unless
// /usr/bin/python3 can import libtorrent.
func needLibtorrent(t testing.TB) {
	t.Helper()
	err := exec.Command(systemPython, "-c", "import libtorrent").Run()
	if err != nil {
		if os.Getenv("GALE_REQUIRE_INTEROP") == "1" {
			t.Fatalf("python3-libtorrent not importable from %s but GALE_REQUIRE_INTEROP=1: %v", systemPython, err)
		}
		t.Skip("python3-libtorrent not installed")
	}
}

// runPython runs a libtorrent script with args and returns its output.
func runPython(t testing.TB, script string, args ...string) string {
	t.Helper()
	cmd := exec.Command(systemPython, append([]string{"-c", script}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	return string(out)
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
