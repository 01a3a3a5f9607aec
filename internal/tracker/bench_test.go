package tracker

import (
	"encoding/binary"
	"io"
	"net/netip"
	"testing"
)

// benchTracker returns a tracker with swarms swarms of per peers each
// (a quarter seeders) and the requests that created them.
func benchTracker(b *testing.B, swarms, per int) (*Tracker, []AnnounceRequest) {
	tr := New(Config{})
	reqs := make([]AnnounceRequest, 0, swarms*per)
	var resp AnnounceResponse
	for i := 0; i < swarms*per; i++ {
		var r AnnounceRequest
		binary.BigEndian.PutUint64(r.InfoHash[:], uint64(i%swarms)*0x9e3779b97f4a7c15+1)
		copy(r.PeerID[:], "-GL0001-")
		binary.BigEndian.PutUint64(r.PeerID[8:], uint64(i)*0xbf58476d1ce4e5b9)
		r.Addr = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		r.Port = 6881
		r.Left = uint64(i % 4)
		r.NumWant = -1
		r.Event = EventStarted
		resp.Peers = resp.Peers[:0]
		if err := tr.Announce(&r, &resp); err != nil {
			b.Fatal(err)
		}
		r.Event = EventNone
		reqs = append(reqs, r)
	}
	return tr, reqs
}

func benchAnnounce(b *testing.B, swarms, per int) {
	tr, reqs := benchTracker(b, swarms, per)
	var resp AnnounceResponse
	resp.Peers = make([]byte, 0, 4096)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp.Peers = resp.Peers[:0]
		if err := tr.Announce(&reqs[i%len(reqs)], &resp); err != nil {
			b.Fatal(err)
		}
	}
}

// Re-announces of known peers (the hot path), numwant 50.
func BenchmarkAnnounce10PeerSwarms(b *testing.B)  { benchAnnounce(b, 10000, 10) }
func BenchmarkAnnounce10kPeerSwarm(b *testing.B)  { benchAnnounce(b, 1, 10000) }
func BenchmarkAnnounce100kSwarmsx10(b *testing.B) { benchAnnounce(b, 100000, 10) }

// BenchmarkAnnounceParallel runs re-announces from all Ps (shard locks).
func BenchmarkAnnounceParallel(b *testing.B) {
	tr, reqs := benchTracker(b, 10000, 10)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var resp AnnounceResponse
		resp.Peers = make([]byte, 0, 4096)
		i := 0
		for pb.Next() {
			resp.Peers = resp.Peers[:0]
			_ = tr.Announce(&reqs[i%len(reqs)], &resp)
			i += 7
		}
	})
}

// BenchmarkAnnounceChurn alternates a new peer joining and leaving a
// 100,000-peer swarm (insert and delete in a bucket's sorted records).
func BenchmarkAnnounceChurn(b *testing.B) {
	tr, reqs := benchTracker(b, 1, 100000)
	r := reqs[0]
	var resp AnnounceResponse
	resp.Peers = make([]byte, 0, 4096)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		binary.BigEndian.PutUint64(r.PeerID[8:], uint64(i)*0x94d049bb133111eb)
		r.Event = EventStarted
		resp.Peers = resp.Peers[:0]
		_ = tr.Announce(&r, &resp)
		r.Event = EventStopped
		_ = tr.Announce(&r, &resp)
	}
}

func BenchmarkScrape(b *testing.B) {
	tr, reqs := benchTracker(b, 10000, 10)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := tr.Scrape(nil, reqs[i%len(reqs)].InfoHash); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteState encodes 100,000 peers over 10,000 swarms.
func BenchmarkWriteState(b *testing.B) {
	tr, _ := benchTracker(b, 10000, 10)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := tr.WriteState(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
