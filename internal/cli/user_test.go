package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gale-bt/gale/internal/catalog"
	"github.com/gale-bt/gale/internal/catalog/catalogtest"
	"github.com/gale-bt/gale/internal/catalog/sqlstore"
	"github.com/gale-bt/gale/internal/tracker"
	"github.com/gale-bt/gale/metainfo"
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

// newSite makes a site database (SQLite in a temp data directory when db
// is "", else the PostgreSQL URL db) and returns its store and the flags
// that select it.
func newSite(t *testing.T, db string) (*sqlstore.Store, []string) {
	t.Helper()
	s := defaultServeSettings()
	s.Data = filepath.Join(t.TempDir(), "data")
	s.DB = db
	store, err := s.openStore(context.Background(), nil, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	site := []string{"--data", s.Data}
	if db != "" {
		site = append(site, "--db", db)
	}
	return store, site
}

// credit has the accounting credit user with up and down bytes on torrent
// (one client that started and announced 30 s later with left bytes left).
func credit(t *testing.T, store *sqlstore.Store, user, torrent int64, peer string, up, down, left uint64) {
	t.Helper()
	k := catalog.PeerKey{UserID: user, TorrentID: torrent}
	copy(k.PeerID[:], peer)
	t0 := time.Now().Add(-time.Minute).UnixNano()
	u := catalog.NewPeerUpdate(k, "192.0.2.9:6881", catalog.Observation{Left: left + down, At: t0, Event: tracker.EventStarted})
	u.Add("", catalog.Observation{Uploaded: up, Downloaded: down, Left: left, At: t0 + 30e9}, 0)
	if _, err := store.ApplyAccounting(context.Background(), []catalog.PeerUpdate{u}, nil, catalog.AccountRules{}); err != nil {
		t.Fatal(err)
	}
}

// TestUserList lists users with their totals on every site database.
func TestUserList(t *testing.T) {
	for _, db := range siteDBs(t) {
		t.Run(db.name, func(t *testing.T) { testUserList(t, db.url(t)) })
	}
}

func testUserList(t *testing.T, db string) {
	store, site := newSite(t, db)
	sys := catalog.WithSystem(context.Background())
	g, err := store.CreateGroup(sys, "Uploaders")
	if err != nil {
		t.Fatal(err)
	}
	users := map[string]*catalog.User{}
	for _, nu := range []catalog.NewUser{
		{Name: "carol"}, {Name: "Dave"}, {Name: "alice", GroupID: g.ID}, {Name: "bob", Admin: true},
	} {
		u, err := store.CreateUser(sys, nu)
		if err != nil {
			t.Fatal(err)
		}
		users[u.Name] = u
	}
	yes, reason := true, "gone"
	if _, err := store.UpdateUser(sys, users["carol"].ID, catalog.UserUpdate{Disabled: &yes, DisabledReason: &reason}); err != nil {
		t.Fatal(err)
	}
	tor, err := store.AddTorrent(sys, catalog.NewTorrent{
		Metainfo: catalogtest.MakeTorrent(t, "listed", metainfo.V1), CategoryID: 1, OwnerID: users["alice"].ID,
	})
	if err != nil {
		t.Fatal(err)
	}
	credit(t, store, users["alice"].ID, tor.ID, "-TR4060-aaaaaaaaaaaa", 3<<20, 0, 0)
	credit(t, store, users["bob"].ID, tor.ID, "-TR4060-bbbbbbbbbbbb", 768<<10, 1536<<10, 100)

	const table = `NAME   GROUP      ADMIN  DISABLED     UPLOADED   DOWNLOADED    RATIO
alice  Uploaders  no     no              3 MiB          0 B      inf
bob    Users      yes    no            768 KiB     1.50 MiB    0.500
carol  Users      no     yes               0 B          0 B        -
Dave   Users      no     no                0 B          0 B        -
`
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string // the whole output, or with "~" a part of it
		stderr string
	}{
		{"text", nil, 0, table, ""},
		{"group", []string{"--group", "uploaders"}, 0,
			"NAME   GROUP      ADMIN  DISABLED     UPLOADED   DOWNLOADED    RATIO\n" +
				"alice  Uploaders  no     no              3 MiB          0 B      inf\n", ""},
		{"group by ID", []string{"--group", "1"}, 0, "~bob    Users", ""},
		{"disabled", []string{"--disabled"}, 0,
			"NAME   GROUP  ADMIN  DISABLED     UPLOADED   DOWNLOADED    RATIO\n" +
				"carol  Users  no     yes               0 B          0 B        -\n", ""},
		{"none", []string{"--disabled", "--group", "Uploaders"}, 0,
			"NAME  GROUP  ADMIN  DISABLED     UPLOADED   DOWNLOADED    RATIO\n", ""},
		{"none JSON", []string{"--disabled", "--group", "Uploaders", "--json"}, 0, "[]\n", ""},
		{"unknown group", []string{"--group", "nope"}, 1, "", "groups: Uploaders, Users"},
		{"argument", []string{"alice"}, 2, "", "takes no arguments"},
		{"bad flag", []string{"--nope"}, 2, "", "nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{"user", "list"}, tc.args...), site...)
			code, out, errs := runSite(t, "", args...)
			okOut := out == tc.stdout
			if part, ok := strings.CutPrefix(tc.stdout, "~"); ok {
				okOut = strings.Contains(out, part)
			}
			if code != tc.code || !okOut || !strings.Contains(errs, tc.stderr) {
				t.Fatalf("exit %d (want %d)\nstdout:\n%s(want:\n%s)\nstderr %q (want %q)", code, tc.code, out, tc.stdout, errs, tc.stderr)
			}
		})
	}

	// JSON: the objects of user show --json, in the same order.
	out := mustSite(t, "", append([]string{"user", "list", "--json"}, site...)...)
	var list []userReport
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("user list --json: %v\n%s", err, out)
	}
	var names []string
	for _, r := range list {
		names = append(names, r.Name)
		if show := userJSON(t, site, r.Name); !reflect.DeepEqual(r, show) {
			t.Errorf("user list --json has %+v\nuser show --json has %+v", r, show)
		}
	}
	if want := []string{"alice", "bob", "carol", "Dave"}; !slices.Equal(names, want) {
		t.Fatalf("user list --json lists %q, want %q", names, want)
	}
	if list[1].Ratio == nil || *list[1].Ratio != 0.5 || list[1].Leeching != 1 || list[0].Seeding != 1 || list[2].DisabledReason != "gone" {
		t.Errorf("user list --json: %+v", list)
	}
	// The JSON is what encoding/json indents the same way.
	want, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want)+"\n" {
		t.Errorf("user list --json:\n%s\nwant:\n%s", out, want)
	}
}

// TestUserListPages lists more users than one page holds.
func TestUserListPages(t *testing.T) {
	store, site := newSite(t, "")
	sys := catalog.WithSystem(context.Background())
	n := 2*userListPage + 7
	want := make([]string, n)
	for i := range n {
		want[i] = fmt.Sprintf("u%04d", i)
	}
	// Created in an order other than the listing's.
	for _, i := range rand.Perm(n) {
		if _, err := store.CreateUser(sys, catalog.NewUser{Name: want[i]}); err != nil {
			t.Fatal(err)
		}
	}
	out := mustSite(t, "", append([]string{"user", "list"}, site...)...)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != n+1 || !strings.HasPrefix(lines[0], "NAME") {
		t.Fatalf("user list printed %d lines, want a header and %d users", len(lines), n)
	}
	for i, l := range lines[1:] {
		if f := strings.Fields(l); len(f) == 0 || f[0] != want[i] {
			t.Fatalf("line %d is %q, want user %s", i+1, l, want[i])
		}
	}
	out = mustSite(t, "", append([]string{"user", "list", "--json"}, site...)...)
	var list []userReport
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != n || list[n-1].Name != want[n-1] {
		t.Fatalf("user list --json: %d users, %v", len(list), err)
	}
}

// TestUserPasswd sets passwords from standard input.
func TestUserPasswd(t *testing.T) {
	store, site := newSite(t, "")
	sys := catalog.WithSystem(context.Background())
	alice, err := store.CreateUser(sys, catalog.NewUser{Name: "alice", Password: "old password"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateUser(sys, catalog.NewUser{Name: "nopw"}); err != nil {
		t.Fatal(err)
	}
	session, err := store.CreateSession(sys, alice.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	bg := context.Background()
	for _, tc := range []struct {
		name   string
		args   []string
		stdin  string
		code   int
		stdout string
		stderr string
		// the passwords of alice that work and fail afterwards
		works, fails string
	}{
		{"short", []string{"alice", "--password-stdin"}, "short\n", 1, "", "at least 8 characters", "old password", "short"},
		{"empty", []string{"alice", "--password-stdin"}, "\n", 1, "", "no password", "old password", ""},
		{"unknown user", []string{"zed", "--password-stdin"}, "long enough\n", 1, "", "user zed:", "old password", ""},
		{"no name", []string{"--password-stdin"}, "long enough\n", 2, "", "want exactly one user NAME", "old password", ""},
		{"not a terminal", []string{"alice"}, "long enough\n", 2, "", "--password-stdin", "old password", "long enough"},
		{"set", []string{"ALICE", "--password-stdin"}, "new password 1\r\nignored\n", 0, "set the password of alice", "", "new password 1", "old password"},
		{"first", []string{"nopw", "--password-stdin"}, "first password\n", 0, "set the password of nopw", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runSite(t, tc.stdin, append(append([]string{"user", "passwd"}, tc.args...), site...)...)
			if code != tc.code || !strings.Contains(out, tc.stdout) || !strings.Contains(errs, tc.stderr) {
				t.Fatalf("exit %d (want %d)\nstdout %q (want %q)\nstderr %q (want %q)", code, tc.code, out, tc.stdout, errs, tc.stderr)
			}
			if tc.works != "" {
				if _, err := store.Authenticate(bg, "alice", tc.works); err != nil {
					t.Errorf("alice cannot sign in with %q: %v", tc.works, err)
				}
			}
			if tc.fails != "" {
				if _, err := store.Authenticate(bg, "alice", tc.fails); err == nil {
					t.Errorf("alice signs in with %q", tc.fails)
				}
			}
		})
	}
	if _, err := store.Authenticate(bg, "nopw", "first password"); err != nil {
		t.Errorf("nopw cannot sign in with the password set: %v", err)
	}
	if _, err := store.SessionUser(bg, session); err == nil {
		t.Error("alice's session outlived the password change")
	}
}
