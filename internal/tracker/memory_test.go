package tracker

import (
	"encoding/binary"
	"net/netip"
	"os"
	"runtime"
	"testing"
)

// heapBytes returns the live heap after a full collection.
func heapBytes() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// MeasureBytesPerPeer fills a fresh Tracker with peers IPv4 peers spread
// evenly over swarms torrents (distinct random-looking peer IDs, as real
// clients send) and returns the growth of the live heap divided by the
// number of peers: the store's whole cost per peer, peer ID, swarm
// headers, index and slices included.
func measureBytesPerPeer(tb testing.TB, swarms, peers int) float64 {
	tr := New(Config{})
	before := heapBytes()
	var resp AnnounceResponse
	resp.Peers = make([]byte, 0, 4096)
	r := AnnounceRequest{NumWant: 0, Port: 6881, Left: 1, Event: EventStarted}
	var x uint64 = 0x9e3779b97f4a7c15
	for i := 0; i < peers; i++ {
		s := i % swarms
		binary.BigEndian.PutUint64(r.InfoHash[:], uint64(s)*0x9e3779b97f4a7c15)
		binary.BigEndian.PutUint32(r.InfoHash[8:], uint32(s))
		copy(r.PeerID[:], "-GL0001-")
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		binary.BigEndian.PutUint64(r.PeerID[8:], x)
		binary.BigEndian.PutUint32(r.PeerID[16:], uint32(i))
		r.Addr = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		r.Left = uint64(i % 4) // a quarter seeders
		resp.Peers = resp.Peers[:0]
		if err := tr.Announce(&r, &resp); err != nil {
			tb.Fatal(err)
		}
	}
	after := heapBytes()
	tot := tr.Totals()
	if tot.Swarms != swarms || tot.Seeders4+tot.Leechers4 != peers {
		tb.Fatalf("store holds %+v, want %d swarms and %d peers", tot, swarms, peers)
	}
	runtime.KeepAlive(tr)
	return float64(after-before) / float64(peers)
}

// TestMemoryPerPeer checks the budget: at most 40 bytes per IPv4
// peer, peer ID and per-torrent overhead included, with 1,000,000 peers
// over 100,000 torrents.
func TestMemoryPerPeer(t *testing.T) {
	if testing.Short() && os.Getenv("GALE_MEMTEST") == "" {
		t.Skip("fills 1M peers; skipped with -short")
	}
	got := measureBytesPerPeer(t, 100_000, 1_000_000)
	t.Logf("swarm store: %.2f bytes per IPv4 peer (1,000,000 peers over 100,000 torrents)", got)
	if got > 40 {
		t.Fatalf("%.2f bytes per peer, budget is 40", got)
	}
}
