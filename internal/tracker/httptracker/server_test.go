package httptracker

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gale-bt/gale/internal/tracker"
)

func TestAppendAnnounce(t *testing.T) {
	resp := &tracker.AnnounceResponse{Interval: 1800, MinInterval: 900, Seeders: 3, Leechers: 4, Completed: 5, Peers: []byte{1, 2, 3, 4, 0x1a, 0xe1}}
	v4 := netip.MustParseAddr("10.0.0.1")
	got := string(appendAnnounce(nil, resp, true, true, v4, ""))
	want := "d8:completei3e10:downloadedi5e11:external ip4:\x0a\x00\x00\x0110:incompletei4e8:intervali1800e12:min intervali900e5:peers6:\x01\x02\x03\x04\x1a\xe1e"
	if got != want {
		t.Errorf("compact v4:\n got %q\nwant %q", got, want)
	}

	v6 := netip.MustParseAddr("2001:db8::1")
	r6 := &tracker.AnnounceResponse{Interval: 60, MinInterval: 30, IPv6: true, Peers: make([]byte, 18), Warning: "hi"}
	got = string(appendAnnounce(nil, r6, true, true, v6, "gale"))
	want = "d8:completei0e10:downloadedi0e11:external ip16:" + string(v6.AsSlice()) + "10:incompletei0e8:intervali60e12:min intervali30e5:peers0:6:peers618:" + string(make([]byte, 18)) + "10:tracker id4:gale15:warning message2:hie"
	if got != want {
		t.Errorf("compact v6:\n got %q\nwant %q", got, want)
	}

	id := "-TR4060-abcdefghijkl"
	dict := &tracker.AnnounceResponse{Interval: 1, MinInterval: 1, Peers: append([]byte(id), 10, 0, 0, 2, 0, 80)}
	got = string(appendAnnounce(nil, dict, false, true, netip.Addr{}, ""))
	want = "d8:completei0e10:downloadedi0e10:incompletei0e8:intervali1e12:min intervali1ee5:peersld2:ip8:10.0.0.27:peer id20:" + id + "4:porti80eeee"
	want = strings.Replace(want, "i1ee5:peers", "i1e5:peers", 1)
	if got != want {
		t.Errorf("dictionary:\n got %q\nwant %q", got, want)
	}
	got = string(appendAnnounce(nil, dict, false, false, netip.Addr{}, ""))
	if strings.Contains(got, "peer id") || !strings.Contains(got, "ld2:ip8:10.0.0.24:porti80eee") {
		t.Errorf("no_peer_id: %q", got)
	}
	if got := string(appendFailure(nil, "no")); got != "d14:failure reason2:noe" {
		t.Errorf("failure %q", got)
	}
}

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		ok        bool
		keepAlive bool
		hasBody   bool
		target    string
	}{
		{"http11", "GET /announce?x HTTP/1.1\r\nHost: a\r\n\r\n", true, true, false, "/announce?x"},
		{"http10", "GET /announce HTTP/1.0\r\n\r\n", true, false, false, "/announce"},
		{"http10 keep-alive", "GET /a HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true, true, false, "/a"},
		{"close", "GET /a HTTP/1.1\r\nconnection: foo, close\r\n\r\n", true, false, false, "/a"},
		{"lf only", "GET /a HTTP/1.1\nHost: x\n\n", true, true, false, "/a"},
		{"body", "GET /a HTTP/1.1\r\nContent-Length: 5\r\n\r\n", true, true, true, "/a"},
		{"zero body", "GET /a HTTP/1.1\r\nContent-Length: 0\r\n\r\n", true, true, false, "/a"},
		{"chunked", "GET /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", true, true, true, "/a"},
		{"bad version", "GET /a HTTP/2.0\r\n\r\n", false, false, false, ""},
		{"no version", "GET /a\r\n\r\n", false, false, false, ""},
		{"folding", "GET /a HTTP/1.1\r\nX: a\r\n b\r\n\r\n", false, false, false, ""},
		{"no colon", "GET /a HTTP/1.1\r\nfoo\r\n\r\n", false, false, false, ""},
		{"space in target", "GET /a b HTTP/1.1\r\n\r\n", false, false, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := []byte(tc.in)
			end := headerEnd(b)
			if end != len(b) {
				t.Fatalf("headerEnd = %d, want %d", end, len(b))
			}
			var r request
			ok := parseRequest(b[:end], &r)
			if ok != tc.ok {
				t.Fatalf("ok = %v", ok)
			}
			if ok && (r.keepAlive != tc.keepAlive || r.hasBody != tc.hasBody || string(r.target) != tc.target) {
				t.Fatalf("parsed %+v", r)
			}
		})
	}
	if headerEnd([]byte("GET / HTTP/1.1\r\nHost: x\r\n")) != -1 {
		t.Error("incomplete head reported complete")
	}
}

func TestClientIP(t *testing.T) {
	s := New(Config{Tracker: tracker.New(tracker.Config{}), TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}})
	open := New(Config{Tracker: tracker.New(tracker.Config{})})
	tests := []struct {
		name, remote, xff, xreal, want string
		srv                            *Server
	}{
		{"untrusted ignores headers", "192.0.2.1", "1.2.3.4", "5.6.7.8", "192.0.2.1", s},
		{"no proxies configured", "10.0.0.1", "1.2.3.4", "", "10.0.0.1", open},
		{"trusted xff", "10.0.0.1", "1.2.3.4", "", "1.2.3.4", s},
		{"rightmost untrusted", "10.0.0.1", "6.6.6.6, 1.2.3.4, 10.9.9.9", "", "1.2.3.4", s},
		{"x-real-ip", "::1", "", "2001:db8::5", "2001:db8::5", s},
		{"garbage falls back", "10.0.0.1", "not-an-ip", "", "10.0.0.1", s},
		{"mapped remote", "::ffff:10.0.0.1", "1.2.3.4", "", "1.2.3.4", s},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.srv.clientIP(netip.MustParseAddr(tc.remote), []byte(tc.xff), []byte(tc.xreal))
			if got.String() != tc.want {
				t.Fatalf("got %v, want %s", got, tc.want)
			}
		})
	}
}

func TestRespondDoesNotAllocate(t *testing.T) {
	s := New(Config{Tracker: tracker.New(tracker.Config{})})
	st := statePool.Get().(*connState)
	client := netip.MustParseAddr("10.0.0.1")
	for i := 0; i < 30; i++ {
		q := fmt.Sprintf("info_hash=%s&peer_id=-TR4060-abcdefghi%03d&port=%d&left=1", esc(testHash), i, 1000+i)
		s.respond(st, tracker.ActionAnnounce, nil, []byte(q), client, st.out[:headRoom])
	}
	q := []byte(fmt.Sprintf("info_hash=%s&peer_id=-TR4060-abcdefghi007&port=1007&left=1&compact=1&numwant=50", esc(testHash)))
	if n := testing.AllocsPerRun(200, func() {
		body, _ := s.respond(st, tracker.ActionAnnounce, nil, q, client, st.out[:headRoom])
		st.out = body[:headRoom]
	}); n != 0 {
		t.Fatalf("announce: %v allocations", n)
	}
	sq := []byte("info_hash=" + esc(testHash) + "&info_hash=" + esc(strings.Repeat("z", 20)))
	if n := testing.AllocsPerRun(200, func() { s.respond(st, tracker.ActionScrape, nil, sq, client, st.out[:headRoom]) }); n != 0 {
		t.Fatalf("scrape: %v allocations", n)
	}
}

// testServer runs a Server on addr ("127.0.0.1:0" or "[::1]:0"), on a
// Listener from Listen, or with viaNet on a net.Listener.
func testServer(t *testing.T, addr string, tcfg tracker.Config, cfg Config, viaNet ...bool) (string, *tracker.Tracker) {
	t.Helper()
	tr := tracker.New(tcfg)
	cfg.Tracker = tr
	srv := New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var laddr net.Addr
	if len(viaNet) > 0 && viaNet[0] {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Skipf("listen %s: %v", addr, err)
		}
		laddr = ln.Addr()
		go func() { done <- srv.ServeListener(ctx, ln) }()
	} else {
		ln, err := Listen("tcp", addr)
		if err != nil {
			t.Skipf("listen %s: %v", addr, err)
		}
		laddr = ln.Addr()
		go func() { done <- srv.Serve(ctx, ln) }()
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return")
		}
	})
	return "http://" + laddr.String(), tr
}

func announceURL(base, path string, id int, port int, left int, extra string) string {
	return fmt.Sprintf("%s%s?info_hash=%s&peer_id=-GL0001-%012d&port=%d&left=%d&uploaded=0&downloaded=0%s", base, path, esc(testHash), id, port, left, extra)
}

func get(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s %q", u, resp.Status, b)
	}
	return string(b)
}

func TestEndToEnd(t *testing.T) {
	for _, tc := range []struct {
		addr   string
		viaNet bool
	}{{"127.0.0.1:0", false}, {"[::1]:0", false}, {"127.0.0.1:0", true}, {"[::1]:0", true}} {
		addr := tc.addr
		t.Run(fmt.Sprintf("%s net=%v", addr, tc.viaNet), func(t *testing.T) {
			var mu sync.Mutex
			var logged []Access
			base, tr := testServer(t, addr, tracker.Config{}, Config{TrackerID: "gale", AccessLog: func(a Access) { mu.Lock(); logged = append(logged, a); mu.Unlock() }}, tc.viaNet)
			c := &http.Client{Timeout: 5 * time.Second}
			peersKey := "5:peers"
			if strings.Contains(addr, "::1") {
				peersKey = "6:peers6"
			}
			body := get(t, c, announceURL(base, "/announce", 1, 7001, 0, "&event=started"))
			if !strings.Contains(body, "8:completei1e") || !strings.Contains(body, "10:tracker id4:gale") {
				t.Fatalf("seeder announce: %q", body)
			}
			body = get(t, c, announceURL(base, "/announce", 2, 7002, 10, "&event=started&compact=1"))
			entry := map[string]string{"5:peers": "6:\x7f\x00\x00\x01\x1b\x59", "6:peers6": "18:" + string(netip.MustParseAddr("::1").AsSlice()) + "\x1b\x59"}[peersKey]
			if !strings.Contains(body, peersKey+entry) {
				t.Fatalf("leecher announce: %q", body)
			}
			body = get(t, c, announceURL(base, "/announce", 2, 7002, 10, "&compact=0"))
			if !strings.Contains(body, "7:peer id20:-GL0001-000000000001") || !strings.Contains(body, "4:porti7001e") {
				t.Fatalf("dictionary announce: %q", body)
			}
			body = get(t, c, base+"/scrape?info_hash="+esc(testHash)+"&info_hash="+esc(strings.Repeat("q", 20)))
			// Keys in byte order: "qqq..." (0x71) sorts before 0xaa.
			want := "d5:filesd20:" + strings.Repeat("q", 20) + "d8:completei0e10:downloadedi0e10:incompletei0ee20:" + testHash + "d8:completei1e10:downloadedi0e10:incompletei1eeee"
			if body != want {
				t.Fatalf("scrape:\n got %q\nwant %q", body, want)
			}
			if body := get(t, c, base+"/scrape"); !strings.Contains(body, "failure reason") {
				t.Fatalf("full scrape not refused: %q", body)
			}
			if body := get(t, c, base+"/announce?info_hash=short"); body != "d14:failure reason"+fmt.Sprint(len(errInfoHash))+":"+string(errInfoHash)+"e" {
				t.Fatalf("bad announce: %q", body)
			}
			// Pages, on a connection that announced before (hand-off
			// mid-connection).
			if body := get(t, c, base+"/"); !strings.Contains(body, "<h1>gale tracker</h1>") || !strings.Contains(body, tracker.InfoHash([]byte(testHash)).String()) {
				t.Fatalf("stats page: %q", body)
			}
			var st Stats
			if err := json.Unmarshal([]byte(get(t, c, base+"/stats.json")), &st); err != nil || st.Swarms != 1 || st.Seeders != 1 || st.Leechers != 1 {
				t.Fatalf("stats.json: %+v %v", st, err)
			}
			metrics := get(t, c, base+"/metrics")
			if !strings.Contains(metrics, `gale_tracker_requests_total{protocol="http",action="announce",outcome="ok"} 3`) || !strings.Contains(metrics, "gale_tracker_swarms 1") {
				t.Fatalf("metrics:\n%s", metrics)
			}
			resp, err := c.Get(base + "/nope")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 404 {
				t.Fatalf("unknown path: %s", resp.Status)
			}
			if tr.Totals().Swarms != 1 {
				t.Fatal("swarm missing")
			}
			var n int
			for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				mu.Lock()
				n = len(logged)
				mu.Unlock()
				if n >= 9 {
					break
				}
			}
			if n < 9 {
				t.Fatalf("access log has %d entries", n)
			}
		})
	}
}

func rawExchange(t *testing.T, addr, req string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(c)
	return string(b)
}

func TestRawConnections(t *testing.T) {
	for _, viaNet := range []bool{false, true} {
		t.Run(fmt.Sprint("net=", viaNet), func(t *testing.T) { testRawConnections(t, viaNet) })
	}
}

func testRawConnections(t *testing.T, viaNet bool) {
	base, _ := testServer(t, "127.0.0.1:0", tracker.Config{}, Config{ReadTimeout: 500 * time.Millisecond}, viaNet)
	addr := strings.TrimPrefix(base, "http://")
	path := strings.TrimPrefix(announceURL("", "/announce", 1, 1, 1, ""), "")

	// Pipelined keep-alive requests, the last asking to close.
	out := rawExchange(t, addr, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\nGET "+path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if strings.Count(out, "HTTP/1.1 200 OK") != 2 || !strings.Contains(out, "Connection: close") {
		t.Fatalf("pipelined: %q", out)
	}
	// HTTP/1.0 closes after one response.
	out = rawExchange(t, addr, "GET "+path+" HTTP/1.0\r\n\r\n")
	if !strings.HasPrefix(out, "HTTP/1.1 200 OK") || !strings.HasSuffix(out, "e") {
		t.Fatalf("http/1.0: %q", out)
	}
	// HEAD gets headers only.
	out = rawExchange(t, addr, "HEAD "+path+" HTTP/1.0\r\n\r\n")
	if !strings.HasSuffix(out, "\r\n\r\n") || !strings.Contains(out, "Content-Length: ") {
		t.Fatalf("head: %q", out)
	}
	// Malformed request line.
	out = rawExchange(t, addr, "GARBAGE\r\n\r\n")
	if !strings.HasPrefix(out, "HTTP/1.1 400") {
		t.Fatalf("garbage: %q", out)
	}
	// Oversized head.
	out = rawExchange(t, addr, "GET /announce?"+strings.Repeat("a", requestBufLen)+" HTTP/1.1\r\n\r\n")
	if !strings.HasPrefix(out, "HTTP/1.1 431") {
		t.Fatalf("oversized: %q", out)
	}
	// A POST to announce goes to net/http, which answers 405.
	out = rawExchange(t, addr, "POST /announce HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
	if !strings.HasPrefix(out, "HTTP/1.1 405") {
		t.Fatalf("post: %q", out)
	}
	// A client that sends half a request is cut off after ReadTimeout.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /announce")
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	start := time.Now()
	if _, err := bufio.NewReader(c).ReadByte(); err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("slow client kept: err=%v after %v", err, time.Since(start))
	}
}

type keyOnly struct{}

func (keyOnly) Announce(r *tracker.AnnounceRequest) (tracker.Grant, error) {
	if string(r.Passkey) != "0000002a0123456789abcdef01234567" {
		return tracker.Grant{}, &tracker.Error{Reason: "unknown passkey"}
	}
	return tracker.Grant{User: 42}, nil
}
func (keyOnly) Scrape(k []byte, _ tracker.InfoHash) error {
	if string(k) != "0000002a0123456789abcdef01234567" {
		return &tracker.Error{Reason: "unknown passkey"}
	}
	return nil
}

func TestPasskeyPathAndRedaction(t *testing.T) {
	var targets []string
	var mu sync.Mutex
	base, _ := testServer(t, "127.0.0.1:0", tracker.Config{Policy: keyOnly{}}, Config{AccessLog: func(a Access) { mu.Lock(); targets = append(targets, a.Target); mu.Unlock() }})
	c := &http.Client{Timeout: 5 * time.Second}
	key := "0000002a0123456789abcdef01234567"
	if body := get(t, c, announceURL(base, "/"+key+"/announce", 1, 1, 1, "")); strings.Contains(body, "failure") {
		t.Fatalf("good key refused: %q", body)
	}
	if body := get(t, c, announceURL(base, "/wrongkey/announce", 1, 1, 1, "")); !strings.Contains(body, "unknown passkey") {
		t.Fatalf("bad key: %q", body)
	}
	if body := get(t, c, announceURL(base, "/announce", 1, 1, 1, "")); !strings.Contains(body, "unknown passkey") {
		t.Fatalf("no key: %q", body)
	}
	if body := get(t, c, base+"/"+key+"/scrape?info_hash="+esc(testHash)); !strings.Contains(body, "8:completei0e10:downloadedi0e10:incompletei1e") {
		t.Fatalf("scrape with key: %q", body)
	}
	if body := get(t, c, base+"/bad/scrape?info_hash="+esc(testHash)); body != "d5:filesdee" {
		t.Fatalf("scrape with bad key: %q", body)
	}
	// Entries are logged just after the answer is written.
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(targets)
		mu.Unlock()
		if n >= 5 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, tg := range targets {
		if strings.Contains(tg, key) || strings.Contains(tg, "wrongkey") {
			t.Fatalf("key in access log: %s", tg)
		}
	}
	if len(targets) != 5 || !strings.HasPrefix(targets[0], "/<key>/announce?") {
		t.Fatalf("targets %q", targets)
	}
}

func TestFullScrapeAndServeHTTP(t *testing.T) {
	base, tr := testServer(t, "127.0.0.1:0", tracker.Config{}, Config{FullScrape: true})
	c := &http.Client{Timeout: 5 * time.Second}
	get(t, c, announceURL(base, "/announce", 1, 1, 1, ""))
	if body := get(t, c, base+"/scrape"); !strings.HasPrefix(body, "d5:filesd20:"+testHash) {
		t.Fatalf("full scrape: %q", body)
	}
	// The net/http entry point answers the same.
	srv := New(Config{Tracker: tr})
	hs := &http.Server{Handler: srv}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go hs.Serve(ln)
	defer hs.Close()
	body := get(t, c, announceURL("http://"+ln.Addr().String(), "/announce", 2, 2, 1, ""))
	if !strings.Contains(body, "5:peers6:\x7f\x00\x00\x01\x00\x01") {
		t.Fatalf("ServeHTTP announce: %q", body)
	}
}

// FuzzParseRequest checks the request head parser on arbitrary bytes.
func FuzzParseRequest(f *testing.F) {
	f.Add([]byte("GET /announce?info_hash=x HTTP/1.1\r\nHost: a\r\nConnection: close\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.0\n\n"))
	f.Add([]byte("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"))
	f.Add([]byte("GET /k/announce?passkey=k&port=1 HTTP/1.1\r\n\r\n"))
	f.Add([]byte("GET /scrape/k?info_hash=x HTTP/1.0\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		end := headerEnd(b)
		if end < 0 {
			return
		}
		if end > len(b) {
			t.Fatalf("headerEnd %d beyond %d", end, len(b))
		}
		var r request
		if parseRequest(b[:end], &r) {
			if len(r.target) == 0 || (string(r.proto) != "HTTP/1.1" && string(r.proto) != "HTTP/1.0") {
				t.Fatalf("accepted %+v", r)
			}
			// Every key is replaced by "<key>", which is no valid key.
			red := redactTarget(r.target)
			if key, _, ok := tracker.ParsePath(r.target); ok && key != nil {
				if k2, _, ok2 := tracker.ParsePath([]byte(red)); ok2 && k2 != nil {
					t.Fatalf("redacted %q to %q, still with key %q", r.target, red, k2)
				}
			}
		}
	})
}
