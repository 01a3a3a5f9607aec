package udptracker

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/gale-bt/gale/internal/tracker"
)

// FuzzHandle feeds arbitrary datagrams to the packet parser. With fixID
// the first 8 bytes are replaced by a valid connection ID, so the fuzzer
// reaches the announce and scrape parsers.
func FuzzHandle(f *testing.F) {
	f.Add(connectPacket(1), false, false)
	f.Add(ann{ih: hashN(1), id: idN(1), left: 1, port: 1, numWant: -1}.packet(), true, false)
	f.Add(ann{ih: hashN(1), id: idN(2), port: 2, numWant: 3, options: []byte{1, 2, 13, '/', 'k', '/', 'a', 'n', 'n', 'o', 'u', 'n', 'c', 'e', 0}}.packet(), true, true)
	f.Add(ann{ih: hashN(1), id: idN(3), port: 3, numWant: 1, options: append([]byte{2, 19}, "/announce?passkey=k"...)}.packet(), true, false)
	f.Add(scrapePacket(0, 1, hashN(1), hashN(2)), true, false)
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0}, true, false)
	tr := tracker.New(tracker.Config{})
	s := New(Config{Tracker: tr})
	w := s.newWorker()
	out := make([]byte, s.BufferSize())
	f.Fuzz(func(t *testing.T, in []byte, fixID, v6 bool) {
		from := netip.MustParseAddrPort("192.0.2.9:4000")
		if v6 {
			from = netip.MustParseAddrPort("[2001:db8::9]:4000")
		}
		if fixID && len(in) >= 8 {
			binary.BigEndian.PutUint64(in, s.key.issue(from.Addr(), testNow))
		}
		r, acc := s.handle(w, in, from, out, testNow)
		if r == nil {
			if acc.Outcome == tracker.OutcomeOK {
				t.Fatal("dropped with outcome ok")
			}
			return
		}
		if len(r) < 8 || len(r) > len(out)+maxErrorLen {
			t.Fatalf("response length %d", len(r))
		}
		if string(r[4:8]) != string(in[12:16]) {
			t.Fatal("transaction ID not echoed")
		}
		switch a := binary.BigEndian.Uint32(r); a {
		case actionConnect:
			if len(r) != 16 {
				t.Fatalf("connect response %d bytes", len(r))
			}
		case actionAnnounce:
			entry := 6
			if v6 {
				entry = 18
			}
			if (len(r)-20)%entry != 0 {
				t.Fatalf("announce response %d bytes", len(r))
			}
		case actionScrape:
			if (len(r)-8)%12 != 0 || len(r) > 8+12*MaxScrape {
				t.Fatalf("scrape response %d bytes", len(r))
			}
		case actionError:
		default:
			t.Fatalf("action %d", a)
		}
	})
}

func BenchmarkHandleAnnounce(b *testing.B) {
	s, w := newTestServer(tracker.Config{})
	out := make([]byte, s.BufferSize())
	from := netip.MustParseAddrPort("192.0.2.1:5000")
	c := s.key.issue(from.Addr(), testNow)
	var pks [][]byte
	for i := 0; i < 1000; i++ {
		p := ann{conn: c, ih: hashN(i % 100), id: idN(i), left: uint64(i % 2), port: uint16(1000 + i), numWant: -1}.packet()
		s.handle(w, p, from, out, testNow)
		pks = append(pks, p)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.handle(w, pks[i%len(pks)], from, out, testNow)
	}
}

func BenchmarkHandleConnect(b *testing.B) {
	s, w := newTestServer(tracker.Config{})
	out := make([]byte, s.BufferSize())
	from := netip.MustParseAddrPort("192.0.2.1:5000")
	p := connectPacket(1)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		s.handle(w, p, from, out, testNow)
	}
}
