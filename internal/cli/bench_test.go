package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gale-bt/gale/internal/trackerclient"
)

func runCLI(t *testing.T, ctx context.Context, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = (&Env{Stdout: &out, Stderr: &errb}).Run(ctx, args)
	return code, out.String(), errb.String()
}

func TestLatencyHist(t *testing.T) {
	tests := []struct {
		name    string
		samples func(h *latencyHist)
		q       float64
		lo, hi  uint64 // accepted range in µs
	}{
		{"exact small", func(h *latencyHist) {
			for i := range 50 {
				h.add(time.Duration(i) * time.Microsecond)
			}
		}, 0.5, 25, 25},
		{"uniform 1..10000", func(h *latencyHist) {
			for i := 1; i <= 10000; i++ {
				h.add(time.Duration(i) * time.Microsecond)
			}
		}, 0.99, 9900 * 97 / 100, 9900 * 103 / 100},
		{"p50 of bimodal", func(h *latencyHist) {
			for range 60 {
				h.add(100 * time.Microsecond)
			}
			for range 40 {
				h.add(time.Second)
			}
		}, 0.5, 100, 103},
		{"max caps the top bucket", func(h *latencyHist) { h.add(1234567 * time.Microsecond) }, 1, 1234567, 1234567},
		{"negative and empty", func(h *latencyHist) { h.add(-time.Second) }, 0.9, 0, 0},
		{"beyond the last bucket", func(h *latencyHist) { h.add(1 << 62) }, 0.5, 1 << 30, 1 << 62},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h latencyHist
			tt.samples(&h)
			if got := h.quantile(tt.q); got < tt.lo || got > tt.hi {
				t.Fatalf("quantile(%v) = %d, want in [%d, %d]", tt.q, got, tt.lo, tt.hi)
			}
		})
	}
	// Bucket bounds are contiguous and monotonic up to the last bucket
	// (2^36 µs, 19 hours), and the quantile of one sample is that sample
	// to within a bucket (1/32).
	for us := uint64(0); us < 1<<36; us += 1 + us/100 {
		var h latencyHist
		h.add(time.Duration(us) * time.Microsecond)
		h.max = ^uint64(0) // the bucket's bound, not capped by the maximum
		if q := h.quantile(0.5); q < us || q > us+us/32 {
			t.Fatalf("one sample of %dµs: median %d", us, q)
		}
		i := histIndex(us)
		if us > histValue(i) || (i > 0 && us <= histValue(i-1)) {
			t.Fatalf("value %d in bucket %d with bounds (%d, %d]", us, i, histValue(i-1), histValue(i))
		}
	}
}

func TestBenchPopulation(t *testing.T) {
	for _, f := range []float64{0, 0.1, 0.25, 1} {
		p := &benchPopulation{hashes: benchInfoHashes(7), peers: 1000, seeders: f}
		n := 0
		ports := map[[2]int]bool{}
		for i := range p.peers {
			if p.seeder(i) {
				n++
				if p.left(i) != 0 {
					t.Fatal("seeder with bytes left")
				}
			}
			k := [2]int{p.torrent(i), int(p.port(i))}
			if ports[k] {
				t.Fatalf("two peers of torrent %d on port %d", k[0], k[1])
			}
			ports[k] = true
		}
		if want := int(1000 * f); n != want {
			t.Errorf("fraction %v: %d seeders, want %d", f, n, want)
		}
	}
}

func TestBenchUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"remote refused", []string{"bench", "--url", "udp://192.0.2.1:6969/announce"}, 2, "not a loopback address"},
		{"remote v6 refused", []string{"bench", "http://[2001:db8::1]:80/announce"}, 2, "not a loopback address"},
		{"bad scheme", []string{"bench", "--url", "wss://127.0.0.1:1/announce"}, 2, "scheme"},
		{"no port", []string{"bench", "--url", "udp://127.0.0.1/announce"}, 2, "no port"},
		{"bad mode", []string{"bench", "--mode", "x"}, 2, "--mode"},
		{"bad fraction", []string{"bench", "--seeders", "2"}, 2, "--seeders"},
		{"two urls", []string{"bench", "udp://127.0.0.1:1", "udp://127.0.0.1:2"}, 2, "at most one"},
		{"bad hash file", []string{"bench", "--infohashes", "/nonexistent/x"}, 1, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, context.Background(), tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, stderr, tt.code, tt.want)
			}
		})
	}
}

func TestBenchInfoHashFiles(t *testing.T) {
	code, out, _ := runCLI(t, context.Background(), "bench", "--print-infohashes", "--torrents", "3")
	lines := strings.Fields(out)
	if code != 0 || len(lines) != 3 || lines[0] != fmt.Sprintf("%x", benchInfoHashes(1)[0]) {
		t.Fatalf("exit %d, output %q", code, out)
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	os.WriteFile(good, []byte("# list\n"+out+"\n"), 0o644)
	hs, err := readInfoHashes(good)
	if err != nil || len(hs) != 3 || hs[2] != benchInfoHashes(3)[2] {
		t.Fatalf("read back: %v, %v", hs, err)
	}
	for name, content := range map[string]string{
		"short":  "abcd\n",
		"nonhex": strings.Repeat("z", 40) + "\n",
		"empty":  "# nothing\n",
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		if _, err := readInfoHashes(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestReadHTTPResponse feeds the bench's HTTP response reader through a
// real loopback connection.
func TestReadHTTPResponse(t *testing.T) {
	tests := []struct {
		name   string
		raw    string
		status int
		body   string
		keep   bool
		bad    bool
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nd1:ae", 200, "d1:ae", true, false},
		{"close header", "HTTP/1.1 200 OK\r\nconnection: Close\r\ncontent-length: 2\r\n\r\nde", 200, "de", false, false},
		{"http/1.0 until EOF", "HTTP/1.0 200 OK\r\n\r\nd1:bi1ee", 200, "d1:bi1ee", false, false},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nd1:\r\n2\r\nae\r\n0\r\n\r\n", 200, "d1:ae", true, false},
		{"status 400", "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", 400, "", true, false},
		{"garbage", "SSH-2.0-OpenSSH\r\n\r\n", 0, "", false, true},
		{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 0, "", false, true},
		{"truncated", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 0, "", false, true},
		{"too large", "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", 0, "", false, true},
		{"closed", "", 0, "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			go func() {
				c, err := l.Accept()
				if err != nil {
					return
				}
				io.WriteString(c, tt.raw)
				c.Close()
			}()
			c, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			status, body, keep, err := readHTTPResponse(c, make([]byte, 4096))
			if tt.bad {
				if err == nil {
					t.Fatalf("accepted: %d %q", status, body)
				}
				return
			}
			if err != nil || status != tt.status || string(body) != tt.body || keep != tt.keep {
				t.Fatalf("got %d %q keep=%v err=%v", status, body, keep, err)
			}
		})
	}
}

func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("GALE_REQUIRE_INTEROP") == "1" {
			t.Fatalf("%s not found (GALE_REQUIRE_INTEROP=1)", name)
		}
		t.Skipf("%s not found", name)
	}
	return p
}

// benchJSON runs gale bench with --json and decodes the result.
func benchJSON(t *testing.T, args ...string) benchResult {
	t.Helper()
	code, out, stderr := runCLI(t, context.Background(), append([]string{"bench", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("bench %v: exit %d: %s", args, code, stderr)
	}
	var r benchResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("bench output %q: %v", out, err)
	}
	return r
}

func checkBench(t *testing.T, r benchResult, announce bool) {
	t.Helper()
	if r.Responses < 100 || r.Errors != 0 || r.PerSecond <= 0 || r.P50us == 0 || r.P99us < r.P50us || r.MaxUs < r.P99us {
		j, _ := json.Marshal(r)
		t.Fatalf("implausible result: %s", j)
	}
	if announce && r.PeersPerReply < 1 {
		j, _ := json.Marshal(r)
		t.Fatalf("trackers returned no peers: %s", j)
	}
	t.Logf("%s %s: %.0f/s p50 %dµs p99 %dµs, %.1f peers each", r.URL, r.Mode, r.PerSecond, r.P50us, r.P99us, r.PeersPerReply)
}

// TestBenchOpentracker drives Debian's opentracker (a whitelist build)
// briefly over UDP and HTTP, announces and scrapes.
func TestBenchOpentracker(t *testing.T) {
	ot := requireTool(t, "opentracker")
	dir := t.TempDir()
	os.Chmod(dir, 0o755) // opentracker chroots there and drops to nobody
	var wl strings.Builder
	for _, h := range benchInfoHashes(50) {
		fmt.Fprintf(&wl, "%x\n", h)
	}
	os.WriteFile(filepath.Join(dir, "whitelist"), []byte(wl.String()), 0o644)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	cmd := exec.Command(ot, "-i", "127.0.0.1", "-p", port, "-P", port, "-w", "whitelist", "-d", dir)
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", "127.0.0.1:"+port); err == nil {
			c.Close()
			break
		}
		if i == 50 {
			t.Fatal("opentracker did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// opentracker loads its whitelist in the background: wait until a
	// listed torrent is accepted.
	c := &trackerclient.Client{}
	defer c.Close()
	for i := 0; ; i++ {
		_, err := c.Announce(context.Background(), "http://127.0.0.1:"+port+"/announce",
			trackerclient.AnnounceRequest{InfoHash: benchInfoHashes(1)[0], Port: 1, Event: trackerclient.EventStopped})
		if err == nil {
			break
		}
		if i == 100 {
			t.Fatalf("opentracker refuses a listed torrent: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	common := []string{"--torrents", "50", "--peers", "500", "--duration", "700ms", "--concurrency", "8"}
	for _, proto := range []string{"udp", "http"} {
		for _, mode := range []string{"announce", "scrape"} {
			t.Run(proto+"_"+mode, func(t *testing.T) {
				r := benchJSON(t, append([]string{"--url", proto + "://127.0.0.1:" + port + "/announce", "--mode", mode}, common...)...)
				checkBench(t, r, mode == "announce")
			})
		}
	}
	t.Run("unlisted hashes are errors", func(t *testing.T) {
		code, out, _ := runCLI(t, context.Background(), "bench", "--url", "udp://127.0.0.1:"+port+"/announce",
			"--torrents", "60", "--peers", "60", "--duration", "300ms", "--concurrency", "4")
		if code != 0 || !strings.Contains(out, "errors     ") || strings.Contains(out, "errors     0\n") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})
}

// startBenchTracker runs `gale tracker` in-process on 127.0.0.1:0 (HTTP
// and UDP) until the test ends and returns its addresses by protocol.
func startBenchTracker(t *testing.T, args ...string) map[string]string {
	t.Helper()
	if _, ok := commands["tracker"]; !ok {
		t.Skip("no tracker command in this build")
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- (&Env{Stdout: io.Discard, Stderr: pw}).Run(ctx, append([]string{"tracker", "--http", "127.0.0.1:0", "--udp", "127.0.0.1:0"}, args...))
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("tracker did not stop")
		}
	})
	addrs := map[string]string{}
	sc := bufio.NewScanner(pr)
	for len(addrs) < 2 && sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 3 && f[0] == "listening" {
			addrs[f[1]] = f[2]
		}
	}
	go io.Copy(io.Discard, pr)
	if len(addrs) < 2 {
		t.Fatalf("tracker did not report its addresses: %v", addrs)
	}
	return addrs
}

// TestBenchGaleTracker drives `gale tracker` (run in-process) over UDP and
// HTTP, with one connection per request and with keep-alive.
func TestBenchGaleTracker(t *testing.T) {
	addrs := startBenchTracker(t)
	common := []string{"--torrents", "50", "--peers", "500", "--duration", "700ms", "--concurrency", "8"}
	runs := []struct {
		name string
		args []string
	}{
		{"udp announce", []string{"--url", "udp://" + addrs["udp"] + "/announce"}},
		{"udp scrape", []string{"--url", "udp://" + addrs["udp"] + "/announce", "--mode", "scrape", "--scrape-hashes", "10"}},
		{"http announce", []string{"--url", "http://" + addrs["http"] + "/announce"}},
		{"http keepalive", []string{"--url", "http://" + addrs["http"] + "/announce", "--keepalive"}},
		{"http scrape", []string{"--url", "http://" + addrs["http"] + "/announce", "--mode", "scrape"}},
	}
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			res := benchJSON(t, append(r.args, common...)...)
			checkBench(t, res, !strings.Contains(r.name, "scrape"))
			if strings.Contains(r.name, "keepalive") && res.Connects > 8*2 {
				t.Errorf("keep-alive used %d connections for 8 workers", res.Connects)
			}
		})
	}
}

// TestBenchOnce fills a tracker with --once: every simulated peer
// announces exactly once, over UDP and over HTTP, and the tracker then
// holds exactly that many peers.
func TestBenchOnce(t *testing.T) {
	addrs := startBenchTracker(t)
	peers := func() int {
		resp, err := http.Get("http://" + addrs["http"] + "/stats.json")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var st struct{ Peers int }
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			t.Fatal(err)
		}
		return st.Peers
	}
	// Both runs spread peers i = 0, 1, ... over the same 10 torrents: the
	// HTTP run's 300 peers are the UDP run's first 300 announcing again.
	r := benchJSON(t, "--url", "udp://"+addrs["udp"]+"/announce", "--once", "--torrents", "10", "--peers", "2000", "--duration", "20s")
	if r.Requests != 2000 || r.Responses != 2000 || r.Seconds > 10 {
		t.Fatalf("udp --once: %d requests, %d responses in %.1fs; want 2000 each, soon", r.Requests, r.Responses, r.Seconds)
	}
	if n := peers(); n != 2000 {
		t.Fatalf("after udp --once: %d peers, want 2000", n)
	}
	r = benchJSON(t, "--url", "http://"+addrs["http"]+"/announce", "--once", "--torrents", "10", "--peers", "300", "--concurrency", "7", "--duration", "20s")
	if r.Requests != 300 || r.Responses != 300 {
		t.Fatalf("http --once: %d requests, %d responses; want 300", r.Requests, r.Responses)
	}
	if n := peers(); n != 2000 {
		t.Fatalf("after http --once of the same peers: %d peers, want 2000", n)
	}
	if code, _, stderr := runCLI(t, context.Background(), "bench", "--once", "--mode", "scrape"); code != 2 || !strings.Contains(stderr, "--once") {
		t.Fatalf("--once with scrapes: exit %d, %q", code, stderr)
	}
}

// TestBenchRate: --rate paces UDP requests instead of sending as fast as
// answers come. At 2,000/s for a second the count of requests stays near
// 2,000 (bounds wide enough for a busy machine; unpaced, the in-process
// tracker answers far more), all answered; a negative rate is a usage
// error.
func TestBenchRate(t *testing.T) {
	addrs := startBenchTracker(t)
	url := "udp://" + addrs["udp"] + "/announce"
	r := benchJSON(t, "--url", url, "--rate", "2000", "--duration", "1s", "--concurrency", "256", "--torrents", "20", "--peers", "400")
	checkBench(t, r, true)
	if r.Requests < 1000 || r.Requests > 2600 {
		t.Errorf("--rate 2000 for 1s sent %d requests, want about 2000", r.Requests)
	}
	if r.Timeouts != 0 {
		t.Errorf("%d timeouts at a rate the tracker easily answers", r.Timeouts)
	}
	if code, _, stderr := runCLI(t, context.Background(), "bench", "--rate", "-1"); code != 2 || !strings.Contains(stderr, "--rate") {
		t.Fatalf("--rate -1: exit %d, %q", code, stderr)
	}
}
