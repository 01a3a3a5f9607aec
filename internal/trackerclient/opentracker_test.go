package trackerclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// startOpentracker runs Debian's opentracker on 127.0.0.1 with a
// whitelist of hashes and returns its port. Missing opentracker skips the
// test, or fails it under GALE_REQUIRE_INTEROP=1.
func startOpentracker(t *testing.T, hashes ...[20]byte) int {
	t.Helper()
	bin, err := exec.LookPath("opentracker")
	if err != nil {
		if os.Getenv("GALE_REQUIRE_INTEROP") == "1" {
			t.Fatal("opentracker not found (GALE_REQUIRE_INTEROP=1)")
		}
		t.Skip("opentracker not found")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755) // it chroots there and drops to nobody
	var wl []byte
	for _, h := range hashes {
		wl = fmt.Appendf(wl, "%x\n", h)
	}
	os.WriteFile(filepath.Join(dir, "whitelist"), wl, 0o644)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ps := fmt.Sprint(port)
	cmd := exec.Command(bin, "-i", "127.0.0.1", "-p", ps, "-P", ps, "-w", "whitelist", "-d", dir)
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", "127.0.0.1:"+ps); err == nil {
			c.Close()
			return port
		}
		if i == 100 {
			t.Fatal("opentracker did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestOpentracker checks the client against a real tracker: two peers
// announce, see each other, complete, and the scrape counts follow; an
// unlisted torrent is refused.
func TestOpentracker(t *testing.T) {
	listed, unlisted := hash(10), hash(99)
	port := startOpentracker(t, listed)
	for _, proto := range []string{"udp", "http"} {
		t.Run(proto, func(t *testing.T) {
			u := fmt.Sprintf("%s://127.0.0.1:%d/announce", proto, port)
			c := &Client{UDPTimeout: time.Second}
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			base := uint16(1000)
			if proto == "http" {
				base = 2000
			}
			seeder := AnnounceRequest{InfoHash: listed, PeerID: hash(1), Port: base + 1, Event: EventStarted, Key: 1}
			leecher := AnnounceRequest{InfoHash: listed, PeerID: hash(2), Port: base + 2, Left: 1000, Event: EventStarted, NumWant: 10, Key: 2}
			if _, err := c.Announce(ctx, u, seeder); err != nil {
				t.Fatal(err)
			}
			r, err := c.Announce(ctx, u, leecher)
			if err != nil {
				t.Fatal(err)
			}
			want := netip.MustParseAddrPort(fmt.Sprintf("127.0.0.1:%d", base+1))
			found := false
			for _, p := range r.Peers {
				found = found || p.Addr == want
			}
			if !found || r.Interval <= 0 || r.Seeders < 1 || r.Leechers < 1 {
				t.Fatalf("leecher's announce: %+v; want the seeder %v among the peers", r, want)
			}
			before, err := c.Scrape(ctx, u, [][20]byte{listed})
			if err != nil {
				t.Fatal(err)
			}
			leecher.Event, leecher.Left, leecher.Downloaded = EventCompleted, 0, 1000
			if _, err := c.Announce(ctx, u, leecher); err != nil {
				t.Fatal(err)
			}
			after, err := c.Scrape(ctx, u, [][20]byte{listed})
			if err != nil {
				t.Fatal(err)
			}
			b, a := before[listed], after[listed]
			if a.Downloaded != b.Downloaded+1 || a.Complete != b.Complete+1 || a.Incomplete != b.Incomplete-1 {
				t.Fatalf("scrape before %+v, after completing %+v", b, a)
			}
			leecher.Event = EventStopped
			if _, err := c.Announce(ctx, u, leecher); err != nil {
				t.Fatal(err)
			}
			// opentracker refuses an unlisted torrent with a "failure
			// reason" over HTTP but with a bare 8-byte announce header over
			// UDP, which is no valid answer.
			_, err = c.Announce(ctx, u, AnnounceRequest{InfoHash: unlisted, PeerID: hash(3), Port: 9})
			var te *TrackerError
			if proto == "http" && !errors.As(err, &te) || proto == "udp" && !errors.Is(err, ErrMalformed) {
				t.Fatalf("unlisted torrent: %v", err)
			}
		})
	}
}
