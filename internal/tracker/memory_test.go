package tracker

import (
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"
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

// TestSnapshotDoesNotStall measures announce latency while the state of
// 1,000,000 peers is written, against the same announces without a
// snapshot. Saving copies one shard (1/256 of the store) at a time under
// its lock, so announces wait at most for one such copy.
func TestSnapshotDoesNotStall(t *testing.T) {
	if testing.Short() && os.Getenv("GALE_MEMTEST") == "" {
		t.Skip("fills 1M peers; skipped with -short")
	}
	tr := New(Config{})
	var resp AnnounceResponse
	reqs := make([]AnnounceRequest, 0, 1_000_000)
	for i := 0; i < 1_000_000; i++ {
		var r AnnounceRequest
		binary.BigEndian.PutUint64(r.InfoHash[:], uint64(i%100_000)*0x9e3779b97f4a7c15+1)
		copy(r.PeerID[:], "-GL0001-")
		binary.BigEndian.PutUint64(r.PeerID[8:], uint64(i)*0xbf58476d1ce4e5b9)
		r.Addr = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		r.Port, r.Left, r.NumWant = 6881, uint64(i%4), -1
		resp.Peers = resp.Peers[:0]
		if err := tr.Announce(&r, &resp); err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, r)
	}
	measure := func(d time.Duration, during func()) (p50, p99, max time.Duration, n int) {
		var lat []time.Duration
		done := make(chan struct{})
		go func() {
			defer close(done)
			if during != nil {
				during()
			} else {
				time.Sleep(d)
			}
		}()
		var resp AnnounceResponse
		resp.Peers = make([]byte, 0, 4096)
		for i := 0; ; i++ {
			select {
			case <-done:
				slices.Sort(lat)
				return lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1], len(lat)
			default:
			}
			r := &reqs[(i*7919)%len(reqs)]
			start := time.Now()
			resp.Peers = resp.Peers[:0]
			_ = tr.Announce(r, &resp)
			lat = append(lat, time.Since(start))
		}
	}
	var info StateInfo
	var werr error
	path := filepath.Join(t.TempDir(), "state")
	p50, p99, mx, n := measure(0, func() { info, werr = tr.SaveStateFile(path) })
	if werr != nil {
		t.Fatal(werr)
	}
	b50, b99, bmx, bn := measure(info.Duration, nil)
	t.Logf("snapshot of %d peers in %v; during it %d announces: p50 %v p99 %v max %v; without: %d announces p50 %v p99 %v max %v",
		info.Peers, info.Duration.Round(time.Millisecond), n, p50, p99, mx, bn, b50, b99, bmx)
	if info.Peers != 1_000_000 {
		t.Fatalf("saved %d peers", info.Peers)
	}
	if p99 > 10*time.Millisecond {
		t.Fatalf("p99 %v while saving", p99)
	}
}
