package web

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/gale-bt/gale/internal/catalog"
	"github.com/gale-bt/gale/internal/tracker"
	"github.com/gale-bt/gale/metainfo"
)

// TestPersonalAnnounceURL checks both key forms, and that the tracker
// reads the key back from each URL and from the scrape URL BEP 48
// derives from it (the last "announce" of the path becomes "scrape").
func TestPersonalAnnounceURL(t *testing.T) {
	const key = "0000002a0123456789abcdef01234567"
	tests := []struct {
		name, base string
		form       KeyForm
		want       string
	}{
		{"default is the path (XBT)", "http://127.0.0.1:8080", "", "http://127.0.0.1:8080/" + key + "/announce"},
		{"query", "http://127.0.0.1:8080", KeyInQuery, "http://127.0.0.1:8080/announce?passkey=" + key},
		{"query, udp", "udp://[::1]:6969", KeyInQuery, "udp://[::1]:6969/announce?passkey=" + key},
		{"query, prefix", "https://example.org/t/", KeyInQuery, "https://example.org/t/announce?passkey=" + key},
		{"path", "http://127.0.0.1:8080", KeyInPath, "http://127.0.0.1:8080/" + key + "/announce"},
		{"path, udp", "udp://example.org:6969", KeyInPath, "udp://example.org:6969/" + key + "/announce"},
		{"path, prefix", "https://example.org/t", KeyInPath, "https://example.org/t/" + key + "/announce"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := PersonalAnnounceURL(tc.base, key, tc.form)
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			u, err := url.Parse(got)
			b, err2 := url.Parse(tc.base)
			if err != nil || err2 != nil {
				t.Fatal(err, err2)
			}
			// The tracker sees the path after the base's prefix (a
			// reverse proxy strips it).
			target := strings.TrimPrefix(u.RequestURI(), strings.TrimRight(b.Path, "/"))
			scrape := target
			if i := strings.LastIndex(scrape, "/announce"); i >= 0 {
				scrape = scrape[:i] + "/scrape" + scrape[i+len("/announce"):]
			}
			for _, c := range []struct {
				target string
				action tracker.Action
			}{{target, tracker.ActionAnnounce}, {scrape, tracker.ActionScrape}} {
				k, a, ok := tracker.ParsePath([]byte(c.target))
				if !ok || string(k) != key || a != c.action {
					t.Errorf("tracker reads %q as %q %v %v", c.target, k, a, ok)
				}
			}
		})
	}
}

func TestParseKeyForm(t *testing.T) {
	for in, want := range map[string]KeyForm{"": KeyInPath, "query": KeyInQuery, "path": KeyInPath} {
		if got, err := ParseKeyForm(in); err != nil || got != want {
			t.Errorf("ParseKeyForm(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"Path", "cookie", " query"} {
		if _, err := ParseKeyForm(bad); err == nil {
			t.Errorf("ParseKeyForm(%q) succeeded", bad)
		}
	}
}

// TestAnnounceKeyFormQuery: with KeyInQuery the site hands out
// BASE/announce?passkey=KEY on every announce URL of the .torrent.
func TestAnnounceKeyFormQuery(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AnnounceKeyForm = KeyInQuery })
	alice := e.user("alice", false)
	c := e.client()
	c.login("alice")
	tor := e.uploaded(c.upload(torrentFile(t, "queryform.txt"), nil))
	r := c.get(fmt.Sprintf("/torrent/%d/download", tor.ID))
	mi, err := metainfo.Parse([]byte(r.body))
	if err != nil {
		t.Fatalf("download: %d %v", r.status, err)
	}
	key := catalog.Passkey(e.secret(), 0, uint32(alice.ID), tor.SwarmHash())
	want := []string{"http://tracker.test:6969/announce?passkey=" + key, "udp://tracker.test:6969/announce?passkey=" + key}
	if mi.Announce != want[0] || strings.Join(mi.Trackers(), " ") != strings.Join(want, " ") {
		t.Fatalf("announce %q, trackers %q; want %q", mi.Announce, mi.Trackers(), want)
	}
}
