package trackertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startSeeder runs testdata/seed.py (python3-libtorrent) seeding torrent
// from saveDir on ip, and waits until it seeds and a tracker has answered
// its announce.
func startSeeder(t *testing.T, ctx context.Context, torrent, saveDir, ip string) *proc {
	t.Helper()
	py := python(t)
	script, err := filepath.Abs(filepath.Join("testdata", "seed.py"))
	if err != nil {
		t.Fatal(err)
	}
	p := start(t, ctx, "seeder", saveDir, true, py, script, torrent, saveDir, ip)
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	seeding, replied := false, false
	for !seeding || !replied {
		line, err := p.waitLine(wctx, "")
		if err != nil {
			t.Fatalf("seeder not ready (seeding %v, tracker replied %v): %v", seeding, replied, err)
		}
		switch f := strings.Fields(line); {
		case len(f) == 0:
		case f[0] == "seeding":
			seeding = true
		case f[0] == "tracker-reply":
			replied = true
		case f[0] == "tracker-error", f[0] == "listen-failed", f[0] == "Traceback":
			t.Logf("seeder: %s", line)
		}
	}
	return p
}

// startLibtorrentDownloader downloads torrent into dlDir with the same
// python3-libtorrent script, which then seeds.
func startLibtorrentDownloader(t *testing.T, ctx context.Context, torrent, dlDir, ip string) *proc {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("testdata", "seed.py"))
	if err != nil {
		t.Fatal(err)
	}
	return start(t, ctx, "libtorrent-downloader", dlDir, false, python(t), script, torrent, dlDir, ip)
}

// startTransmission downloads torrent into dlDir with transmission-cli,
// bound to ip, with DHT, LPD, PEX and port mapping off.
func startTransmission(t *testing.T, ctx context.Context, torrent, dlDir, ip string) *proc {
	t.Helper()
	bin := tool(t, "transmission-cli", "transmission-cli")
	cfg := filepath.Join(t.TempDir(), "transmission")
	if err := os.MkdirAll(cfg, 0o755); err != nil {
		t.Fatal(err)
	}
	// Transmission sends its tracker requests from its IPv4 bind address
	// whenever one is set, so for a tracker on ::1 the IPv4 address must
	// stay the default (its IPv4 peer socket then listens on 0.0.0.0; with
	// DHT, LPD and PEX off the tracker is its only source of peers).
	bind4, bind6 := "127.0.0.1", "::1"
	if strings.Contains(ip, ":") {
		bind4 = "0.0.0.0"
	}
	settings := map[string]any{
		"dht-enabled":               false,
		"lpd-enabled":               false,
		"pex-enabled":               false,
		"port-forwarding-enabled":   false,
		"rpc-enabled":               false,
		"blocklist-enabled":         false,
		"bind-address-ipv4":         bind4,
		"bind-address-ipv6":         bind6,
		"peer-port-random-on-start": false,
		"message-level":             2,
		"utp-enabled":               false, // plain TCP between loopback peers
	}
	b, _ := json.Marshal(settings)
	if err := os.WriteFile(filepath.Join(cfg, "settings.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t, ip)
	return start(t, ctx, "transmission", dlDir, false, bin,
		"-g", cfg, "-w", dlDir, "-p", fmt.Sprint(port), "-M", "-B", torrent)
}

// startAria2 downloads torrent into dlDir with aria2c, bound to ip, and
// keeps seeding afterwards (until killed). aria2c sends UDP tracker
// requests only through its DHT socket, so for udp:// trackers DHT is
// enabled without entry points (the torrent is private: no DHT lookups).
func startAria2(t *testing.T, ctx context.Context, torrent, dlDir, ip, proto string) *proc {
	t.Helper()
	bin := tool(t, "aria2c", "aria2")
	v6 := strings.Contains(ip, ":")
	dht4, dht6 := proto == "udp" && !v6, proto == "udp" && v6
	state := t.TempDir()
	args := []string{
		"--no-conf=true",
		"--log=-", // into the process log, shown when a test fails
		"--log-level=info",
		"--dir=" + dlDir,
		"--interface=" + ip,
		"--listen-port=" + fmt.Sprint(freePort(t, ip)),
		fmt.Sprintf("--enable-dht=%v", dht4),
		fmt.Sprintf("--enable-dht6=%v", dht6),
		"--dht-file-path=" + filepath.Join(state, "dht.dat"),
		"--dht-file-path6=" + filepath.Join(state, "dht6.dat"),
		"--dht-listen-port=" + fmt.Sprint(freePort(t, ip)),
		"--bt-enable-lpd=false",
		"--enable-peer-exchange=false",
		"--seed-time=10",
		"--seed-ratio=0.0", // seed for --seed-time whatever the ratio
		"--summary-interval=0",
		"--console-log-level=notice",
		"--file-allocation=none",
		"--bt-tracker-connect-timeout=5",
		"--bt-tracker-timeout=10",
	}
	if v6 {
		args = append(args, "--dht-listen-addr6=::1")
	} else {
		args = append(args, "--disable-ipv6=true")
	}
	return start(t, ctx, "aria2c", dlDir, false, bin, append(args, torrent)...)
}

// waitFile waits until path holds exactly want. (aria2c keeps its control
// file while it seeds, so the bytes are what tells completion.)
func waitFile(ctx context.Context, path string, want []byte, p *proc) error {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		if st, err := os.Stat(path); err == nil && st.Size() == int64(len(want)) {
			if got, err := os.ReadFile(path); err == nil && bytes.Equal(got, want) {
				return nil
			}
		}
		if p.exited() {
			return fmt.Errorf("%s exited (%v) before the download completed", p.name, p.err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %s not complete: %w", p.name, path, ctx.Err())
		case <-tick.C:
		}
	}
}
