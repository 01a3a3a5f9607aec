package httptracker

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/gale-bt/gale/internal/tracker"
)

var (
	testHash = strings.Repeat("\xaa", 19) + "\x01"
	testPeer = "-TR4060-abcdefghijkl"
)

func esc(s string) string { return url.QueryEscape(s) }

func TestParseQuery(t *testing.T) {
	base := "info_hash=" + esc(testHash) + "&peer_id=" + esc(testPeer) + "&port=6881"
	tests := []struct {
		name    string
		q       string
		scrape  bool
		wantErr error
		check   func(t *testing.T, q *query)
	}{
		{"minimal", base, false, nil, func(t *testing.T, q *query) {
			if q.infoHash != tracker.InfoHash([]byte(testHash)) || string(q.peerID[:]) != testPeer || q.port != 6881 {
				t.Errorf("parsed %+v", q)
			}
			if !q.compact || q.numWant != -1 || q.hasLeft || q.event != tracker.EventNone || q.key != 0 {
				t.Errorf("defaults %+v", q)
			}
		}},
		{"all fields", base + "&uploaded=10&downloaded=20&left=30&event=completed&compact=0&no_peer_id=1&numwant=99&key=ABCD1234&ip=6.6.6.6&trackerid=x&supportcrypto=1", false, nil, func(t *testing.T, q *query) {
			if q.uploaded != 10 || q.downloaded != 20 || q.left != 30 || !q.hasLeft || q.event != tracker.EventCompleted || q.compact || !q.noPeerID || q.numWant != 99 || q.key == 0 {
				t.Errorf("parsed %+v", q)
			}
		}},
		{"lowercase and raw escapes", "info_hash=%aa%AA%aa%aa%aa%aa%aa%aa%aa%aa%aa%aa%aa%aa%aa%aa%aa%aa%aa%01&peer_id=-TR4060-abcdefghijkl&port=1", false, nil, func(t *testing.T, q *query) {
			if q.infoHash != tracker.InfoHash([]byte(testHash)) {
				t.Errorf("info hash %x", q.infoHash)
			}
		}},
		{"plus is space", "info_hash=" + esc(testHash) + "&peer_id=-TR4060-abcdefghij+l&port=1", false, nil, func(t *testing.T, q *query) {
			if string(q.peerID[:]) != "-TR4060-abcdefghij l" {
				t.Errorf("peer id %q", q.peerID)
			}
		}},
		{"events", base + "&event=stopped", false, nil, func(t *testing.T, q *query) {
			if q.event != tracker.EventStopped {
				t.Error(q.event)
			}
		}},
		{"paused reads as none", base + "&event=paused", false, nil, func(t *testing.T, q *query) {
			if q.event != tracker.EventNone {
				t.Error(q.event)
			}
		}},
		{"negative left reads as zero", base + "&left=-1", false, nil, func(t *testing.T, q *query) {
			if q.left != 0 || !q.hasLeft {
				t.Error(q.left)
			}
		}},
		{"huge numwant clamped", base + "&numwant=99999999999", false, nil, func(t *testing.T, q *query) {
			if q.numWant != 1<<20 {
				t.Error(q.numWant)
			}
		}},
		{"empty pairs", "&&" + base + "&&", false, nil, nil},
		{"missing info_hash", "peer_id=" + esc(testPeer) + "&port=1", false, errMissingInfoHash, nil},
		{"missing peer_id", "info_hash=" + esc(testHash) + "&port=1", false, errMissingPeerID, nil},
		{"missing port", "info_hash=" + esc(testHash) + "&peer_id=" + esc(testPeer), false, errMissingPort, nil},
		{"short info_hash", "info_hash=abc&peer_id=" + esc(testPeer) + "&port=1", false, errInfoHash, nil},
		{"long info_hash", "info_hash=" + esc(testHash+"x") + "&peer_id=" + esc(testPeer) + "&port=1", false, errInfoHash, nil},
		{"very long info_hash", "info_hash=" + strings.Repeat("a", 500) + "&peer_id=" + esc(testPeer) + "&port=1", false, errInfoHash, nil},
		{"short peer_id", base + "&peer_id=abc", false, errPeerID, nil},
		{"bad escape", "info_hash=%zz", false, errEscape, nil},
		{"truncated escape", "info_hash=abc%a", false, errEscape, nil},
		{"port too big", base + "&port=65536", false, errPort, nil},
		{"port not a number", base + "&port=http", false, errPort, nil},
		{"empty port", base + "&port=", false, errPort, nil},
		{"overflowing counter", base + "&uploaded=18446744073709551616", false, errNumber, nil},
		{"garbage counter", base + "&left=1e9", false, errNumber, nil},
		{"negative numwant", base + "&numwant=-5", false, errNumber, nil},
		{"scrape several", "info_hash=" + esc(testHash) + "&info_hash=" + esc(strings.Repeat("b", 20)), true, nil, func(t *testing.T, q *query) {
			if q.nHashes != 2 || string(q.hashes[1][:]) != strings.Repeat("b", 20) {
				t.Errorf("hashes %d %x", q.nHashes, q.hashes[:2])
			}
		}},
		{"scrape none", "", true, nil, func(t *testing.T, q *query) {
			if q.nHashes != 0 {
				t.Error(q.nHashes)
			}
		}},
		{"scrape too many", strings.Repeat("info_hash="+esc(testHash)+"&", MaxScrapeHashes+1), true, errTooManyHashes, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var q query
			err := parseQuery([]byte(tc.q), tc.scrape, &q)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && tc.check != nil {
				tc.check(t, &q)
			}
		})
	}
}

func TestParseQueryDoesNotAllocate(t *testing.T) {
	q := []byte("info_hash=" + esc(testHash) + "&peer_id=" + esc(testPeer) + "&port=6881&uploaded=0&downloaded=0&left=100&event=started&compact=1&key=1234abcd&numwant=50")
	var out query
	if n := testing.AllocsPerRun(100, func() { _ = parseQuery(q, false, &out) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

// FuzzParseQuery checks that no query string panics the parser and that
// whatever it accepts is consistent.
func FuzzParseQuery(f *testing.F) {
	f.Add("info_hash="+esc(testHash)+"&peer_id="+esc(testPeer)+"&port=6881&left=0&event=started", false)
	f.Add("info_hash=%aa&info_hash=x", true)
	f.Add("port=%&key=%zz", false)
	f.Add("numwant=18446744073709551615&uploaded=-9", false)
	f.Fuzz(func(t *testing.T, s string, scrape bool) {
		var q query
		err := parseQuery([]byte(s), scrape, &q)
		if err != nil {
			if _, ok := err.(queryError); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		if !scrape && (!q.hasInfoHash || !q.hasPeerID || !q.hasPort) {
			t.Fatalf("accepted without required fields: %q", s)
		}
		if q.nHashes > MaxScrapeHashes || q.numWant > 1<<20 {
			t.Fatalf("bounds exceeded: %d %d", q.nHashes, q.numWant)
		}
	})
}

func BenchmarkParseQuery(b *testing.B) {
	q := []byte("info_hash=" + esc(testHash) + "&peer_id=" + esc(testPeer) + "&port=6881&uploaded=0&downloaded=0&left=100&event=started&compact=1&key=1234abcd&numwant=50")
	var out query
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = parseQuery(q, false, &out)
	}
}

// BenchmarkRespondAnnounce is the HTTP announce path without the socket:
// query parsing, the engine, and the bencoded response.
func BenchmarkRespondAnnounce(b *testing.B) {
	s := New(Config{Tracker: tracker.New(tracker.Config{})})
	st := statePool.Get().(*connState)
	client := netip.MustParseAddr("10.0.0.1")
	var qs [][]byte
	for i := 0; i < 1000; i++ {
		q := []byte(fmt.Sprintf("info_hash=%s&peer_id=-TR4060-abcdefgh%04d&port=%d&left=%d&compact=1&numwant=50&key=%x", esc(strings.Repeat(string(rune('a'+i%20)), 20)), i, 1000+i, i%2, i))
		s.respond(st, tracker.ActionAnnounce, nil, q, client, st.out[:headRoom])
		qs = append(qs, q)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		body, _ := s.respond(st, tracker.ActionAnnounce, nil, qs[i%len(qs)], client, st.out[:headRoom])
		st.out = body[:headRoom]
	}
}
