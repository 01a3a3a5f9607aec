package catalogtest

import (
	"context"
	"testing"
	"time"

	"github.com/gale-bt/gale/internal/catalog"
	"github.com/gale-bt/gale/internal/tracker"
	"github.com/gale-bt/gale/metainfo"
)

// acct drives ApplyAccounting for one peer.
type acct struct {
	t     *testing.T
	e     *env
	key   catalog.PeerKey
	t0    int64
	rules catalog.AccountRules
	free  bool
	dbl   bool
}

func newAcct(e *env, user, torrent int64, id string) *acct {
	k := catalog.PeerKey{UserID: user, TorrentID: torrent}
	copy(k.PeerID[:], id)
	return &acct{t: e.t, e: e, key: k, t0: e.clock.Now().UnixNano()}
}

// obs is an announce at t0 + sec seconds.
func (a *acct) obs(sec int, up, down, left uint64, ev tracker.Event) catalog.Observation {
	return catalog.Observation{Uploaded: up, Downloaded: down, Left: left, At: a.t0 + int64(sec)*int64(time.Second), Event: ev}
}

// apply writes one update made of the observations.
func (a *acct) apply(obs ...catalog.Observation) map[catalog.PeerKey]catalog.PeerLast {
	a.t.Helper()
	u := catalog.NewPeerUpdate(a.key, "192.0.2.7:51413", obs[0])
	for _, o := range obs[1:] {
		u.Add("", o, 0)
	}
	u.Freeleech, u.DoubleUpload = a.free, a.dbl
	res, err := a.e.c.ApplyAccounting(context.Background(), []catalog.PeerUpdate{u}, nil, a.rules)
	if err != nil {
		a.t.Fatalf("ApplyAccounting: %v", err)
	}
	return res
}

// wantStats checks a user's totals.
func (e *env) wantStats(user int64, up, down, rawUp, rawDown, snatches int64, seed, leech time.Duration) {
	e.t.Helper()
	st, err := e.c.UserStats(e.sys, user)
	if err != nil {
		e.t.Fatal(err)
	}
	if st.Uploaded != up || st.Downloaded != down || st.RawUploaded != rawUp || st.RawDownloaded != rawDown ||
		st.Snatches != snatches || st.SeedTime != seed || st.LeechTime != leech {
		e.t.Fatalf("stats = up %d down %d raw %d/%d snatches %d seed %v leech %v; want up %d down %d raw %d/%d snatches %d seed %v leech %v",
			st.Uploaded, st.Downloaded, st.RawUploaded, st.RawDownloaded, st.Snatches, st.SeedTime, st.LeechTime,
			up, down, rawUp, rawDown, snatches, seed, leech)
	}
}

func testAccounting(t *testing.T, open Opener) {
	e := newEnv(t, open)
	u := e.user("leecher", false, 0)
	tor := e.torrent(u, "accounted", 0, metainfo.V1)
	a := newAcct(e, u.ID, tor.ID, "-TR4060-aaaaaaaaaaaa")
	m := time.Minute
	// Started, then an announce a minute later, folded into one update.
	res := a.apply(a.obs(0, 0, 0, 1000, tracker.EventStarted), a.obs(60, 100, 500, 500, tracker.EventNone))
	if l := res[a.key]; !l.Exists || l.Uploaded != 100 || l.Downloaded != 500 || l.Left != 500 || l.Stopped {
		t.Fatalf("returned last = %+v", l)
	}
	e.wantStats(u.ID, 100, 500, 100, 500, 0, 0, m)
	// Completed: a snatch.
	a.apply(a.obs(120, 300, 1000, 0, tracker.EventCompleted))
	e.wantStats(u.ID, 300, 1000, 300, 1000, 1, 0, 2*m)
	// Seeding.
	a.apply(a.obs(180, 400, 1000, 0, tracker.EventNone))
	e.wantStats(u.ID, 400, 1000, 400, 1000, 1, m, 2*m)
	// The client restarted: counters went down, a new session from 0.
	a.apply(a.obs(240, 50, 0, 0, tracker.EventStarted))
	e.wantStats(u.ID, 450, 1000, 450, 1000, 1, 2*m, 2*m)
	// Stopped, then a new session later: no time credited in between.
	a.apply(a.obs(300, 80, 0, 0, tracker.EventStopped))
	a.apply(a.obs(1300, 10, 0, 0, tracker.EventStarted), a.obs(1360, 10, 0, 0, tracker.EventCompleted))
	e.wantStats(u.ID, 490, 1000, 490, 1000, 1, 4*m, 2*m) // a second "completed" is no second snatch
	got, err := e.c.Torrent(e.sys, tor.ID)
	if err != nil || got.Snatches != 1 {
		t.Fatalf("torrent snatches = %v, %v", got, err)
	}
	// A gap longer than MaxGap is capped.
	a.apply(a.obs(1360+5*3600, 10, 0, 0, tracker.EventNone))
	e.wantStats(u.ID, 490, 1000, 490, 1000, 1, 4*m+catalog.DefaultMaxGap, 2*m)

	lasts, err := e.c.PeerLasts(context.Background(), []catalog.PeerKey{a.key, {UserID: u.ID, TorrentID: tor.ID}})
	if err != nil || len(lasts) != 1 || lasts[a.key].Uploaded != 10 {
		t.Fatalf("PeerLasts = %v, %v", lasts, err)
	}
	// A leecher that completes without the event still snatches (the
	// event may have been lost in a crash).
	u2 := e.user("quiet", false, 0)
	b := newAcct(e, u2.ID, tor.ID, "-qB4500-bbbbbbbbbbbb")
	b.apply(b.obs(0, 0, 0, 1000, tracker.EventStarted))
	b.apply(b.obs(60, 0, 1000, 0, tracker.EventNone))
	e.wantStats(u2.ID, 0, 1000, 0, 1000, 1, 0, m)
}

// testAccountingReplay checks exactly-once crediting: an update applied
// twice (a commit reported as failed) and cumulative counters sent again
// after a crash credit nothing more.
func testAccountingReplay(t *testing.T, open Opener) {
	e := newEnv(t, open)
	u := e.user("replayer", false, 0)
	tor := e.torrent(u, "replayed", 0, metainfo.V1)
	a := newAcct(e, u.ID, tor.ID, "-lt2000-cccccccccccc")
	batch := []catalog.Observation{a.obs(0, 0, 0, 100, tracker.EventStarted), a.obs(30, 1000, 60, 40, tracker.EventNone)}
	a.apply(batch...)
	a.apply(batch...)
	e.wantStats(u.ID, 1000, 60, 1000, 60, 0, 0, 30*time.Second)
	// After a crash the client repeats its counters with a later announce.
	a.apply(a.obs(90, 1000, 60, 40, tracker.EventNone))
	e.wantStats(u.ID, 1000, 60, 1000, 60, 0, 0, 90*time.Second)

	// Several peers and users in one batch, with known (cached) lasts.
	u2 := e.user("second", false, 0)
	k1, k2 := a.key, catalog.PeerKey{UserID: u2.ID, TorrentID: tor.ID}
	copy(k2.PeerID[:], "-DE2000-dddddddddddd")
	p1 := catalog.NewPeerUpdate(k1, "", a.obs(120, 1500, 60, 40, tracker.EventNone))
	p2 := catalog.NewPeerUpdate(k2, "[2001:db8::1]:6881", a.obs(120, 7, 8, 9, tracker.EventStarted))
	known := map[catalog.PeerKey]catalog.PeerLast{}
	lasts, _ := e.c.PeerLasts(context.Background(), []catalog.PeerKey{k1})
	known[k1] = lasts[k1]
	res, err := e.c.ApplyAccounting(context.Background(), []catalog.PeerUpdate{p2, p1}, known, catalog.AccountRules{})
	if err != nil || len(res) != 2 || res[k2].Left != 9 {
		t.Fatalf("ApplyAccounting = %v, %v", res, err)
	}
	e.wantStats(u.ID, 1500, 60, 1500, 60, 0, 0, 120*time.Second)
	e.wantStats(u2.ID, 7, 8, 7, 8, 0, 0, 0)
	if res, err := e.c.ApplyAccounting(context.Background(), nil, nil, catalog.AccountRules{}); err != nil || len(res) != 0 {
		t.Fatalf("empty batch = %v, %v", res, err)
	}
}

func testAccountingBonuses(t *testing.T, open Opener) {
	e := newEnv(t, open)
	u := e.user("bonus", false, 0)
	tor := e.torrent(u, "bonus", 0, metainfo.V1)
	a := newAcct(e, u.ID, tor.ID, "-TR4060-eeeeeeeeeeee")
	a.free = true
	a.apply(a.obs(0, 100, 1000, 5, tracker.EventNone))
	e.wantStats(u.ID, 100, 0, 100, 1000, 0, 0, 0)
	a.free, a.dbl = false, true
	a.apply(a.obs(10, 300, 1500, 5, tracker.EventNone))
	e.wantStats(u.ID, 500, 500, 300, 1500, 0, 0, 10*time.Second)
	a.free, a.dbl = true, true
	a.apply(a.obs(20, 400, 2000, 0, tracker.EventCompleted))
	e.wantStats(u.ID, 700, 500, 400, 2000, 1, 0, 20*time.Second)
}

func testFlags(t *testing.T, open Opener) {
	e := newEnv(t, open)
	cheat := e.user("cheat", false, 0)
	user := e.user("plain", false, 0)
	tor := e.torrent(cheat, "flagged", 0, metainfo.V1)
	a := newAcct(e, cheat.ID, tor.ID, "-XX0001-ffffffffffff")
	a.rules.FlagRate = 1000
	a.apply(a.obs(0, 0, 0, 0, tracker.EventStarted))
	a.apply(a.obs(10, 5000, 0, 0, tracker.EventNone))               // 500 B/s: fine
	a.apply(a.obs(20, 50000, 0, 0, tracker.EventNone))              // 4500 B/s: flagged
	e.wantStats(cheat.ID, 50000, 0, 50000, 0, 0, 20*time.Second, 0) // flagged deltas are still credited
	flags, err := e.c.Flags(e.sys, catalog.FlagFilter{Open: true})
	if err != nil || len(flags) != 1 {
		t.Fatalf("Flags = %v, %v", flags, err)
	}
	f := flags[0]
	if f.UserID != cheat.ID || f.UserName != "cheat" || f.TorrentID != tor.ID || f.Uploaded != 45000 || f.Rate != 4500 ||
		f.Seconds != 10 || f.Client != "-XX0001-" || f.Resolved {
		t.Fatalf("flag = %+v", f)
	}
	_, err = e.c.Flags(as(user), catalog.FlagFilter{})
	wantCode(t, "Flags as user", err, catalog.EFORBIDDEN)
	wantCode(t, "resolve as user", e.c.ResolveFlag(as(user), f.ID, "ok"), catalog.EFORBIDDEN)
	if err := e.c.ResolveFlag(e.sys, f.ID, "seedbox on 10G"); err != nil {
		t.Fatal(err)
	}
	if open, _ := e.c.Flags(e.sys, catalog.FlagFilter{Open: true}); len(open) != 0 {
		t.Fatalf("open flags after resolving: %v", open)
	}
	all, _ := e.c.Flags(e.sys, catalog.FlagFilter{UserID: cheat.ID})
	if len(all) != 1 || !all[0].Resolved || all[0].Note != "seedbox on 10G" {
		t.Fatalf("resolved flag = %+v", all)
	}
	wantCode(t, "resolve unknown", e.c.ResolveFlag(e.sys, 9999, ""), catalog.ENOTFOUND)
}

func testUserTorrents(t *testing.T, open Opener) {
	e := newEnv(t, open)
	u := e.user("active", false, 0)
	other := e.user("other", false, 0)
	seeding := e.torrent(u, "seeding", 0, metainfo.V1)
	leeching := e.torrent(u, "leeching", 0, metainfo.V1)
	stopped := e.torrent(u, "stopped", 0, metainfo.V1)
	for _, c := range []struct {
		tor  *catalog.Torrent
		left uint64
		ev   tracker.Event
	}{{seeding, 0, tracker.EventNone}, {leeching, 10, tracker.EventNone}, {stopped, 10, tracker.EventStopped}} {
		a := newAcct(e, u.ID, c.tor.ID, "-TR4060-gggggggggggg")
		a.apply(a.obs(0, 1, 2, c.left, c.ev))
	}
	st, err := e.c.UserStats(as(other), u.ID)
	if err != nil || st.Seeding != 1 || st.Leeching != 1 {
		t.Fatalf("UserStats = %+v, %v", st, err)
	}
	all, err := e.c.UserTorrents(as(u), u.ID, false, catalog.Page{})
	if err != nil || len(all) != 3 {
		t.Fatalf("UserTorrents = %v, %v", all, err)
	}
	active, err := e.c.UserTorrents(as(u), u.ID, true, catalog.Page{})
	if err != nil || len(active) != 2 {
		t.Fatalf("active UserTorrents = %v, %v", active, err)
	}
	for _, ut := range active {
		if (ut.TorrentID == seeding.ID) != ut.Seeding || ut.Uploaded != 1 || ut.Downloaded != 2 || ut.LastAnnounce.IsZero() {
			t.Errorf("row %+v", ut)
		}
	}
	peers, err := e.c.TorrentPeers(e.sys, leeching.ID)
	if err != nil || len(peers) != 1 || peers[0].UserName != "active" || peers[0].Client != "-TR4060-" ||
		peers[0].Addr != "192.0.2.7:51413" || peers[0].Left != 10 {
		t.Fatalf("TorrentPeers = %+v, %v", peers, err)
	}
	if peers, _ := e.c.TorrentPeers(e.sys, stopped.ID); len(peers) != 0 {
		t.Fatalf("stopped peer listed: %+v", peers)
	}
	ss, err := e.c.SiteStats(as(other))
	if err != nil || ss.Users != 2 || ss.Torrents != 3 || ss.Uploaded != 3 || ss.Downloaded != 6 || ss.ActivePeers != 2 {
		t.Fatalf("SiteStats = %+v, %v", ss, err)
	}
	// Peers go inactive after the peer TTL.
	e.clock.Advance(24 * time.Hour)
	if st, _ := e.c.UserStats(as(other), u.ID); st.Seeding != 0 || st.Leeching != 0 {
		t.Fatalf("after a day: %+v", st)
	}
	if n, err := e.c.PrunePeers(context.Background(), e.clock.Now()); err != nil || n != 3 {
		t.Fatalf("PrunePeers = %d, %v", n, err)
	}
	// Only the user, administrators and moderators list them; a
	// moderator sees only rows of torrents visible to them.
	_, err = e.c.UserTorrents(as(other), u.ID, false, catalog.Page{})
	wantCode(t, "UserTorrents of another user", err, catalog.EFORBIDDEN)
	_, err = e.c.UserTorrents(context.Background(), u.ID, false, catalog.Page{})
	wantCode(t, "UserTorrents anonymous", err, catalog.EUNAUTHORIZED)
	mods, err := e.c.CreateGroup(e.sys, "Mods")
	if err != nil {
		t.Fatal(err)
	}
	hidden, err := e.c.CreateCategory(e.sys, "Hidden", 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.c.SetRights(e.sys, mods.ID, 1, catalog.RightModerate); err != nil {
		t.Fatal(err)
	}
	secret := e.torrent(u, "secret", hidden.ID, metainfo.V1)
	a := newAcct(e, u.ID, secret.ID, "-TR4060-hhhhhhhhhhhh")
	a.apply(a.obs(0, 1, 2, 0, tracker.EventNone))
	mod := e.user("mod", false, mods.ID)
	if rows, err := e.c.UserTorrents(as(mod), u.ID, false, catalog.Page{}); err != nil || len(rows) != 3 {
		t.Fatalf("UserTorrents as a moderator of General = %v, %v", rows, err)
	}
	admin := e.user("admin", true, 0)
	if rows, err := e.c.UserTorrents(as(admin), u.ID, false, catalog.Page{}); err != nil || len(rows) != 4 {
		t.Fatalf("UserTorrents as an administrator = %v, %v", rows, err)
	}
	if rows, err := e.c.UserTorrents(as(u), u.ID, false, catalog.Page{}); err != nil || len(rows) != 3 {
		t.Fatalf("UserTorrents of oneself, without the category one may not see = %v, %v", rows, err)
	}
}
