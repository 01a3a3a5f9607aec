package tracker

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"
)

func TestAnnounceScenarios(t *testing.T) {
	h := ih(1)
	type step struct {
		r            *AnnounceRequest
		wantErr      error
		wantPeers    []string // sorted; nil means none
		seed, leech  int
		completed    int
		numwantLimit int
	}
	withKey := func(r *AnnounceRequest, k uint32) *AnnounceRequest { r.Key = k; return r }
	withWant := func(r *AnnounceRequest, n int) *AnnounceRequest { r.NumWant = n; return r }
	tests := []struct {
		name  string
		steps []step
	}{
		{"first leecher gets nobody", []step{
			{r: req(h, pid(1), "10.0.0.1:1000", 5, EventStarted), leech: 1},
		}},
		{"leechers see each other", []step{
			{r: req(h, pid(1), "10.0.0.1:1000", 5, EventStarted), leech: 1},
			{r: req(h, pid(2), "10.0.0.2:2000", 5, EventStarted), leech: 2, wantPeers: []string{"10.0.0.1:1000"}},
			{r: req(h, pid(1), "10.0.0.1:1000", 5, EventNone), leech: 2, wantPeers: []string{"10.0.0.2:2000"}},
		}},
		{"no seeders to seeders", []step{
			{r: req(h, pid(1), "10.0.0.1:1000", 0, EventStarted), seed: 1},
			{r: req(h, pid(2), "10.0.0.2:2000", 0, EventStarted), seed: 2},
			{r: req(h, pid(3), "10.0.0.3:3000", 7, EventStarted), seed: 2, leech: 1, wantPeers: []string{"10.0.0.1:1000", "10.0.0.2:2000"}},
			{r: req(h, pid(1), "10.0.0.1:1000", 0, EventNone), seed: 2, leech: 1, wantPeers: []string{"10.0.0.3:3000"}},
		}},
		{"completed moves to seeders and counts once", []step{
			{r: req(h, pid(1), "10.0.0.1:1000", 0, EventStarted), seed: 1},
			{r: req(h, pid(2), "10.0.0.2:2000", 9, EventStarted), seed: 1, leech: 1, wantPeers: []string{"10.0.0.1:1000"}},
			{r: req(h, pid(2), "10.0.0.2:2000", 0, EventCompleted), seed: 2, completed: 1},
			{r: req(h, pid(2), "10.0.0.2:2000", 0, EventCompleted), seed: 2, completed: 1},
			{r: req(h, pid(2), "10.0.0.2:2000", 3, EventNone), seed: 1, leech: 1, completed: 1, wantPeers: []string{"10.0.0.1:1000"}},
		}},
		{"stopped removes", []step{
			{r: req(h, pid(1), "10.0.0.1:1000", 0, EventStarted), seed: 1},
			{r: req(h, pid(2), "10.0.0.2:2000", 1, EventStarted), seed: 1, leech: 1, wantPeers: []string{"10.0.0.1:1000"}},
			{r: req(h, pid(1), "10.0.0.1:1000", 0, EventStopped), leech: 1},
			{r: req(h, pid(9), "10.0.0.9:9000", 1, EventStopped), leech: 1},
			{r: req(h, pid(3), "10.0.0.3:3000", 1, EventNone), leech: 2, wantPeers: []string{"10.0.0.2:2000"}},
		}},
		{"address change needs the same key", []step{
			{r: withKey(req(h, pid(1), "10.0.0.1:1000", 1, EventStarted), 77), leech: 1},
			{r: withKey(req(h, pid(1), "10.0.0.5:1000", 1, EventNone), 78), wantErr: ErrPeerMoved, leech: 1},
			{r: req(h, pid(1), "10.0.0.5:1000", 1, EventStopped), wantErr: ErrPeerMoved, leech: 1},
			{r: withKey(req(h, pid(1), "10.0.0.5:1001", 1, EventNone), 77), leech: 1},
			{r: req(h, pid(2), "10.0.0.2:2000", 1, EventNone), leech: 2, wantPeers: []string{"10.0.0.5:1001"}},
		}},
		{"keyless peer cannot move", []step{
			{r: req(h, pid(1), "10.0.0.1:1000", 1, EventStarted), leech: 1},
			{r: req(h, pid(1), "10.0.0.2:1000", 1, EventNone), wantErr: ErrPeerMoved, leech: 1},
			{r: req(h, pid(1), "10.0.0.1:1234", 1, EventNone), leech: 1},
		}},
		{"port zero refused", []step{
			{r: req(h, pid(1), "10.0.0.1:0", 1, EventStarted), wantErr: ErrPort},
		}},
		{"families kept apart", []step{
			{r: req(h, pid(1), "10.0.0.1:1000", 1, EventStarted), leech: 1},
			{r: req(h, pid(2), "[2001:db8::2]:2000", 1, EventStarted), leech: 2},
			{r: req(h, pid(3), "[2001:db8::3]:3000", 0, EventStarted), seed: 1, leech: 2, wantPeers: []string{"[2001:db8::2]:2000"}},
			{r: req(h, pid(4), "[::ffff:10.0.0.4]:4000", 1, EventStarted), seed: 1, leech: 3, wantPeers: []string{"10.0.0.1:1000"}},
			{r: req(h, pid(3), "[2001:db8::3]:3000", 0, EventStopped), leech: 3},
		}},
		{"numwant zero and limit", []step{
			{r: req(h, pid(1), "10.0.0.1:1000", 1, EventStarted), leech: 1},
			{r: req(h, pid(2), "10.0.0.2:1000", 1, EventStarted), leech: 2, wantPeers: []string{"10.0.0.1:1000"}},
			{r: withWant(req(h, pid(3), "10.0.0.3:1000", 1, EventStarted), 0), leech: 3},
			{r: withWant(req(h, pid(4), "10.0.0.4:1000", 1, EventStarted), 1000), leech: 4, numwantLimit: 2},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := New(Config{NumWantMax: 2})
			for i, st := range tc.steps {
				resp, err := announce(t, tr, st.r)
				if !errors.Is(err, st.wantErr) {
					t.Fatalf("step %d: err = %v, want %v", i, err, st.wantErr)
				}
				got, _ := tr.Scrape(nil, h)
				if got.Seeders != st.seed || got.Leechers != st.leech || got.Completed != st.completed {
					t.Fatalf("step %d: scrape = %+v, want seed %d leech %d completed %d", i, got, st.seed, st.leech, st.completed)
				}
				if err != nil {
					continue
				}
				if resp.Seeders != st.seed || resp.Leechers != st.leech {
					t.Errorf("step %d: response counts %d/%d, want %d/%d", i, resp.Seeders, resp.Leechers, st.seed, st.leech)
				}
				peers := peersOf(t, resp)
				if st.numwantLimit > 0 {
					if len(peers) != st.numwantLimit {
						t.Errorf("step %d: %d peers, want %d", i, len(peers), st.numwantLimit)
					}
					continue
				}
				slices.Sort(peers)
				if !slices.Equal(peers, st.wantPeers) {
					t.Errorf("step %d: peers %v, want %v", i, peers, st.wantPeers)
				}
			}
		})
	}
}

func TestAnnounceRefusesBadAddress(t *testing.T) {
	tr := New(Config{})
	r := req(ih(1), pid(1), "1.2.3.4:5", 1, EventStarted)
	r.Addr = netip.Addr{}
	if _, err := announce(t, tr, r); !errors.Is(err, ErrAddress) {
		t.Fatalf("err = %v, want ErrAddress", err)
	}
}

func TestDictionaryEntries(t *testing.T) {
	tr := New(Config{})
	mustAnnounce(t, tr, req(ih(1), pid(1), "10.0.0.1:1000", 1, EventStarted))
	r := req(ih(1), pid(2), "10.0.0.2:2000", 1, EventStarted)
	r.WantPeerIDs = true
	resp := mustAnnounce(t, tr, r)
	if resp.EntryLen(true) != 26 || len(resp.Peers) != 26 {
		t.Fatalf("entry len %d, peers %x", resp.EntryLen(true), resp.Peers)
	}
	id := pid(1)
	if string(resp.Peers[:20]) != string(id[:]) || string(resp.Peers[20:26]) != "\x0a\x00\x00\x01\x03\xe8" {
		t.Fatalf("entry = %q", resp.Peers)
	}
}

func TestSampleIsUniformAndExcludesSelf(t *testing.T) {
	tr := New(Config{NumWantMax: 50})
	const n = 1000
	h := ih(7)
	addrOf := func(i int) string {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 6881).String()
	}
	for i := 0; i < n; i++ {
		mustAnnounce(t, tr, req(h, pid(i), addrOf(i), 1, EventStarted))
	}
	hits := map[string]int{}
	const rounds = 2000
	for k := 0; k < rounds; k++ {
		self := k % n
		resp := mustAnnounce(t, tr, req(h, pid(self), addrOf(self), 1, EventNone))
		peers := peersOf(t, resp)
		if len(peers) != 50 {
			t.Fatalf("round %d: %d peers", k, len(peers))
		}
		seen := map[string]bool{}
		for _, p := range peers {
			if p == addrOf(self) {
				t.Fatalf("round %d: requester got itself", k)
			}
			if seen[p] {
				t.Fatalf("round %d: duplicate %s", k, p)
			}
			seen[p] = true
			hits[p]++
		}
	}
	// Each peer is expected 2000*50/999 ~ 100 times.
	lo, hi := rounds, 0
	for i := 0; i < n; i++ {
		c := hits[addrOf(i)]
		lo, hi = min(lo, c), max(hi, c)
	}
	if lo < 50 || hi > 160 {
		t.Fatalf("sample counts range [%d, %d], want within [50, 160] around 100", lo, hi)
	}
}

func TestExpiryAndSweep(t *testing.T) {
	clk := newClock()
	tr := New(Config{PeerTTL: 10 * time.Minute, Now: clk.Now})
	h := ih(3)
	mustAnnounce(t, tr, req(h, pid(1), "10.0.0.1:1000", 0, EventStarted))
	clk.Advance(6 * time.Minute)
	mustAnnounce(t, tr, req(h, pid(2), "10.0.0.2:1000", 1, EventStarted))
	clk.Advance(5 * time.Minute) // peer 1 is 11 minutes old, peer 2 five
	resp := mustAnnounce(t, tr, req(h, pid(3), "10.0.0.3:1000", 1, EventStarted))
	if got := peersOf(t, resp); !slices.Equal(got, []string{"10.0.0.2:1000"}) {
		t.Fatalf("before sweep: peers %v, want only the fresh one", got)
	}
	if n := tr.Sweep(); n != 1 {
		t.Fatalf("Sweep removed %d, want 1", n)
	}
	if st, _ := tr.Scrape(nil, h); st.Seeders != 0 || st.Leechers != 2 {
		t.Fatalf("after sweep %+v", st)
	}
	clk.Advance(11 * time.Minute)
	if n := tr.Sweep(); n != 2 {
		t.Fatalf("second Sweep removed %d, want 2", n)
	}
	if tot := tr.Totals(); tot.Swarms != 0 || tot.Leechers4 != 0 {
		t.Fatalf("totals after expiry %+v", tot)
	}
}

func TestEmptySwarmKeptForTTL(t *testing.T) {
	clk := newClock()
	tr := New(Config{PeerTTL: time.Minute, Now: clk.Now})
	mustAnnounce(t, tr, req(ih(1), pid(1), "10.0.0.1:1", 0, EventCompleted))
	mustAnnounce(t, tr, req(ih(1), pid(1), "10.0.0.1:1", 0, EventStopped))
	tr.Sweep()
	if st, _ := tr.Scrape(nil, ih(1)); st.Completed != 1 {
		t.Fatalf("completed count lost right after the last peer left: %+v", st)
	}
	clk.Advance(2 * time.Minute)
	tr.Sweep()
	if tr.Totals().Swarms != 0 {
		t.Fatal("idle empty swarm not removed")
	}
}

func TestManySwarmsTableIntegrity(t *testing.T) {
	clk := newClock()
	tr := New(Config{PeerTTL: time.Minute, Now: clk.Now})
	const n = 20000
	for i := 0; i < n; i++ {
		mustAnnounce(t, tr, req(ih(i), pid(i), "10.0.0.1:1000", 1, EventStarted))
	}
	clk.Advance(45 * time.Second)
	for i := 0; i < n; i += 2 { // keep the even ones alive
		mustAnnounce(t, tr, req(ih(i), pid(i), "10.0.0.1:1000", 1, EventNone))
	}
	clk.Advance(30 * time.Second)
	tr.Sweep() // odd peers expire
	clk.Advance(2 * time.Minute)
	tr.Sweep() // ...and their swarms too; even peers expire now
	for i := 0; i < n; i += 2 {
		mustAnnounce(t, tr, req(ih(i), pid(i), "10.0.0.1:1000", 1, EventNone))
	}
	tot := tr.Totals()
	if tot.Swarms != n/2 || tot.Leechers4 != n/2 {
		t.Fatalf("totals %+v, want %d swarms and leechers", tot, n/2)
	}
	for i := 0; i < n; i++ {
		st, _ := tr.Scrape(nil, ih(i))
		want := 1 - i%2
		if st.Leechers != want {
			t.Fatalf("swarm %d: %+v, want %d leechers", i, st, want)
		}
	}
}

func TestAlias(t *testing.T) {
	tr := New(Config{})
	v1, v2 := ih(1), ih(2)
	tr.Alias(v2, v1)
	mustAnnounce(t, tr, req(v1, pid(1), "10.0.0.1:1", 0, EventStarted))
	resp := mustAnnounce(t, tr, req(v2, pid(2), "10.0.0.2:2", 1, EventStarted))
	if got := peersOf(t, resp); !slices.Equal(got, []string{"10.0.0.1:1"}) {
		t.Fatalf("alias announce got %v", got)
	}
	for _, h := range []InfoHash{v1, v2} {
		if st, _ := tr.Scrape(nil, h); st.Seeders != 1 || st.Leechers != 1 {
			t.Fatalf("scrape %v = %+v", h, st)
		}
	}
	tr.Unalias(v2)
	if st, _ := tr.Scrape(nil, v2); st.Seeders+st.Leechers != 0 {
		t.Fatalf("after Unalias %+v", st)
	}
}

type refuseAll struct{}

func (refuseAll) Announce(*AnnounceRequest) (Grant, error) { return Grant{}, &Error{Reason: "nope"} }
func (refuseAll) Scrape([]byte, InfoHash) error            { return errors.New("db down") }

func TestPolicyAndAccounting(t *testing.T) {
	var facts []Fact
	grantPolicy := policyFunc(func(r *AnnounceRequest) (Grant, error) {
		if string(r.Passkey) != "secret" {
			return Grant{}, &Error{Reason: "bad key"}
		}
		return Grant{User: 42, Warning: "be nice"}, nil
	})
	tr := New(Config{Policy: grantPolicy, Accounting: AccountingFunc(func(f *Fact) { facts = append(facts, *f) })})
	r := req(ih(1), pid(1), "10.0.0.1:1", 100, EventStarted)
	r.Uploaded, r.Downloaded = 5, 6
	_, err := announce(t, tr, r)
	if ClientMessage(err) != "bad key" || !IsClientError(err) {
		t.Fatalf("err = %v", err)
	}
	r.Passkey = []byte("secret")
	resp := mustAnnounce(t, tr, r)
	if resp.Warning != "be nice" {
		t.Errorf("warning %q", resp.Warning)
	}
	r.Event, r.Left = EventCompleted, 0
	mustAnnounce(t, tr, r)
	if len(facts) != 2 {
		t.Fatalf("%d facts, want 2", len(facts))
	}
	f := facts[1]
	if f.User != 42 || f.Uploaded != 5 || f.Downloaded != 6 || f.Left != 0 || f.Event != EventCompleted || !f.Known || f.WasSeeder || f.InfoHash != ih(1) {
		t.Fatalf("fact %+v", f)
	}
	if facts[0].Known {
		t.Error("first fact says the peer was known")
	}

	tr2 := New(Config{Policy: refuseAll{}})
	if _, err := tr2.Scrape(nil, ih(1)); err == nil || IsClientError(err) || ClientMessage(err) != ErrInternalReason {
		t.Fatalf("scrape err %v / %q", err, ClientMessage(err))
	}
}

type policyFunc func(*AnnounceRequest) (Grant, error)

func (p policyFunc) Announce(r *AnnounceRequest) (Grant, error) { return p(r) }
func (p policyFunc) Scrape([]byte, InfoHash) error              { return nil }

func TestLimits(t *testing.T) {
	tr := New(Config{MaxSwarms: 2, MaxPeersPerSwarm: 2})
	mustAnnounce(t, tr, req(ih(1), pid(1), "10.0.0.1:1", 1, EventStarted))
	mustAnnounce(t, tr, req(ih(2), pid(1), "10.0.0.1:1", 1, EventStarted))
	if _, err := announce(t, tr, req(ih(3), pid(1), "10.0.0.1:1", 1, EventStarted)); !errors.Is(err, ErrTooManySwarms) {
		t.Fatalf("third swarm: %v", err)
	}
	mustAnnounce(t, tr, req(ih(1), pid(2), "10.0.0.2:1", 1, EventStarted))
	if _, err := announce(t, tr, req(ih(1), pid(3), "10.0.0.3:1", 1, EventStarted)); !errors.Is(err, ErrSwarmFull) {
		t.Fatalf("third peer: %v", err)
	}
	mustAnnounce(t, tr, req(ih(1), pid(2), "10.0.0.2:1", 1, EventNone)) // known peers still fine
}

func TestAnnounceDoesNotAllocate(t *testing.T) {
	tr := New(Config{})
	for i := 0; i < 100; i++ {
		mustAnnounce(t, tr, req(ih(1), pid(i), netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), 1000).String(), uint64(i%2), EventStarted))
		mustAnnounce(t, tr, req(ih(1), pid(i), netip.AddrPortFrom(netip.MustParseAddr("2001:db8::1"), uint16(i+1)).String(), 1, EventStarted))
	}
	for _, addr := range []string{"10.0.0.5:1000", "[2001:db8::1]:6"} {
		r := req(ih(1), pid(5), addr, 1, EventNone)
		var resp AnnounceResponse
		resp.Peers = make([]byte, 0, 4096)
		allocs := testing.AllocsPerRun(1000, func() {
			resp.Peers = resp.Peers[:0]
			if err := tr.Announce(r, &resp); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per announce, want 0", addr, allocs)
		}
	}
}

func TestPeersAndRemove(t *testing.T) {
	clk := newClock()
	tr := New(Config{Now: clk.Now})
	mustAnnounce(t, tr, req(ih(1), pid(1), "10.0.0.1:1", 0, EventStarted))
	clk.Advance(90 * time.Second)
	mustAnnounce(t, tr, req(ih(1), pid(2), "[2001:db8::2]:2", 5, EventStarted))
	mustAnnounce(t, tr, req(ih(2), pid(3), "10.0.0.3:3", 5, EventStarted))
	ps := tr.Peers(ih(1), 0)
	if len(ps) != 2 || ps[0].ID != pid(1) || !ps[0].Seeder || ps[0].Addr.String() != "10.0.0.1:1" ||
		ps[1].Seeder || ps[1].Addr.String() != "[2001:db8::2]:2" || clk.Now().Sub(ps[0].LastSeen) != 90*time.Second {
		t.Fatalf("Peers = %+v", ps)
	}
	if len(tr.Peers(ih(1), 1)) != 1 || tr.Peers(ih(9), 0) != nil {
		t.Fatal("limit or unknown swarm wrong")
	}
	if !tr.Remove(ih(1)) || tr.Remove(ih(1)) {
		t.Fatal("Remove results wrong")
	}
	if tot := tr.Totals(); tot.Swarms != 1 || tot.Seeders4+tot.Leechers4+tot.Seeders6+tot.Leechers6 != 1 {
		t.Fatalf("totals after Remove %+v", tot)
	}
}
