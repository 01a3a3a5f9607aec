package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestParseAnnounceURLs(t *testing.T) {
	const h1, h2 = "1111111111111111111111111111111111111111", "2222222222222222222222222222222222222222"
	k := strings.Repeat("a", 32)
	tests := []struct {
		name    string
		in      string
		hashes  int
		paths   []int // per hash
		wantErr string
	}{
		{"ok", "# keys\n" + h1 + " udp://127.0.0.1:1/" + k + "/announce\n\n" + h2 + " udp://127.0.0.1:1/" + k + "/announce\n" +
			h1 + " udp://127.0.0.1:1/" + k + "/announce?x=1\n", 2, []int{2, 1}, ""},
		{"http", h1 + " http://localhost:8080/" + k + "/announce\n", 1, []int{1}, ""},
		{"no url", h1 + "\n", 0, nil, "INFOHASH URL"},
		{"short hash", "abc udp://127.0.0.1:1/x\n", 0, nil, "INFOHASH URL"},
		{"bad hex", strings.Repeat("z", 40) + " udp://127.0.0.1:1/x\n", 0, nil, "invalid byte"},
		{"bad scheme", h1 + " wss://127.0.0.1:1/x\n", 0, nil, "scheme"},
		{"two hosts", h1 + " udp://127.0.0.1:1/x\n" + h1 + " udp://127.0.0.1:2/x\n", 0, nil, "every URL must be on udp://127.0.0.1:1"},
		{"two schemes", h1 + " udp://127.0.0.1:1/x\n" + h1 + " http://127.0.0.1:1/x\n", 0, nil, "every URL must be"},
		{"no path", h1 + " udp://127.0.0.1:1\n", 0, nil, "no path"},
		{"empty", "# nothing\n", 0, nil, "no announce URLs"},
		{"long line", h1 + " udp://127.0.0.1:1/" + strings.Repeat("x", 5000) + "\n", 0, nil, "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseAnnounceURLs(strings.NewReader(tt.in), "keys")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got.hashes) != tt.hashes || len(got.paths) != tt.hashes {
				t.Fatalf("%d hashes, want %d", len(got.hashes), tt.hashes)
			}
			for i, n := range tt.paths {
				if len(got.paths[i]) != n {
					t.Fatalf("hash %d: %d URLs, want %d", i, len(got.paths[i]), n)
				}
			}
			if got.hashes[0][0] != 0x11 || !strings.HasPrefix(got.paths[0][0], "/"+k+"/announce") {
				t.Fatalf("first entry %x %q", got.hashes[0], got.paths[0][0])
			}
		})
	}
	// Peers of a torrent take its URLs in turn.
	kd, _ := parseAnnounceURLs(strings.NewReader("# two torrents, two and one keys\n"+
		h1+" udp://h:1/k1/announce\n"+h1+" udp://h:1/k2/announce\n"+h2+" udp://h:1/k3/announce\n"), "keys")
	pop := &benchPopulation{hashes: kd.hashes, peers: 6, keyed: kd}
	var got []string
	for i := range pop.peers {
		got = append(got, pop.urlTarget(i))
	}
	if strings.Join(got, " ") != "/k1/announce /k3/announce /k2/announce /k3/announce /k1/announce /k3/announce" {
		t.Fatalf("targets %q", got)
	}
	if line := string(pop.appendRequestLine(nil, 1)); line != "GET /k3/announce?" {
		t.Fatalf("request line %q", line)
	}
}

func TestBenchKeysUsage(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	os.WriteFile(keys, []byte(strings.Repeat("1", 40)+" udp://127.0.0.1:1/"+strings.Repeat("a", 32)+"/announce\n"), 0o600)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no site", []string{"bench-keys", "--data", filepath.Join(dir, "none")}, 1, "announce URLs"},
		{"bad users", []string{"bench-keys", "--users", "0"}, 2, "--users"},
		{"bad scheme", []string{"bench-keys", "--scheme", "wss"}, 2, "--scheme"},
		{"bench with url", []string{"bench", "--announce-urls", keys, "udp://127.0.0.1:1/announce"}, 2, "no URL"},
		{"bench with --url", []string{"bench", "--announce-urls", keys, "--url", "udp://127.0.0.1:1/announce"}, 2, "no URL"},
		{"bench with infohashes", []string{"bench", "--announce-urls", keys, "--infohashes", keys}, 2, "--infohashes"},
		{"bench scrape", []string{"bench", "--announce-urls", keys, "--mode", "scrape"}, 2, "announce only"},
		{"bench wrk", []string{"bench", "--announce-urls", keys, "--wrk-lua", filepath.Join(dir, "x.lua")}, 2, "--wrk-lua"},
		{"bench missing file", []string{"bench", "--announce-urls", filepath.Join(dir, "nope")}, 1, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, context.Background(), tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, stderr, tt.code, tt.want)
			}
		})
	}
}

// TestBenchPrivate prepares a running `gale serve` with bench-keys and
// loads its private tracker with personal keys over UDP and HTTP: every
// announce is admitted and accounted; wrong keys are all refused.
func TestBenchPrivate(t *testing.T) {
	data := t.TempDir()
	site := []string{"--data", data}
	srv := startServe(t, append([]string{"--http", "127.0.0.1:0", "--udp", "127.0.0.1:0"}, site...)...)
	dir := t.TempDir()
	files := map[string]string{}
	for _, scheme := range []string{"udp", "http"} {
		files[scheme] = filepath.Join(dir, "keys-"+scheme)
		mustSite(t, "", append([]string{"bench-keys", "--users", "3", "--torrents", "4", "--scheme", scheme, "-o", files[scheme]}, site...)...)
	}
	// Running it again reuses the users and torrents: the same file.
	again := filepath.Join(dir, "again")
	mustSite(t, "", append([]string{"bench-keys", "--users", "3", "--torrents", "4", "-o", again}, site...)...)
	a, _ := os.ReadFile(files["udp"])
	b, _ := os.ReadFile(again)
	lines := strings.Split(strings.TrimSpace(string(a)), "\n")
	if len(lines) != 12 || string(a) != string(b) || !strings.Contains(lines[0], " udp://"+srv.udp+"/") {
		t.Fatalf("keys file (%d lines, same again: %v):\n%s", len(lines), string(a) == string(b), a)
	}

	bench := func(file string, extra ...string) (int, benchResult, string) {
		t.Helper()
		args := append([]string{"bench", "--announce-urls", file, "--peers", "24", "--duration", "300ms", "--json"}, extra...)
		code, out, stderr := runCLI(t, context.Background(), args...)
		var r benchResult
		if code == 0 {
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
		}
		return code, r, stderr
	}
	// The new torrents reach the running tracker within a second.
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		if _, r, _ := bench(files["udp"], "--duration", "20ms"); r.Responses > 0 && r.Errors == 0 {
			break
		}
		if time.Since(start) > 3*time.Second {
			t.Fatal("the torrents of bench-keys did not reach the tracker")
		}
	}
	for _, scheme := range []string{"udp", "http"} {
		code, r, stderr := bench(files[scheme], "--concurrency", "8")
		if code != 0 || r.Responses == 0 || r.Errors != 0 || r.Timeouts != 0 || r.Torrents != 4 {
			t.Fatalf("%s: exit %d, %d responses, %d errors (%s), %d timeouts, %d torrents; %s",
				scheme, code, r.Responses, r.Errors, r.ErrorSample, r.Timeouts, r.Torrents, stderr)
		}
	}
	// Every bench user announced (peer i uses its torrent's keys in turn)
	// and is accounted: seeders of the bench are seeding.
	for _, u := range []string{"bench0", "bench1", "bench2"} {
		waitUser(t, site, u, 5*time.Second, func(r userReport) bool { return r.Seeding+r.Leeching > 0 })
	}

	// Wrong keys: one hex digit changed in each.
	bad := filepath.Join(dir, "bad")
	var sb strings.Builder
	keyRE := regexp.MustCompile(`[0-9a-f]{32}`)
	for _, l := range lines {
		loc := keyRE.FindStringIndex(l[41:]) // after the info hash
		if loc == nil {
			t.Fatalf("no key in %q", l)
		}
		i := 41 + loc[1] - 1
		c := byte('0')
		if l[i] == '0' {
			c = '1'
		}
		sb.WriteString(l[:i] + string(c) + l[i+1:] + "\n")
	}
	os.WriteFile(bad, []byte(sb.String()), 0o600)
	code, r, stderr := bench(bad)
	if code != 0 || r.Responses != 0 || r.Errors == 0 || !strings.Contains(r.ErrorSample, "invalid announce key") {
		t.Fatalf("wrong keys: exit %d, %d responses, %d errors (%s); %s", code, r.Responses, r.Errors, r.ErrorSample, stderr)
	}
}
