package cli

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gale-bt/gale/internal/trackerclient"
	"github.com/gale-bt/gale/metainfo"
)

// freeTCPUDPPort returns a port free for both TCP and UDP on 127.0.0.1, so
// that a restarted server can take the same addresses again.
func freeTCPUDPPort(t *testing.T) int {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// crashPeer is one client of TestServeCrash: its cumulative counters and
// whether the tracker has acknowledged them.
type crashPeer struct {
	user           string
	a              *announcer
	up, down, left int64
	started, done  bool // "started" and "completed" acknowledged
	acked          bool // the current counters were acknowledged
}

func (p *crashPeer) announce() error {
	ev := trackerclient.EventNone
	switch {
	case !p.started:
		ev = trackerclient.EventStarted
	case p.left == 0 && !p.done && p.down > 0:
		ev = trackerclient.EventCompleted
	}
	if _, err := p.a.announce(p.up, p.down, p.left, ev); err != nil {
		return err
	}
	p.started = true
	p.done = p.done || ev == trackerclient.EventCompleted
	p.acked = true
	return nil
}

// TestServeCrash kills `gale serve` with SIGKILL several times while
// clients announce over HTTP and UDP (at random points: between an
// announce and the flush that would write it, in the middle of a round),
// restarts it on the same addresses and data directory, and checks that
// every user's credited totals equal what their client reported last:
// nothing lost, nothing counted twice, also after one more crash and the
// clients announcing the same counters again.
func TestServeCrash(t *testing.T) {
	gale := galeBinary(t)
	forEachSiteDB(t, func(t *testing.T, db string) { crashTest(t, gale, db) })
}

func crashTest(t *testing.T, gale, db string) {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	dir := t.TempDir()
	site := []string{"--data", filepath.Join(dir, "data")}
	if db != "" {
		site = append(site, "--db", db)
	}
	run := func(args ...string) string {
		t.Helper()
		if args[0] == "user" || args[0] == "torrent" {
			args = append(args, site...)
		}
		var out, errb bytes.Buffer
		cmd := exec.Command(gale, args...)
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("gale %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
		}
		return out.String()
	}
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freeTCPUDPPort(t))
	udpAddr := fmt.Sprintf("127.0.0.1:%d", freeTCPUDPPort(t))
	var srv *e2eProc
	starts := 0
	start := func() {
		t.Helper()
		starts++
		srv = startProc(t, fmt.Sprintf("gale serve #%d", starts), append([]string{gale, "serve", "--http", httpAddr, "--udp", udpAddr}, site...)...)
		srv.wait(t, `^listening udp `, 20*time.Second)
	}
	kill := func() {
		t.Helper()
		srv.cmd.Process.Kill() // SIGKILL: no flush, no state save
		<-srv.done
	}
	start()

	const size = 64 << 20
	writeFile(t, filepath.Join(dir, "content", "x.bin"), 1000, 5)
	run("create", filepath.Join(dir, "content"), "-o", filepath.Join(dir, "x.torrent"))
	users := []string{"ann", "ben", "cat", "dan"}
	for _, u := range users {
		run("user", "add", u)
	}
	hash := strings.TrimSpace(run("torrent", "add", filepath.Join(dir, "x.torrent"), "--owner", "ann"))
	var ih [20]byte
	hex.Decode(ih[:], []byte(hash))
	c := &trackerclient.Client{UDPTimeout: 300 * time.Millisecond, UDPMaxRetries: 1}
	defer c.Close()
	var peers []*crashPeer
	for i, u := range users {
		file := filepath.Join(dir, u+".torrent")
		run("torrent", "fetch", hash, "--user", u, "-o", file)
		tor, err := metainfo.Load(file)
		if err != nil {
			t.Fatal(err)
		}
		url := tor.AnnounceList[i%2][0] // ann and cat over HTTP, ben and dan over UDP
		p := &crashPeer{user: u, a: newAnnouncer(c, url, ih, fmt.Sprintf("-CR%04d", i), uint16(53000+i))}
		if i >= 2 {
			p.left = size // cat and dan download
		}
		peers = append(peers, p)
	}

	// Announce until every peer's current counters are acknowledged,
	// restarting the server when it is down.
	settle := func() {
		t.Helper()
		for range 50 {
			pending := 0
			for _, p := range peers {
				if !p.acked && p.announce() != nil {
					pending++
				}
			}
			if pending == 0 {
				return
			}
			if srv.exited() {
				start()
			} else {
				time.Sleep(100 * time.Millisecond)
			}
		}
		t.Fatal("announces still failing")
	}
	settle() // the torrent reaches the tracker within a second: retried here
	const rounds = 12
	kills := 0
	for r := 0; r < rounds; r++ {
		for _, p := range peers {
			p.up += int64(rng.IntN(4<<20)) + 1
			if p.left > 0 {
				step := min(p.left, int64(size/8)+int64(rng.IntN(1<<20)))
				p.down += step
				p.left -= step
			}
			p.acked = false
		}
		killAt := -1
		if r%4 == 2 {
			killAt = rng.IntN(len(peers) + 1) // after that many announces of this round
		}
		for i, p := range peers {
			if i == killAt {
				kill()
				kills++
			}
			p.announce() // fails while the server is down: retried by settle
		}
		if killAt == len(peers) {
			kill() // right after the round: nothing of it was flushed
			kills++
		}
		settle()
		time.Sleep(time.Duration(rng.IntN(1200)) * time.Millisecond) // sometimes a flush, sometimes not
	}
	if kills < 3 {
		t.Fatalf("only %d kills", kills)
	}

	check := func(when string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			bad := ""
			for _, p := range peers {
				var r userReport
				if err := json.Unmarshal([]byte(run("user", "show", p.user, "--json")), &r); err != nil {
					t.Fatal(err)
				}
				snatches := int64(0)
				if p.down > 0 {
					snatches = 1
				}
				if r.Uploaded != p.up || r.Downloaded != p.down || r.Snatches != snatches {
					bad += fmt.Sprintf("\n%s: credited up %d down %d snatches %d; reported up %d down %d", p.user,
						r.Uploaded, r.Downloaded, r.Snatches, p.up, p.down)
				}
			}
			if bad == "" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s, after %d kills:%s", when, kills, bad)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	check("after the last announces")
	// One more crash; the clients announce the same counters again.
	kill()
	start()
	for _, p := range peers {
		p.acked = false
	}
	settle()
	time.Sleep(1500 * time.Millisecond) // at least one flush
	check("after re-announcing the same counters")
	t.Logf("%d starts, %d kills; totals match the clients' counters", starts, kills+1)
}

// exited reports whether the process has ended.
func (p *e2eProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}
