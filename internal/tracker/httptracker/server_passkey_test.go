package httptracker

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gale-bt/gale/internal/tracker"
)

const goodKey = "0000002a0123456789abcdef01234567"

// keyForm builds a tracker URL path with its query for action ("announce"
// or "scrape"), key and the BEP 3 parameters q, in one of the forms
// tracker.ParsePath reads.
type keyForm struct {
	name     string
	build    func(action, key, q string) string
	redacted string // prefix of the logged target
}

var keyForms = []keyForm{
	{"query first", func(a, k, q string) string { return "/" + a + "?passkey=" + k + "&" + q }, "/announce?passkey=<key>&info_hash="},
	{"query last", func(a, k, q string) string { return "/" + a + "?" + q + "&passkey=" + k }, "/announce?info_hash="},
	{"xbt path", func(a, k, q string) string { return "/" + k + "/" + a + "?" + q }, "/<key>/announce?info_hash="},
	{"key after action", func(a, k, q string) string { return "/" + a + "/" + k + "?" + q }, "/announce/<key>?info_hash="},
	{"path and query", func(a, k, q string) string { return "/" + k + "/" + a + "?passkey=" + k + "&" + q }, "/<key>/announce?passkey=<key>&"},
}

// TestPasskeyForms announces and scrapes with the key in every form, over
// the fast path and over the net/http entry point (ServeHTTP), and checks
// that no form of a key, good or bad, reaches the access log.
func TestPasskeyForms(t *testing.T) {
	var mu sync.Mutex
	var targets []string
	logged := func(a Access) { mu.Lock(); targets = append(targets, a.Target); mu.Unlock() }
	fast, tr := testServer(t, "127.0.0.1:0", tracker.Config{Policy: keyOnly{}}, Config{AccessLog: logged})

	// The same tracker mounted in a net/http server.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: New(Config{Tracker: tr, AccessLog: logged})}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	slow := "http://" + ln.Addr().String()

	c := &http.Client{Timeout: 5 * time.Second}
	q := "info_hash=" + esc(testHash) + "&peer_id=-GL0001-000000000001&port=1&left=1"
	// ServeHTTP logs tracker requests only; Serve logs every request.
	for _, base := range []struct {
		name, url string
		logged    int
	}{{"fast", fast, 6}, {"net/http", slow, 4}} {
		for _, f := range keyForms {
			t.Run(base.name+"/"+f.name, func(t *testing.T) {
				mu.Lock()
				targets = nil
				mu.Unlock()
				if body := get(t, c, base.url+f.build("announce", goodKey, q)); strings.Contains(body, "failure") {
					t.Fatalf("good key refused: %q", body)
				}
				if body := get(t, c, base.url+f.build("announce", "wrongkey", q)); !strings.Contains(body, "unknown passkey") {
					t.Fatalf("bad key: %q", body)
				}
				if body := get(t, c, base.url+f.build("scrape", goodKey, "info_hash="+esc(testHash))); !strings.Contains(body, "8:completei0e10:downloadedi0e10:incompletei1e") {
					t.Fatalf("scrape with key: %q", body)
				}
				if body := get(t, c, base.url+f.build("scrape", "wrongkey", "info_hash="+esc(testHash))); body != "d5:filesdee" {
					t.Fatalf("scrape with bad key: %q", body)
				}
				// Not a tracker request: a malformed key goes to the
				// pages, which know no such path.
				for _, bad := range []string{"bad%20key", strings.Repeat("k", tracker.MaxPasskeyLen+1)} {
					resp, err := c.Get(base.url + f.build("announce", bad, q))
					if err != nil {
						t.Fatal(err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusNotFound {
						t.Errorf("malformed key %.20q: %s, want 404", bad, resp.Status)
					}
				}
				got := waitTargets(&mu, &targets, base.logged)
				for _, tg := range got {
					for _, k := range []string{goodKey, "wrongkey", "bad%20key", "kkkkkkkkkkkk"} {
						if strings.Contains(tg, k) {
							t.Errorf("key %.12q in access log: %s", k, tg)
						}
					}
				}
				if len(got) != base.logged || !strings.HasPrefix(got[0], f.redacted) {
					t.Fatalf("logged targets %q; want %d, the first starting %q", got, base.logged, f.redacted)
				}
			})
		}
	}

	// Two different keys in one request: not a tracker request.
	resp, err := c.Get(fast + "/" + goodKey + "/announce?passkey=wrongkey&" + q)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("conflicting keys: %s, want 404", resp.Status)
	}
}

// waitTargets waits until n entries are logged (they are logged just
// after the answer is written) and returns them.
func waitTargets(mu *sync.Mutex, targets *[]string, n int) []string {
	deadline := time.Now().Add(2 * time.Second)
	for {
		mu.Lock()
		got := append([]string(nil), *targets...)
		mu.Unlock()
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRedactTarget(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"no key", "/announce?info_hash=x&port=1", "/announce?info_hash=x&port=1"},
		{"xbt path", "/k/announce?port=1", "/<key>/announce?port=1"},
		{"xbt scrape", "/k/scrape", "/<key>/scrape"},
		{"key after action", "/announce/k?port=1", "/announce/<key>?port=1"},
		{"key after scrape", "/scrape/k", "/scrape/<key>"},
		{"query key", "/announce?passkey=k", "/announce?passkey=<key>"},
		{"query key among others", "/announce?port=1&passkey=k&left=0", "/announce?port=1&passkey=<key>&left=0"},
		{"query key without value", "/announce?passkey&x", "/announce?passkey=<key>&x"},
		{"several query keys", "/scrape?passkey=a&passkey=b", "/scrape?passkey=<key>&passkey=<key>"},
		{"malformed keys too", "/a%20b/announce?passkey=%00%01", "/<key>/announce?passkey=<key>"},
		{"all at once", "/k/announce?passkey=k", "/<key>/announce?passkey=<key>"},
		{"similar names kept", "/announce?passkeys=1&xpasskey=2", "/announce?passkeys=1&xpasskey=2"},
		{"empty pairs kept", "/announce?&&passkey=k&", "/announce?&&passkey=<key>&"},
		{"other path", "/stats.json", "/stats.json"},
		{"other two-segment path", "/feed/abc", "/feed/abc"},
		{"three segments", "/a/b/announce", "/a/b/announce"},
		{"root", "/", "/"},
		{"empty", "", ""},
		{"only query", "?passkey=k", "?passkey=<key>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := redactTarget([]byte(tc.in)); got != tc.want {
				t.Fatalf("redactTarget(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
