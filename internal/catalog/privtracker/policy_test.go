package privtracker

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gale-bt/gale/internal/catalog"
	"github.com/gale-bt/gale/internal/catalog/catalogtest"
	"github.com/gale-bt/gale/internal/tracker"
	"github.com/gale-bt/gale/metainfo"
)

func TestPolicy(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		alice := f.user("alice", 0)
		bob := f.user("bob", 0)
		g, _ := f.store.CreateGroup(f.sys, "NoRights")
		carol := f.user("carol", g.ID)
		tor := f.torrent(alice, "policy", metainfo.V1)
		hy := f.torrent(alice, "policy-hybrid", metainfo.Hybrid)
		del := f.torrent(alice, "policy-deleted", metainfo.V1)
		aliceKey, bobKey := f.key(alice, tor), f.key(bob, tor)
		hyKey := f.key(alice, hy)
		delKey := f.key(alice, del)
		carolKey := catalog.Passkey(f.secret, 0, uint32(carol.ID), tor.SwarmHash())
		if _, err := f.store.ResetKey(f.sys, bob.ID); err != nil {
			t.Fatal(err)
		}
		yes := true
		dave := f.user("dave", 0)
		daveKey := f.key(dave, tor)
		if _, err := f.store.UpdateUser(f.sys, dave.ID, catalog.UserUpdate{Disabled: &yes}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.store.AddClientRule(f.sys, catalog.ClientRule{Prefix: "-BAD", Note: "leaks"}); err != nil {
			t.Fatal(err)
		}
		if err := f.store.DeleteTorrent(f.sys, del.ID, "dupe of #1"); err != nil {
			t.Fatal(err)
		}
		f.load()
		alias, _ := hy.AliasHash()
		var unknown tracker.InfoHash
		unknown[0] = 0xee
		ok := pid("-TR4060-")
		for _, tc := range []struct {
			name string
			key  []byte
			ih   tracker.InfoHash
			id   string
			want error
		}{
			{"ok", aliceKey, tor.V1, "-TR4060-", nil},
			{"hybrid v1", hyKey, hy.V1, "-TR4060-", nil},
			{"hybrid v2 with the same key", hyKey, alias, "-TR4060-", nil},
			{"no key", nil, tor.V1, "-TR4060-", ErrBadKey},
			{"short key", aliceKey[:31], tor.V1, "-TR4060-", ErrBadKey},
			{"upper case", []byte(strings.ToUpper(string(aliceKey))), tor.V1, "-TR4060-", ErrBadKey},
			{"key of another torrent", hyKey, tor.V1, "-TR4060-", ErrBadKey},
			{"another user's id with this digest", append([]byte("000003e7"), aliceKey[8:]...), tor.V1, "-TR4060-", ErrBadKey},
			{"key before reset", bobKey, tor.V1, "-TR4060-", ErrBadKey},
			{"unregistered", aliceKey, unknown, "-TR4060-", tracker.ErrNotRegistered},
			{"disabled", daveKey, tor.V1, "-TR4060-", ErrDisabled},
			{"access revoked", []byte(carolKey), tor.V1, "-TR4060-", ErrAccessRevoked},
			{"client not allowed", aliceKey, tor.V1, "-BAD123-", ErrClient},
			{"deleted, not a member", delKey, del.V1, "-TR4060-", &tracker.Error{Reason: "torrent deleted: dupe of #1"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				g, err := f.priv.Announce(announce(tc.key, tc.ih, pid(tc.id), 0, 0, 10, tracker.EventStarted))
				if tc.want == nil {
					if err != nil || g.User != uint64(alice.ID) {
						t.Fatalf("Announce = %+v, %v", g, err)
					}
					return
				}
				if tracker.ClientMessage(err) != tracker.ClientMessage(tc.want) || !tracker.IsClientError(err) {
					t.Fatalf("Announce error %v, want %v", err, tc.want)
				}
			})
		}
		// Scrape follows the same rules without client rules, and deleted
		// torrents may be scraped.
		if err := f.priv.Scrape(aliceKey, tor.V1); err != nil {
			t.Errorf("Scrape: %v", err)
		}
		if err := f.priv.Scrape(delKey, del.V1); err != nil {
			t.Errorf("Scrape(deleted): %v", err)
		}
		if err := f.priv.Scrape(nil, tor.V1); !errors.Is(err, ErrBadKey) {
			t.Errorf("Scrape without key: %v", err)
		}
		if err := f.priv.Scrape(aliceKey, hy.V1); !errors.Is(err, ErrBadKey) {
			t.Errorf("Scrape with another torrent's key: %v", err)
		}
		// The announce path does not allocate.
		req := announce(aliceKey, tor.V1, ok, 0, 0, 10, tracker.EventNone)
		if n := testing.AllocsPerRun(200, func() { f.priv.Announce(req) }); n != 0 {
			t.Errorf("Announce allocates %v times", n)
		}
		bad := announce(aliceKey, tor.V1, pid("-BAD123-"), 0, 0, 10, tracker.EventNone)
		if n := testing.AllocsPerRun(200, func() { f.priv.Announce(bad) }); n != 0 {
			t.Errorf("a refusal allocates %v times", n)
		}
	})
}

// TestChangesReachTracker changes the catalog through a second store on
// the same database (as `gale user disable` does from another process)
// and checks the running tracker sees each change within a second.
func TestChangesReachTracker(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		alice := f.user("alice", 0)
		tor := f.torrent(alice, "changes", metainfo.V1)
		key := f.key(alice, tor)
		f.load()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- f.priv.Run(ctx) }()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}()
		cli := openStore(t, dsn, f.clock) // "another process"
		id := pid("-TR4060-")
		within := func(what string, want error, key []byte, ih tracker.InfoHash) {
			t.Helper()
			deadline := time.Now().Add(time.Second)
			for {
				_, err := f.priv.Announce(announce(key, ih, id, 0, 0, 1, tracker.EventNone))
				if tracker.ClientMessage(err) == tracker.ClientMessage(want) && (want == nil) == (err == nil) {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: after 1s Announce = %v, want %v", what, err, want)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		within("start", nil, key, tor.V1)
		yes, no := true, false
		if _, err := cli.UpdateUser(f.sys, alice.ID, catalog.UserUpdate{Disabled: &yes}); err != nil {
			t.Fatal(err)
		}
		within("disable", ErrDisabled, key, tor.V1)
		if _, err := cli.UpdateUser(f.sys, alice.ID, catalog.UserUpdate{Disabled: &no}); err != nil {
			t.Fatal(err)
		}
		within("enable", nil, key, tor.V1)
		if _, err := cli.ResetKey(f.sys, alice.ID); err != nil {
			t.Fatal(err)
		}
		within("reset-key", ErrBadKey, key, tor.V1)
		key = []byte(mustKey(t, cli, tor.ID, alice.ID))
		within("new key", nil, key, tor.V1)
		if err := cli.SetRights(f.sys, 1, 1, 0); err != nil {
			t.Fatal(err)
		}
		within("rights removed", ErrAccessRevoked, key, tor.V1)
		if err := cli.SetRights(f.sys, 1, 1, catalog.RightDownload); err != nil {
			t.Fatal(err)
		}
		within("rights back", nil, key, tor.V1)
		tor2, err := cli.AddTorrent(f.sys, catalog.NewTorrent{Metainfo: catalogtest.MakeTorrent(t, "added-later", metainfo.V1), CategoryID: 1, OwnerID: alice.ID})
		if err != nil {
			t.Fatal(err)
		}
		within("new torrent", nil, []byte(mustKey(t, cli, tor2.ID, alice.ID)), tor2.V1)
		if _, err := cli.AddClientRule(f.sys, catalog.ClientRule{Prefix: "-TR"}); err != nil {
			t.Fatal(err)
		}
		within("client rule", ErrClient, key, tor.V1)
		secret := "a brand new secret"
		if _, err := cli.UpdateSettings(f.sys, catalog.SettingsUpdate{Secret: &secret}); err != nil {
			t.Fatal(err)
		}
		within("secret changed", ErrBadKey, key, tor.V1)
	})
}

func mustKey(t *testing.T, c catalog.TorrentService, tid, uid int64) string {
	t.Helper()
	k, err := c.AnnounceKey(catalog.WithSystem(context.Background()), tid, uid)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
