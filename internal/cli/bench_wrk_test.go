package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// wrkQueries returns the query strings embedded in a script written by
// --wrk-lua, and the script's text.
func wrkQueries(t *testing.T, path string) ([]string, string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	_, rest, ok := strings.Cut(s, "local queries = [==[\n")
	body, _, ok2 := strings.Cut(rest, "]==]")
	if !ok || !ok2 {
		t.Fatalf("no query block in the script:\n%.500s", s)
	}
	return strings.Split(strings.TrimSuffix(body, "\n"), "\n"), s
}

func TestWrkScript(t *testing.T) {
	dir := t.TempDir()
	hashes := benchInfoHashes(7)
	pop := &benchPopulation{hashes: hashes, peers: 40, seeders: 0.25}

	t.Run("announce", func(t *testing.T) {
		path := filepath.Join(dir, "a.lua")
		code, _, stderr := runCLI(t, context.Background(), "bench", "--wrk-lua", path, "--url",
			"http://127.0.0.1:6969/x/announce?passkey=abc", "--torrents", "7", "--peers", "40", "--numwant", "33")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		qs, script := wrkQueries(t, path)
		if len(qs) != pop.peers {
			t.Fatalf("%d requests, want %d", len(qs), pop.peers)
		}
		for _, want := range []string{
			"local prefix = [==[GET /x/announce?passkey=abc&]==]",
			"Host: 127.0.0.1:6969<CRLF>", "Connection: close<CRLF><CRLF>]==]",
			"local event = [==[&event=started]==]",
			`"torrents":7,"peers":40`, "function done(", "function request(",
		} {
			if !strings.Contains(script, want) {
				t.Errorf("script lacks %q", want)
			}
		}
		for i, q := range qs {
			v, err := url.ParseQuery(q)
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			left := "1073741824"
			if pop.seeder(i) {
				left = "0"
			}
			id := pop.peerID(i)
			for k, want := range map[string]string{
				"info_hash": string(hashes[i%7][:]), "peer_id": string(id[:]),
				"port": strconv.Itoa(int(pop.port(i))), "left": left, "numwant": "33",
				"compact": "1", "key": strconv.FormatUint(uint64(i), 16),
			} {
				if got := v.Get(k); got != want {
					t.Fatalf("request %d: %s = %q, want %q", i, k, got, want)
				}
			}
			if v.Has("event") {
				t.Fatalf("request %d carries an event: %s", i, q)
			}
		}
	})

	t.Run("scrape", func(t *testing.T) {
		path := filepath.Join(dir, "s.lua")
		code, _, stderr := runCLI(t, context.Background(), "bench", "--wrk-lua", path, "--url",
			"http://127.0.0.1:6969/announce", "--torrents", "7", "--mode", "scrape", "--scrape-hashes", "3", "--keepalive")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		qs, script := wrkQueries(t, path)
		if len(qs) != 7 {
			t.Fatalf("%d requests, want 7", len(qs))
		}
		if !strings.Contains(script, "GET /scrape?") || !strings.Contains(script, "Connection: keep-alive") ||
			!strings.Contains(script, "local event = [==[]==]") {
			t.Errorf("not a keep-alive scrape script:\n%.700s", script)
		}
		v, _ := url.ParseQuery(qs[6])
		if got := v["info_hash"]; len(got) != 3 || got[0] != string(hashes[6][:]) || got[1] != string(hashes[0][:]) {
			t.Fatalf("scrape 6 asks for %q", got)
		}
	})

	refusals := []struct {
		name string
		args []string
		want string
	}{
		{"udp", []string{"--url", "udp://127.0.0.1:6969/announce"}, "http://"},
		{"too many peers", []string{"--url", "http://127.0.0.1:6969/announce", "--peers", "300000"}, "at most"},
		{"no announce path", []string{"--url", "http://127.0.0.1:6969/x", "--mode", "scrape"}, "scrape"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "refused.lua")
			code, _, stderr := runCLI(t, context.Background(), append([]string{"bench", "--wrk-lua", path}, tt.args...)...)
			if code == 0 || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d, stderr %q; want a failure mentioning %q", code, stderr, tt.want)
			}
			if _, err := os.Stat(path); err == nil {
				t.Error("a refused script was left behind")
			}
		})
	}
}

// TestWrkAgainstGaleTracker runs Debian's wrk with a generated script
// against `gale tracker`: every simulated peer must be in the swarms
// afterwards and the JSON result must be complete. wrk is optional (the
// benchmark script installs it), so the test skips without it.
func TestWrkAgainstGaleTracker(t *testing.T) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Skip("wrk not found")
	}
	addrs := startBenchTracker(t)
	u := "http://" + addrs["http"] + "/announce"
	script := filepath.Join(t.TempDir(), "load.lua")
	if code, _, stderr := runCLI(t, context.Background(), "bench", "--wrk-lua", script, "--url", u,
		"--torrents", "20", "--peers", "300"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, wrk, "-t2", "-c4", "-d1s", "-s", script, u, "--", "2").CombinedOutput()
	if err != nil {
		t.Fatalf("wrk: %v\n%s", err, out)
	}
	_, js, ok := strings.Cut(string(out), "\n{\"load\"")
	if !ok {
		t.Fatalf("no JSON result in wrk's output:\n%s", out)
	}
	var r struct {
		Load      string  `json:"load"`
		Responses uint64  `json:"responses"`
		Rate      float64 `json:"responses_per_second"`
		Errors    uint64  `json:"errors"`
		Read      uint64  `json:"errors_read"`
		P50       uint64  `json:"p50_us"`
	}
	if err := json.Unmarshal([]byte(`{"load"`+js), &r); err != nil {
		t.Fatalf("wrk result: %v\n%s", err, out)
	}
	if r.Load != "wrk" || r.Responses < 300 || r.Rate <= 0 || r.Errors != 0 || r.Read != 0 || r.P50 == 0 {
		t.Fatalf("implausible result %+v\n%s", r, out)
	}
	resp, err := http.Get("http://" + addrs["http"] + "/stats.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Swarms, Peers, Seeders int
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if st.Swarms != 20 || st.Peers != 300 || st.Seeders != 75 {
		t.Fatalf("tracker holds %+v after wrk; want 20 swarms, 300 peers, 75 seeders", st)
	}
	t.Logf("wrk: %d announces, %.0f/s, p50 %dµs", r.Responses, r.Rate, r.P50)
}
