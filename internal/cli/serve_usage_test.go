package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSiteCommandUsage checks the exit codes and messages of bad
// invocations of serve, user and torrent: 2 for usage errors (before any
// database is opened), 1 for failures.
func TestSiteCommandUsage(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	// Admin commands never create a database: a mistyped --data fails.
	if _, errs, code := runGale(t, "user", "add", "x", "--data", data); code != 1 || !strings.Contains(errs, "no gale database") {
		t.Fatalf("user add without a database: exit %d, %q", code, errs)
	}
	if _, err := os.Stat(filepath.Join(data, "gale.db")); err == nil {
		t.Fatal("an admin command created a database")
	}
	torrent := filepath.Join(dir, "t.torrent")
	writeFile(t, filepath.Join(dir, "content", "f.bin"), 1000, 1)
	mustGale(t, "create", filepath.Join(dir, "content"), "-o", torrent)
	hash := strings.Repeat("ab", 20)
	for _, tc := range []struct {
		name   string
		args   []string
		stdin  string
		code   int
		stderr string
	}{
		{"help user", []string{"help", "user"}, "", 0, ""},
		{"user -h", []string{"user", "-h"}, "", 0, ""},
		{"user alone", []string{"user"}, "", 2, "want a subcommand"},
		{"user unknown", []string{"user", "frob"}, "", 2, "unknown subcommand"},
		{"user add without name", []string{"user", "add"}, "", 2, "want exactly one user NAME"},
		{"user add two names", []string{"user", "add", "a", "b"}, "", 2, "want exactly one"},
		{"user add bad flag", []string{"user", "add", "a", "--owner", "b"}, "", 2, "owner"},
		{"user enable with reason", []string{"user", "enable", "a", "--reason", "x"}, "", 2, "reason"},
		{"user show bad config", []string{"user", "show", "a", "--config", filepath.Join(dir, "none.toml")}, "", 1, "none.toml"},
		{"torrent alone", []string{"torrent"}, "", 2, "want a subcommand"},
		{"torrent unknown", []string{"torrent", "list"}, "", 2, "unknown subcommand"},
		{"torrent add without owner", []string{"torrent", "add", torrent}, "", 2, "--owner"},
		{"torrent add without file", []string{"torrent", "add", "--owner", "x"}, "", 2, "torrent FILE"},
		{"torrent fetch without user", []string{"torrent", "fetch", hash}, "", 2, "--user"},
		{"torrent fetch bad hash", []string{"torrent", "fetch", "abc", "--user", "x"}, "", 2, "40 or 64 hex"},
		{"torrent delete bad hash", []string{"torrent", "delete", strings.Repeat("z", 40)}, "", 2, "40 or 64 hex"},
		{"serve extra", []string{"serve", "now"}, "", 2, "unexpected argument"},
		{"serve without http", []string{"serve", "--http", ""}, "", 2, "--http"},
		{"serve bad flag", []string{"serve", "--port", "1"}, "", 2, "port"},
		// Failures (exit 1): no database, unknown names, files.
		{"no database", []string{"user", "show", "x", "--data", data}, "", 1, "no gale database"},
		{"torrent add missing file", []string{"torrent", "add", filepath.Join(dir, "none.torrent"), "--owner", "x", "--data", data}, "", 1, "none.torrent"},
		{"fetch without a server", []string{"torrent", "fetch", hash, "--user", "x", "--data", data}, "", 1, "announce URLs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := (&Env{Stdin: strings.NewReader(tc.stdin), Stdout: &out, Stderr: &errb}).Run(context.Background(), tc.args)
			if code != tc.code || !strings.Contains(errb.String(), tc.stderr) {
				t.Fatalf("exit %d, want %d; stderr %q, want %q (stdout %q)", code, tc.code, errb.String(), tc.stderr, out.String())
			}
			if code == 0 && !strings.Contains(out.String(), "--data") {
				t.Fatalf("help does not list --data: %q", out.String())
			}
		})
	}
}
