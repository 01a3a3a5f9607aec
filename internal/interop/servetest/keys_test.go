package servetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gale-bt/gale/internal/trackerclient"
	"github.com/gale-bt/gale/metainfo"
)

// keyTracker announces with trackerclient to a running gale serve.
type keyTracker struct {
	t   *testing.T
	srv *server
	c   *trackerclient.Client
}

func (k *keyTracker) url(proto, key string) string {
	if proto == "udp" {
		return "udp://" + k.srv.udp + "/" + key + "/announce"
	}
	return "http://" + k.srv.http + "/" + key + "/announce"
}

// announce sends a started announce for ih with key and returns the
// tracker's refusal reason ("" when it was accepted).
func (k *keyTracker) announce(ctx context.Context, proto, key string, ih [20]byte) (string, error) {
	var id [20]byte
	copy(id[:], "-GT0001-")
	rand.Read(id[8:])
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	t0 := time.Now()
	defer func() {
		if d := time.Since(t0); d > 400*time.Millisecond {
			k.t.Logf("slow %s announce: %v", proto, d.Round(time.Millisecond))
		}
	}()
	_, err := k.c.Announce(ctx, k.url(proto, key), trackerclient.AnnounceRequest{
		InfoHash: ih, PeerID: id, Port: 6881, Left: 1000, Event: trackerclient.EventStarted, NumWant: 5,
	})
	var te *trackerclient.TrackerError
	switch {
	case errors.As(err, &te):
		return te.Reason, nil
	case err != nil:
		return "", err
	}
	return "", nil
}

// personal returns the announce key and info hash of user's personal
// .torrent of ih (gale torrent fetch).
func personal(t *testing.T, srv *server, ih, user string) (string, [20]byte) {
	t.Helper()
	mt, err := metainfo.Load(srv.fetchTorrent(ih, user))
	if err != nil {
		t.Fatal(err)
	}
	key, _, ok := personalKey(mt.Announce)
	if !ok {
		t.Fatalf("%s's announce URL %q is not personal", user, mt.Announce)
	}
	return key, mt.InfoHash
}

// within runs cmd, then announces until the refusal contains want, and
// fails unless that happened within limit of the command's end.
func (k *keyTracker) within(ctx context.Context, limit time.Duration, what string, cmd func(), proto, key string, ih [20]byte, want string) {
	k.t.Helper()
	t0 := time.Now()
	cmd()
	t1 := time.Now()
	var last string
	var lastErr error
	for {
		last, lastErr = k.announce(ctx, proto, key, ih)
		if lastErr == nil && strings.Contains(last, want) {
			k.t.Logf("%s: %s announces refused %v after the command returned (%v after it started)",
				what, proto, time.Since(t1).Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
			return
		}
		if time.Since(t1) > limit {
			k.t.Errorf("%s: %s announce still answered %q (err %v) %v after the command returned; want a refusal containing %q within %v",
				what, proto, last, lastErr, time.Since(t1).Round(time.Millisecond), want, limit)
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// TestKeys: announces with wrong, forged, other torrents', revoked (gale
// user reset-key) and disabled users' (gale user disable) keys are
// refused with a clear reason over HTTP and UDP (BEP 41 URL data), admin
// commands on the data directory reach the running tracker within one
// second, and no key ever appears in the server's output.
func TestKeys(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv := startServer(t, "access-log = true\n")
	for _, u := range []string{"alice", "bob", "carol"} {
		srv.addUser(u, u+" password 123")
	}
	work := t.TempDir()
	writePayload(t, filepath.Join(work, "one", "keysone.bin"), 100_000, 1)
	writePayload(t, filepath.Join(work, "two", "keystwo.bin"), 100_000, 2)
	ih1 := srv.addTorrent(createTorrent(t, filepath.Join(work, "one", "keysone.bin"), ""), "alice")
	ih2 := srv.addTorrent(createTorrent(t, filepath.Join(work, "two", "keystwo.bin"), ""), "alice")

	aliceKey, h1 := personal(t, srv, ih1, "alice")
	aliceKey2, h2 := personal(t, srv, ih2, "alice")
	bobKey, _ := personal(t, srv, ih1, "bob")
	carolKey, _ := personal(t, srv, ih1, "carol")
	keys := []string{aliceKey, aliceKey2, bobKey, carolKey}

	k := &keyTracker{t: t, srv: srv, c: &trackerclient.Client{UDPTimeout: 500 * time.Millisecond, UDPMaxRetries: 2}}
	defer k.c.Close()

	// Torrents and users added on the command line reach the running
	// tracker within a second.
	for _, proto := range []string{"http", "udp"} {
		err := eventually(ctx, time.Second, 25*time.Millisecond, func() error {
			reason, err := k.announce(ctx, proto, aliceKey2, h2)
			if err == nil && reason != "" {
				err = errors.New(reason)
			}
			return err
		})
		if err != nil {
			t.Fatalf("%s: a torrent added with gale torrent add is not tracked: %v", proto, err)
		}
	}

	flip := func(key string) string { // change the last hex digit
		b := []byte(key)
		if b[len(b)-1] == '0' {
			b[len(b)-1] = '1'
		} else {
			b[len(b)-1] = '0'
		}
		return string(b)
	}
	var unknown [20]byte
	rand.Read(unknown[:])
	const badKey = "invalid announce key"
	cases := []struct {
		name string
		key  string
		ih   [20]byte
		want string // "" accepted
	}{
		{"own key", aliceKey, h1, ""},
		{"own key, other torrent", aliceKey2, h2, ""},
		{"other user's valid key", bobKey, h1, ""},
		{"wrong key", flip(aliceKey), h1, badKey},
		{"key of another torrent", aliceKey2, h1, badKey},
		{"bob's key with alice's user id", aliceKey[:8] + bobKey[8:], h1, badKey},
		{"key of an unknown user", "7fffffff" + aliceKey[8:], h1, badKey},
		{"not hex", strings.Repeat("z", 32), h1, badKey},
		{"short key", aliceKey[:20], h1, badKey},
		{"unregistered torrent", aliceKey, unknown, "unregistered torrent"},
	}
	for _, proto := range []string{"http", "udp"} {
		for _, c := range cases {
			reason, err := k.announce(ctx, proto, c.key, c.ih)
			switch {
			case err != nil:
				t.Errorf("%s %s: %v", proto, c.name, err)
			case c.want == "" && reason != "":
				t.Errorf("%s %s: refused: %q", proto, c.name, reason)
			case c.want != "" && !strings.Contains(reason, c.want):
				t.Errorf("%s %s: got %q, want a refusal containing %q", proto, c.name, reason, c.want)
			}
		}
		// No key at all.
		reason, err := k.announce(ctx, proto, "", h1)
		if err == nil && reason == "" {
			t.Errorf("%s announce without a key was accepted", proto)
		}
	}

	// HTTP scrapes take the same key; a refused hash is left out (BEP 48
	// has no per-hash error). A UDP scrape carries no key (BEP 41 URL data
	// is for announces), so it must reveal nothing: refused hashes read as
	// empty swarms.
	{
		sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
		r, err := k.c.Scrape(sctx, k.url("http", aliceKey), [][20]byte{h1})
		if st, ok := r[h1]; err != nil || !ok || st.Incomplete < 1 {
			t.Errorf("http scrape with alice's key: %+v, %v; want her torrent with its leechers", r, err)
		}
		r, err = k.c.Scrape(sctx, k.url("http", flip(aliceKey)), [][20]byte{h1})
		if _, ok := r[h1]; ok {
			t.Errorf("http scrape with a wrong key answered %+v (%v); want the torrent left out", r, err)
		}
		r, err = k.c.Scrape(sctx, k.url("udp", aliceKey), [][20]byte{h1})
		if st := r[h1]; err != nil || st != (trackerclient.ScrapeStats{}) {
			t.Errorf("udp scrape (no key possible): %+v, %v; want an empty swarm", r, err)
		}
		scancel()
	}

	// One peer announcing over HTTP and UDP (a client with both trackers
	// of its personal .torrent) is one peer: its counters count once.
	{
		var id [20]byte
		copy(id[:], "-GT0001-carolcarol12")
		steps := []struct {
			proto    string
			up, down int64
			ev       trackerclient.Event
		}{
			{"http", 0, 0, trackerclient.EventStarted},
			{"udp", 0, 0, trackerclient.EventStarted},
			{"http", 5000, 7000, trackerclient.EventNone},
			{"udp", 5000, 7000, trackerclient.EventNone},
			{"udp", 6000, 9000, trackerclient.EventNone},
			{"http", 6000, 9000, trackerclient.EventNone},
			{"http", 6500, 9000, trackerclient.EventStopped},
			{"udp", 6500, 9000, trackerclient.EventStopped},
		}
		for _, st := range steps {
			actx, acancel := context.WithTimeout(ctx, 5*time.Second)
			_, err := k.c.Announce(actx, k.url(st.proto, carolKey), trackerclient.AnnounceRequest{
				InfoHash: h1, PeerID: id, Port: 6881, Uploaded: st.up, Downloaded: st.down, Left: 1000, Event: st.ev,
			})
			acancel()
			if err != nil {
				t.Fatalf("carol %s announce %+v: %v", st.proto, st, err)
			}
		}
		err := eventually(ctx, 3*time.Second, 200*time.Millisecond, func() error {
			got := srv.userShow("carol")
			if got.Uploaded != 6500 || got.Downloaded != 9000 {
				return fmt.Errorf("carol credited uploaded %d downloaded %d, want 6500 and 9000", got.Uploaded, got.Downloaded)
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	}

	// gale user reset-key: every earlier URL dies at once, a new one works.
	for _, proto := range []string{"http", "udp"} {
		k.within(ctx, time.Second, "reset-key", func() {
			if proto == "http" {
				srv.gale("", "user", "reset-key", "alice")
			}
		}, proto, aliceKey, h1, badKey)
	}
	newKey, _ := personal(t, srv, ih1, "alice")
	if newKey == aliceKey {
		t.Fatal("gale user reset-key did not change alice's key")
	}
	for _, proto := range []string{"http", "udp"} {
		if reason, err := k.announce(ctx, proto, newKey, h1); err != nil || reason != "" {
			t.Errorf("%s with alice's new key: %q %v", proto, reason, err)
		}
	}
	keys = append(keys, newKey)

	// gale user disable: refused within one second.
	for _, proto := range []string{"http", "udp"} {
		k.within(ctx, time.Second, "disable", func() {
			if proto == "http" {
				srv.gale("", "user", "disable", "bob")
			}
		}, proto, bobKey, h1, "disabled")
	}

	if !srv.userShow("bob").Disabled {
		t.Error("gale user show bob --json does not say disabled")
	}

	// gale torrent delete: newcomers hear the reason.
	newKey2, _ := personal(t, srv, ih2, "alice")
	keys = append(keys, newKey2)
	for _, proto := range []string{"http", "udp"} {
		k.within(ctx, time.Second, "delete", func() {
			if proto == "http" {
				srv.gale("", "torrent", "delete", ih2, "--reason", "replaced by a better one")
			}
		}, proto, newKey2, h2, "torrent deleted: replaced by a better one")
	}

	// The server printed its log all along (access log on): no key in it.
	time.Sleep(200 * time.Millisecond)
	log := srv.log()
	if !strings.Contains(log, "announce") {
		t.Logf("note: the server log mentions no announce at all (access log off?)")
	}
	for _, key := range keys {
		if strings.Contains(log, key) || strings.Contains(log, hex.EncodeToString([]byte(key))) {
			t.Errorf("the server's output contains an announce key")
		}
	}
}
