package privtracker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gale-bt/gale/internal/catalog"
	"github.com/gale-bt/gale/internal/catalog/sqlstore"
	"github.com/gale-bt/gale/internal/peer"
	"github.com/gale-bt/gale/internal/tracker"
	"github.com/gale-bt/gale/metainfo"
)

// TestPoliteDeletion runs a real tracker engine with the private policy:
// after deletion, the peers in the swarm go on until the last leecher
// finishes; newcomers hear the reason, and after a day that the torrent
// is unregistered.
func TestPoliteDeletion(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		alice, bob, carol := f.user("alice", 0), f.user("bob", 0), f.user("carol", 0)
		tor := f.torrent(alice, "polite", metainfo.V1)
		f.load()
		trk := tracker.New(tracker.Config{Policy: f.priv, Accounting: f.priv, Now: f.clock.Now})
		var resp tracker.AnnounceResponse
		keys := map[int64][]byte{alice.ID: f.key(alice, tor), bob.ID: f.key(bob, tor), carol.ID: f.key(carol, tor)}
		do := func(u *catalog.User, id string, left uint64, ev tracker.Event) error {
			resp.Peers = resp.Peers[:0]
			return trk.Announce(announce(keys[u.ID], tor.V1, pid(id), 0, 0, left, ev), &resp)
		}
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(do(alice, "-TR-seed", 0, tracker.EventStarted))
		must(do(bob, "-TR-leech", 100, tracker.EventStarted))
		must(f.priv.Flush(context.Background()))
		must(f.store.DeleteTorrent(f.sys, tor.ID, "bad release"))
		f.clock.Advance(time.Minute)
		must(f.priv.Refresh(context.Background()))

		err := do(carol, "-TR-new", 100, tracker.EventStarted)
		if tracker.ClientMessage(err) != "torrent deleted: bad release" {
			t.Fatalf("newcomer: %v", err)
		}
		must(do(alice, "-TR-seed", 0, tracker.EventNone))
		must(do(bob, "-TR-leech", 50, tracker.EventNone))
		must(do(bob, "-TR-leech", 0, tracker.EventCompleted)) // the last leecher finishes
		err = do(alice, "-TR-seed", 0, tracker.EventNone)
		if tracker.ClientMessage(err) != "torrent deleted: bad release" {
			t.Fatalf("seeder after the last leecher: %v", err)
		}
		must(do(bob, "-TR-leech", 0, tracker.EventStopped)) // goodbyes are accounted
		must(f.priv.Flush(context.Background()))
		st, _ := f.store.UserStats(f.sys, bob.ID)
		if st.Snatches != 1 {
			t.Errorf("bob's snatch not counted: %+v", st)
		}
		f.clock.Advance(25 * time.Hour)
		err = do(carol, "-TR-new", 100, tracker.EventStarted)
		if !errors.Is(err, tracker.ErrNotRegistered) {
			t.Fatalf("a day later: %v", err)
		}
		// A restart long after the deletion: nobody is served.
		p2 := f.newPrivate(f.store)
		must(p2.Load(context.Background()))
		if _, err := p2.Announce(announce(keys[alice.ID], tor.V1, pid("-TR-seed"), 0, 0, 0, 0)); !errors.Is(err, tracker.ErrNotRegistered) {
			t.Fatalf("after restart: %v", err)
		}
	})
}

// TestHybridOneSwarm checks that announces under the v1 and the v2 hash
// of a hybrid torrent reach one swarm and one accounting row.
func TestHybridOneSwarm(t *testing.T) {
	f := newFixture(t, newSQLite(t))
	alice, bob := f.user("alice", 0), f.user("bob", 0)
	hy := f.torrent(alice, "hybrid-swarm", metainfo.Hybrid)
	f.load()
	trk := tracker.New(tracker.Config{Policy: f.priv, Accounting: f.priv, Now: f.clock.Now})
	f.priv.SetAliaser(trk)
	alias, _ := hy.AliasHash()
	var resp tracker.AnnounceResponse
	if err := trk.Announce(announce(f.key(alice, hy), hy.V1, pid("-A-"), 0, 0, 0, tracker.EventStarted), &resp); err != nil {
		t.Fatal(err)
	}
	resp.Peers = resp.Peers[:0]
	if err := trk.Announce(announce(f.key(bob, hy), alias, pid("-B-"), 0, 0, 10, tracker.EventStarted), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Seeders != 1 || resp.Leechers != 1 || len(resp.Peers) != 6 {
		t.Fatalf("v2 announce saw %d seeders, %d leechers, %d peer bytes", resp.Seeders, resp.Leechers, len(resp.Peers))
	}
	// libtorrent announces a hybrid under both hashes with the same
	// counters: credited once.
	f.clock.Advance(time.Minute)
	for _, ih := range []tracker.InfoHash{hy.V1, alias} {
		resp.Peers = resp.Peers[:0]
		if err := trk.Announce(announce(f.key(bob, hy), ih, pid("-B-"), 0, 7, 3, 0), &resp); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.priv.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.wantTotals(f.store, bob.ID, 0, 7, 0)
}

func newSQLite(t *testing.T) string { return backends(t)[0].dsn(t) }

// TestAccountingCrash simulates kill -9: announces are flushed in
// batches, then the process dies with announces still queued (the store is
// closed without flushing), restarts, and the clients announce again with
// their cumulative counters. The credited totals must equal what the
// clients reported, several crashes in a row.
func TestAccountingCrash(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		const nUsers, nTorrents = 4, 3
		var users []*catalog.User
		var tors []*catalog.Torrent
		for i := range nUsers {
			users = append(users, f.user(fmt.Sprintf("u%d", i), 0))
		}
		for i := range nTorrents {
			tors = append(tors, f.torrent(users[0], fmt.Sprintf("crash-%d", i), metainfo.V1))
		}
		type client struct {
			user     *catalog.User
			tor      *catalog.Torrent
			id       peer.ID
			up, down uint64 // cumulative, this session
			base     [2]uint64
			left     uint64
		}
		rng := rand.New(rand.NewPCG(1, 2))
		var clients []*client
		for i, u := range users {
			for j, tor := range tors {
				if (i+j)%4 == 3 {
					continue
				}
				clients = append(clients, &client{user: u, tor: tor, id: pid(fmt.Sprintf("-CR%02d%02d-", i, j)), left: 1 << 20})
			}
		}
		store := f.store
		priv := f.priv
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(priv.Load(context.Background()))
		want := map[int64][2]uint64{} // user -> reported up, down
		send := func(c *client, ev tracker.Event) {
			priv.Record(f.fact(c.user.ID, c.tor.V1, c.id, c.up, c.down, c.left, ev))
		}
		for _, c := range clients {
			send(c, tracker.EventStarted)
		}
		for crash := range 4 {
			for step := range 6 {
				f.clock.Advance(time.Duration(1+rng.IntN(30)) * time.Second)
				for _, c := range clients {
					if rng.IntN(3) == 0 {
						continue
					}
					du, dd := uint64(rng.IntN(1<<16)), uint64(rng.IntN(1<<16))
					c.up += du
					c.down += dd
					w := want[c.user.ID]
					want[c.user.ID] = [2]uint64{w[0] + du, w[1] + dd}
					c.left = uint64(max(0, int64(c.left)-int64(dd)))
					ev := tracker.EventNone
					if c.left == 0 && rng.IntN(2) == 0 {
						ev = tracker.EventCompleted
					}
					send(c, ev)
				}
				if step%2 == 1 {
					must(priv.Flush(context.Background()))
				}
			}
			// Crash: whatever is queued is lost; the database is closed.
			if crash == 3 {
				break
			}
			store.Close()
			store = openStore(t, dsn, f.clock)
			priv = f.newPrivate(store)
			must(priv.Load(context.Background()))
			f.clock.Advance(10 * time.Second)
			// Clients re-announce their cumulative counters; one in three
			// restarted in the meantime (a new session from 0).
			for _, c := range clients {
				send(c, tracker.EventNone)
				if rng.IntN(3) == 0 {
					c.up, c.down = 0, 0
					send(c, tracker.EventStarted)
				}
			}
		}
		for _, c := range clients {
			send(c, tracker.EventStopped)
		}
		must(priv.Flush(context.Background()))
		for _, u := range users {
			w := want[u.ID]
			st, err := store.UserStats(f.sys, u.ID)
			must(err)
			if uint64(st.Uploaded) != w[0] || uint64(st.Downloaded) != w[1] {
				t.Errorf("user %s: credited up %d down %d, clients reported %d %d", u.Name, st.Uploaded, st.Downloaded, w[0], w[1])
			}
		}
	})
}

// failingStore reports an error from ApplyAccounting, after committing
// when committed is set.
type failingStore struct {
	catalog.TrackerStore
	mu        sync.Mutex
	fail      int
	committed bool
}

func (s *failingStore) ApplyAccounting(ctx context.Context, ups []catalog.PeerUpdate, known map[catalog.PeerKey]catalog.PeerLast, r catalog.AccountRules) (map[catalog.PeerKey]catalog.PeerLast, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail > 0 {
		s.fail--
		if s.committed {
			if _, err := s.TrackerStore.ApplyAccounting(ctx, ups, known, r); err != nil {
				return nil, err
			}
		}
		return nil, errors.New("connection reset")
	}
	return s.TrackerStore.ApplyAccounting(ctx, ups, known, r)
}

// TestFlushErrors checks that a failed flush is retried without loss and
// that a commit reported as failed is not counted twice.
func TestFlushErrors(t *testing.T) {
	for _, committed := range []bool{false, true} {
		t.Run(fmt.Sprintf("committed=%v", committed), func(t *testing.T) {
			f := newFixture(t, newSQLite(t))
			u := f.user("u", 0)
			tor := f.torrent(u, "flaky", metainfo.V1)
			fs := &failingStore{TrackerStore: f.store, committed: committed}
			p := f.newPrivate(fs)
			if err := p.Load(context.Background()); err != nil {
				t.Fatal(err)
			}
			id := pid("-FL-")
			p.Record(f.fact(u.ID, tor.V1, id, 100, 10, 5, tracker.EventStarted))
			if err := p.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			f.clock.Advance(time.Second)
			p.Record(f.fact(u.ID, tor.V1, id, 300, 20, 5, 0))
			f.clock.Advance(time.Second)
			p.Record(f.fact(u.ID, tor.V1, id, 350, 25, 5, 0)) // the failing batch spans two announces
			fs.fail = 2
			for range 2 {
				if err := p.Flush(context.Background()); err == nil {
					t.Fatal("flush did not fail")
				}
				f.clock.Advance(time.Second)
				p.Record(f.fact(u.ID, tor.V1, id, 450, 30, 5, 0)) // keeps coalescing meanwhile
			}
			if st := p.Stats(); st.FlushErrors != 2 || st.Pending != 1 {
				t.Fatalf("stats = %+v", st)
			}
			if err := p.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			if err := p.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			f.wantTotals(f.store, u.ID, 450, 30, 0)
		})
	}
}

// TestRecordFull checks the bounded queue: existing peers always fold in,
// a new peer waits for a flush, and is dropped (counted) without one.
func TestRecordFull(t *testing.T) {
	f := newFixture(t, newSQLite(t))
	u := f.user("u", 0)
	tor := f.torrent(u, "full", metainfo.V1)
	f.load()
	p := New(f.store, Config{Now: f.clock.Now, MaxPending: 2, MaxWait: 5 * time.Millisecond})
	if err := p.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.Record(f.fact(u.ID, tor.V1, pid("-A-"), 1, 0, 5, 0))
	p.Record(f.fact(u.ID, tor.V1, pid("-B-"), 2, 0, 5, 0))
	p.Record(f.fact(u.ID, tor.V1, pid("-A-"), 3, 0, 5, 0)) // folds in
	p.Record(f.fact(u.ID, tor.V1, pid("-C-"), 4, 0, 5, 0)) // waits, then dropped
	if st := p.Stats(); st.Dropped != 1 || st.Pending != 2 || st.Recorded != 4 {
		t.Fatalf("stats = %+v", st)
	}
	// A flush during the wait lets the newcomer in.
	p.cfg.MaxWait = 5 * time.Second
	done := make(chan struct{})
	go func() {
		p.Record(f.fact(u.ID, tor.V1, pid("-D-"), 5, 0, 5, 0))
		close(done)
	}()
	time.Sleep(20 * time.Millisecond)
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-done
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Dropped != 1 || st.Pending != 0 {
		t.Fatalf("stats = %+v", st)
	}
	f.wantTotals(f.store, u.ID, 3+2+5, 0, 0)
	// Record does not allocate for a pending peer.
	fa := f.fact(u.ID, tor.V1, pid("-A-"), 9, 0, 5, 0)
	p.Record(fa)
	if n := testing.AllocsPerRun(200, func() { p.Record(fa) }); n != 0 {
		t.Errorf("Record allocates %v times", n)
	}
}

// TestKeysNotLogged checks that refusals and flushes log no keys.
func TestKeysNotLogged(t *testing.T) {
	var buf strings.Builder
	f := newFixture(t, newSQLite(t))
	u := f.user("u", 0)
	tor := f.torrent(u, "logged", metainfo.V1)
	p := New(failing(f.store), Config{Now: f.clock.Now, Logger: newTextLogger(&buf)})
	if err := p.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	key := f.key(u, tor)
	ctx, cancel := context.WithCancel(context.Background())
	p.Announce(announce(key, tor.V1, pid("-A-"), 0, 0, 0, 0))
	p.Record(f.fact(u.ID, tor.V1, pid("-A-"), 1, 0, 0, 0))
	cancel()
	p.Run(ctx)
	if strings.Contains(buf.String(), string(key)) || strings.Contains(buf.String(), f.secret) {
		t.Fatalf("log holds a key or the secret:\n%s", buf.String())
	}
	if !strings.Contains(buf.String(), "flush failed") {
		t.Fatalf("the failed flush was not logged:\n%s", buf.String())
	}
}

func failing(s *sqlstore.Store) catalog.TrackerStore {
	return &failingStore{TrackerStore: s, fail: 100}
}
