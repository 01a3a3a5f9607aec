package privtracker

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gale-bt/gale/internal/catalog"
	"github.com/gale-bt/gale/internal/tracker"
	"github.com/gale-bt/gale/metainfo"
)

// TestIdleWrite checks Config.IdleWrite: the periodic flushes hold back a
// peer's announces that only add time, write everything else at once,
// and a crash while announces are held back loses nothing.
func TestIdleWrite(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := newFixture(t, dsn)
		u := f.user("u", 0)
		tor := f.torrent(u, "idle", metainfo.V1)
		f.load()
		p := f.priv
		p.cfg.IdleWrite = 10 * time.Second
		leech, seed := pid("-IL-leech-"), pid("-IL-seed-")
		// written counts the peer updates written so far.
		written := func() uint64 { return p.Stats().Written }
		step := func(name string, d time.Duration, id [20]byte, up, down, left uint64, ev tracker.Event, wantWritten uint64) {
			t.Helper()
			f.clock.Advance(d)
			p.Record(f.fact(u.ID, tor.V1, id, up, down, left, ev))
			if err := p.flush(ctx, false); err != nil {
				t.Fatal(err)
			}
			if got := written(); got != wantWritten {
				t.Fatalf("%s: %d peer updates written, want %d", name, got, wantWritten)
			}
		}
		times := func(wantSeed, wantLeech time.Duration) {
			t.Helper()
			st, err := f.store.UserStats(f.sys, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if st.SeedTime != wantSeed || st.LeechTime != wantLeech {
				t.Fatalf("seed %v leech %v, want %v %v", st.SeedTime, st.LeechTime, wantSeed, wantLeech)
			}
		}
		step("started", 0, leech, 0, 0, 100, tracker.EventStarted, 1)
		step("idle 1", time.Second, leech, 0, 0, 100, tracker.EventNone, 1)
		step("idle 2", time.Second, leech, 0, 0, 100, tracker.EventNone, 1)
		times(0, 0)
		if st := p.Stats(); st.Pending != 1 {
			t.Fatalf("pending %d, want 1", st.Pending)
		}
		step("download", time.Second, leech, 0, 10, 90, tracker.EventNone, 2)
		times(0, 3*time.Second)
		// Held back for less than IdleWrite (less the peer's jitter)
		// after the last written one.
		hold := p.cfg.IdleWrite - time.Duration(idleJitter(&catalog.PeerKey{UserID: u.ID, TorrentID: tor.ID, PeerID: leech}, p.cfg.IdleWrite))
		since := time.Duration(0)
		for since < hold-time.Second {
			since += time.Second
			step(fmt.Sprintf("idle %v after", since), time.Second, leech, 0, 10, 90, tracker.EventNone, 2)
		}
		if hold < 3*p.cfg.IdleWrite/4 || since >= hold {
			t.Fatalf("hold %v (jitter beyond a quarter of IdleWrite), %v", hold, since)
		}
		since += time.Second
		step("idle past the hold", time.Second, leech, 0, 10, 90, tracker.EventNone, 3)
		times(0, 3*time.Second+since)
		step("stopped", time.Second, leech, 0, 10, 90, tracker.EventStopped, 4)
		leeched := 4*time.Second + since
		times(0, leeched)

		// A seeder: held back, then Flush writes everything.
		step("seed started", 0, seed, 0, 0, 0, tracker.EventStarted, 5)
		step("seed idle", 2*time.Second, seed, 0, 0, 0, tracker.EventNone, 5)
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		times(2*time.Second, leeched)

		// Held back, then the process dies: the peer's next announce
		// credits the time again from the written one.
		step("seed idle before the crash", 4*time.Second, seed, 0, 0, 0, tracker.EventNone, 6)
		step("held back", 3*time.Second, seed, 0, 0, 0, tracker.EventNone, 6)
		p2 := f.newPrivate(f.store)
		if err := p2.Load(ctx); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(5 * time.Second)
		p2.Record(f.fact(u.ID, tor.V1, seed, 0, 0, 0, tracker.EventNone))
		if err := p2.flush(ctx, false); err != nil {
			t.Fatal(err)
		}
		if p2.Stats().Written != 1 {
			t.Fatal("after a restart, the first announce of a peer was held back")
		}
		times(14*time.Second, leeched)

		// Off: every flush writes.
		p3 := New(f.store, Config{Now: f.clock.Now, IdleWrite: -1})
		if err := p3.Load(ctx); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			f.clock.Advance(time.Second)
			p3.Record(f.fact(u.ID, tor.V1, seed, 0, 0, 0, tracker.EventNone))
			if err := p3.flush(ctx, false); err != nil {
				t.Fatal(err)
			}
			if got := p3.Stats().Written; got != uint64(i+1) {
				t.Fatalf("IdleWrite -1: %d written after %d flushes", got, i+1)
			}
		}
		times(17*time.Second, leeched)
	})
}

// TestIdleNotHeld lists updates that are never held back although the
// peer announced within IdleWrite: each moves something besides the time.
func TestIdleNotHeld(t *testing.T) {
	f := newFixture(t, newSQLite(t))
	u := f.user("u", 0)
	tor := f.torrent(u, "not-held", metainfo.V1)
	f.load()
	ctx := context.Background()
	for i, tc := range []struct {
		name  string
		steps [][4]uint64 // up, down, left, event
	}{
		{"upload", [][4]uint64{{5, 0, 100, 0}}},
		{"download", [][4]uint64{{0, 5, 95, 0}}},
		{"left changes", [][4]uint64{{0, 0, 99, 0}}},
		{"completed", [][4]uint64{{0, 0, 100, uint64(tracker.EventCompleted)}}},
		{"started again", [][4]uint64{{0, 0, 100, uint64(tracker.EventStarted)}}},
		{"stopped", [][4]uint64{{0, 0, 100, uint64(tracker.EventStopped)}}},
		{"stopped and back", [][4]uint64{{0, 0, 100, uint64(tracker.EventStopped)}, {0, 0, 100, 0}}},
		{"idle then upload", [][4]uint64{{0, 0, 100, 0}, {3, 0, 100, 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := pid(fmt.Sprintf("-NH%02d-", i))
			f.priv.Record(f.fact(u.ID, tor.V1, id, 0, 0, 100, tracker.EventStarted))
			if err := f.priv.flush(ctx, false); err != nil {
				t.Fatal(err)
			}
			before := f.priv.Stats().Written
			for _, s := range tc.steps {
				f.clock.Advance(time.Second)
				f.priv.Record(f.fact(u.ID, tor.V1, id, s[0], s[1], s[2], tracker.Event(s[3])))
			}
			if err := f.priv.flush(ctx, false); err != nil {
				t.Fatal(err)
			}
			if st := f.priv.Stats(); st.Written != before+1 || st.Pending != 0 {
				t.Fatalf("stats %+v: want the update written", st)
			}
		})
	}
}

// TestConcurrentAccounting runs announces of many peers on several
// goroutines through a tracker engine while flushes (holding back idle
// peers) and refreshes run, then checks the totals; run it with -race.
func TestConcurrentAccounting(t *testing.T) {
	f := newFixture(t, newSQLite(t))
	const nUsers, nPeers, rounds = 4, 64, 40
	var users []*catalog.User
	for i := range nUsers {
		users = append(users, f.user(fmt.Sprintf("c%d", i), 0))
	}
	tor := f.torrent(users[0], "concurrent", metainfo.V1)
	keys := map[int64][]byte{}
	for _, u := range users {
		keys[u.ID] = f.key(u, tor)
	}
	f.load()
	trk := tracker.New(tracker.Config{Policy: f.priv, Accounting: f.priv})
	ctx, cancel := context.WithCancel(context.Background())
	var bg sync.WaitGroup
	bg.Add(1)
	go func() {
		defer bg.Done()
		for ctx.Err() == nil {
			if err := f.priv.flush(ctx, false); err != nil && ctx.Err() == nil {
				t.Error(err)
			}
			if err := f.priv.Refresh(ctx); err != nil && ctx.Err() == nil {
				t.Error(err)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var resp tracker.AnnounceResponse
			for r := range rounds {
				for i := g; i < nPeers; i += 4 {
					u := users[i%nUsers]
					up := uint64(r / 2 * 100) // every other announce is idle
					ev := tracker.EventNone
					if r == 0 {
						ev = tracker.EventStarted
					}
					req := announce(keys[u.ID], tor.V1, pid(fmt.Sprintf("-CC%03d-", i)), up, 0, 1, ev)
					resp.Peers = resp.Peers[:0]
					if err := trk.Announce(req, &resp); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	cancel()
	bg.Wait()
	if err := f.priv.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := f.priv.Stats(); st.Pending != 0 || st.Dropped != 0 || st.Recorded != nPeers*rounds {
		t.Fatalf("stats %+v", st)
	}
	for _, u := range users {
		f.wantTotals(f.store, u.ID, nPeers/nUsers*((rounds-1)/2)*100, 0, 0)
	}
}

// TestIdleQuiet checks that a held-back peer that goes quiet is written
// once IdleWrite has passed since its last written announce, without
// waiting for its next announce.
func TestIdleQuiet(t *testing.T) {
	f := newFixture(t, newSQLite(t))
	ctx := context.Background()
	u := f.user("u", 0)
	tor := f.torrent(u, "quiet", metainfo.V1)
	f.load()
	f.priv.cfg.IdleWrite = 10 * time.Second
	id := pid("-QUIET-")
	hold := f.priv.cfg.IdleWrite - time.Duration(idleJitter(&catalog.PeerKey{UserID: u.ID, TorrentID: tor.ID, PeerID: id}, f.priv.cfg.IdleWrite))
	f.priv.Record(f.fact(u.ID, tor.V1, id, 0, 0, 0, tracker.EventStarted))
	if err := f.priv.flush(ctx, false); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(2 * time.Second)
	f.priv.Record(f.fact(u.ID, tor.V1, id, 0, 0, 0, tracker.EventNone))
	// Quiet; flushes every second.
	for since := 3 * time.Second; since <= f.priv.cfg.IdleWrite; since += time.Second {
		f.clock.Advance(time.Second)
		if err := f.priv.flush(ctx, false); err != nil {
			t.Fatal(err)
		}
		want := uint64(1)
		if since >= hold {
			want = 2
		}
		if st := f.priv.Stats(); st.Written != want {
			t.Fatalf("%v after the written announce (hold %v): %+v", since, hold, st)
		}
	}
	st, err := f.store.UserStats(f.sys, u.ID)
	if err != nil || st.SeedTime != 2*time.Second {
		t.Fatalf("seed time %v, %v", st.SeedTime, err)
	}
}

func TestIdleWriteDefaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want time.Duration
	}{
		{"default", Config{}, 30 * time.Second},
		{"set", Config{IdleWrite: 5 * time.Second}, 5 * time.Second},
		{"at most a quarter of MaxGap", Config{MaxGap: time.Minute}, 15 * time.Second},
		{"off", Config{IdleWrite: -1}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := New(nil, tc.cfg).cfg.IdleWrite; got != tc.want {
				t.Fatalf("IdleWrite %v, want %v", got, tc.want)
			}
		})
	}
}
