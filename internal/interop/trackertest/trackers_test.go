package trackertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tracker is a running tracker process reachable on one loopback address.
type tracker interface {
	// announceURL returns the announce URL for proto "http" or "udp".
	announceURL(proto string) string
}

// trackerKind selects the tracker under test: "gale" (default) or
// "opentracker" (to validate the tests themselves).
func trackerKind() string {
	if k := os.Getenv("GALE_TRACKERTEST_TRACKER"); k != "" {
		return k
	}
	return "gale"
}

// startTracker starts the selected tracker on ip. Torrents whose hashes
// are listed are allowed (opentracker is a whitelist build; gale runs with
// the same whitelist so both behave alike).
func startTracker(t *testing.T, ctx context.Context, ip string, hashes ...[20]byte) tracker {
	t.Helper()
	dir := t.TempDir()
	var wl strings.Builder
	for _, h := range hashes {
		fmt.Fprintf(&wl, "%x\n", h)
	}
	if err := os.WriteFile(filepath.Join(dir, "whitelist"), []byte(wl.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	switch kind := trackerKind(); kind {
	case "gale":
		return startGaleTracker(t, ctx, dir, ip)
	case "opentracker":
		return startOpentracker(t, ctx, dir, ip)
	default:
		t.Fatalf("GALE_TRACKERTEST_TRACKER=%q: want gale or opentracker", kind)
		return nil
	}
}

type addrTracker struct{ http, udp string }

func (a *addrTracker) announceURL(proto string) string {
	if proto == "udp" {
		return "udp://" + a.udp + "/announce"
	}
	return "http://" + a.http + "/announce"
}

// startGaleTracker runs `gale tracker` on ip with port 0 for HTTP and UDP
// and reads the bound addresses from its "listening PROTO HOST:PORT"
// lines on stderr.
func startGaleTracker(t *testing.T, ctx context.Context, dir, ip string) tracker {
	t.Helper()
	gale := galeBinary(t)
	args := []string{"tracker",
		"--http", hostPort(ip, 0), "--udp", hostPort(ip, 0),
		"--whitelist", filepath.Join(dir, "whitelist"),
	}
	p := start(t, ctx, "gale-tracker", dir, true, gale, args...)
	a := &addrTracker{}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for a.http == "" || a.udp == "" {
		line, err := p.waitLine(wctx, "listening ")
		if err != nil {
			t.Fatalf("gale tracker did not start: %v", err)
		}
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		switch f[1] {
		case "http":
			a.http = f[2]
		case "udp":
			a.udp = f[2]
		}
	}
	t.Logf("gale tracker: http %s, udp %s", a.http, a.udp)
	return a
}

// startOpentracker runs Debian's opentracker (IPv4 only) with the
// whitelist in dir, on a free port for both TCP and UDP.
func startOpentracker(t *testing.T, ctx context.Context, dir, ip string) tracker {
	t.Helper()
	if strings.Contains(ip, ":") {
		t.Skip("Debian's opentracker is built for IPv4 only")
	}
	ot := tool(t, "opentracker", "opentracker")
	if err := os.Chmod(dir, 0o755); err != nil { // it chroots and drops to nobody
		t.Fatal(err)
	}
	port := freePort(t, ip)
	ps := fmt.Sprint(port)
	p := start(t, ctx, "opentracker", dir, false, ot, "-i", ip, "-p", ps, "-P", ps, "-w", "whitelist", "-d", dir)
	a := &addrTracker{http: hostPort(ip, port), udp: hostPort(ip, port)}
	deadline := time.Now().Add(5 * time.Second)
	for !tcpReady(a.http) {
		if time.Now().After(deadline) || p.exited() {
			t.Fatal("opentracker did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return a
}
