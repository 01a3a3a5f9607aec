package udptracker

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gale-bt/gale/internal/peer"
	"github.com/gale-bt/gale/internal/tracker"
)

const testNow = 1_700_000_000

func connectPacket(tx uint32) []byte {
	p := make([]byte, 16)
	binary.BigEndian.PutUint64(p, protocolID)
	binary.BigEndian.PutUint32(p[8:], actionConnect)
	binary.BigEndian.PutUint32(p[12:], tx)
	return p
}

type ann struct {
	conn     uint64
	tx       uint32
	ih       tracker.InfoHash
	id       peer.ID
	left     uint64
	event    uint32
	key      uint32
	numWant  int32
	port     uint16
	options  []byte
	truncate int
}

func (a ann) packet() []byte {
	p := make([]byte, announceLen)
	binary.BigEndian.PutUint64(p, a.conn)
	binary.BigEndian.PutUint32(p[8:], actionAnnounce)
	binary.BigEndian.PutUint32(p[12:], a.tx)
	copy(p[16:], a.ih[:])
	copy(p[36:], a.id[:])
	binary.BigEndian.PutUint64(p[64:], a.left)
	binary.BigEndian.PutUint32(p[80:], a.event)
	binary.BigEndian.PutUint32(p[88:], a.key)
	binary.BigEndian.PutUint32(p[92:], uint32(a.numWant))
	binary.BigEndian.PutUint16(p[96:], a.port)
	p = append(p, a.options...)
	if a.truncate > 0 {
		p = p[:a.truncate]
	}
	return p
}

func scrapePacket(conn uint64, tx uint32, hs ...tracker.InfoHash) []byte {
	p := make([]byte, 16)
	binary.BigEndian.PutUint64(p, conn)
	binary.BigEndian.PutUint32(p[8:], actionScrape)
	binary.BigEndian.PutUint32(p[12:], tx)
	for _, h := range hs {
		p = append(p, h[:]...)
	}
	return p
}

func hashN(n int) tracker.InfoHash {
	var h tracker.InfoHash
	h[0], h[1], h[19] = byte(n>>8), byte(n), 0xee
	return h
}

func idN(n int) peer.ID {
	var id peer.ID
	copy(id[:], "-GL0001-")
	id[18], id[19] = byte(n>>8), byte(n)
	return id
}

// keyPolicy accepts only announces whose key is "k1" and refuses others.
type keyPolicy struct{}

func (keyPolicy) Announce(r *tracker.AnnounceRequest) (tracker.Grant, error) {
	if string(r.Passkey) != "k1" {
		return tracker.Grant{}, &tracker.Error{Reason: "unknown key"}
	}
	return tracker.Grant{User: 1}, nil
}
func (keyPolicy) Scrape([]byte, tracker.InfoHash) error { return nil }

func newTestServer(cfg tracker.Config) (*Server, *worker) {
	s := New(Config{Tracker: tracker.New(cfg)})
	return s, s.newWorker()
}

func TestHandle(t *testing.T) {
	v4 := netip.MustParseAddrPort("192.0.2.1:5000")
	v6 := netip.MustParseAddrPort("[2001:db8::1]:5000")
	s, w := newTestServer(tracker.Config{Interval: 1800 * time.Second})
	out := make([]byte, s.BufferSize())
	do := func(in []byte, from netip.AddrPort) ([]byte, Access) {
		r, acc := s.handle(w, in, from, out, testNow)
		return bytes.Clone(r), acc
	}
	c4 := s.key.issue(v4.Addr(), testNow)
	c6 := s.key.issue(v6.Addr(), testNow)
	// Two IPv4 and two IPv6 peers in swarm 1.
	for i, from := range []netip.AddrPort{v4, netip.MustParseAddrPort("192.0.2.2:6000")} {
		c := s.key.issue(from.Addr(), testNow)
		if r, _ := do(ann{conn: c, ih: hashN(1), id: idN(i), left: 1, port: from.Port(), numWant: -1}.packet(), from); r == nil || binary.BigEndian.Uint32(r) != actionAnnounce {
			t.Fatalf("setup announce %d failed: %x", i, r)
		}
	}
	for i, from := range []netip.AddrPort{v6, netip.MustParseAddrPort("[2001:db8::2]:7000")} {
		c := s.key.issue(from.Addr(), testNow)
		if r, _ := do(ann{conn: c, ih: hashN(1), id: idN(10 + i), left: 0, port: from.Port(), numWant: -1}.packet(), from); r == nil {
			t.Fatalf("setup announce v6 %d dropped", i)
		}
	}

	tests := []struct {
		name       string
		in         []byte
		from       netip.AddrPort
		wantAction int // -1: dropped
		wantLen    int
		wantMsg    string
		outcome    tracker.Outcome
		check      func(t *testing.T, r []byte)
	}{
		{"short", []byte{1, 2, 3}, v4, -1, 0, "", tracker.OutcomeInvalid, nil},
		{"connect", connectPacket(7), v4, actionConnect, 16, "", tracker.OutcomeOK, func(t *testing.T, r []byte) {
			if binary.BigEndian.Uint32(r[4:]) != 7 || !s.key.valid(binary.BigEndian.Uint64(r[8:]), v4.Addr(), testNow+60) {
				t.Errorf("bad connect response %x", r)
			}
		}},
		{"connect with trailing bytes", append(connectPacket(7), 1, 2, 3), v4, actionConnect, 16, "", tracker.OutcomeOK, nil},
		{"connect wrong magic", func() []byte { p := connectPacket(1); p[0] = 1; return p }(), v4, -1, 0, "", tracker.OutcomeInvalid, nil},
		{"forged connection id", ann{conn: c4 ^ 1, ih: hashN(1), id: idN(5), port: 1}.packet(), v4, -1, 0, "", tracker.OutcomeDropped, nil},
		{"id of another address", ann{conn: c6, ih: hashN(1), id: idN(5), port: 1}.packet(), v4, -1, 0, "", tracker.OutcomeDropped, nil},
		{"announce v4", ann{conn: c4, tx: 9, ih: hashN(1), id: idN(20), left: 5, port: 1234, numWant: -1}.packet(), netip.MustParseAddrPort("192.0.2.3:1"), -1, 0, "", tracker.OutcomeDropped, nil},
		{"announce leecher v4", ann{conn: c4, tx: 9, ih: hashN(1), id: idN(0), left: 5, port: 5000, numWant: -1}.packet(), v4, actionAnnounce, 20 + 6, "", tracker.OutcomeOK, func(t *testing.T, r []byte) {
			if binary.BigEndian.Uint32(r[4:]) != 9 || binary.BigEndian.Uint32(r[8:]) != 1800 {
				t.Errorf("header %x", r[:12])
			}
			if l, se := binary.BigEndian.Uint32(r[12:]), binary.BigEndian.Uint32(r[16:]); l != 2 || se != 2 {
				t.Errorf("leechers %d seeders %d, want 2 and 2", l, se)
			}
			if ap, _ := peer.ParseCompact(r[20:26]); ap.String() != "192.0.2.2:6000" {
				t.Errorf("peer %v", ap)
			}
		}},
		{"announce seeder v6 gets only v6 leechers (none)", ann{conn: c6, ih: hashN(1), id: idN(10), port: 5000, numWant: 50}.packet(), v6, actionAnnounce, 20, "", tracker.OutcomeOK, nil},
		{"announce leecher v6 gets v6 seeders", ann{conn: c6, ih: hashN(1), id: idN(10), left: 1, port: 5000, numWant: 50}.packet(), v6, actionAnnounce, 20 + 18, "", tracker.OutcomeOK, func(t *testing.T, r []byte) {
			if ap, _ := peer.ParseCompact(r[20:38]); ap.String() != "[2001:db8::2]:7000" {
				t.Errorf("peer %v", ap)
			}
		}},
		{"numwant 0", ann{conn: c4, ih: hashN(1), id: idN(0), left: 5, port: 5000, numWant: 0}.packet(), v4, actionAnnounce, 20, "", tracker.OutcomeOK, nil},
		{"huge numwant", ann{conn: c4, ih: hashN(1), id: idN(0), left: 5, port: 5000, numWant: 1 << 30}.packet(), v4, actionAnnounce, 26, "", tracker.OutcomeOK, nil},
		{"port zero", ann{conn: c4, ih: hashN(2), id: idN(0), left: 5, port: 0, numWant: -1}.packet(), v4, actionError, 0, "invalid port", tracker.OutcomeRefused, nil},
		{"short announce", ann{conn: c4, ih: hashN(1), id: idN(0), port: 1, truncate: 97}.packet(), v4, actionError, 0, "announce packet too short", tracker.OutcomeInvalid, nil},
		{"bad event treated as none", ann{conn: c4, ih: hashN(1), id: idN(0), left: 5, port: 5000, numWant: -1, event: 99}.packet(), v4, actionAnnounce, 26, "", tracker.OutcomeOK, nil},
		{"url data with unknown path", ann{conn: c4, ih: hashN(1), id: idN(0), left: 5, port: 5000, options: []byte{2, 5, '/', 'x', 'y', 'z', 'w'}}.packet(), v4, actionError, 0, "unknown tracker path", tracker.OutcomeRefused, nil},
		{"url data overruns", ann{conn: c4, ih: hashN(1), id: idN(0), left: 5, port: 5000, options: []byte{2, 50, '/'}}.packet(), v4, actionError, 0, "malformed BEP 41 options", tracker.OutcomeInvalid, nil},
		{"url data after nop, then end", ann{conn: c4, ih: hashN(1), id: idN(0), left: 5, port: 5000, numWant: -1, options: append([]byte{1, 1, 2, 9}, "/announce\x00garbage"...)}.packet(), v4, actionAnnounce, 26, "", tracker.OutcomeOK, nil},
		{"empty url data", ann{conn: c4, ih: hashN(1), id: idN(0), left: 5, port: 5000, numWant: -1, options: []byte{2, 0}}.packet(), v4, actionAnnounce, 26, "", tracker.OutcomeOK, nil},
		{"scrape", scrapePacket(c4, 3, hashN(1), hashN(99)), v4, actionScrape, 8 + 24, "", tracker.OutcomeOK, func(t *testing.T, r []byte) {
			if se, co, le := binary.BigEndian.Uint32(r[8:]), binary.BigEndian.Uint32(r[12:]), binary.BigEndian.Uint32(r[16:]); se != 1 || co != 0 || le != 3 {
				t.Errorf("scrape counts %d %d %d", se, co, le)
			}
			if !bytes.Equal(r[20:32], make([]byte, 12)) {
				t.Errorf("unknown swarm counts %x", r[20:32])
			}
		}},
		{"scrape capped", scrapePacket(c4, 3, make([]tracker.InfoHash, 100)...), v4, actionScrape, 8 + 12*MaxScrape, "", tracker.OutcomeOK, nil},
		{"scrape empty", scrapePacket(c4, 3), v4, actionError, 0, "scrape without info hash", tracker.OutcomeInvalid, nil},
		{"unknown action", func() []byte { p := scrapePacket(c4, 3); p[11] = 9; return p }(), v4, actionError, 0, "unknown action", tracker.OutcomeInvalid, nil},
		{"error action from client", func() []byte { p := scrapePacket(c4, 3); p[11] = actionError; return p }(), v4, actionError, 0, "unknown action", tracker.OutcomeInvalid, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, acc := do(tc.in, tc.from)
			if acc.Outcome != tc.outcome {
				t.Errorf("outcome %v, want %v", acc.Outcome, tc.outcome)
			}
			if tc.wantAction < 0 {
				if r != nil {
					t.Fatalf("answered %x, want drop", r)
				}
				return
			}
			if len(r) < 8 || int(binary.BigEndian.Uint32(r)) != tc.wantAction {
				t.Fatalf("response %x, want action %d", r, tc.wantAction)
			}
			if tc.wantAction == actionError {
				if string(r[8:]) != tc.wantMsg {
					t.Fatalf("error %q, want %q", r[8:], tc.wantMsg)
				}
				return
			}
			if len(r) != tc.wantLen {
				t.Fatalf("response length %d, want %d (%x)", len(r), tc.wantLen, r)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

func TestHandlePasskey(t *testing.T) {
	s, w := newTestServer(tracker.Config{Policy: keyPolicy{}})
	from := netip.MustParseAddrPort("127.0.0.1:9")
	c := s.key.issue(from.Addr(), testNow)
	out := make([]byte, s.BufferSize())
	url := func(p string) []byte { return append([]byte{2, byte(len(p))}, p...) }
	// Every form of tracker.ParsePath: the URL data is the path and query
	// of the udp:// URL (BEP 41).
	forms := []struct {
		name, data string
		want       string // "" accepted, else the error message
	}{
		{"query", "/announce?passkey=k1", ""},
		{"query among others", "/announce?x=1&passkey=k1&y=2", ""},
		{"xbt path", "/k1/announce", ""},
		{"key after announce", "/announce/k1", ""},
		{"path and query", "/k1/announce?passkey=k1", ""},
		{"wrong query key", "/announce?passkey=k2", "unknown key"},
		{"no key", "/announce", "unknown key"},
		{"conflicting keys", "/k1/announce?passkey=k2", "unknown tracker path"},
		{"empty query key", "/announce?passkey=", "unknown tracker path"},
		{"malformed query key", "/announce?passkey=k%31", "unknown tracker path"},
		{"scrape path", "/scrape?passkey=k1", "unknown tracker path"},
	}
	for _, f := range forms {
		r, _ := s.handle(w, ann{conn: c, ih: hashN(1), id: idN(1), port: 9, options: url(f.data)}.packet(), from, out, testNow)
		switch {
		case f.want == "" && binary.BigEndian.Uint32(r) != actionAnnounce:
			t.Errorf("%s: %q refused: %q", f.name, f.data, r[8:])
		case f.want != "" && (binary.BigEndian.Uint32(r) != actionError || string(r[8:]) != f.want):
			t.Errorf("%s: %q answered %x, want error %q", f.name, f.data, r, f.want)
		}
	}
	// The key split over two URLData options is concatenated (BEP 41).
	r, _ := s.handle(w, ann{conn: c, ih: hashN(1), id: idN(1), port: 9, options: append(url("/announce?pass"), url("key=k1")...)}.packet(), from, out, testNow)
	if binary.BigEndian.Uint32(r) != actionAnnounce {
		t.Fatalf("split URL data refused: %q", r[8:])
	}
	r, _ = s.handle(w, ann{conn: c, ih: hashN(1), id: idN(1), port: 9, options: url("/k2/announce")}.packet(), from, out, testNow)
	if binary.BigEndian.Uint32(r) != actionError || string(r[8:]) != "unknown key" {
		t.Fatalf("wrong key: %x", r)
	}
	r, _ = s.handle(w, ann{conn: c, ih: hashN(1), id: idN(1), port: 9}.packet(), from, out, testNow)
	if binary.BigEndian.Uint32(r) != actionError {
		t.Fatalf("missing key accepted")
	}
	long := strings.Repeat("x", 300)
	if got := errorPacket(out, []byte{0, 0, 0, 1}, long); len(got) != 8+maxErrorLen {
		t.Fatalf("error packet length %d", len(got))
	}
}

func TestHandleDoesNotAllocate(t *testing.T) {
	s, w := newTestServer(tracker.Config{})
	out := make([]byte, s.BufferSize())
	from := netip.MustParseAddrPort("192.0.2.1:5000")
	c := s.key.issue(from.Addr(), testNow)
	for i := 0; i < 20; i++ {
		s.handle(w, ann{conn: c, ih: hashN(1), id: idN(i), left: 1, port: uint16(1000 + i)}.packet(), from, out, testNow)
	}
	pk := ann{conn: c, ih: hashN(1), id: idN(3), left: 1, port: 1003, numWant: 50, options: []byte{2, 9, '/', 'a', 'n', 'n', 'o', 'u', 'n', 'c', 'e'}}.packet()
	cp := connectPacket(1)
	sp := scrapePacket(c, 1, hashN(1), hashN(2))
	for name, p := range map[string][]byte{"announce": pk, "connect": cp, "scrape": sp} {
		if n := testing.AllocsPerRun(1000, func() { s.handle(w, p, from, out, testNow) }); n != 0 {
			t.Errorf("%s: %v allocations, want 0", name, n)
		}
	}
}

// client is a tiny test-only BEP 15 client.
type client struct {
	t    *testing.T
	conn *net.UDPConn
	id   uint64
	tx   uint32
}

func dial(t *testing.T, addr net.Addr) *client {
	c, err := net.DialUDP("udp", nil, addr.(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	cl := &client{t: t, conn: c}
	r := cl.roundTrip(connectPacket(0))
	if binary.BigEndian.Uint32(r) != actionConnect || len(r) != 16 {
		t.Fatalf("connect response %x", r)
	}
	cl.id = binary.BigEndian.Uint64(r[8:])
	return cl
}

func (c *client) roundTrip(p []byte) []byte {
	c.t.Helper()
	c.tx++
	binary.BigEndian.PutUint32(p[12:], c.tx)
	buf := make([]byte, 65536)
	for try := 0; try < 3; try++ {
		if _, err := c.conn.Write(p); err != nil {
			c.t.Fatal(err)
		}
		c.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := c.conn.Read(buf)
		if err != nil {
			continue
		}
		if n < 8 || binary.BigEndian.Uint32(buf[4:]) != c.tx {
			c.t.Fatalf("bad response %x", buf[:n])
		}
		return buf[:n]
	}
	c.t.Fatal("no response")
	return nil
}

func (c *client) announce(h tracker.InfoHash, id peer.ID, left uint64, port uint16) []byte {
	return c.roundTrip(ann{conn: c.id, ih: h, id: id, left: left, port: port, numWant: -1}.packet())
}

func serve(t *testing.T, network, addr string, tr *tracker.Tracker, viaNet bool) (net.Addr, func()) {
	srv := New(Config{Tracker: tr, Workers: 2, Batch: 8})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var serr error
	var laddr net.Addr
	if viaNet {
		pc, err := net.ListenPacket(network, addr)
		if err != nil {
			t.Skipf("cannot listen on %s: %v", addr, err)
		}
		laddr = pc.LocalAddr()
		wg.Add(1)
		go func() { defer wg.Done(); serr = srv.ServeConn(ctx, pc.(*net.UDPConn)) }()
	} else {
		sock, err := Listen(network, addr)
		if err != nil {
			t.Skipf("cannot listen on %s: %v", addr, err)
		}
		laddr = sock.LocalAddr()
		wg.Add(1)
		go func() { defer wg.Done(); serr = srv.Serve(ctx, sock) }()
	}
	return laddr, func() {
		cancel()
		wg.Wait()
		if serr != nil {
			t.Errorf("Serve: %v", serr)
		}
	}
}

func TestEndToEnd(t *testing.T) {
	for _, tc := range []struct {
		name, network, addr string
		viaNet              bool
	}{
		{"ipv4", "udp4", "127.0.0.1:0", false},
		{"ipv6", "udp6", "[::1]:0", false},
		{"ipv4 net conn", "udp", "127.0.0.1:0", true},
		{"ipv6 net conn", "udp", "[::1]:0", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := tracker.New(tracker.Config{})
			addr, stop := serve(t, tc.network, tc.addr, tr, tc.viaNet)
			defer stop()
			seeder, leecher := dial(t, addr), dial(t, addr)
			r := seeder.announce(hashN(1), idN(1), 0, 7001)
			if binary.BigEndian.Uint32(r) != actionAnnounce || len(r) != 20 {
				t.Fatalf("seeder announce %x", r)
			}
			r = leecher.announce(hashN(1), idN(2), 100, 7002)
			entry := 6
			if strings.Contains(tc.addr, "::1") {
				entry = 18
			}
			if len(r) != 20+entry {
				t.Fatalf("leecher got %x", r)
			}
			ap, _ := peer.ParseCompact(r[20:])
			if ap.Port() != 7001 || !ap.Addr().IsLoopback() {
				t.Fatalf("leecher got peer %v", ap)
			}
			s := leecher.roundTrip(scrapePacket(leecher.id, 0, hashN(1)))
			if binary.BigEndian.Uint32(s[8:]) != 1 || binary.BigEndian.Uint32(s[16:]) != 1 {
				t.Fatalf("scrape %x", s)
			}
			// A forged connection ID gets no answer.
			leecher.conn.Write(ann{conn: leecher.id ^ 0xff, ih: hashN(1), id: idN(3), port: 1}.packet())
			leecher.conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			if n, err := leecher.conn.Read(make([]byte, 100)); err == nil {
				t.Fatalf("forged ID answered with %d bytes", n)
			}
			if n := tr.Requests(tracker.UDP, tracker.ActionAnnounce, tracker.OutcomeDropped); n != 1 {
				t.Errorf("dropped counter %d, want 1", n)
			}
			// A burst bigger than a batch is answered completely.
			var wg sync.WaitGroup
			for i := 0; i < 4; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c := dial(t, addr)
					for k := 0; k < 50; k++ {
						c.announce(hashN(2+k%3), idN(100*i+k), 1, uint16(8000+k))
					}
				}()
			}
			wg.Wait()
			// Counters are updated just after the answers are sent.
			deadline := time.Now().Add(2 * time.Second)
			for tr.Requests(tracker.UDP, tracker.ActionAnnounce, tracker.OutcomeOK) < 202 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if n := tr.Requests(tracker.UDP, tracker.ActionAnnounce, tracker.OutcomeOK); n != 202 {
				t.Errorf("ok announces %d, want 202", n)
			}
		})
	}
}
