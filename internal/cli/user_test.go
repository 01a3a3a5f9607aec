package cli

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gale-bt/gale/internal/catalog"
)

func TestReadPassword(t *testing.T) {
	for _, tc := range []struct {
		name, in, want, err string
	}{
		{"line", "correct horse\n", "correct horse", ""},
		{"CRLF", "correct horse\r\n", "correct horse", ""},
		{"no newline", "correct horse", "correct horse", ""},
		{"only the first line", "first line\nsecond\n", "first line", ""},
		{"spaces kept", "  spaced out  \n", "  spaced out  ", ""},
		{"empty", "", "", "no password"},
		{"empty line", "\nsecret\n", "", "no password"},
		{"too long", strings.Repeat("x", maxPasswordInput+1), "", "too long"},
		{"longest", strings.Repeat("x", maxPasswordInput) + "\n", strings.Repeat("x", maxPasswordInput), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readPassword(strings.NewReader(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("readPassword = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// TestUserCommands runs the user commands against a site's database
// without a server.
func TestUserCommands(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := defaultServeSettings()
	s.Data = data
	store, err := s.openStore(context.Background(), nil, true)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	sys := catalog.WithSystem(context.Background())
	if _, err := store.CreateGroup(sys, "Uploaders"); err != nil {
		t.Fatal(err)
	}
	site := []string{"--data", data}
	for _, tc := range []struct {
		name   string
		args   []string
		stdin  string
		code   int
		stdout string
		stderr string
	}{
		{"add with password", []string{"user", "add", "alice", "--password-stdin", "--group", "uploaders"}, "correct horse\nignored\n", 0, "created user alice (id 1, group Uploaders)", ""},
		{"add admin by group ID", []string{"user", "add", "root", "--admin", "--group", "1"}, "", 0, "group Users, administrator", ""},
		{"no password note", []string{"user", "add", "bob"}, "", 0, "bob has no password", ""},
		{"duplicate name", []string{"user", "add", "ALICE"}, "", 1, "", "taken"},
		{"bad name", []string{"user", "add", "a b"}, "", 1, "", "user name"},
		{"short password", []string{"user", "add", "carol", "--password-stdin"}, "short\n", 1, "", "password"},
		{"unknown group", []string{"user", "add", "dave", "--group", "nope"}, "", 1, "", "groups: Uploaders, Users"},
		{"disable", []string{"user", "disable", "alice", "--reason", "ratio too low"}, "", 0, "disabled alice", ""},
		{"show disabled", []string{"user", "show", "alice"}, "", 0, "yes (ratio too low)", ""},
		{"enable", []string{"user", "enable", "alice"}, "", 0, "enabled alice", ""},
		{"reset key", []string{"user", "reset-key", "bob"}, "", 0, "reset the announce keys of bob", ""},
		{"unknown user", []string{"user", "reset-key", "zed"}, "", 1, "", "user zed:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runSite(t, tc.stdin, append(tc.args, site...)...)
			if code != tc.code || !strings.Contains(out, tc.stdout) || !strings.Contains(errs, tc.stderr) {
				t.Fatalf("exit %d (want %d)\nstdout %q (want %q)\nstderr %q (want %q)", code, tc.code, out, tc.stdout, errs, tc.stderr)
			}
		})
	}
	if _, err := store.Authenticate(context.Background(), "alice", "correct horse"); err != nil {
		t.Fatalf("alice cannot sign in with the password from stdin: %v", err)
	}
	u, err := store.UserByName(sys, "bob")
	if err != nil || u.KeyVersion != 1 {
		t.Fatalf("bob after reset-key: %+v, %v", u, err)
	}
	if r := userJSON(t, site, "root"); !r.Admin || r.Disabled || r.Ratio != nil || r.Group != "Users" {
		t.Fatalf("root: %+v", r)
	}
}
