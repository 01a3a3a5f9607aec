package cli

import (
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gale-bt/gale/internal/trackerclient"
	"github.com/gale-bt/gale/metainfo"
)

// TestServeInProcess runs `gale serve` in-process with the admin commands
// next to it, on the same data directory (SQLite, and PostgreSQL when
// GALE_TEST_POSTGRES is set): first start, users and a torrent from the
// command line, personal .torrent files, announces over HTTP and UDP (key
// in BEP 41 URL data) credited to the right users, key reset, disabling
// and deletion reaching the tracker within a second, polite deletion, a
// graceful stop and a restart that keeps the swarms.
func TestServeInProcess(t *testing.T) {
	forEachSiteDB(t, func(t *testing.T, db string) {
		dir := t.TempDir()
		data := filepath.Join(dir, "data")
		conf := filepath.Join(dir, "gale.toml")
		if err := os.WriteFile(conf, []byte(`
site-name = "Gale Test"
interval = "60s"
flag-rate = "1GiB"
access-log = true
`), 0o644); err != nil {
			t.Fatal(err)
		}
		site := []string{"--data", data, "--config", conf}
		if db != "" {
			site = append(site, "--db", db)
		}
		args := append([]string{"--http", "127.0.0.1:0", "--udp", "127.0.0.1:0"}, site...)
		srv := startServe(t, args...)
		base := "http://" + srv.http

		// First start: the site URL and a one-time administrator link.
		m := regexp.MustCompile(`(?m)^(http://\S+/signup\?invite=\S+)$`).FindStringSubmatch(srv.stdout.String())
		if !strings.Contains(srv.stdout.String(), "gale serve: site "+base+"\n") || m == nil {
			t.Fatalf("stdout %q: no site URL or administrator link", srv.stdout)
		}
		if body := httpGet(t, m[1]); !strings.Contains(body, `id="signup-bootstrap"`) {
			t.Fatalf("the administrator link shows no bootstrap sign-up:\n%s", body)
		}

		// Users and a torrent from the command line, while it runs.
		mustSite(t, "root-password\n", append([]string{"user", "add", "root", "--admin", "--password-stdin"}, site...)...)
		for _, u := range []string{"alice", "bob", "carol", "dave"} {
			out := mustSite(t, "", append([]string{"user", "add", u, "--group", "users"}, site...)...)
			if !strings.Contains(out, "created user "+u) {
				t.Fatalf("user add: %q", out)
			}
		}
		content := filepath.Join(dir, "content")
		writeFile(t, filepath.Join(content, "a.bin"), 200_000, 3)
		orig := filepath.Join(dir, "orig.torrent")
		mustGale(t, "create", content, "-o", orig, "-a", "http://elsewhere.example/announce")
		origT, err := metainfo.Load(orig)
		if err != nil {
			t.Fatal(err)
		}
		out := mustSite(t, "", append([]string{"torrent", "add", orig, "--owner", "alice"}, site...)...)
		hash := strings.TrimSpace(out)
		if len(hash) != 40 || hash == hex.EncodeToString(origT.InfoHash[:]) {
			t.Fatalf("torrent add printed %q (the original hash is %x)", out, origT.InfoHash)
		}
		var ih [20]byte
		hex.Decode(ih[:], []byte(hash))
		if code, _, errs := runSite(t, "", append([]string{"torrent", "add", orig, "--owner", "bob"}, site...)...); code != 1 || !strings.Contains(errs, "registered already") {
			t.Fatalf("duplicate torrent add: exit %d, %q", code, errs)
		}

		// Personal .torrent files with the site's announce URLs.
		fetch := func(user string) (httpURL, udpURL string) {
			t.Helper()
			file := filepath.Join(dir, user+".torrent")
			mustSite(t, "", append([]string{"torrent", "fetch", hash, "--user", user, "-o", file, "--force"}, site...)...)
			tor, err := metainfo.Load(file)
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(tor.InfoHash[:]) != hash || !tor.Info.Private || tor.Info.Source != "Gale Test" ||
				len(tor.AnnounceList) != 2 || tor.Announce != tor.AnnounceList[0][0] {
				t.Fatalf("%s's torrent: hash %x private %v source %q trackers %q %q", user, tor.InfoHash, tor.Info.Private,
					tor.Info.Source, tor.Announce, tor.AnnounceList)
			}
			httpURL, udpURL = tor.AnnounceList[0][0], tor.AnnounceList[1][0]
			keyed := regexp.MustCompile(`^(http|udp)://127\.0\.0\.1:\d+/[0-9a-f]{32}/announce$`)
			if !strings.HasPrefix(httpURL, base+"/") || !strings.HasPrefix(udpURL, "udp://"+srv.udp+"/") ||
				!keyed.MatchString(httpURL) || !keyed.MatchString(udpURL) {
				t.Fatalf("%s's announce URLs %q %q (site %s, udp %s)", user, httpURL, udpURL, base, srv.udp)
			}
			return httpURL, udpURL
		}
		aliceHTTP, _ := fetch("alice")
		_, bobUDP := fetch("bob")
		carolHTTP, _ := fetch("carol")
		daveHTTP, _ := fetch("dave")

		c := &trackerclient.Client{UDPTimeout: time.Second, UDPMaxRetries: 2}
		defer c.Close()
		const size = 200_000
		alice := newAnnouncer(c, aliceHTTP, ih, "-AL0001", 51001)
		bob := newAnnouncer(c, bobUDP, ih, "-BO0001", 51002)
		must := func(r *trackerclient.AnnounceResponse, err error) *trackerclient.AnnounceResponse {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		within(t, time.Second, "new torrent", "", func() error {
			_, err := alice.announce(0, 0, 0, trackerclient.EventStarted)
			return err
		})
		r := must(bob.announce(0, 0, size, trackerclient.EventStarted))
		if len(r.Peers) != 1 || r.Peers[0].Addr.Port() != 51001 || r.Seeders != 1 || r.Leechers != 1 {
			t.Fatalf("bob over UDP got %+v", r)
		}
		must(bob.announce(0, size, 0, trackerclient.EventCompleted))
		must(alice.announce(size, 0, 0, trackerclient.EventNone))
		a := waitUser(t, site, "alice", 5*time.Second, func(r userReport) bool { return r.Uploaded == size })
		b := waitUser(t, site, "bob", 5*time.Second, func(r userReport) bool { return r.Downloaded == size && r.Snatches == 1 })
		if a.Downloaded != 0 || a.Seeding != 1 || a.Ratio != nil || b.Uploaded != 0 || b.Seeding != 1 || b.Ratio == nil || *b.Ratio != 0 {
			t.Fatalf("alice %+v\nbob %+v", a, b)
		}
		if txt := mustSite(t, "", append([]string{"user", "show", "alice"}, site...)...); !regexp.MustCompile(`uploaded\s+195\.31 KiB \(200000 bytes\)`).MatchString(txt) ||
			!regexp.MustCompile(`ratio\s+inf`).MatchString(txt) {
			t.Fatalf("user show alice:\n%s", txt)
		}
		if body := httpGet(t, base+"/metrics"); !strings.Contains(body, "gale_tracker_swarms 1") || !strings.Contains(body, "gale_accounting_written_total") {
			t.Fatalf("/metrics:\n%s", body)
		}

		// Key reset and disabling reach the tracker within a second.
		dave := newAnnouncer(c, daveHTTP, ih, "-DA0001", 51004)
		must(dave.announce(0, 0, size, trackerclient.EventStarted))
		mustSite(t, "", append([]string{"user", "reset-key", "dave"}, site...)...)
		within(t, time.Second, "reset-key", "invalid announce key; download the torrent again", func() error {
			_, err := dave.announce(0, 0, size, trackerclient.EventNone)
			return err
		})
		daveHTTP, _ = fetch("dave")
		dave.url = daveHTTP
		must(dave.announce(0, 0, size, trackerclient.EventNone))
		mustSite(t, "", append([]string{"user", "disable", "dave", "--reason", "cheating"}, site...)...)
		within(t, time.Second, "disable", "your account is disabled", func() error {
			_, err := dave.announce(0, 0, size, trackerclient.EventNone)
			return err
		})
		if d := userJSON(t, site, "dave"); !d.Disabled || d.DisabledReason != "cheating" {
			t.Fatalf("dave after disable: %+v", d)
		}
		mustSite(t, "", append([]string{"user", "enable", "dave"}, site...)...)
		within(t, time.Second, "enable", "", func() error {
			_, err := dave.announce(0, 0, size, trackerclient.EventNone)
			return err
		})
		must(dave.announce(0, 0, size, trackerclient.EventStopped))

		// Polite deletion: carol still leeches, so the swarm goes on until
		// she finishes; newcomers hear the reason at once.
		carol := newAnnouncer(c, carolHTTP, ih, "-CA0001", 51003)
		must(carol.announce(0, 0, size, trackerclient.EventStarted))
		mustSite(t, "", append([]string{"torrent", "delete", hash, "--reason", "dupe"}, site...)...)
		// (The probe says goodbye: a peer admitted before the tracker saw
		// the deletion would be one of its current peers.)
		newcomer := newAnnouncer(c, daveHTTP, ih, "-DA0002", 51005)
		within(t, time.Second, "delete", "torrent deleted: dupe", func() error {
			_, err := newcomer.announce(0, 0, size, trackerclient.EventStopped)
			return err
		})
		if _, err := newcomer.announce(0, 0, size, trackerclient.EventStarted); refusal(err) != "torrent deleted: dupe" {
			t.Fatalf("newcomer after the deletion: %v", err)
		}
		must(alice.announce(size, 0, 0, trackerclient.EventNone))
		must(bob.announce(0, size, 0, trackerclient.EventNone))
		must(carol.announce(0, size, 0, trackerclient.EventCompleted)) // the last leecher finishes
		if _, err := alice.announce(size, 0, 0, trackerclient.EventNone); refusal(err) != "torrent deleted: dupe" {
			t.Fatalf("seeder after the last leecher: %v", err)
		}
		must(carol.announce(0, size, 0, trackerclient.EventStopped)) // goodbyes are accounted
		waitUser(t, site, "carol", 5*time.Second, func(r userReport) bool { return r.Downloaded == size && r.Snatches == 1 })
		if code, _, errs := runSite(t, "", append([]string{"torrent", "fetch", hash, "--user", "bob", "-o", "-"}, site...)...); code != 1 || errs == "" {
			t.Fatalf("fetching a deleted torrent: exit %d, %q", code, errs)
		}

		// A graceful stop saves the swarms; a restart loads them and, with
		// an administrator, prints no link.
		if code := srv.stop(t); code != 0 {
			t.Fatalf("serve exited with %d", code)
		}
		if log := srv.stderr.String(); !strings.Contains(log, "state saved") || !strings.Contains(log, "server stopped") {
			t.Fatalf("stop log:\n%s", log)
		} else if strings.Contains(log, "/feed/") || regexp.MustCompile(`[0-9a-f]{32}/announce|announce/[0-9a-f]{32}|passkey=[0-9a-f]{32}`).MatchString(log) {
			t.Fatalf("a key in the log:\n%s", log)
		}
		srv2 := startServe(t, args...)
		if got := srv2.stdout.String(); strings.Contains(got, "invite=") || !strings.Contains(got, "gale serve: site") {
			t.Fatalf("restart stdout %q", got)
		}
		if !regexp.MustCompile(`state loaded" .*swarms=1 peers=[1-9]`).MatchString(srv2.stderr.String()) {
			t.Fatalf("restart did not load the swarm:\n%s", srv2.stderr)
		}
	})
}

func httpGet(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v\n%s", u, resp.StatusCode, err, b)
	}
	return string(b)
}
