// Package catalogtest is the conformance suite every catalog store must
// pass (catalog.Catalog). A store's tests call Run with a function that
// opens a fresh, empty store on the given clock.
package catalogtest

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gale-bt/gale/internal/catalog"
	"github.com/gale-bt/gale/metainfo"
)

// Opener opens a fresh, empty store whose clock is now; it registers the
// store's cleanup with t.
type Opener func(t *testing.T, now func() time.Time) catalog.Catalog

// Clock is a settable clock for stores under test.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at a fixed date.
func NewClock() *Clock { return &Clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is one test's store, clock and contexts.
type env struct {
	t     *testing.T
	c     catalog.Catalog
	clock *Clock
	sys   context.Context
}

func newEnv(t *testing.T, open Opener) *env {
	clock := NewClock()
	return &env{t: t, c: open(t, clock.Now), clock: clock, sys: catalog.WithSystem(context.Background())}
}

// as returns a context acting as u.
func as(u *catalog.User) context.Context { return catalog.WithUser(context.Background(), u) }

// user creates a user in group (0: default) with a password.
func (e *env) user(name string, admin bool, group int64) *catalog.User {
	e.t.Helper()
	u, err := e.c.CreateUser(e.sys, catalog.NewUser{Name: name, Password: "password-" + name, Admin: admin, GroupID: group})
	if err != nil {
		e.t.Fatalf("CreateUser(%s): %v", name, err)
	}
	return u
}

// torrent adds a torrent with the given name and content to category cat
// (0: General) owned by owner, as the system.
func (e *env) torrent(owner *catalog.User, name string, cat int64, v metainfo.Version) *catalog.Torrent {
	e.t.Helper()
	if cat == 0 {
		cat = 1
	}
	tor, err := e.c.AddTorrent(e.sys, catalog.NewTorrent{Metainfo: MakeTorrent(e.t, name, v), CategoryID: cat, OwnerID: owner.ID})
	if err != nil {
		e.t.Fatalf("AddTorrent(%s): %v", name, err)
	}
	return tor
}

// wantCode fails unless err has the catalog error code.
func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := catalog.ErrorCode(err); got != code {
		t.Fatalf("%s: error %v (code %q), want code %q", what, err, got, code)
	}
}

// MakeTorrent builds a .torrent of a small directory named name holding
// two files whose content depends on name, with an announce-list and a
// DHT node (which the catalog must strip).
func MakeTorrent(t testing.TB, name string, v metainfo.Version) []byte {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "content")
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("first file of "+name), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "b.bin"), make([]byte, 40000+len(name)), 0o644); err != nil {
		t.Fatal(err)
	}
	tor, err := metainfo.Build(context.Background(), metainfo.BuildConfig{
		Path: dir, Name: name, Version: v, PieceLength: 16 << 10,
		Announce: [][]string{{"http://foreign.example/announce"}, {"udp://other.example:80"}},
		Nodes:    []metainfo.Node{{Host: "router.example", Port: 6881}},
		Comment:  "made by catalogtest",
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := tor.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Run runs the conformance suite.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open Opener)
	}{
		{"Users", testUsers},
		{"Authenticate", testAuthenticate},
		{"Sessions", testSessions},
		{"SignUp", testSignUp},
		{"Tokens", testTokens},
		{"GroupsCategories", testGroupsCategories},
		{"Rights", testRights},
		{"Torrents", testTorrents},
		{"TorrentVersions", testTorrentVersions},
		{"BadUploads", testBadUploads},
		{"PersonalTorrent", testPersonalTorrent},
		{"Search", testSearch},
		{"SearchInjection", testSearchInjection},
		{"DeleteTorrent", testDeleteTorrent},
		{"Settings", testSettings},
		{"ClientRules", testClientRules},
		{"ChangeLog", testChangeLog},
		{"TrackerState", testTrackerState},
		{"Accounting", testAccounting},
		{"AccountingReplay", testAccountingReplay},
		{"AccountingBonuses", testAccountingBonuses},
		{"Flags", testFlags},
		{"UserTorrents", testUserTorrents},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}
