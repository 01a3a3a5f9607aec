package tracker

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/gale-bt/gale/internal/peer"
)

// checkInvariants verifies every list of every swarm: regions sorted and
// disjoint, counts consistent with the shard counters and big swarm
// totals, and the index finding every swarm.
func checkInvariants(t *testing.T, tr *Tracker) {
	t.Helper()
	checkList := func(list []byte, f *family) (seeds, leech int) {
		n, ns := f.count(list), f.seeds(list)
		if (len(list)-f.off)%f.recLen != 0 || ns > n {
			t.Fatalf("bad list shape: len %d seeds %d", len(list), ns)
		}
		for i := 1; i < n; i++ {
			if i == ns {
				continue
			}
			if bytes.Compare(f.rec(list, i-1)[:20], f.rec(list, i)[:20]) >= 0 {
				t.Fatalf("records %d and %d out of order", i-1, i)
			}
		}
		for i := ns; i < n; i++ {
			if _, dup := f.search(list, 0, ns, (*peer.ID)(f.rec(list, i)[:20])); dup {
				t.Fatalf("peer both seeder and leecher")
			}
		}
		return ns, n - ns
	}
	var swarms int
	for i := range tr.shards {
		s := &tr.shards[i]
		var count [2][2]int
		for idx, b := range s.swarms {
			ih := InfoHash(b[:20])
			if _, j := s.lookup(tr.hash(&ih), &ih); j != idx {
				t.Fatalf("swarm %v at %d indexed at %d", ih, idx, j)
			}
			if big := s.bigOf(b); big != nil {
				if len(b) != hdrLen {
					t.Fatalf("big swarm blob has %d bytes", len(b))
				}
				for fi, f := range []*family{&fam4, &fam6} {
					bl := &big.lists[fi]
					bf := bucketFamily(f)
					var se, le int
					for k, bk := range bl.buckets {
						a, c := checkList(bk, bf)
						for r := 0; r < bf.count(bk); r++ {
							if tr.bucketOf((*peer.ID)(bf.rec(bk, r)[:20]), len(bl.buckets)) != k {
								t.Fatalf("record in the wrong bucket")
							}
						}
						se, le = se+a, le+c
					}
					if se != bl.seeds || le != bl.leechers {
						t.Fatalf("big list counts %d/%d, records %d/%d", bl.seeds, bl.leechers, se, le)
					}
					count[fi][0] += se
					count[fi][1] += le
				}
				continue
			}
			a, c := checkList(b, &fam4)
			count[0][0] += a
			count[0][1] += c
			if v6 := s.v6blob(b); v6 != nil {
				a, c := checkList(v6, &fam6)
				count[1][0] += a
				count[1][1] += c
			}
		}
		if count != s.count {
			t.Fatalf("shard %d counts %v, records %v", i, s.count, count)
		}
		swarms += len(s.swarms)
	}
	if int(tr.swarmCount.Load()) != swarms {
		t.Fatalf("swarm count %d, swarms %d", tr.swarmCount.Load(), swarms)
	}
}

func smallBuckets(t *testing.T) {
	ob, om := bigThreshold, bucketMax
	bigThreshold, bucketMax = 64, 32
	t.Cleanup(func() { bigThreshold, bucketMax = ob, om })
}

// TestRandomOperations runs random announces against a model of what the
// store must hold, crossing the big swarm thresholds both ways.
func TestRandomOperations(t *testing.T) {
	smallBuckets(t)
	clk := newClock()
	tr := New(Config{PeerTTL: time.Hour, Now: clk.Now})
	model := map[[2]int]modelPeer{} // (swarm, peer) -> state
	rng := rand.New(rand.NewPCG(7, 8))
	addrOf := func(p int, v6 bool, moved int) netip.AddrPort {
		if v6 {
			return netip.AddrPortFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0xd, 0xb8, 14: byte(moved), 15: byte(p)}), uint16(1000+p))
		}
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(moved), byte(p >> 8), byte(p)}), uint16(1000+p))
	}
	for step := 0; step < 30000; step++ {
		sw := rng.IntN(3)
		p := rng.IntN(400)
		if sw == 0 {
			p = rng.IntN(20) // one swarm stays small
		}
		key := [2]int{sw, p}
		old, known := model[key]
		v6 := p%5 == 0
		r := req(ih(sw), pid(p), addrOf(p, v6, 0).String(), uint64(rng.IntN(2)), Event(rng.IntN(4)))
		r.Key = uint32(p + 1)
		if known && rng.IntN(10) == 0 {
			r.Addr = addrOf(p, v6, 1+rng.IntN(3)).Addr() // move, with the key
		}
		if known && rng.IntN(20) == 0 {
			r.Key = 999 // wrong key: refused if the address changes
		}
		r.NumWant = rng.IntN(60)
		resp, err := announce(t, tr, r)
		moved := known && old.addr.Addr() != r.Addr
		switch {
		case moved && r.Key != old.key:
			if err != ErrPeerMoved {
				t.Fatalf("step %d: move with wrong key: %v", step, err)
			}
			continue
		case err != nil:
			t.Fatalf("step %d: %v", step, err)
		}
		if r.Event == EventStopped {
			delete(model, key)
		} else {
			model[key] = modelPeer{netip.AddrPortFrom(r.Addr, r.Port), r.Left == 0, r.Key}
		}
		// The response: counts match the model, no self, no seeders to
		// a seeder, no duplicates, right family.
		var se, le int
		for k, st := range model {
			if k[0] == sw {
				if st.seeder {
					se++
				} else {
					le++
				}
			}
		}
		if resp.Seeders != se || resp.Leechers != le {
			t.Fatalf("step %d: counts %d/%d, model %d/%d", step, resp.Seeders, resp.Leechers, se, le)
		}
		seen := map[string]bool{}
		for _, a := range peersOf(t, resp) {
			ap := netip.MustParseAddrPort(a)
			if seen[a] {
				t.Fatalf("step %d: duplicate %s", step, a)
			}
			seen[a] = true
			if ap == netip.AddrPortFrom(r.Addr, r.Port) {
				t.Fatalf("step %d: got itself", step)
			}
			q := int(ap.Port()) - 1000
			st, ok := model[[2]int{sw, q}]
			if !ok || st.addr != ap {
				t.Fatalf("step %d: returned %s not in the swarm", step, a)
			}
			if r.Left == 0 && st.seeder {
				t.Fatalf("step %d: seeder got seeder %s", step, a)
			}
			if ap.Addr().Is4() == v6 {
				t.Fatalf("step %d: wrong family %s", step, a)
			}
		}
		if want := min(r.NumWant, 200); r.Event != EventStopped && len(seen) < min(want, eligible(model, sw, p, r.Left == 0, v6)) {
			t.Fatalf("step %d: %d peers, want %d", step, len(seen), min(want, eligible(model, sw, p, r.Left == 0, v6)))
		}
		if step%1000 == 0 {
			checkInvariants(t, tr)
		}
	}
	checkInvariants(t, tr)
	if tr.shards[tr.hash(&[]InfoHash{ih(1)}[0])%numShards].bigOf(tr.findBlob(ih(1))) == nil {
		t.Fatal("swarm 1 never became big")
	}
	// State round trip of big swarms.
	var buf bytes.Buffer
	if _, err := tr.WriteState(&buf); err != nil {
		t.Fatal(err)
	}
	tr2 := New(Config{PeerTTL: time.Hour, Now: clk.Now})
	if _, err := tr2.ReadState(&buf); err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, tr2)
	for sw := 0; sw < 3; sw++ {
		a, _ := tr.Scrape(nil, ih(sw))
		b, _ := tr2.Scrape(nil, ih(sw))
		if a != b {
			t.Fatalf("swarm %d: %+v before save, %+v after load", sw, a, b)
		}
	}
	// Expiry shrinks big swarms back.
	clk.Advance(2 * time.Hour)
	tr.Sweep()
	checkInvariants(t, tr)
	if tot := tr.Totals(); tot.Swarms != 0 || len(tr.shards[0].big)+len(tr.shards[1].big) != 0 {
		t.Fatalf("after expiry %+v", tot)
	}
}

type modelPeer struct {
	addr   netip.AddrPort
	seeder bool
	key    uint32
}

// eligible counts the peers a requester may be sent.
func eligible(model map[[2]int]modelPeer, sw, self int, seeder, v6 bool) int {
	n := 0
	for k, st := range model {
		if k[0] != sw || k[1] == self || st.addr.Addr().Is4() == v6 || (seeder && st.seeder) {
			continue
		}
		n++
	}
	return n
}

// findBlob returns the swarm blob of ih.
func (t *Tracker) findBlob(h InfoHash) []byte {
	hv := t.hash(&h)
	s := &t.shards[hv%numShards]
	_, idx := s.lookup(hv, &h)
	if idx < 0 {
		return make([]byte, hdrLen)
	}
	return s.swarms[idx]
}

func TestBigSwarmAnnounceDoesNotAllocate(t *testing.T) {
	tr := New(Config{})
	for i := 0; i < 10000; i++ {
		mustAnnounce(t, tr, req(ih(1), pid(i), fmt.Sprintf("10.0.%d.%d:%d", i>>8&255, i&255, 1000+i%1000), uint64(i%3), EventStarted))
	}
	if tr.shards[tr.hash(&[]InfoHash{ih(1)}[0])%numShards].bigOf(tr.findBlob(ih(1))) == nil {
		t.Fatal("10,000-peer swarm is not big")
	}
	checkInvariants(t, tr)
	r := req(ih(1), pid(77), "10.0.0.77:1077", 1, EventNone)
	var resp AnnounceResponse
	resp.Peers = make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(1000, func() {
		resp.Peers = resp.Peers[:0]
		if err := tr.Announce(r, &resp); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("%v allocations", n)
	}
	if len(peersOf(t, &resp)) != 50 {
		t.Fatalf("%d peers", len(resp.Peers)/6)
	}
}

func TestBigSwarmShrinksBack(t *testing.T) {
	smallBuckets(t)
	clk := newClock()
	tr := New(Config{PeerTTL: 10 * time.Minute, Now: clk.Now})
	for i := 0; i < 300; i++ {
		addr := fmt.Sprintf("10.0.1.%d:%d", i%250, 1000+i)
		if i%7 == 0 {
			addr = fmt.Sprintf("[2001:db8::%x]:%d", i, 1000+i)
		}
		mustAnnounce(t, tr, req(ih(1), pid(i), addr, uint64(i%2), EventStarted))
	}
	checkInvariants(t, tr)
	clk.Advance(6 * time.Minute)
	for i := 0; i < 300; i += 30 { // keep 10 alive
		addr := fmt.Sprintf("10.0.1.%d:%d", i%250, 1000+i)
		if i%7 == 0 {
			addr = fmt.Sprintf("[2001:db8::%x]:%d", i, 1000+i)
		}
		mustAnnounce(t, tr, req(ih(1), pid(i), addr, uint64(i%2), EventNone))
	}
	clk.Advance(5 * time.Minute)
	if n := tr.Sweep(); n != 290 {
		t.Fatalf("swept %d, want 290", n)
	}
	checkInvariants(t, tr)
	if tr.shards[tr.hash(&[]InfoHash{ih(1)}[0])%numShards].bigOf(tr.findBlob(ih(1))) != nil {
		t.Fatal("shrunken swarm still big")
	}
	st, _ := tr.Scrape(nil, ih(1))
	if st.Seeders+st.Leechers != 10 {
		t.Fatalf("after shrink %+v", st)
	}
	resp := mustAnnounce(t, tr, req(ih(1), pid(1000), "10.9.9.9:9", 1, EventStarted))
	if n := len(peersOf(t, resp)); n != 8 { // the IPv4 ones (0 and 210 are IPv6)
		t.Fatalf("%d peers after shrink", n)
	}
}
