package privtracker

import (
	"bytes"
	"context"
	"testing"

	"github.com/gale-bt/gale/internal/catalog"
	"github.com/gale-bt/gale/internal/tracker"
	"github.com/gale-bt/gale/metainfo"
)

// TestPoliteDeletionFromEngine: the accounting lost the swarm's last
// announces (a crash before the flush) while the engine kept its swarms
// (its state file). The peers in the engine's swarm are the torrent's
// current peers all the same: served until the last leecher finishes.
// Without the engine's view they would all be refused.
func TestPoliteDeletionFromEngine(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		alice, bob, carol := f.user("alice", 0), f.user("bob", 0), f.user("carol", 0)
		tor := f.torrent(alice, "polite-engine", metainfo.Hybrid)
		alias, _ := tor.AliasHash()
		f.load()
		keys := map[int64][]byte{alice.ID: f.key(alice, tor), bob.ID: f.key(bob, tor), carol.ID: f.key(carol, tor)}
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		trk1 := tracker.New(tracker.Config{Policy: f.priv, Accounting: f.priv, Now: f.clock.Now})
		f.priv.SetAliaser(trk1)
		var resp tracker.AnnounceResponse
		must(trk1.Announce(announce(keys[alice.ID], tor.V1, pid("-TR-seed"), 0, 0, 0, tracker.EventStarted), &resp))
		must(trk1.Announce(announce(keys[bob.ID], alias, pid("-TR-leech"), 0, 0, 100, tracker.EventStarted), &resp))
		var state bytes.Buffer
		if _, err := trk1.WriteState(&state); err != nil {
			t.Fatal(err)
		}
		// The process dies here: nothing was flushed. It restarts after
		// the torrent was deleted.
		must(f.store.DeleteTorrent(f.sys, tor.ID, "bad release"))
		priv := f.newPrivate(f.store)
		must(priv.Load(context.Background()))
		trk := tracker.New(tracker.Config{Policy: priv, Accounting: priv, Now: f.clock.Now})
		if _, err := trk.ReadState(&state); err != nil {
			t.Fatal(err)
		}
		priv.SetAliaser(trk)

		accountingOnly := f.newPrivate(f.store)
		must(accountingOnly.Load(context.Background()))
		if _, err := accountingOnly.Announce(announce(keys[alice.ID], tor.V1, pid("-TR-seed"), 0, 0, 0, 0)); tracker.ClientMessage(err) != "torrent deleted: bad release" {
			t.Fatalf("without the engine the seeder is not a known peer, yet: %v", err)
		}

		deletedMsg := "torrent deleted: bad release"
		for _, st := range []struct {
			name string
			user *catalog.User
			ih   tracker.InfoHash
			id   string
			left uint64
			ev   tracker.Event
			want string // "" admitted
		}{
			{"newcomer", carol, tor.V1, "-TR-new", 100, tracker.EventStarted, deletedMsg},
			{"seeder in the swarm", alice, tor.V1, "-TR-seed", 0, tracker.EventNone, ""},
			{"leecher through the v2 hash", bob, alias, "-TR-leech", 50, tracker.EventNone, ""},
			{"last leecher finishes", bob, tor.V1, "-TR-leech", 0, tracker.EventCompleted, ""},
			{"seeder after the last leecher", alice, tor.V1, "-TR-seed", 0, tracker.EventNone, deletedMsg},
			{"goodbye is accepted", bob, tor.V1, "-TR-leech", 0, tracker.EventStopped, ""},
			{"newcomer after", carol, alias, "-TR-new", 100, tracker.EventStarted, deletedMsg},
		} {
			resp.Peers = resp.Peers[:0]
			err := trk.Announce(announce(keys[st.user.ID], st.ih, pid(st.id), 0, 30, st.left, st.ev), &resp)
			if st.want == "" && err != nil || st.want != "" && tracker.ClientMessage(err) != st.want {
				t.Fatalf("%s: %v, want %q", st.name, err, st.want)
			}
		}
		must(priv.Flush(context.Background()))
		f.wantTotals(f.store, bob.ID, 0, 30, 1)
	})
}
