package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runGale runs the CLI in-process and returns stdout, stderr and the
// exit code.
func runGale(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}
	code := e.Run(context.Background(), args)
	return out.String(), errb.String(), code
}

// mustGale runs the CLI and fails the test unless it exits 0.
func mustGale(t *testing.T, args ...string) string {
	t.Helper()
	out, errs, code := runGale(t, args...)
	if code != 0 {
		t.Fatalf("gale %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// needTool finds a Debian tool; without it the test skips, or fails when
// GALE_REQUIRE_INTEROP=1 (as in CI).
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("GALE_REQUIRE_INTEROP") == "1" {
			t.Fatalf("%s is required (GALE_REQUIRE_INTEROP=1) but not installed", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

func writeFile(t *testing.T, path string, size int, seed byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, size)
	x := uint32(seed) + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestHelpAndUsage(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   string
		stderr   string
		noStdout bool
	}{
		{name: "top help", args: []string{"--help"}, code: 0, stdout: "create"},
		{name: "help word", args: []string{"help"}, code: 0, stdout: "commands:"},
		{name: "help command", args: []string{"help", "create"}, code: 0, stdout: "--piece-length"},
		{name: "command -h", args: []string{"edit", "-h"}, code: 0, stdout: "--allow-hash-change"},
		{name: "command --help", args: []string{"show", "--help"}, code: 0, stdout: "--json"},
		{name: "no args", args: nil, code: 2, stderr: "usage"},
		{name: "unknown command", args: []string{"frobnicate"}, code: 2, stderr: "unknown command"},
		{name: "help unknown", args: []string{"help", "frobnicate"}, code: 2, stderr: "unknown command"},
		{name: "bad flag", args: []string{"create", "--no-such-flag", "x"}, code: 2, stderr: "no-such-flag"},
		{name: "missing path", args: []string{"create"}, code: 2, stderr: "PATH"},
		{name: "bad piece length", args: []string{"create", "--piece-length", "1000", "."}, code: 2, stderr: "power of two"},
		{name: "bad meta version", args: []string{"create", "--meta-version", "3x", "."}, code: 2, stderr: "meta-version"},
		{name: "bad announce", args: []string{"create", "-a", "not a url", "."}, code: 2, stderr: "-a"},
		{name: "bad dht node", args: []string{"create", "--dht-node", "nohost", "."}, code: 2, stderr: "HOST:PORT"},
		{name: "show nothing", args: []string{"show"}, code: 2, stderr: "no torrent"},
		{name: "missing file", args: []string{"show", "/nonexistent/x.torrent"}, code: 1, stderr: "/nonexistent/x.torrent"},
		{name: "version", args: []string{"--version"}, code: 0, stdout: "gale"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, code := runGale(t, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errs)
			}
			if !strings.Contains(out, tt.stdout) || !strings.Contains(errs, tt.stderr) {
				t.Fatalf("stdout %q does not contain %q or stderr %q does not contain %q", out, tt.stdout, errs, tt.stderr)
			}
		})
	}
}

func TestParseInterspersed(t *testing.T) {
	fs := newFlagSet("x")
	b := fs.Bool("b", false, "")
	s := fs.String("s", "", "")
	pos, err := parseInterspersed(fs, []string{"a", "-b", "c", "-s", "v", "--", "-d"})
	if err != nil {
		t.Fatal(err)
	}
	if !*b || *s != "v" || strings.Join(pos, ",") != "a,c,-d" {
		t.Fatalf("b=%v s=%q pos=%q", *b, *s, pos)
	}
}
