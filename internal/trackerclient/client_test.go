package trackerclient

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeUDPTracker is a scriptable BEP 15 server on a real loopback socket,
// for the client behaviours a real tracker cannot be made to show (lost
// packets, expiring IDs, garbage). handle returns the packets to send back.
type fakeUDPTracker struct {
	conn     *net.UDPConn
	mu       sync.Mutex
	connects int
	requests int
	handle   func(f *fakeUDPTracker, pkt []byte) [][]byte
	done     chan struct{}
}

func newFakeUDPTracker(t *testing.T, network, addr string, handle func(f *fakeUDPTracker, pkt []byte) [][]byte) *fakeUDPTracker {
	t.Helper()
	la, err := net.ResolveUDPAddr(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenUDP(network, la)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	f := &fakeUDPTracker{conn: conn, handle: handle, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		buf := make([]byte, 2048)
		for {
			n, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			pkt := append([]byte(nil), buf[:n]...)
			f.mu.Lock()
			if n >= 16 && binary.BigEndian.Uint32(pkt[8:]) == ActionConnect {
				f.connects++
			} else {
				f.requests++
			}
			f.mu.Unlock()
			for _, out := range f.handle(f, pkt) {
				conn.WriteToUDP(out, from)
			}
		}
	}()
	t.Cleanup(func() { conn.Close(); <-f.done })
	return f
}

func (f *fakeUDPTracker) url() string {
	return "udp://" + f.conn.LocalAddr().String() + "/announce?k=v"
}

func (f *fakeUDPTracker) counts() (connects, requests int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.connects, f.requests
}

func reply(action, tx uint32, body ...byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, action)
	b = binary.BigEndian.AppendUint32(b, tx)
	return append(b, body...)
}

// goodTracker answers connects with ID 42 and announces with one peer;
// it checks the connection ID and the BEP 41 URL data.
func goodTracker(f *fakeUDPTracker, pkt []byte) [][]byte {
	be := binary.BigEndian
	tx := be.Uint32(pkt[12:])
	switch be.Uint32(pkt[8:]) {
	case ActionConnect:
		if be.Uint64(pkt) != UDPProtocolID {
			return nil
		}
		return [][]byte{reply(ActionConnect, tx, 0, 0, 0, 0, 0, 0, 0, 42)}
	case ActionAnnounce:
		if be.Uint64(pkt) != 42 || string(pkt[UDPAnnounceSize:]) != "\x02\x0d/announce?k=v" {
			return [][]byte{reply(ActionError, tx, []byte("bad request")...)}
		}
		return [][]byte{reply(ActionAnnounce, tx, 0, 0, 0, 30, 0, 0, 0, 1, 0, 0, 0, 2, 127, 0, 0, 1, 0, 80)}
	case ActionScrape:
		n := (len(pkt) - 16) / 20
		body := make([]byte, 0, 12*n)
		for i := range n {
			body = be.AppendUint32(body, uint32(pkt[16+20*i])) // seeders = first byte of hash
			body = be.AppendUint32(body, 7)
			body = be.AppendUint32(body, 8)
		}
		return [][]byte{reply(ActionScrape, tx, body...)}
	}
	return nil
}

func quickClient() *Client {
	return &Client{UDPTimeout: 100 * time.Millisecond, UDPMaxRetries: 3}
}

func TestUDPAnnounceAndConnIDCache(t *testing.T) {
	for _, fam := range []struct{ network, addr string }{{"udp4", "127.0.0.1:0"}, {"udp6", "[::1]:0"}} {
		t.Run(fam.network, func(t *testing.T) {
			f := newFakeUDPTracker(t, fam.network, fam.addr, goodTracker)
			c := quickClient()
			defer c.Close()
			now := time.Now()
			c.now = func() time.Time { return now }
			ctx := context.Background()
			for i := range 3 {
				r, err := c.Announce(ctx, f.url(), AnnounceRequest{InfoHash: hash(1), Port: 1})
				if err != nil {
					t.Fatal(err)
				}
				if r.Interval != 30*time.Second || r.Leechers != 1 || r.Seeders != 2 {
					t.Fatalf("response %+v", r)
				}
				if fam.network == "udp4" && (len(r.Peers) != 1 || r.Peers[0].Addr.String() != "127.0.0.1:80") {
					t.Fatalf("peers %+v", r.Peers)
				}
				if fam.network == "udp6" && len(r.Peers) != 0 { // 6 bytes do not make an 18-byte entry
					t.Fatalf("peers %+v", r.Peers)
				}
				if cn, rq := f.counts(); cn != 1 || rq != i+1 {
					t.Fatalf("after %d announces: %d connects, %d requests; want the ID reused", i+1, cn, rq)
				}
			}
			now = now.Add(connIDLifetime)
			if _, err := c.Announce(ctx, f.url(), AnnounceRequest{}); err != nil {
				t.Fatal(err)
			}
			if cn, _ := f.counts(); cn != 2 {
				t.Fatalf("%d connects after the ID expired, want 2", cn)
			}
		})
	}
}

func TestUDPRetransmit(t *testing.T) {
	var dropped atomic.Int32
	// Drop the first connect and the first two announces, and send
	// garbage and a wrong transaction ID before each real answer.
	f := newFakeUDPTracker(t, "udp4", "127.0.0.1:0", func(f *fakeUDPTracker, pkt []byte) [][]byte {
		cn, rq := f.counts()
		if (cn == 1 && rq == 0) || (rq >= 1 && rq <= 2) {
			dropped.Add(1)
			return nil
		}
		out := goodTracker(f, pkt)
		tx := binary.BigEndian.Uint32(pkt[12:])
		return append([][]byte{{1, 2, 3}, reply(ActionAnnounce, tx+1, make([]byte, 12)...)}, out...)
	})
	c := quickClient()
	defer c.Close()
	start := time.Now()
	r, err := c.Announce(context.Background(), f.url(), AnnounceRequest{})
	if err != nil {
		t.Fatal(err)
	}
	// Timeouts 100ms, 200ms, 400ms elapsed before the answer.
	if el := time.Since(start); el < 700*time.Millisecond || el > 3*time.Second {
		t.Errorf("took %v, want about 700ms of backoff", el)
	}
	if dropped.Load() != 3 || r.Seeders != 2 {
		t.Fatalf("dropped %d, response %+v", dropped.Load(), r)
	}
}

func TestUDPErrors(t *testing.T) {
	silent := func(*fakeUDPTracker, []byte) [][]byte { return nil }
	refuse := func(f *fakeUDPTracker, pkt []byte) [][]byte {
		if binary.BigEndian.Uint32(pkt[8:]) == ActionConnect {
			return goodTracker(f, pkt)
		}
		return [][]byte{reply(ActionError, binary.BigEndian.Uint32(pkt[12:]), []byte("unregistered torrent")...)}
	}
	wrongAction := func(f *fakeUDPTracker, pkt []byte) [][]byte {
		return [][]byte{reply(ActionScrape, binary.BigEndian.Uint32(pkt[12:]), make([]byte, 8)...)}
	}
	tests := []struct {
		name    string
		handle  func(*fakeUDPTracker, []byte) [][]byte
		timeout time.Duration
		check   func(err error) bool
	}{
		{"timeout", silent, 0, func(err error) bool { return errors.Is(err, ErrTimeout) }},
		{"tracker error", refuse, 0, func(err error) bool {
			var te *TrackerError
			return errors.As(err, &te) && te.Reason == "unregistered torrent"
		}},
		{"wrong action", wrongAction, 0, func(err error) bool { return errors.Is(err, ErrMalformed) }},
		{"context deadline", silent, 50 * time.Millisecond, func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeUDPTracker(t, "udp4", "127.0.0.1:0", tt.handle)
			c := &Client{UDPTimeout: 20 * time.Millisecond, UDPMaxRetries: 2}
			if tt.timeout > 0 {
				c.UDPTimeout = time.Hour
			}
			defer c.Close()
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			start := time.Now()
			_, err := c.Announce(ctx, f.url(), AnnounceRequest{})
			if !tt.check(err) {
				t.Fatalf("err = %v", err)
			}
			if el := time.Since(start); el > 2*time.Second {
				t.Fatalf("took %v", el)
			}
		})
	}
}

func TestUDPRefusedPort(t *testing.T) {
	// A closed port answers with ICMP port unreachable: a prompt error.
	l, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := l.LocalAddr().String()
	l.Close()
	c := &Client{UDPTimeout: 5 * time.Second}
	defer c.Close()
	start := time.Now()
	_, err = c.Announce(context.Background(), "udp://"+addr, AnnounceRequest{})
	if err == nil || time.Since(start) > 3*time.Second {
		t.Fatalf("err = %v after %v", err, time.Since(start))
	}
}

func TestUDPScrapeSplits(t *testing.T) {
	f := newFakeUDPTracker(t, "udp4", "127.0.0.1:0", goodTracker)
	c := quickClient()
	defer c.Close()
	hashes := make([][20]byte, 100)
	for i := range hashes {
		hashes[i] = hash(byte(i))
	}
	got, err := c.Scrape(context.Background(), f.url(), hashes)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 100 || got[hashes[99]] != (ScrapeStats{Complete: 99, Downloaded: 7, Incomplete: 8}) {
		t.Fatalf("got %d entries, last %+v", len(got), got[hashes[99]])
	}
	if _, rq := f.counts(); rq != 2 {
		t.Fatalf("%d scrape requests, want 2 (74 + 26)", rq)
	}
	if _, err := c.Scrape(context.Background(), f.url(), nil); !errors.Is(err, ErrScrapeUnsupported) {
		t.Fatalf("UDP full scrape: %v", err)
	}
}

func TestConcurrentAndClose(t *testing.T) {
	base := runtime.NumGoroutine()
	f := newFakeUDPTracker(t, "udp4", "127.0.0.1:0", goodTracker)
	silent := newFakeUDPTracker(t, "udp4", "127.0.0.1:0", func(*fakeUDPTracker, []byte) [][]byte { return nil })
	c := &Client{UDPTimeout: time.Hour}
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Announce(context.Background(), f.url(), AnnounceRequest{})
			errs <- err
		}()
	}
	wg.Wait()
	for range 10 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// A call blocked on a silent tracker ends when the client is closed.
	blocked := make(chan error, 1)
	go func() {
		_, err := c.Announce(context.Background(), silent.url(), AnnounceRequest{})
		blocked <- err
	}()
	time.Sleep(50 * time.Millisecond)
	c.Close()
	select {
	case err := <-blocked:
		if err == nil {
			t.Fatal("announce to a silent tracker succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end a blocked announce")
	}
	if _, err := c.Announce(context.Background(), f.url(), AnnounceRequest{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	// fake trackers add 2 goroutines; everything of the client is gone.
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > base+2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base+2 {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines, started with %d:\n%s", n, base, buf[:runtime.Stack(buf, true)])
	}
}

func TestHTTP(t *testing.T) {
	var lastQuery atomic.Value
	mux := http.NewServeMux()
	mux.HandleFunc("/pk/announce", func(w http.ResponseWriter, r *http.Request) {
		lastQuery.Store(r.URL.RawQuery)
		if h := hash(1); r.URL.Query().Get("info_hash") != string(h[:]) {
			w.Write([]byte("d14:failure reason7:unknowne"))
			return
		}
		w.Write([]byte("d8:intervali10e5:peers6:\x7f\x00\x00\x01\x00\x50e"))
	})
	mux.HandleFunc("/pk/scrape", func(w http.ResponseWriter, r *http.Request) {
		lastQuery.Store(r.URL.RawQuery)
		h := hash(1)
		w.Write([]byte("d5:filesd20:" + string(h[:]) + "d8:completei2e10:downloadedi1e10:incompletei0eeee"))
	})
	mux.HandleFunc("/big/announce", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", 2000)))
	})
	mux.HandleFunc("/500/announce", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
	})
	mux.HandleFunc("/403/announce", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(403)
		w.Write([]byte("d14:failure reason6:bannede"))
	})
	for _, network := range []string{"tcp4", "tcp6"} {
		t.Run(network, func(t *testing.T) {
			addr := "127.0.0.1:0"
			if network == "tcp6" {
				addr = "[::1]:0"
			}
			l, err := net.Listen(network, addr)
			if err != nil {
				t.Skip(err)
			}
			srv := httptest.NewUnstartedServer(mux)
			srv.Listener.Close()
			srv.Listener = l
			srv.Start()
			defer srv.Close()
			c := &Client{MaxResponseSize: 1000}
			defer c.Close()
			ctx := context.Background()
			base := srv.URL

			r, err := c.Announce(ctx, base+"/pk/announce?passkey=s3cret", AnnounceRequest{InfoHash: hash(1), Port: 9})
			if err != nil || r.Interval != 10*time.Second || len(r.Peers) != 1 || r.Peers[0].Addr.String() != "127.0.0.1:80" {
				t.Fatalf("announce: %+v %v", r, err)
			}
			if q := lastQuery.Load().(string); !strings.HasPrefix(q, "passkey=s3cret&info_hash=") {
				t.Errorf("query %q", q)
			}
			var te *TrackerError
			if _, err := c.Announce(ctx, base+"/pk/announce", AnnounceRequest{}); !errors.As(err, &te) || te.Reason != "unknown" {
				t.Errorf("failure reason: %v", err)
			}
			s, err := c.Scrape(ctx, base+"/pk/announce?passkey=s3cret", [][20]byte{hash(1), hash(2)})
			if err != nil || s[hash(1)] != (ScrapeStats{Complete: 2, Downloaded: 1}) {
				t.Fatalf("scrape: %v %v", s, err)
			}
			if q := lastQuery.Load().(string); strings.Count(q, "info_hash=") != 2 || !strings.HasPrefix(q, "passkey=s3cret&") {
				t.Errorf("scrape query %q", q)
			}
			if _, err := c.Announce(ctx, base+"/big/announce", AnnounceRequest{}); !errors.Is(err, ErrResponseTooLarge) {
				t.Errorf("big: %v", err)
			}
			if _, err := c.Announce(ctx, base+"/500/announce", AnnounceRequest{}); err == nil || !strings.Contains(err.Error(), "500") {
				t.Errorf("500: %v", err)
			}
			if _, err := c.Announce(ctx, base+"/403/announce", AnnounceRequest{}); !errors.As(err, &te) || te.Reason != "banned" {
				t.Errorf("403: %v", err)
			}
			if _, err := c.Scrape(ctx, base+"/pk/x", nil); !errors.Is(err, ErrScrapeUnsupported) {
				t.Errorf("scrape without announce in path: %v", err)
			}
		})
	}
	c := &Client{}
	if _, err := c.Announce(context.Background(), "wss://x/announce", AnnounceRequest{}); !errors.Is(err, ErrUnsupportedScheme) {
		t.Errorf("wss: %v", err)
	}
	if _, err := c.Announce(context.Background(), "udp:///announce", AnnounceRequest{}); err == nil {
		t.Error("URL without host accepted")
	}
}
