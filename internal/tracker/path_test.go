package tracker

import (
	"bytes"
	"strings"
	"testing"
)

func TestParsePath(t *testing.T) {
	const key = "0000002a0123456789abcdef01234567"
	long := strings.Repeat("k", MaxPasskeyLen)
	tests := []struct {
		name   string
		in     string
		key    string
		action Action
		ok     bool
	}{
		{"announce", "/announce", "", ActionAnnounce, true},
		{"scrape", "/scrape", "", ActionScrape, true},
		{"announce with query", "/announce?info_hash=x", "", ActionAnnounce, true},
		{"empty query", "/announce?", "", ActionAnnounce, true},

		{"xbt announce", "/" + key + "/announce", key, ActionAnnounce, true},
		{"xbt scrape with query", "/k/scrape?x", "k", ActionScrape, true},
		{"xbt longest key", "/" + long + "/announce", long, ActionAnnounce, true},
		{"key after announce", "/announce/" + key, key, ActionAnnounce, true},
		{"key after scrape", "/scrape/" + key + "?info_hash=x", key, ActionScrape, true},

		{"query key", "/announce?passkey=" + key, key, ActionAnnounce, true},
		{"query key first", "/announce?passkey=" + key + "&info_hash=%01&port=1", key, ActionAnnounce, true},
		{"query key last", "/announce?info_hash=%01&port=1&passkey=" + key, key, ActionAnnounce, true},
		{"query key middle", "/announce?info_hash=%01&passkey=" + key + "&port=1", key, ActionAnnounce, true},
		{"query key scrape (BEP 48)", "/scrape?passkey=" + key + "&info_hash=a&info_hash=b", key, ActionScrape, true},
		{"query key, empty pairs", "/announce?&&passkey=k&&", "k", ActionAnnounce, true},
		{"query key twice, same", "/announce?passkey=k&port=1&passkey=k", "k", ActionAnnounce, true},
		{"query key equals path key", "/k/announce?passkey=k", "k", ActionAnnounce, true},
		{"query key equals key after announce", "/announce/k?passkey=k", "k", ActionAnnounce, true},
		{"unreserved bytes", "/announce?passkey=A-z_0.9~", "A-z_0.9~", ActionAnnounce, true},
		{"similar parameter names", "/announce?passkeys=x&xpasskey=y&key=z", "", ActionAnnounce, true},

		{"query key differs from path key", "/k/announce?passkey=j", "", 0, false},
		{"query key twice, different", "/announce?passkey=k&passkey=j", "", 0, false},
		{"key after announce differs", "/announce/k?passkey=j", "", 0, false},
		{"empty query key", "/announce?passkey=", "", 0, false},
		{"query key without =", "/announce?passkey&port=1", "", 0, false},
		{"percent-encoded query key", "/announce?passkey=%30%31", "", 0, false},
		{"query key with space", "/announce?passkey=a+b", "", 0, false},
		{"query key with =", "/announce?passkey=a=b", "", 0, false},
		{"query key with NUL", "/announce?passkey=a\x00", "", 0, false},
		{"query key too long", "/announce?passkey=" + long + "k", "", 0, false},
		{"query key on another path", "/stats?passkey=k", "", 0, false},

		{"empty path key", "//announce", "", 0, false},
		{"empty key after announce", "/announce/", "", 0, false},
		{"three segments", "/a/b/announce", "", 0, false},
		{"key on both sides", "/k/announce/k", "", 0, false},
		{"root", "/", "", 0, false},
		{"empty", "", "", 0, false},
		{"only query", "?passkey=k", "", 0, false},
		{"relative", "announce", "", 0, false},
		{"php", "/announce.php", "", 0, false},
		{"other page", "/stats.json", "", 0, false},
		{"path key too long", "/" + long + "k/announce", "", 0, false},
		{"path key with percent", "/k%20/announce", "", 0, false},
		{"path key with bad byte", "/k\xff/announce", "", 0, false},
		{"trailing slash", "/announce/", "", 0, false},
		{"upper case action", "/ANNOUNCE", "", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key, a, ok := ParsePath([]byte(tc.in))
			if ok != tc.ok || string(key) != tc.key || (ok && a != tc.action) {
				t.Fatalf("ParsePath(%q) = %q, %v, %v; want %q, %v, %v", tc.in, key, a, ok, tc.key, tc.action, tc.ok)
			}
		})
	}
}

func TestParsePathDoesNotAllocate(t *testing.T) {
	in := []byte("/announce?info_hash=%01%02%03%04%05%06%07%08%09%0a%0b%0c%0d%0e%0f%10%11%12%13%14&peer_id=-GA0001-abcdefghijkl&port=6881&passkey=0000002a0123456789abcdef01234567&left=0")
	if n := testing.AllocsPerRun(1000, func() { ParsePath(in) }); n != 0 {
		t.Fatalf("%v allocations, want 0", n)
	}
}

// FuzzParsePath checks that no target panics ParsePath and that what it
// accepts is consistent: a well-formed key that occurs in the target, an
// action named in its path.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{
		"/announce", "/scrape?info_hash=x", "/k/announce", "/announce/k",
		"/announce?passkey=k&port=1", "/scrape?x=1&passkey=k", "/k/announce?passkey=k",
		"/announce?passkey=k&passkey=j", "//announce", "/announce?passkey",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		key, a, ok := ParsePath(in)
		if !ok {
			if key != nil || a != 0 {
				t.Fatalf("refused with key %q action %v", key, a)
			}
			return
		}
		path, _, _ := bytes.Cut(in, []byte("?"))
		switch a {
		case ActionAnnounce:
			if !bytes.Contains(path, []byte("announce")) {
				t.Fatalf("announce from path %q", path)
			}
		case ActionScrape:
			if !bytes.Contains(path, []byte("scrape")) {
				t.Fatalf("scrape from path %q", path)
			}
		default:
			t.Fatalf("action %v", a)
		}
		if key == nil {
			return
		}
		if !validKey(key) || !bytes.Contains(in, key) {
			t.Fatalf("key %q from %q", key, in)
		}
		// The key reads the same wherever it is put.
		for _, form := range []string{"/" + string(key) + "/announce", "/announce/" + string(key), "/announce?passkey=" + string(key)} {
			k2, a2, ok2 := ParsePath([]byte(form))
			if !ok2 || !bytes.Equal(k2, key) || a2 != ActionAnnounce {
				t.Fatalf("key %q: %q parses as %q %v %v", key, form, k2, a2, ok2)
			}
		}
	})
}
