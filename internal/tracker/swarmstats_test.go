package tracker

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// TestStatsIgnoresPolicy checks that Stats answers where Scrape is
// refused, resolves aliases and does not allocate.
func TestStatsIgnoresPolicy(t *testing.T) {
	tr := New(Config{Policy: refuseAll{}})
	open := New(Config{})
	v1, v2 := ih(1), ih(2)
	for _, x := range []*Tracker{tr, open} {
		x.Alias(v2, v1)
	}
	// tr refuses every announce: fill it from the open engine's state.
	mustAnnounce(t, open, req(v1, pid(1), "10.0.0.1:1", 0, EventStarted))
	mustAnnounce(t, open, req(v2, pid(2), "10.0.0.2:2", 5, EventStarted))
	mustAnnounce(t, open, req(v1, pid(3), "[2001:db8::3]:3", 0, EventCompleted))
	copyState(t, open, tr)
	tr.Alias(v2, v1)

	if _, err := tr.Scrape(nil, v1); err == nil {
		t.Fatal("the policy did not refuse the scrape")
	}
	want := ScrapeStats{Seeders: 2, Leechers: 1, Completed: 1}
	for _, tc := range []struct {
		name string
		tr   *Tracker
		ih   InfoHash
		want ScrapeStats
	}{
		{"canonical", tr, v1, want},
		{"alias", tr, v2, want},
		{"unknown", tr, ih(9), ScrapeStats{}},
		{"open engine agrees", open, v2, want},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.tr.Stats(tc.ih); got != tc.want {
				t.Fatalf("Stats = %+v, want %+v", got, tc.want)
			}
		})
	}
	if n := testing.AllocsPerRun(100, func() { tr.Stats(v2) }); n != 0 {
		t.Errorf("Stats allocates %v times", n)
	}
}

func copyState(t *testing.T, from, to *Tracker) {
	t.Helper()
	var b bytes.Buffer
	if _, err := from.WriteState(&b); err != nil {
		t.Fatal(err)
	}
	if _, err := to.ReadState(&b); err != nil {
		t.Fatal(err)
	}
}

func TestPeerStatus(t *testing.T) {
	clk := newClock()
	tr := New(Config{PeerTTL: 10 * time.Minute, Now: clk.Now})
	v1, v2 := ih(1), ih(2)
	tr.Alias(v2, v1)
	mustAnnounce(t, tr, req(v1, pid(1), "10.0.0.1:1", 0, EventStarted)) // seeder, will expire
	clk.Advance(6 * time.Minute)
	mustAnnounce(t, tr, req(v1, pid(2), "10.0.0.2:2", 7, EventStarted))      // leecher
	mustAnnounce(t, tr, req(v2, pid(3), "[2001:db8::3]:3", 0, EventStarted)) // IPv6 seeder via the alias
	mustAnnounce(t, tr, req(v1, pid(4), "10.0.0.4:4", 7, EventStarted))      // leecher that stops
	mustAnnounce(t, tr, req(v1, pid(4), "10.0.0.4:4", 7, EventStopped))      //
	mustAnnounce(t, tr, req(v1, pid(5), "10.0.0.5:5", 3, EventStarted))      // dual-stack: leecher on IPv4
	mustAnnounce(t, tr, req(v1, pid(5), "[2001:db8::5]:5", 0, EventStarted)) // and seeder on IPv6
	clk.Advance(5 * time.Minute)                                             // peer 1 is 11 minutes old: expired, not swept

	live := PeerStatus{Seeders: 2, Leechers: 2}
	with := func(known, seeder bool) PeerStatus {
		st := live
		st.Known, st.Seeder = known, seeder
		return st
	}
	for _, tc := range []struct {
		name string
		ih   InfoHash
		id   int
		want PeerStatus
	}{
		{"expired peer is unknown and not counted", v1, 1, with(false, false)},
		{"leecher", v1, 2, with(true, false)},
		{"leecher through the alias", v2, 2, with(true, false)},
		{"IPv6 seeder", v1, 3, with(true, true)},
		{"stopped peer", v1, 4, with(false, false)},
		{"dual-stack peer seeds in one family", v1, 5, with(true, true)},
		{"stranger", v1, 99, with(false, false)},
		{"unknown swarm", ih(9), 2, PeerStatus{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tr.PeerStatus(tc.ih, pid(tc.id)); got != tc.want {
				t.Fatalf("PeerStatus = %+v, want %+v", got, tc.want)
			}
		})
	}
	// Stats still counts the expired peer until a sweep; PeerStatus never.
	if st := tr.Stats(v1); st.Seeders != 3 || st.Leechers != 2 {
		t.Fatalf("Stats before sweep = %+v", st)
	}
	tr.Sweep()
	if st := tr.Stats(v1); st.Seeders != 2 || st.Leechers != 2 {
		t.Fatalf("Stats after sweep = %+v", st)
	}
}

// TestPeerStatusBigSwarm checks the bucketed layout against the model of
// who announced.
func TestPeerStatusBigSwarm(t *testing.T) {
	smallBuckets(t)
	clk := newClock()
	tr := New(Config{PeerTTL: 10 * time.Minute, Now: clk.Now})
	h := ih(1)
	const n = 400
	for i := 0; i < n; i++ {
		addr := fmt.Sprintf("10.1.%d.%d:%d", i>>8, i&255, 1000+i)
		if i%5 == 0 {
			addr = fmt.Sprintf("[2001:db8::%x]:%d", i, 1000+i)
		}
		mustAnnounce(t, tr, req(h, pid(i), addr, uint64(i%3), EventStarted))
		if i == n/2 {
			clk.Advance(6 * time.Minute)
		}
	}
	if tr.shards[tr.hash(&h)%numShards].bigOf(tr.findBlob(h)) == nil {
		t.Fatal("swarm is not big")
	}
	clk.Advance(5 * time.Minute) // the first half has expired
	seeds, leechers := 0, 0
	for i := n/2 + 1; i < n; i++ {
		if i%3 == 0 {
			seeds++
		} else {
			leechers++
		}
	}
	for _, i := range []int{0, 3, n / 2, n/2 + 1, n/2 + 2, n - 1, n + 5} {
		st := tr.PeerStatus(h, pid(i))
		known := i > n/2 && i < n
		if st.Known != known || st.Seeder != (known && i%3 == 0) || st.Seeders != seeds || st.Leechers != leechers {
			t.Errorf("peer %d: %+v, want known %v, %d seeders, %d leechers", i, st, known, seeds, leechers)
		}
	}
}
