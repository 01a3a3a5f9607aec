package sqlstore_test

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gale-bt/gale/internal/catalog"
	"github.com/gale-bt/gale/internal/catalog/catalogtest"
	"github.com/gale-bt/gale/internal/catalog/sqlstore"
	"github.com/gale-bt/gale/internal/tracker"
	"github.com/gale-bt/gale/metainfo"
)

// acctModel is what ApplyAccounting must store, computed with
// catalog.Account peer by peer.
type acctModel struct {
	last     map[catalog.PeerKey]catalog.PeerLast
	totals   map[int64]*catalog.UserStats
	snatched map[[2]int64]bool
	flags    int
}

func (m *acctModel) apply(ups []catalog.PeerUpdate, r catalog.AccountRules) {
	order := make([]int, len(ups))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		ka, kb := &ups[a].PeerKey, &ups[b].PeerKey
		return cmp.Or(cmp.Compare(ka.UserID, kb.UserID), cmp.Compare(ka.TorrentID, kb.TorrentID),
			slices.Compare(ka.PeerID[:], kb.PeerID[:]))
	})
	for _, i := range order {
		u := &ups[i]
		next, c := catalog.Account(m.last[u.PeerKey], u, r)
		m.last[u.PeerKey] = next
		st := m.totals[u.UserID]
		if st == nil {
			st = &catalog.UserStats{UserID: u.UserID}
			m.totals[u.UserID] = st
		}
		st.Uploaded += c.Up
		st.Downloaded += c.Down
		st.RawUploaded += c.RawUp
		st.RawDownloaded += c.RawDown
		st.SeedTime += c.Seed.Truncate(time.Millisecond)
		st.LeechTime += c.Leech.Truncate(time.Millisecond)
		if ut := [2]int64{u.UserID, u.TorrentID}; c.Completed && !m.snatched[ut] {
			m.snatched[ut] = true
			st.Snatches++
		}
		if c.Flagged {
			m.flags++
		}
	}
}

// TestApplyAccountingBatch writes flushes of hundreds of peers (more rows
// per table than one of SQLite's prepared multi-row statements or, with
// a lowered limit, one PostgreSQL statement takes, and peers whose stored
// counters are read back in several chunks) with
// repeated peers, completions, stops, flagged deltas and a replayed
// update, and checks the stored totals, last counters and flags against
// catalog.Account applied peer by peer.
func TestApplyAccountingBatch(t *testing.T) {
	for _, db := range []struct {
		name string
		open func(*testing.T, func() time.Time) catalog.Catalog
	}{{"sqlite", openSQLite}, {"postgres", openPostgres}} {
		t.Run(db.name, func(t *testing.T) {
			if db.name == "postgres" {
				postgresURL(t)
				// Several statements per table and for reading the
				// stored counters back.
				defer sqlstore.SetPGBulkRows(100)()
			}
			testAccountingBatch(t, db.open(t, nil).(*sqlstore.Store))
		})
	}
}

func testAccountingBatch(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	sys := catalog.WithSystem(ctx)
	const nUsers, nTorrents, nPeers = 4, 70, 700 // 280 user_torrents rows
	var users, torrents []int64
	for i := range nUsers {
		u, err := s.CreateUser(sys, catalog.NewUser{Name: fmt.Sprintf("batch%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, u.ID)
	}
	for i := range nTorrents {
		tor, err := s.AddTorrent(sys, catalog.NewTorrent{Metainfo: catalogtest.MakeTorrent(t, fmt.Sprintf("batch %d", i), metainfo.V1),
			CategoryID: 1, OwnerID: users[0]})
		if err != nil {
			t.Fatal(err)
		}
		torrents = append(torrents, tor.ID)
	}
	keys := make([]catalog.PeerKey, nPeers)
	for i := range keys {
		keys[i] = catalog.PeerKey{UserID: users[i%nUsers], TorrentID: torrents[(i/nUsers)%nTorrents]}
		copy(keys[i].PeerID[:], "-TB0001-")
		binary.BigEndian.PutUint32(keys[i].PeerID[16:], uint32(i))
	}
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC).UnixNano()
	at := func(sec int) int64 { return t0 + int64(sec)*int64(time.Second) }
	r := catalog.AccountRules{MaxGap: time.Hour, FlagRate: 50 << 20}
	m := &acctModel{last: map[catalog.PeerKey]catalog.PeerLast{}, totals: map[int64]*catalog.UserStats{}, snatched: map[[2]int64]bool{}}
	flush := func(ups []catalog.PeerUpdate, known map[catalog.PeerKey]catalog.PeerLast) map[catalog.PeerKey]catalog.PeerLast {
		t.Helper()
		res, err := s.ApplyAccounting(ctx, ups, known, r)
		if err != nil {
			t.Fatalf("ApplyAccounting: %v", err)
		}
		m.apply(ups, r)
		for _, u := range ups {
			if res[u.PeerKey] != m.last[u.PeerKey] {
				t.Fatalf("returned %+v for %x, want %+v", res[u.PeerKey], u.PeerID[16:], m.last[u.PeerKey])
			}
		}
		return res
	}

	// 1: every peer starts; one in seven announces again (a second update
	// of the same peer in the batch, as for both hashes of a hybrid).
	var ups []catalog.PeerUpdate
	for i, k := range keys {
		left := uint64(1 << 30)
		if i%3 == 0 {
			left = 0
		}
		u := catalog.NewPeerUpdate(k, "192.0.2.1:6881", catalog.Observation{Left: left, At: at(0), Event: tracker.EventStarted})
		u.Add("", catalog.Observation{Uploaded: uint64(i) << 10, Downloaded: uint64(i) << 9, Left: left, At: at(10)}, time.Hour)
		ups = append(ups, u)
		if i%7 == 0 {
			ups = append(ups, catalog.NewPeerUpdate(k, "192.0.2.2:6881",
				catalog.Observation{Uploaded: uint64(i)<<10 + 5, Downloaded: uint64(i)<<9 + 7, Left: left, At: at(20)}))
		}
	}
	known := flush(ups, nil)

	// 2: counters move; some leechers complete, some peers stop, some
	// move faster than FlagRate.
	ups = ups[:0]
	for i, k := range keys {
		l := known[k]
		o := catalog.Observation{Uploaded: l.Uploaded + uint64(i%13)<<20, Downloaded: l.Downloaded, Left: l.Left, At: at(80)}
		switch {
		case l.Left > 0 && i%5 == 1:
			o.Downloaded, o.Left, o.Event = l.Downloaded+l.Left, 0, tracker.EventCompleted
		case i%11 == 2:
			o.Event = tracker.EventStopped
		case i%17 == 3:
			o.Uploaded += 10 << 30
		}
		ups = append(ups, catalog.NewPeerUpdate(k, "192.0.2.1:6881", o))
	}
	second := slices.Clone(ups)
	known = flush(ups, known)

	// 3: the stored counters read back (nothing known); a few updates of
	// flush 2 replayed, which must credit nothing.
	ups = ups[:0]
	for i, k := range keys {
		l := known[k]
		if i%9 == 4 {
			ups = append(ups, second[i])
			continue
		}
		ev := tracker.EventNone
		if l.Stopped {
			ev = tracker.EventStarted
		}
		ups = append(ups, catalog.NewPeerUpdate(k, "192.0.2.3:6881",
			catalog.Observation{Uploaded: l.Uploaded + 1000, Downloaded: l.Downloaded, Left: l.Left, At: at(140), Event: ev}))
	}
	flush(ups, nil)

	for _, id := range users {
		got, err := s.UserStats(sys, id)
		if err != nil {
			t.Fatal(err)
		}
		want := m.totals[id]
		if got.Uploaded != want.Uploaded || got.Downloaded != want.Downloaded || got.RawUploaded != want.RawUploaded ||
			got.RawDownloaded != want.RawDownloaded || got.Snatches != want.Snatches || got.SeedTime != want.SeedTime ||
			got.LeechTime != want.LeechTime {
			t.Errorf("user %d: stats %+v, want %+v", id, *got, *want)
		}
		if want.Snatches == 0 || want.Uploaded == 0 {
			t.Errorf("user %d: the test credits nothing: %+v", id, *want)
		}
	}
	stored, err := s.PeerLasts(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != nPeers {
		t.Fatalf("%d peers stored, want %d", len(stored), nPeers)
	}
	for _, k := range keys {
		if stored[k] != m.last[k] {
			t.Fatalf("peer %x stored %+v, want %+v", k.PeerID[16:], stored[k], m.last[k])
		}
	}
	var flags int
	if err := s.DB().QueryRow(`SELECT COUNT(*) FROM flags`).Scan(&flags); err != nil || flags != m.flags || flags == 0 {
		t.Errorf("%d flags (%v), want %d (> 0)", flags, err, m.flags)
	}
}
