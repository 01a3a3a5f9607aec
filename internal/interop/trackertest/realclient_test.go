package trackertest

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gale-bt/gale/internal/trackerclient"
)

// TestRealClients: a python3-libtorrent seeder, then transmission-cli and
// aria2c downloading at the same time, all finding each other through the
// tracker only (no DHT, LSD or PEX), over HTTP and UDP, on 127.0.0.1 and
// ::1. Both downloads must complete byte for byte, and a scrape must then
// report what happened: 3 seeders, no leechers, 2 completed downloads.
// (Over UDP on ::1 a second libtorrent downloads instead: neither
// transmission-cli nor aria2c can announce to a UDP tracker over IPv6.)
func TestRealClients(t *testing.T) {
	cases := []struct {
		name, proto, ip string
	}{
		{"http_ipv4", "http", "127.0.0.1"},
		{"udp_ipv4", "udp", "127.0.0.1"},
		{"http_ipv6", "http", "::1"},
		{"udp_ipv6", "udp", "::1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			skipIfNoIPv6(t, tc.ip)
			runSwarm(t, tc.proto, tc.ip)
		})
	}
}

// downloader starts one downloading client writing into a directory.
type downloader struct {
	name  string
	start func(dir string) *proc
}

func runSwarm(t *testing.T, proto, ip string) {
	mktorrent := tool(t, "mktorrent", "mktorrent")
	python(t)
	tool(t, "transmission-cli", "transmission-cli")
	tool(t, "aria2c", "aria2")

	ctx, cancel := context.WithTimeout(context.Background(), 55*time.Second)
	defer cancel()
	dir := t.TempDir()
	seedDir := filepath.Join(dir, "seed")
	payload := writePayload(t, filepath.Join(seedDir, "payload.bin"), 3<<20+12345)

	// The info hash does not depend on the announce URL: learn it first
	// so the tracker can whitelist it, then make the real torrent.
	_, hash := makeTorrent(t, mktorrent, filepath.Join(seedDir, "payload.bin"), "http://127.0.0.1:1/announce", filepath.Join(dir, "probe.torrent"))
	tr := startTracker(t, ctx, ip, hash)
	announce := tr.announceURL(proto)
	torrent, hash2 := makeTorrent(t, mktorrent, filepath.Join(seedDir, "payload.bin"), announce, filepath.Join(dir, "swarm.torrent"))
	if hash2 != hash {
		t.Fatalf("info hash changed with the announce URL: %x vs %x", hash2, hash)
	}
	t.Logf("announce %s, info hash %x", announce, hash)

	seeder := startSeeder(t, ctx, torrent, seedDir, ip)

	downloads := []downloader{
		{"transmission", func(dl string) *proc { return startTransmission(t, ctx, torrent, dl, ip) }},
		{"aria2c", func(dl string) *proc { return startAria2(t, ctx, torrent, dl, ip, proto) }},
	}
	if proto == "udp" && strings.Contains(ip, ":") {
		// Neither Debian client announces to a UDP tracker over IPv6 here:
		// aria2c 1.36 sends UDP tracker requests only through its IPv4 DHT
		// socket ("udp is not supported yet"), and Transmission 3.00 reports
		// "Could not connect to tracker" (it opens an IPv6 UDP socket only
		// for a global IPv6 address). A second libtorrent downloads instead.
		t.Log("udp on ::1: libtorrent downloads in place of transmission-cli and aria2c")
		downloads = []downloader{
			{"libtorrent", func(dl string) *proc { return startLibtorrentDownloader(t, ctx, torrent, dl, ip) }},
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(downloads))
	for i, d := range downloads {
		dl := filepath.Join(dir, "dl-"+d.name)
		if err := os.MkdirAll(dl, 0o755); err != nil {
			t.Fatal(err)
		}
		p := d.start(dl)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = waitFile(ctx, filepath.Join(dl, "payload.bin"), payload, p)
		}()
	}
	// Transmission does not dial loopback peers it gets from a tracker
	// (seen here; it treats 127/8 and ::1 as martian addresses), so
	// the seeder must learn of the downloaders and connect to them: make
	// it re-announce until the downloads are done.
	allDone := make(chan struct{})
	go func() {
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-allDone:
				return
			case <-tick.C:
				io.WriteString(seeder.stdin, "reannounce\n")
			}
		}
	}()
	wg.Wait()
	close(allDone)
	for i, err := range errs {
		if err != nil {
			t.Errorf("%s: %v", downloads[i].name, err)
		}
	}
	if t.Failed() {
		return
	}

	// Everyone now seeds; both downloaders have announced "completed".
	want := trackerclient.ScrapeStats{Complete: 1 + int64(len(downloads)), Incomplete: 0, Downloaded: int64(len(downloads))}
	c := &trackerclient.Client{UDPTimeout: time.Second, UDPMaxRetries: 2}
	defer c.Close()
	var got trackerclient.ScrapeStats
	var err error
	for ctx.Err() == nil {
		var r trackerclient.ScrapeResponse
		if r, err = c.Scrape(ctx, announce, [][20]byte{hash}); err == nil {
			var ok bool
			if got, ok = r[hash]; !ok {
				err = fmt.Errorf("scrape answer without our torrent: %v", r)
			} else if got == want {
				return
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(300 * time.Millisecond):
		}
	}
	// Show whom the tracker knows (this announce adds a stopped peer).
	if r, err := c.Announce(context.Background(), announce, trackerclient.AnnounceRequest{
		InfoHash: hash, PeerID: [20]byte{'-', 'G', 'T'}, Port: 1, Event: trackerclient.EventStopped, NumWant: 50,
	}); err == nil {
		t.Logf("tracker peers: %v", r.Peers)
	} else {
		t.Logf("listing peers: %v", err)
	}
	t.Fatalf("scrape: got %+v (last error %v), want %+v", got, err, want)
}
