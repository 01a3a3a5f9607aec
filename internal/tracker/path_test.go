package tracker

import (
	"strings"
	"testing"
)

func TestParsePath(t *testing.T) {
	tests := []struct {
		in     string
		key    string
		action Action
		ok     bool
	}{
		{"/announce", "", ActionAnnounce, true},
		{"/scrape", "", ActionScrape, true},
		{"/announce?info_hash=x", "", ActionAnnounce, true},
		{"/0000002a0123456789abcdef01234567/announce", "0000002a0123456789abcdef01234567", ActionAnnounce, true},
		{"/k/scrape?x", "k", ActionScrape, true},
		{"//announce", "", 0, false},
		{"/a/b/announce", "", 0, false},
		{"/", "", 0, false},
		{"", "", 0, false},
		{"announce", "", 0, false},
		{"/announce.php", "", 0, false},
		{"/stats.json", "", 0, false},
		{"/" + strings.Repeat("k", MaxPasskeyLen+1) + "/announce", "", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			key, a, ok := ParsePath([]byte(tc.in))
			if ok != tc.ok || string(key) != tc.key || (ok && a != tc.action) {
				t.Fatalf("ParsePath(%q) = %q, %v, %v; want %q, %v, %v", tc.in, key, a, ok, tc.key, tc.action, tc.ok)
			}
		})
	}
}
