package tracker

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/gale-bt/gale/internal/peer"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1_700_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func ih(n int) InfoHash {
	var h InfoHash
	copy(h[:], fmt.Sprintf("infohash-%011d", n))
	return h
}

func pid(n int) peer.ID {
	var p peer.ID
	copy(p[:], fmt.Sprintf("-GL0001-%012d", n))
	return p
}

// req builds an announce; addr is "ip:port".
func req(h InfoHash, id peer.ID, addr string, left uint64, ev Event) *AnnounceRequest {
	ap := netip.MustParseAddrPort(addr)
	return &AnnounceRequest{InfoHash: h, PeerID: id, Addr: ap.Addr(), Port: ap.Port(), Left: left, Event: ev, NumWant: -1}
}

// peersOf decodes a response's compact peers into "ip:port" strings.
func peersOf(t testing.TB, r *AnnounceResponse) []string {
	t.Helper()
	n := r.EntryLen(false)
	if len(r.Peers)%n != 0 {
		t.Fatalf("peers length %d not a multiple of %d", len(r.Peers), n)
	}
	var out []string
	for b := r.Peers; len(b) > 0; b = b[n:] {
		ap, ok := peer.ParseCompact(b[:n])
		if !ok {
			t.Fatalf("bad entry %x", b[:n])
		}
		out = append(out, ap.String())
	}
	return out
}

func announce(t testing.TB, tr *Tracker, r *AnnounceRequest) (*AnnounceResponse, error) {
	t.Helper()
	var resp AnnounceResponse
	err := tr.Announce(r, &resp)
	return &resp, err
}

func mustAnnounce(t testing.TB, tr *Tracker, r *AnnounceRequest) *AnnounceResponse {
	t.Helper()
	resp, err := announce(t, tr, r)
	if err != nil {
		t.Fatalf("announce %v from %v: %v", r.PeerID, r.Addr, err)
	}
	return resp
}
