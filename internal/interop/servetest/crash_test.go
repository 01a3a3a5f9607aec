package servetest

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gale-bt/gale/metainfo"
)

// peerSession identifies one client session as the tracker accounts it.
type peerSession struct {
	key      string
	infoHash [20]byte
	peerID   [20]byte
}

// reported computes, per announce key, what the clients reported to the
// tracker: per peer session, the last cumulative counters it sent, summed.
// Only announces the tracker answered count (one that never reached it,
// or whose answer a kill cut off, was not processed, or only in memory
// that the kill lost). A peer session is a peer ID's announces from one
// "started" to the next (a client starting over sends "started" and
// counts from 0); libtorrent keeps one session per torrent here.
//
// It also returns where a counter went down inside a session: libtorrent
// 2.0 does that (its "downloaded" can drop by a few hundred bytes at
// completion), and a tracker that takes a drop for a new session counts
// the whole session twice.
func reported(logs []announceLog) (up, down map[string]int64, decreases []string) {
	sort.SliceStable(logs, func(i, j int) bool { return logs[i].At.Before(logs[j].At) })
	type last struct{ up, down int64 }
	cur := map[peerSession]last{}
	up, down = map[string]int64{}, map[string]int64{}
	for _, l := range logs {
		if !l.OK || l.badReq != "" {
			continue
		}
		k := peerSession{l.Key, l.InfoHash, l.PeerID}
		if prev, seen := cur[k]; seen {
			if l.Event == "started" { // a new session: bank the old one
				up[l.Key] += prev.up
				down[l.Key] += prev.down
			} else {
				if l.Uploaded < prev.up {
					decreases = append(decreases, fmt.Sprintf("uploaded %d -> %d (event %q)", prev.up, l.Uploaded, l.Event))
				}
				if l.Downloaded < prev.down {
					decreases = append(decreases, fmt.Sprintf("downloaded %d -> %d (event %q)", prev.down, l.Downloaded, l.Event))
				}
			}
		}
		cur[k] = last{l.Uploaded, l.Downloaded}
	}
	for k, v := range cur {
		up[k.key] += v.up
		down[k.key] += v.down
	}
	return up, down, decreases
}

// TestCrashAccounting: one seeder and two leechers (python3-libtorrent,
// three users, rate limited so the transfer lasts about 20 s) announce
// through a logging proxy to `gale serve`, which is killed with SIGKILL
// four times at random moments and restarted on the same data directory
// and ports. After the downloads complete and every client has sent a
// final "stopped" that the tracker answered, each user's credited totals
// (gale user show --json) must equal exactly the sum of the last counters
// the user's clients reported: nothing lost, nothing counted twice.
func TestCrashAccounting(t *testing.T) {
	python(t)
	for _, name := range []string{"sqlite", "postgres"} {
		db, ok := testDBs(t)[name]
		if !ok {
			continue
		}
		t.Run(name, func(t *testing.T) { crashAccounting(t, db(t)) })
	}
}

func crashAccounting(t *testing.T, db string) {
	ctx, cancel := context.WithTimeout(context.Background(), 110*time.Second)
	defer cancel()

	srv := startServerDB(t, "interval = 2\nmin-interval = 1\n", db)
	users := []string{"seedr", "leech1", "leech2"}
	for _, u := range users {
		srv.addUser(u, u+" password 123")
	}

	work := t.TempDir()
	const name = "crashpayload.bin"
	seedDir := filepath.Join(work, "seed")
	const size = 1536 << 10
	payload := writePayload(t, filepath.Join(seedDir, name), size, 7)
	ih := srv.addTorrent(createTorrent(t, filepath.Join(seedDir, name), "16KiB"), "seedr")

	httpAddr := srv.http // the same after every restart (checked by start)
	px := startProxy(t, func() string { return httpAddr })
	keyUser := map[string]string{}
	torrents := map[string]string{}
	for _, u := range users {
		f := srv.fetchTorrent(ih, u)
		mt, err := metainfo.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		key, _, ok := personalKey(mt.Announce)
		if !ok {
			t.Fatalf("%s's announce URL %q is not personal", u, mt.Announce)
		}
		keyUser[key] = u
		// Through the proxy only: one HTTP tracker, same info hash.
		out := filepath.Join(work, u+"-proxy.torrent")
		cmd := exec.Command(srv.bin, "edit", f, "--announce", px.announceURL(key), "-o", out)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("gale edit: %v\n%s", err, b)
		}
		et, err := metainfo.Load(out)
		if err != nil || et.InfoHash != mt.InfoHash || len(et.Trackers()) != 1 {
			t.Fatalf("gale edit --announce: %v; hash %x (want %x), trackers %q", err, et.InfoHash, mt.InfoHash, et.Trackers())
		}
		torrents[u] = out
	}

	seeder := startClient(t, "seedr", torrents["seedr"], seedDir, 0, 0)
	if _, err := seeder.waitEvent(ctx, "seeding", 20*time.Second); err != nil {
		t.Fatal(err)
	}
	var leechers []*client
	var dirs []string
	for _, u := range users[1:] {
		dir := filepath.Join(work, u)
		os.MkdirAll(dir, 0o755)
		dirs = append(dirs, dir)
		// 80 KiB/s each: about 19 s for the payload.
		leechers = append(leechers, startClient(t, u, torrents[u], dir, 0, 80<<10))
	}
	all := append([]*client{seeder}, leechers...)
	stopPoke := poke(ctx, 1500*time.Millisecond, all...)
	defer stopPoke()

	// Kill the server four times at random moments of the transfer: two
	// of them within 200 ms after the tracker answered an announce, when
	// the accounting of that announce is surely not written yet (it
	// flushes every second).
	start := time.Now()
	var kills []time.Duration
	var lastStart time.Time // read after killsDone
	killsDone := make(chan error, 1)
	killer := make(chan struct{})
	defer func() { cancel(); <-killer }() // before the cleanups run
	go func() {
		defer close(killer)
		at := time.Duration(0)
		for i := 0; i < 4; i++ {
			at += 2*time.Second + rand.N(2500*time.Millisecond)
			select {
			case <-ctx.Done():
				killsDone <- ctx.Err()
				return
			case <-time.After(time.Until(start.Add(at))):
			}
			if i%2 == 1 {
				select {
				case <-px.answered: // drop a stale signal
				default:
				}
				select {
				case <-px.answered:
					time.Sleep(rand.N(200 * time.Millisecond))
				case <-time.After(3 * time.Second):
				}
			}
			srv.kill9()
			kills = append(kills, time.Since(start))
			time.Sleep(rand.N(700 * time.Millisecond)) // down for a moment
			if err := srv.start(ctx); err != nil {
				killsDone <- err
				return
			}
			lastStart = time.Now()
		}
		killsDone <- nil
	}()

	var wg sync.WaitGroup
	errs := make([]error, len(leechers))
	for i, l := range leechers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = waitFile(ctx, filepath.Join(dirs[i], name), payload, l, 90*time.Second)
		}()
	}
	if err := <-killsDone; err != nil {
		t.Fatalf("kill/restart: %v", err)
	}
	wg.Wait()
	transfer := time.Since(start)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s: %v", users[i+1], err)
		}
	}
	t.Logf("kills at %v; downloads complete after %v", kills, transfer.Round(100*time.Millisecond))
	if len(kills) != 4 || kills[len(kills)-1] > transfer {
		t.Logf("note: the last kill came after the downloads completed")
	}

	// Let every client get an answer after the last restart (a client
	// backs off after failed announces; the poke keeps asking), then stop
	// them all: each sends a final "stopped" with its last counters.
	if err := eventually(ctx, 30*time.Second, 200*time.Millisecond, func() error {
		return answeredSince(px.announces(), keyUser, lastStart)
	}); err != nil {
		t.Fatal(err)
	}
	stopPoke()
	for _, c := range all {
		c.send("stop")
	}
	err := eventually(ctx, 20*time.Second, 200*time.Millisecond, func() error {
		return finalStops(px.announces(), keyUser)
	})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // the accounting flushes every second

	logs := px.announces()
	up, down, decreases := reported(logs)
	var failed, unreachable int
	for _, l := range logs {
		switch {
		case l.badReq != "":
			t.Errorf("a client sent a malformed announce: %s", l.badReq)
		case l.Failure != "":
			failed++
			t.Errorf("tracker refused an announce of %s (event %q): %s", keyUser[l.Key], l.Event, l.Failure)
		case !l.OK:
			unreachable++
		}
	}
	t.Logf("%d announces through the proxy, %d while the tracker was down or dying, %d refused; counters that went down: %q",
		len(logs), unreachable, failed, decreases)

	for key, u := range keyUser {
		got := srv.userShow(u)
		t.Logf("%s: reported up %d down %d; credited up %d down %d, snatches %d",
			u, up[key], down[key], got.Uploaded, got.Downloaded, got.Snatches)
		if got.Uploaded != up[key] || got.Downloaded != down[key] {
			hint := ""
			if len(decreases) > 0 {
				hint = fmt.Sprintf(" (a counter went down inside a client session: %q; crediting it as a new session counts the session twice)", decreases)
			}
			t.Errorf("%s credited uploaded %d downloaded %d, clients reported %d and %d%s",
				u, got.Uploaded, got.Downloaded, up[key], down[key], hint)
		}
		if got.RawUploaded != got.Uploaded || got.RawDownloaded != got.Downloaded {
			t.Errorf("%s: raw uploaded %d downloaded %d differ from the credited ones with freeleech and double upload off",
				u, got.RawUploaded, got.RawDownloaded)
		}
		wantSnatches := int64(1)
		if u == "seedr" {
			wantSnatches = 0
		}
		if got.Snatches != wantSnatches {
			t.Errorf("%s has %d snatches, want %d", u, got.Snatches, wantSnatches)
		}
		if u != "seedr" && down[key] < size {
			t.Errorf("%s reported only %d bytes downloaded of %d: the test proves nothing", u, down[key], size)
		}
	}
	if t.Failed() || len(decreases) > 0 {
		dumpAnnounces(t, logs, keyUser, start)
	}
}

// dumpAnnounces logs every announce the proxy saw.
func dumpAnnounces(t *testing.T, logs []announceLog, keyUser map[string]string, start time.Time) {
	var b strings.Builder
	for _, l := range logs {
		fmt.Fprintf(&b, "%8.3fs %-7s peer %x ev %-9q up %8d down %8d left %8d -> %d ok=%v %s%s%s\n",
			l.At.Sub(start).Seconds(), keyUser[l.Key], l.PeerID[8:12], l.Event, l.Uploaded, l.Downloaded, l.Left,
			l.Status, l.OK, l.Failure, l.forwardErr, l.parseErr)
	}
	t.Logf("announces through the proxy:\n%s", b.String())
}

// answeredSince checks that every user had an announce answered after t.
func answeredSince(logs []announceLog, keyUser map[string]string, t time.Time) error {
	ok := map[string]bool{}
	for _, l := range logs {
		if l.OK && l.At.After(t) {
			ok[l.Key] = true
		}
	}
	var missing []string
	for key, u := range keyUser {
		if !ok[key] {
			missing = append(missing, u)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("no answered announce since the last restart from %s", strings.Join(missing, ", "))
	}
	return nil
}

// finalStops checks that each user's last announce is a "stopped" that
// the tracker answered.
func finalStops(logs []announceLog, keyUser map[string]string) error {
	sort.SliceStable(logs, func(i, j int) bool { return logs[i].At.Before(logs[j].At) })
	lastOf := map[peerSession]announceLog{}
	for _, l := range logs {
		lastOf[peerSession{l.Key, l.InfoHash, l.PeerID}] = l
	}
	stopped := map[string]bool{}
	var pending []string
	for k, l := range lastOf {
		if l.Event == "stopped" && l.OK {
			stopped[k.key] = true
		} else {
			pending = append(pending, fmt.Sprintf("%s (event %q ok %v)", keyUser[k.key], l.Event, l.OK))
		}
	}
	for key, u := range keyUser {
		if !stopped[key] {
			pending = append(pending, u+": no stopped announce")
		}
	}
	if len(pending) > 0 {
		sort.Strings(pending)
		return fmt.Errorf("waiting for final stopped announces: %s", strings.Join(pending, "; "))
	}
	return nil
}

// waitFile waits until path holds exactly want.
func waitFile(ctx context.Context, path string, want []byte, c *client, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		if st, err := os.Stat(path); err == nil && st.Size() == int64(len(want)) {
			if got, err := os.ReadFile(path); err == nil && bytes.Equal(got, want) {
				return nil
			}
		}
		if c.exited() {
			return fmt.Errorf("%s exited (%v) before the download completed", c.name, c.err)
		}
		select {
		case <-ctx.Done():
			progress, _, _, peers, _ := c.lastStatus()
			return fmt.Errorf("%s: %s not complete (progress %.2f, %d peers, tracker errors %q): %w",
				c.name, path, progress, peers, c.trackerErrors(), ctx.Err())
		case <-tick.C:
		}
	}
}
