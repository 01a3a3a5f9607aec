package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestTrackerSettings(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "gale.toml")
	os.WriteFile(conf, []byte(`
http = ["127.0.0.1:7000", "[::1]:7000"]
udp = ""
interval = "10m"
min-interval = 60
numwant-max = 80
trusted-proxy = "10.0.0.0/8"
full-scrape = true
tracker-id = "t1"
`), 0o644)
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("intervall = 5\n"), 0o644)

	tests := []struct {
		name    string
		args    []string
		wantErr string
		usage   bool
		check   func(t *testing.T, s *trackerSettings)
	}{
		{"defaults", nil, "", false, func(t *testing.T, s *trackerSettings) {
			if s.HTTP.String() != ":6969" || s.UDP.String() != ":6969" || s.Interval != seconds(30*time.Minute) || s.NumWantDefault != 50 || s.LogFormat != "text" {
				t.Errorf("%+v", s)
			}
		}},
		{"repeatable and off", []string{"--http", "127.0.0.1:1", "--http=[::1]:2", "--udp", ""}, "", false, func(t *testing.T, s *trackerSettings) {
			if s.HTTP.String() != "127.0.0.1:1,[::1]:2" || len(s.UDP.vals) != 0 {
				t.Errorf("http %q udp %q", s.HTTP.String(), s.UDP.String())
			}
		}},
		{"seconds and durations", []string{"--interval", "600", "--min-interval", "1m", "--peer-ttl=1h"}, "", false, func(t *testing.T, s *trackerSettings) {
			if s.Interval != seconds(10*time.Minute) || s.MinInterval != seconds(time.Minute) || s.PeerTTL != seconds(time.Hour) {
				t.Errorf("%v %v %v", s.Interval, s.MinInterval, s.PeerTTL)
			}
		}},
		{"config file, flags win", []string{"--config", conf, "--numwant-max", "90"}, "", false, func(t *testing.T, s *trackerSettings) {
			if s.HTTP.String() != "127.0.0.1:7000,[::1]:7000" || len(s.UDP.vals) != 0 || s.Interval != seconds(10*time.Minute) ||
				s.MinInterval != seconds(time.Minute) || s.NumWantMax != 90 || !s.FullScrape || s.TrackerID != "t1" || s.TrustedProxy.String() != "10.0.0.0/8" {
				t.Errorf("%+v", s)
			}
		}},
		{"config file, flag replaces list", []string{"--http", "127.0.0.1:9", "--config", conf}, "", false, func(t *testing.T, s *trackerSettings) {
			if s.HTTP.String() != "127.0.0.1:9" {
				t.Errorf("http %q", s.HTTP.String())
			}
		}},
		{"unknown config key", []string{"--config", bad}, "unknown setting", false, nil},
		{"missing config", []string{"--config", filepath.Join(dir, "nope.toml")}, "no such file", false, nil},
		{"all off", []string{"--http", "", "--udp", ""}, "nothing to serve", true, nil},
		{"bad log format", []string{"--log-format", "xml"}, "text or json", true, nil},
		{"bad duration", []string{"--interval", "soon"}, "invalid duration", true, nil},
		{"min above interval", []string{"--interval", "60", "--min-interval", "61"}, "--min-interval", true, nil},
		{"numwant default above max", []string{"--numwant-default", "300"}, "--numwant-default", true, nil},
		{"bad proxy", []string{"--trusted-proxy", "example.com"}, "trusted-proxy", true, nil},
		{"proxy address", []string{"--trusted-proxy", "::1"}, "", false, func(t *testing.T, s *trackerSettings) {
			if p, _ := s.proxies(); len(p) != 1 || p[0].String() != "::1/128" {
				t.Errorf("proxies %v", p)
			}
		}},
		{"positional", []string{"extra"}, "unexpected argument", true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := loadTrackerSettings(tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if _, isUsage := err.(*usageError); isUsage != tc.usage {
					t.Fatalf("usage error = %v, want %v (%v)", isUsage, tc.usage, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, s)
		})
	}
}

// runningTracker is `gale tracker` run in-process.
type runningTracker struct {
	http, udp string
	lines     chan string
	cancel    context.CancelFunc
	done      chan int

	mu  sync.Mutex
	all []string // every line printed
}

func startTracker(t *testing.T, args ...string) *runningTracker {
	t.Helper()
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	rt := &runningTracker{lines: make(chan string, 1000), cancel: cancel, done: make(chan int, 1)}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			rt.mu.Lock()
			rt.all = append(rt.all, sc.Text())
			rt.mu.Unlock()
			select {
			case rt.lines <- sc.Text():
			default:
			}
		}
	}()
	go func() {
		code := (&Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: pw}).Run(ctx, append([]string{"tracker"}, args...))
		pw.Close()
		rt.done <- code
	}()
	deadline := time.After(10 * time.Second)
	for rt.http == "" || rt.udp == "" {
		select {
		case l := <-rt.lines:
			if a, ok := strings.CutPrefix(l, "listening http "); ok {
				rt.http = a
			}
			if a, ok := strings.CutPrefix(l, "listening udp "); ok {
				rt.udp = a
			}
		case code := <-rt.done:
			t.Fatalf("tracker exited with %d before listening", code)
		case <-deadline:
			t.Fatal("tracker did not print its addresses")
		}
	}
	t.Cleanup(func() { rt.stop(t) })
	return rt
}

func (rt *runningTracker) stop(t *testing.T) int {
	rt.cancel()
	select {
	case code := <-rt.done:
		rt.done <- code
		return code
	case <-time.After(10 * time.Second):
		t.Fatal("tracker did not stop")
	}
	return -1
}

// waitLine waits until some line printed contains s.
func (rt *runningTracker) waitLine(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		rt.mu.Lock()
		for _, l := range rt.all {
			if strings.Contains(l, s) {
				rt.mu.Unlock()
				return
			}
		}
		rt.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	t.Fatalf("no line with %q in:\n%s", s, strings.Join(rt.all, "\n"))
}

func httpAnnounce(t *testing.T, addr string, ih [20]byte, id string, port int, left int) string {
	t.Helper()
	u := fmt.Sprintf("http://%s/announce?info_hash=%s&peer_id=%s&port=%d&left=%d&compact=1", addr, url.QueryEscape(string(ih[:])), url.QueryEscape(id), port, left)
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// udpAnnounce connects and announces over BEP 15 and returns the
// response (action, then the rest).
func udpAnnounce(t *testing.T, addr string, ih [20]byte, id string, port uint16, left uint64) []byte {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rt := func(p []byte) []byte {
		buf := make([]byte, 2048)
		for try := 0; try < 3; try++ {
			c.Write(p)
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			if n, err := c.Read(buf); err == nil {
				return buf[:n]
			}
		}
		t.Fatal("no UDP answer")
		return nil
	}
	cp := make([]byte, 16)
	binary.BigEndian.PutUint64(cp, 0x41727101980)
	binary.BigEndian.PutUint32(cp[12:], 77)
	r := rt(cp)
	if len(r) != 16 {
		t.Fatalf("connect answer %x", r)
	}
	ap := make([]byte, 98)
	copy(ap, r[8:16])
	binary.BigEndian.PutUint32(ap[8:], 1)
	binary.BigEndian.PutUint32(ap[12:], 78)
	copy(ap[16:], ih[:])
	copy(ap[36:], id)
	binary.BigEndian.PutUint64(ap[64:], left)
	binary.BigEndian.PutUint32(ap[92:], 0xffffffff)
	binary.BigEndian.PutUint16(ap[96:], port)
	return rt(ap)
}

func TestTrackerCommand(t *testing.T) {
	old := listPollInterval
	listPollInterval = 100 * time.Millisecond
	defer func() { listPollInterval = old }()

	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	white := filepath.Join(dir, "white")
	var a, b [20]byte
	copy(a[:], "aaaaaaaaaaaaaaaaaaaa")
	copy(b[:], "bbbbbbbbbbbbbbbbbbbb")
	os.WriteFile(white, []byte(fmt.Sprintf("# allowed\n%x\n", a)), 0o644)

	for _, host := range []string{"127.0.0.1", "[::1]"} {
		t.Run(host, func(t *testing.T) {
			if ln, err := net.Listen("tcp", host+":0"); err != nil {
				t.Skipf("no %s: %v", host, err)
			} else {
				ln.Close()
			}
			os.Remove(state)
			args := []string{"--http", host + ":0", "--udp", host + ":0", "--state", state, "--whitelist", white, "--access-log"}
			rt := startTracker(t, args...)

			if body := httpAnnounce(t, rt.http, a, "-GL0001-seeder000001", 6001, 0); !strings.Contains(body, "8:completei1e") {
				t.Fatalf("seeder announce: %q", body)
			}
			rt.waitLine(t, `"GET /announce?`)
			if body := httpAnnounce(t, rt.http, b, "-GL0001-seeder000001", 6001, 0); !strings.Contains(body, "unregistered torrent") {
				t.Fatalf("non-whitelisted announce: %q", body)
			}
			r := udpAnnounce(t, rt.udp, a, "-GL0001-leecher00001", 6002, 10)
			if binary.BigEndian.Uint32(r) != 1 || len(r) < 26 || binary.BigEndian.Uint16(r[len(r)-2:]) != 6001 {
				t.Fatalf("UDP leecher announce: %x", r)
			}
			if r := udpAnnounce(t, rt.udp, b, "-GL0001-leecher00001", 6002, 10); binary.BigEndian.Uint32(r) != 3 || !strings.Contains(string(r[8:]), "unregistered") {
				t.Fatalf("UDP non-whitelisted: %x", r)
			}

			// The whitelist is re-read when it changes...
			os.WriteFile(white, []byte(fmt.Sprintf("%x\n%x\n", a, b)), 0o644)
			future := time.Now().Add(time.Minute)
			os.Chtimes(white, future, future)
			rt.waitLine(t, "lists reloaded")
			if body := httpAnnounce(t, rt.http, b, "-GL0001-seeder000001", 6001, 0); strings.Contains(body, "failure") {
				t.Fatalf("after reload: %q", body)
			}
			// ...and on SIGHUP.
			os.WriteFile(white, []byte(fmt.Sprintf("%x\n", a)), 0o644)
			os.Chtimes(white, future, future) // same stamp: only the signal reloads
			if sendHUP() {
				rt.waitLine(t, "signal=true")
				if body := httpAnnounce(t, rt.http, b, "-GL0001-seeder000002", 6003, 0); !strings.Contains(body, "unregistered torrent") {
					t.Fatalf("after SIGHUP: %q", body)
				}
			}

			resp, err := http.Get("http://" + rt.http + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			m, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(m), `gale_tracker_requests_total{protocol="udp",action="announce",outcome="ok"} 1`) {
				t.Fatalf("metrics:\n%s", m)
			}

			if code := rt.stop(t); code != 0 {
				t.Fatalf("exit code %d", code)
			}
			if _, err := os.Stat(state); err != nil {
				t.Fatalf("no state file after shutdown: %v", err)
			}

			// A restart answers the first announce with the peers from
			// before.
			rt2 := startTracker(t, args...)
			rt2.waitLine(t, "state loaded")
			r = udpAnnounce(t, rt2.udp, a, "-GL0001-newcomer0001", 6009, 10)
			// Leechers: the earlier one and the newcomer; seeders: one.
			if binary.BigEndian.Uint32(r) != 1 || binary.BigEndian.Uint32(r[12:]) != 2 || binary.BigEndian.Uint32(r[16:]) != 1 {
				t.Fatalf("first announce after restart: %x", r)
			}
			if n := (len(r) - 20); n != 12 && n != 36 {
				t.Fatalf("first announce after restart got %d bytes of peers, want both earlier peers", n)
			}
		})
	}
}

func TestTrackerCommandErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	badList := filepath.Join(dir, "list")
	os.WriteFile(badList, []byte("xyz\n"), 0o644)
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"port in use", []string{"--http", ln.Addr().String(), "--udp", ""}, ExitFailure, "address already in use"},
		{"bad whitelist", []string{"--http", "127.0.0.1:0", "--whitelist", badList}, ExitFailure, "line 1"},
		{"missing blacklist", []string{"--http", "127.0.0.1:0", "--blacklist", filepath.Join(dir, "none")}, ExitFailure, "no such file"},
		{"corrupt state", []string{"--http", "127.0.0.1:0", "--udp", "", "--state", badList}, ExitFailure, "corrupt state"},
		{"usage", []string{"--numwant-max", "0"}, ExitUsage, "--numwant-max"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := (&Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: &stderr}).Run(context.Background(), append([]string{"tracker"}, tc.args...))
			if code != tc.code || !strings.Contains(stderr.String(), tc.msg) {
				t.Fatalf("code %d, stderr %q; want %d and %q", code, stderr.String(), tc.code, tc.msg)
			}
		})
	}
	var out bytes.Buffer
	if code := (&Env{Stdout: &out, Stderr: io.Discard}).Run(context.Background(), []string{"tracker", "-h"}); code != 0 || !strings.Contains(out.String(), "-trusted-proxy") || !strings.Contains(out.String(), "-numwant-default") {
		t.Fatalf("help (%d): %s", code, out.String())
	}
}

// TestTrackerHUPWithoutLists checks that SIGHUP never ends an open tracker
// (the default action would exit without saving the state), so that a
// systemd ExecReload is safe.
func TestTrackerHUPWithoutLists(t *testing.T) {
	state := filepath.Join(t.TempDir(), "tracker.state")
	rt := startTracker(t, "--http", "127.0.0.1:0", "--udp", "127.0.0.1:0", "--state", state)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	rt.waitLine(t, "SIGHUP")
	if code := rt.stop(t); code != 0 {
		t.Fatalf("exit %d after SIGHUP", code)
	}
	if _, err := os.Stat(state); err != nil {
		t.Fatalf("state not saved: %v", err)
	}
}
