package privtracker

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
	"unsafe"

	"github.com/gale-bt/gale/internal/catalog"
	"github.com/gale-bt/gale/internal/tracker"
	"github.com/gale-bt/gale/metainfo"
)

// TestAdmittedPeers checks the policy with admitted peers remembered in
// the peer table: a wrong key, a client rule and every catalog change
// still refuse at once.
func TestAdmittedPeers(t *testing.T) {
	f := newFixture(t, newSQLite(t))
	ctx := context.Background()
	alice, bob := f.user("alice", 0), f.user("bob", 0)
	tor := f.torrent(alice, "admitted", metainfo.V1)
	key, bobKey := f.key(alice, tor), f.key(bob, tor)
	f.load()
	ann := func(k []byte, id string) error {
		_, err := f.priv.Announce(announce(k, tor.V1, pid(id), 0, 0, 1, tracker.EventNone))
		return err
	}
	mustBe := func(what string, err, want error) {
		t.Helper()
		if tracker.ClientMessage(err) != tracker.ClientMessage(want) || (err == nil) != (want == nil) {
			t.Fatalf("%s: %v, want %v", what, err, want)
		}
	}
	refresh := func() {
		t.Helper()
		if err := f.priv.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	mustBe("first", ann(key, "-TR-"), nil)
	mustBe("again", ann(key, "-TR-"), nil)
	wrong := append([]byte(nil), key...)
	wrong[31] ^= 1
	mustBe("wrong digest", ann(wrong, "-TR-"), ErrBadKey)
	mustBe("bob's digest under alice's ID", ann(append(append([]byte(nil), key[:8]...), bobKey[8:]...), "-TR-"), ErrBadKey)
	mustBe("bob", ann(bobKey, "-TR-"), nil)
	if _, err := f.store.AddClientRule(f.sys, catalog.ClientRule{Prefix: "-BAD"}); err != nil {
		t.Fatal(err)
	}
	refresh()
	mustBe("client rule", ann(key, "-BAD-"), ErrClient)
	mustBe("client rule, admitted before", ann(key, "-BAD-"), ErrClient)
	mustBe("other client", ann(key, "-TR-"), nil)
	yes := true
	if _, err := f.store.UpdateUser(f.sys, bob.ID, catalog.UserUpdate{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	refresh()
	mustBe("bob disabled", ann(bobKey, "-TR-"), ErrDisabled)
	mustBe("alice still", ann(key, "-TR-"), nil)
	if _, err := f.store.ResetKey(f.sys, alice.ID); err != nil {
		t.Fatal(err)
	}
	refresh()
	mustBe("alice's old key", ann(key, "-TR-"), ErrBadKey)
	key = f.key(alice, tor)
	mustBe("alice's new key", ann(key, "-TR-"), nil)
	if err := f.store.SetRights(f.sys, 1, 1, 0); err != nil {
		t.Fatal(err)
	}
	refresh()
	mustBe("rights removed", ann(key, "-TR-"), ErrAccessRevoked)
	if err := f.store.SetRights(f.sys, 1, 1, catalog.RightSee|catalog.RightDownload|catalog.RightUpload); err != nil {
		t.Fatal(err)
	}
	refresh()
	mustBe("rights back", ann(key, "-TR-"), nil)
	if err := f.store.DeleteTorrent(f.sys, tor.ID, "gone"); err != nil {
		t.Fatal(err)
	}
	refresh()
	mustBe("deleted", ann(key, "-NEW-"), &tracker.Error{Reason: "torrent deleted: gone"})
	// Many peers: each admitted once, then from the table, without
	// allocating.
	var reqs []*tracker.AnnounceRequest
	for i := range 20 {
		tr := f.torrent(alice, fmt.Sprintf("many-%d", i), metainfo.V1)
		reqs = append(reqs, announce(f.key(alice, tr), tr.V1, pid(fmt.Sprintf("-TR%02d-", i)), 0, 0, 1, 0))
	}
	refresh()
	for range 2 {
		for _, r := range reqs {
			if _, err := f.priv.Announce(r); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := testing.AllocsPerRun(50, func() { f.priv.Announce(reqs[3]) }); n != 0 {
		t.Fatalf("an admitted announce allocates %v times", n)
	}
}

// TestRecordHints checks that Record folds each announce into its own
// peer whatever the hint in Grant.Hint says, and that the peer table
// forgets peers without pending updates.
func TestRecordHints(t *testing.T) {
	f := newFixture(t, newSQLite(t))
	ctx := context.Background()
	u := f.user("u", 0)
	tor := f.torrent(u, "hints", metainfo.V1)
	key := f.key(u, tor)
	f.load()
	grant := func(id string) uint64 {
		g, err := f.priv.Announce(announce(key, tor.V1, pid(id), 0, 0, 1, 0))
		if err != nil || g.Hint == 0 || g.User != uint64(u.ID) {
			t.Fatalf("%s: grant %+v, %v", id, g, err)
		}
		return g.Hint
	}
	a, b := grant("-A-"), grant("-B-")
	fact := func(id string, hint uint64, up uint64) *tracker.Fact {
		fa := f.fact(u.ID, tor.V1, pid(id), up, 0, 1, 0)
		fa.Hint = hint
		return fa
	}
	f.priv.Record(fact("-A-", a, 10))
	f.priv.Record(fact("-B-", a, 20))           // B with A's hint
	f.priv.Record(fact("-C-", b, 30))           // not in the table yet, B's hint
	f.priv.Record(fact("-A-", 0, 11))           // no hint
	f.priv.Record(fact("-B-", 1<<31|1<<22, 21)) // a hint beyond the table
	if st := f.priv.Stats(); st.Pending != 3 {
		t.Fatalf("pending %d, want 3", st.Pending)
	}
	if err := f.priv.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	f.wantTotals(f.store, u.ID, 11+21+30, 0, 0)
	if n := f.priv.npeers.Load(); n != 3 {
		t.Fatalf("%d peers in the table after the flush, want 3", n)
	}
	// Entries without updates go after keepClean flush intervals.
	f.clock.Advance(keepClean*f.priv.cfg.FlushInterval + time.Millisecond)
	if err := f.priv.flush(ctx, false); err != nil {
		t.Fatal(err)
	}
	if n := f.priv.npeers.Load(); n != 0 {
		t.Fatalf("%d peers in the table, want 0", n)
	}
	// A stale hint (its entry was reused by another peer) is not followed.
	f.priv.Record(fact("-D-", a, 40))
	f.priv.Record(fact("-A-", a, 15))
	if err := f.priv.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	f.wantTotals(f.store, u.ID, 11+21+30+40+4, 0, 0)
}

// TestPeerTableBound fills the peer table: beyond MaxPending entries, a
// flush drops every entry without a pending update, so Records never wait
// for room there longer than for the pending queue.
func TestPeerTableBound(t *testing.T) {
	f := newFixture(t, newSQLite(t))
	ctx := context.Background()
	u := f.user("u", 0)
	tor := f.torrent(u, "bound", metainfo.V1)
	key := f.key(u, tor)
	f.load()
	p := New(f.store, Config{Now: f.clock.Now, MaxPending: 4, MaxWait: time.Millisecond})
	if err := p.Load(ctx); err != nil {
		t.Fatal(err)
	}
	// Admissions alone fill the table (MaxPending and a quarter), then
	// stop being remembered.
	for i := range 12 {
		g, err := p.Announce(announce(key, tor.V1, pid(fmt.Sprintf("-P%02d-", i)), 0, 0, 1, 0))
		if err != nil {
			t.Fatal(err)
		}
		if remembered := g.Hint != 0; remembered != (i < 5) {
			t.Fatalf("announce %d: remembered %v", i, remembered)
		}
	}
	if n := p.npeers.Load(); n != 5 {
		t.Fatalf("%d entries, want 5", n)
	}
	// A new peer cannot be recorded until a flush makes room.
	p.Record(f.fact(u.ID, tor.V1, pid("-NEW-"), 1, 0, 1, 0))
	if st := p.Stats(); st.Dropped != 1 {
		t.Fatalf("stats %+v", st)
	}
	if err := p.flush(ctx, false); err != nil {
		t.Fatal(err)
	}
	if n := p.npeers.Load(); n != 0 {
		t.Fatalf("%d entries after a crowded flush, want 0", n)
	}
	for i := range 4 {
		p.Record(f.fact(u.ID, tor.V1, pid(fmt.Sprintf("-P%02d-", i)), 5, 0, 1, 0))
	}
	if err := p.flush(ctx, false); err != nil {
		t.Fatal(err)
	}
	f.wantTotals(f.store, u.ID, 20, 0, 0)
}

// TestPeerEntryLayout keeps an entry in two cache lines: the first for
// the policy, the second for the pending update.
func TestPeerEntryLayout(t *testing.T) {
	var e peerEntry
	if s := unsafe.Sizeof(e); s != 128 {
		t.Errorf("peerEntry is %d bytes", s)
	}
	if o := unsafe.Offsetof(e.word) + 8; o > 64 {
		t.Errorf("the admission ends at %d", o)
	}
	if o := unsafe.Offsetof(e.up); o != 64 {
		t.Errorf("the update starts at %d", o)
	}
}

// TestPeerShard adds and removes many peers in one shard, checking every
// lookup against a map, then shrinks the shard's table.
func TestPeerShard(t *testing.T) {
	p := New(nil, Config{MaxPending: 1 << 16})
	sh := &p.peers[0]
	key := func(n int) pendKey {
		k := pendKey{user: uint32(1 + n%7)}
		k.ih[0], k.ih[1] = byte(n), byte(n>>8)
		k.peer[0], k.peer[1], k.peer[2] = byte(n), byte(n>>8), byte(n>>16)
		return k
	}
	want := map[pendKey]bool{}
	rng := rand.New(rand.NewPCG(3, 4))
	check := func(when string) {
		t.Helper()
		for k := range want {
			i := sh.find(&k, k.hash())
			if i < 0 || sh.tab[i].k != k {
				t.Fatalf("%s: peer %v not found (%d)", when, k, i)
			}
		}
		for range 100 {
			k := key(1_000_000 + rng.IntN(1000))
			if got := sh.find(&k, k.hash()); got >= 0 {
				t.Fatalf("%s: an absent peer found at %d", when, got)
			}
		}
		if int(p.npeers.Load()) != len(want) || sh.used != len(want) {
			t.Fatalf("%s: %d peers, table %d, want %d", when, p.npeers.Load(), sh.used, len(want))
		}
		if 2*(sh.used+sh.tombs) > len(sh.tab) {
			t.Fatalf("%s: %d live and %d removed entries in %d positions", when, sh.used, sh.tombs, len(sh.tab))
		}
	}
	remove := func(k pendKey) {
		p.removePeer(sh, sh.find(&k, k.hash()))
		delete(want, k)
	}
	for n := range 5000 {
		k := key(n)
		if p.addPeer(sh, &k, k.hash(), 0) < 0 {
			t.Fatal("table full")
		}
		want[k] = true
		if n%3 == 0 { // remove an earlier one
			for k := range want {
				remove(k)
				break
			}
		}
	}
	check("after adding")
	n := 0
	for k := range want {
		if n++; n%20 != 0 {
			remove(k)
		}
	}
	check("after removing")
	before := len(sh.tab)
	sh.shrink()
	if len(sh.tab) >= before || sh.tombs != 0 {
		t.Fatalf("shrunk table: %d positions (was %d), %d removed", len(sh.tab), before, sh.tombs)
	}
	check("after shrinking")
}
