package servetest

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/gale-bt/gale/internal/trackerclient"
)

// TestCounterDropInSession replays, with the repo's tracker client, what
// python3-libtorrent 2.0 was seen sending in TestCrashAccounting: its
// "downloaded" drops by about 16 KiB at the "completed" announce (failed or
// redundant bytes taken out of the payload count). That is a correction
// inside one client session, not a new session: the user must be credited
// the session's last counters, not the whole download twice. A real new
// session of the same peer ID (a "started" after a "stopped") counts from
// zero and adds up.
func TestCounterDropInSession(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv := startServer(t, "")
	srv.addUser("dave", "dave password 123")
	work := t.TempDir()
	writePayload(t, filepath.Join(work, "drop", "dropcase.bin"), 100_000, 3)
	ih := srv.addTorrent(createTorrent(t, filepath.Join(work, "drop", "dropcase.bin"), ""), "dave")
	key, h := personal(t, srv, ih, "dave")
	c := &trackerclient.Client{}
	defer c.Close()
	announce := "http://" + srv.http + "/" + key + "/announce"

	var id [20]byte
	copy(id[:], "-LT2080-dropdropdrop")
	const size = 1572864
	steps := []struct {
		up, down, left int64
		ev             trackerclient.Event
	}{
		{0, 0, size, trackerclient.EventStarted},
		{65536, 1507201, 98304, trackerclient.EventNone},
		{100000, 1589148, 16384, trackerclient.EventNone},
		{100000, size, 0, trackerclient.EventCompleted}, // libtorrent's correction
		{120000, size, 0, trackerclient.EventNone},
		{120000, size, 0, trackerclient.EventStopped},
		// The same peer ID starts over: a new session from zero.
		{0, 0, 0, trackerclient.EventStarted},
		{5000, 0, 0, trackerclient.EventStopped},
	}
	// The torrent reaches the running tracker within a second.
	err := eventually(ctx, 2*time.Second, 50*time.Millisecond, func() error {
		_, err := c.Announce(ctx, announce, trackerclient.AnnounceRequest{InfoHash: h, PeerID: [20]byte{'p', 'r', 'o', 'b', 'e'}, Port: 1, Left: 1, Event: trackerclient.EventStopped})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range steps {
		_, err := c.Announce(ctx, announce, trackerclient.AnnounceRequest{
			InfoHash: h, PeerID: id, Port: 6881, Uploaded: st.up, Downloaded: st.down, Left: st.left, Event: st.ev,
		})
		if err != nil {
			t.Fatalf("announce %+v: %v", st, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	const wantUp, wantDown = 120000 + 5000, size
	var got userTotals
	err = eventually(ctx, 3*time.Second, 250*time.Millisecond, func() error {
		got = srv.userShow("dave")
		if got.Uploaded != wantUp || got.Downloaded != wantDown {
			return fmt.Errorf("dave credited uploaded %d downloaded %d, want %d and %d (the last counters of each session)",
				got.Uploaded, got.Downloaded, wantUp, wantDown)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	if got.Snatches != 1 {
		t.Errorf("dave has %d snatches, want 1", got.Snatches)
	}
}
