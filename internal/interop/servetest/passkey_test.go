package servetest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gale-bt/gale/internal/trackerclient"
	"github.com/gale-bt/gale/metainfo"
)

// defaultsClientScript seeds TORRENT from SAVE_DIR with a python3-libtorrent
// session on 127.0.0.1 that keeps libtorrent's default settings for
// trackers, ssrf_mitigation included (only DHT, LSD, UPnP and NAT-PMP are
// off, which do not touch trackers). Output lines: "ssrf_mitigation
// True|False" first, then "tracker-reply N", "tracker-error REASON",
// "seeding".
const defaultsClientScript = `import sys
import time

import libtorrent as lt

torrent, save_dir = sys.argv[1:3]
s = lt.session({
    "listen_interfaces": "127.0.0.1:0",
    "enable_dht": False,
    "enable_lsd": False,
    "enable_upnp": False,
    "enable_natpmp": False,
    "alert_mask": lt.alert.category_t.status_notification
    | lt.alert.category_t.tracker_notification
    | lt.alert.category_t.error_notification,
})
print("ssrf_mitigation", s.get_settings()["ssrf_mitigation"], flush=True)
atp = lt.add_torrent_params()
atp.ti = lt.torrent_info(torrent)
atp.save_path = save_dir
h = s.add_torrent(atp)
said_seeding = False
while True:
    for a in s.pop_alerts():
        if isinstance(a, lt.tracker_reply_alert):
            print("tracker-reply", a.num_peers, flush=True)
        elif isinstance(a, lt.tracker_error_alert):
            reason = a.failure_reason() or a.error_message() or a.error.message()
            print("tracker-error", reason.replace("\n", " "), flush=True)
    if not said_seeding and h.status().is_seeding:
        print("seeding", flush=True)
        said_seeding = True
    time.sleep(0.05)
`

var pathKeyRE = regexp.MustCompile(`^/([0-9a-f]{32})/announce$`)

// personalKey returns the key of a personal announce URL in either form
// gale hands out, BASE/announce?passkey=KEY (inQuery) or XBT's
// BASE/KEY/announce; ok is false for anything else.
func personalKey(announce string) (key string, inQuery, ok bool) {
	u, err := url.Parse(announce)
	if err != nil {
		return "", false, false
	}
	if u.Path == "/announce" {
		k := u.Query().Get("passkey")
		return k, true, len(k) == 32 && len(u.Query()) == 1 && strings.Trim(k, "0123456789abcdef") == ""
	}
	if m := pathKeyRE.FindStringSubmatch(u.Path); m != nil && u.RawQuery == "" {
		return m[1], false, true
	}
	return "", false, false
}

// TestLibtorrentSSRF: libtorrent 2.x refuses an HTTP tracker on a
// loopback address unless its path starts with "/announce" (SSRF
// mitigation, on by default). A python3-libtorrent session with default
// settings seeds a personal .torrent of `gale serve` on 127.0.0.1: with
// announce-key-form = "query" (BASE/announce?passkey=KEY) its HTTP
// announce is accepted and the peer shows up in the swarm and in the
// user's accounting; with the default form (XBT's BASE/KEY/announce)
// libtorrent refuses to announce at all, which shows that the first case
// really ran with the mitigation on. `gale torrent fetch` (without
// --config) takes the form from the running server.
func TestLibtorrentSSRF(t *testing.T) {
	py := python(t)
	script := filepath.Join(t.TempDir(), "defaults_client.py")
	if err := os.WriteFile(script, []byte(defaultsClientScript), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, config string
		inQuery      bool
	}{
		{"query form", "announce-key-form = \"query\"\n", true},
		{"path form (default)", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			srv := startServer(t, "access-log = true\ninterval = 5\nmin-interval = 1\n"+tc.config)
			srv.addUser("alice", "alice password 123")
			work := t.TempDir()
			seedDir := filepath.Join(work, "seed")
			writePayload(t, filepath.Join(seedDir, "ssrfcase.bin"), 200_000, 7)
			ih := srv.addTorrent(createTorrent(t, filepath.Join(seedDir, "ssrfcase.bin"), ""), "alice")

			file := srv.fetchTorrent(ih, "alice")
			mt, err := metainfo.Load(file)
			if err != nil {
				t.Fatal(err)
			}
			key, inQuery, ok := personalKey(mt.Announce)
			if !ok || inQuery != tc.inQuery || !strings.HasPrefix(mt.Announce, "http://"+srv.http+"/") {
				t.Fatalf("personal announce URL %q: want http://%s/ with the key in the query: %v", mt.Announce, srv.http, tc.inQuery)
			}
			for _, tr := range mt.Trackers() {
				if k, q, ok := personalKey(tr); !ok || k != key || q != tc.inQuery {
					t.Errorf("tracker %q is not in the form of %q", tr, mt.Announce)
				}
			}
			// Keep only the HTTP tracker: the UDP one is not subject to
			// the mitigation and would hide a refusal.
			ectx, ecancel := context.WithTimeout(ctx, 20*time.Second)
			out, err := exec.CommandContext(ectx, galeBinary(t), "edit", file, "--announce", mt.Announce).CombinedOutput()
			ecancel()
			if err != nil {
				t.Fatalf("gale edit: %v\n%s", err, out)
			}

			c := start(t, "libtorrent defaults", seedDir, nil, py, script, file, seedDir)
			line, err := c.waitLine(ctx, "ssrf_mitigation", func(l string) bool { return strings.HasPrefix(l, "ssrf_mitigation ") })
			if err != nil {
				t.Fatal(err)
			}
			if line != "ssrf_mitigation True" {
				t.Fatalf("libtorrent's default settings say %q: this test needs the SSRF mitigation on", line)
			}
			first := func(l string) bool {
				return strings.HasPrefix(l, "tracker-reply") || strings.HasPrefix(l, "tracker-error")
			}
			wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
			line, err = c.waitLine(wctx, "a tracker reply or error", first)
			wcancel()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("libtorrent, announcing to %s: %s", strings.Replace(mt.Announce, key, "<key>", 1), line)

			tcl := &trackerclient.Client{}
			defer tcl.Close()
			scrape := func() (trackerclient.ScrapeStats, error) {
				sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
				defer scancel()
				r, err := tcl.Scrape(sctx, mt.Announce, [][20]byte{mt.InfoHash})
				return r[mt.InfoHash], err
			}

			if !tc.inQuery {
				if !strings.HasPrefix(line, "tracker-error") || !strings.Contains(line, "SSRF") {
					t.Fatalf("libtorrent with XBT's /KEY/announce on 127.0.0.1 said %q; want its SSRF mitigation refusal", line)
				}
				// Nothing reached the tracker.
				st, err := scrape()
				if err != nil || st != (trackerclient.ScrapeStats{}) {
					t.Fatalf("scrape after the refusal: %+v, %v; want an empty swarm", st, err)
				}
				return
			}

			if !strings.HasPrefix(line, "tracker-reply") {
				t.Fatalf("libtorrent's announce to %s was refused: %q", mt.Announce, line)
			}
			sctx, scancel := context.WithTimeout(ctx, 60*time.Second)
			if _, err := c.waitLine(sctx, "seeding", func(l string) bool { return l == "seeding" }); err != nil {
				t.Fatal(err)
			}
			scancel()
			// The seeder is in the tracker's swarm (scrape, with the same
			// key) ...
			err = eventually(ctx, 15*time.Second, 250*time.Millisecond, func() error {
				st, err := scrape()
				if err == nil && st.Complete != 1 {
					err = fmt.Errorf("scrape says %+v, want 1 seeder", st)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			// ... and in the catalog's accounting.
			err = eventually(ctx, 10*time.Second, 250*time.Millisecond, func() error {
				var u struct {
					Seeding int `json:"seeding"`
				}
				out := srv.gale("", "user", "show", "alice", "--json")
				if err := json.Unmarshal([]byte(out), &u); err != nil {
					return fmt.Errorf("gale user show alice --json: %v: %s", err, out)
				}
				if u.Seeding != 1 {
					return fmt.Errorf("alice seeds %d torrents, want 1", u.Seeding)
				}
				return nil
			})
			if err != nil {
				t.Error(err)
			}
			if errs := (&client{c}).trackerErrors(); len(errs) > 0 {
				t.Errorf("tracker errors: %q", errs)
			}
			// The access log shows the announces without the key.
			log := srv.log()
			if !strings.Contains(log, "passkey=<key>") {
				t.Errorf("the access log shows no redacted announce")
			}
			if strings.Contains(log, key) {
				t.Errorf("the server's output contains alice's key")
			}
		})
	}
}
