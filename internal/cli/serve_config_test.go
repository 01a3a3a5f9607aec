package cli

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gale-bt/gale/internal/catalog/web"
)

func TestServeSettings(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	full := write("full.toml", `
data = "/srv/gale"
udp = ["127.0.0.1:7000", "[::1]:7000"]
site-name = "Example"
site-url = "https://example.org/"
announce-urls = ["https://example.org", "udp://example.org:7000"]
announce-key-form = "query"
interval = "10m"
min-interval = 60
peer-ttl = "20m"
numwant-max = 80
state = ""
secure-cookies = true
trusted-proxy = "10.0.0.0/8"
max-upload-size = "2MiB"
session-ttl = "48h"
flag-rate = 1048576
log-format = "json"
access-log = true
`)
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
		usage   bool
		check   func(t *testing.T, s *serveSettings)
	}{
		{"defaults", nil, "", false, func(t *testing.T, s *serveSettings) {
			if s.Data != "gale-data" || s.dsn() != filepath.Join("gale-data", "gale.db") || s.HTTP.String() != ":8080" ||
				s.UDP.String() != ":6969" || s.State != filepath.Join("gale-data", "tracker.state") ||
				s.peerTTL() != 45*time.Minute || s.FlagRate != nil || s.LogFormat != "text" || s.configKeyForm() != web.KeyInPath {
				t.Errorf("%+v", s)
			}
		}},
		{"flags", []string{"--data", "/d", "--http", "127.0.0.1:1", "--http=[::1]:1", "--udp", "", "--db", "postgres://u@h/db"}, "", false,
			func(t *testing.T, s *serveSettings) {
				if s.HTTP.String() != "127.0.0.1:1,[::1]:1" || len(s.UDP.vals) != 0 || s.dsn() != "postgres://u@h/db" ||
					s.State != "/d/tracker.state" {
					t.Errorf("%+v", s)
				}
			}},
		{"config file", []string{"--config", full}, "", false, func(t *testing.T, s *serveSettings) {
			if s.Data != "/srv/gale" || s.UDP.String() != "127.0.0.1:7000,[::1]:7000" || s.SiteName != "Example" ||
				len(s.AnnounceURLs) != 2 || s.Interval != seconds(10*time.Minute) || s.MinInterval != seconds(time.Minute) ||
				s.peerTTL() != 20*time.Minute || s.NumWantMax != 80 || s.State != "" || !s.SecureCookies ||
				s.TrustedProxy.String() != "10.0.0.0/8" || s.MaxUploadSize != 2<<20 || s.SessionTTL != seconds(48*time.Hour) ||
				s.FlagRate == nil || *s.FlagRate != 1<<20 || s.LogFormat != "json" || !s.AccessLog ||
				s.configKeyForm() != web.KeyInQuery {
				t.Errorf("%+v", s)
			}
		}},
		{"flags win over the file", []string{"--config", full, "--data", "/other", "--udp", "127.0.0.1:9"}, "", false,
			func(t *testing.T, s *serveSettings) {
				if s.Data != "/other" || s.UDP.String() != "127.0.0.1:9" || s.State != "" {
					t.Errorf("%+v", s)
				}
			}},
		{"state follows --data", []string{"--config", write("db.toml", "db = \"sqlite:///x/g.db\"\n"), "--data", "/e"}, "", false,
			func(t *testing.T, s *serveSettings) {
				if s.State != "/e/tracker.state" || s.dsn() != "sqlite:///x/g.db" || sqlitePath(s.dsn()) != "/x/g.db" {
					t.Errorf("%+v", s)
				}
			}},
		{"unknown key", []string{"--config", write("bad.toml", "intervall = 5\n")}, "unknown setting", false, nil},
		{"missing file", []string{"--config", filepath.Join(dir, "none.toml")}, "no such file", false, nil},
		{"bad size", []string{"--config", write("size.toml", "max-upload-size = \"lots\"\n")}, "invalid size", false, nil},
		{"negative size", []string{"--config", write("neg.toml", "flag-rate = -1\n")}, "negative", false, nil},
		{"bad log format", []string{"--config", write("log.toml", "log-format = \"xml\"\n")}, "text or json", true, nil},
		{"bad site url", []string{"--config", write("url.toml", "site-url = \"example.org\"\n")}, "site-url", true, nil},
		{"site url with query", []string{"--config", write("urlq.toml", "site-url = \"https://x.org/?a=1\"\n")}, "site-url", true, nil},
		{"bad announce url", []string{"--config", write("ann.toml", "announce-urls = [\"wss://x.org\"]\n")}, "announce-urls", true, nil},
		{"bad announce key form", []string{"--config", write("form.toml", "announce-key-form = \"cookie\"\n")}, "announce-key-form", true, nil},
		{"min above interval", []string{"--config", write("min.toml", "interval = 60\nmin-interval = 61\n")}, "min-interval", true, nil},
		{"short peer ttl", []string{"--config", write("ttl.toml", "peer-ttl = \"10ms\"\n")}, "peer-ttl", true, nil},
		{"bad proxy", []string{"--config", write("proxy.toml", "trusted-proxy = \"example.org\"\n")}, "trusted-proxy", true, nil},
		{"empty data", []string{"--data", ""}, "--data", true, nil},
		{"bad flag", []string{"--state", "x"}, "state", true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, pos, err := loadSiteSettings(tc.args, serveFlags)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if _, isUsage := err.(*usageError); isUsage != tc.usage {
					t.Fatalf("usage error = %v, want %v (%v)", isUsage, tc.usage, err)
				}
				return
			}
			if err != nil || len(pos) != 0 {
				t.Fatal(err, pos)
			}
			tc.check(t, s)
		})
	}
}

func TestSiteBases(t *testing.T) {
	tcp := func(s string) net.Addr { a, _ := net.ResolveTCPAddr("tcp", s); return a }
	udp := func(s string) net.Addr { a, _ := net.ResolveUDPAddr("udp", s); return a }
	for _, tc := range []struct {
		name         string
		s            serveSettings
		http, udp    net.Addr
		site         string
		announce     []string
		personalHTTP string
	}{
		{"loopback", serveSettings{}, tcp("127.0.0.1:8080"), udp("127.0.0.1:6969"),
			"http://127.0.0.1:8080", []string{"http://127.0.0.1:8080", "udp://127.0.0.1:6969"}, "http://127.0.0.1:8080/KEY/announce"},
		{"wildcard is localhost", serveSettings{}, tcp("[::]:8080"), nil,
			"http://localhost:8080", []string{"http://localhost:8080"}, "http://localhost:8080/KEY/announce"},
		{"IPv6", serveSettings{}, tcp("[::1]:80"), udp("[::1]:6969"),
			"http://[::1]:80", []string{"http://[::1]:80", "udp://[::1]:6969"}, "http://[::1]:80/KEY/announce"},
		{"site url", serveSettings{SiteURL: "https://example.org/t/"}, tcp("0.0.0.0:8080"), udp("0.0.0.0:6969"),
			"https://example.org/t", []string{"https://example.org/t", "udp://example.org:6969"}, "https://example.org/t/KEY/announce"},
		{"announce urls", serveSettings{SiteURL: "https://example.org", AnnounceURLs: []string{"http://t.example.org:80/", "udp://t.example.org:1"}},
			tcp("0.0.0.0:8080"), udp("0.0.0.0:6969"),
			"https://example.org", []string{"http://t.example.org:80/", "udp://t.example.org:1"}, "http://t.example.org:80/KEY/announce"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			site, announce := tc.s.siteBases(tc.http, tc.udp)
			if site != tc.site || !slices.Equal(announce, tc.announce) {
				t.Fatalf("siteBases = %q, %q; want %q, %q", site, announce, tc.site, tc.announce)
			}
			fn, err := personalAnnounce(announce)
			if err != nil {
				t.Fatal(err)
			}
			if got := fn("KEY"); got[0] != tc.personalHTTP || len(got) != len(announce) {
				t.Fatalf("personal URLs %q, want %q first", got, tc.personalHTTP)
			}
			// The query form on request.
			fn, err = personalAnnounceForm(announce, web.KeyInQuery)
			if err != nil {
				t.Fatal(err)
			}
			wantQuery := strings.Replace(tc.personalHTTP, "/KEY/announce", "/announce?passkey=KEY", 1)
			if got := fn("KEY"); got[0] != wantQuery || len(got) != len(announce) {
				t.Fatalf("personal URLs in query form %q, want %q first", got, wantQuery)
			}
		})
	}
}

func TestTorrentFileName(t *testing.T) {
	for in, want := range map[string]string{
		"Some.Movie (2024)":      "Some.Movie (2024).torrent",
		"../../etc/passwd":       "_._.._etc_passwd.torrent",
		".hidden":                "_hidden.torrent",
		"":                       "torrent.torrent",
		"a\x00b\nc":              "a_b_c.torrent",
		"bad\xffutf8":            "bad_utf8.torrent",
		"日本語":                    "日本語.torrent",
		strings.Repeat("x", 300): strings.Repeat("x", 100) + ".torrent",
	} {
		if got := torrentFileName(in); got != want {
			t.Errorf("torrentFileName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestAnnounceKeyForm: the admin commands use announce-key-form from the
// config, else the form the running `gale serve` wrote to serve.json,
// else the query form.
func TestAnnounceKeyForm(t *testing.T) {
	for _, tc := range []struct {
		name    string
		config  string
		runtime string // serve.json, "" for none
		want    web.KeyForm
	}{
		{"nothing", "", "", web.KeyInPath},
		{"from serve.json", "", `{"announce_urls": ["http://x"], "announce_key_form": "query"}`, web.KeyInQuery},
		{"older serve.json", "", `{"announce_urls": ["http://x"]}`, web.KeyInPath},
		{"damaged serve.json", "", `{"announce_key_form": `, web.KeyInPath},
		{"unknown form in serve.json", "", `{"announce_key_form": "cookie"}`, web.KeyInPath},
		{"config wins", "path", `{"announce_key_form": "query"}`, web.KeyInPath},
		{"config alone", "query", "", web.KeyInQuery},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &serveSettings{Data: t.TempDir(), AnnounceKeyForm: tc.config}
			if tc.runtime != "" {
				if err := os.WriteFile(filepath.Join(s.Data, runtimeFile), []byte(tc.runtime), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if got := s.announceKeyForm(); got != tc.want {
				t.Fatalf("announceKeyForm() = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestIdleWriteSetting checks idle-write in the config file and the value
// gale serve hands to privtracker.Config.IdleWrite (0: its default;
// negative: off).
func TestIdleWriteSetting(t *testing.T) {
	dir := t.TempDir()
	for i, tc := range []struct {
		name, toml string
		want       time.Duration
		wantErr    string
	}{
		{"unset", ``, 0, ""},
		{"duration", `idle-write = "45s"`, 45 * time.Second, ""},
		{"minutes", `idle-write = "2m"`, 2 * time.Minute, ""},
		{"seconds", `idle-write = 90`, 90 * time.Second, ""},
		{"zero string", `idle-write = "0"`, -1, ""},
		{"zero number", `idle-write = 0`, -1, ""},
		{"off", `idle-write = "off"`, -1, ""},
		{"OFF", `idle-write = " OFF "`, -1, ""},
		{"negative", `idle-write = "-5s"`, 0, "negative"},
		{"negative number", `idle-write = -5`, 0, "out of range"},
		{"huge number", `idle-write = 9223372036854775807`, 0, "out of range"},
		{"garbage", `idle-write = "soon"`, 0, "invalid duration"},
		{"bool", `idle-write = true`, 0, "want a duration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, fmt.Sprintf("idle%d.toml", i))
			if err := os.WriteFile(p, []byte(tc.toml+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			s, _, err := loadSiteSettings([]string{"--config", p}, serveFlags)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), p) {
					t.Fatalf("err = %v, want %q about %s", err, tc.wantErr, p)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := s.IdleWrite.config(); got != tc.want {
				t.Fatalf("IdleWrite %v, want %v", got, tc.want)
			}
		})
	}
}
