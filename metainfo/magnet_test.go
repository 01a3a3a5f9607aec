package metainfo

import (
	"encoding/hex"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestMagnetFromTorrent(t *testing.T) {
	for _, c := range []struct {
		file       string
		btih, btmh bool
	}{
		{"mktorrent-multi.torrent", true, false},
		{"libtorrent-v2.torrent", false, true},
		{"libtorrent-hybrid.torrent", true, true},
	} {
		t.Run(c.file, func(t *testing.T) {
			tor, err := Load(filepath.Join(goldenDir, c.file))
			if err != nil {
				t.Fatal(err)
			}
			m := tor.Magnet()
			m.SelectOnly = []Range{{1, 1}, {3, 5}}
			s := m.String()
			if strings.Contains(s, "urn:btih:"+hex.EncodeToString(tor.InfoHash[:])) != c.btih {
				t.Errorf("btih in %s: want %v", s, c.btih)
			}
			if strings.Contains(s, "urn:btmh:1220"+hex.EncodeToString(tor.InfoHashV2[:])) != c.btmh {
				t.Errorf("btmh in %s: want %v", s, c.btmh)
			}
			if !strings.Contains(s, "&so=1,3-5") || !strings.Contains(s, "dn=tree") {
				t.Errorf("magnet %s", s)
			}
			// Trackers in tier order, web seeds, size.
			if !strings.Contains(s, "tr=udp%3A%2F%2Ftracker.example%3A6969%2Fannounce") || !strings.Contains(s, "ws=http%3A%2F%2Fseed.example%2Ffiles%2F") {
				t.Errorf("magnet %s lacks trackers or web seeds", s)
			}
			back, err := ParseMagnet(s)
			if err != nil {
				t.Fatal(err)
			}
			if back.String() != s {
				t.Errorf("round trip:\n%s\n%s", s, back.String())
			}
			if back.Length != tor.Info.TotalLength || back.Name != tor.Info.Name || len(back.Trackers) != len(tor.Trackers()) {
				t.Errorf("parsed %+v", back)
			}
		})
	}
}

func TestParseMagnet(t *testing.T) {
	const hexHash = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"
	const b32 = "YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK" // the same hash in base32
	const v2 = "1220caf1e1c30e81cb361b9ee167c4aa64228a7fa4fa9f6105232b28ad099f3a302e"
	tests := []struct {
		name  string
		in    string
		check func(*Magnet) bool
		err   string
	}{
		{"hex", "magnet:?xt=urn:btih:" + hexHash + "&dn=Some+Name%21&tr=http%3A%2F%2Ft%2Fa&tr=udp://u:1&xl=123&ws=http://w/&x.pe=1.2.3.4:5&so=0,2,4-6",
			func(m *Magnet) bool {
				return hex.EncodeToString(m.InfoHash[:]) == hexHash && m.Name == "Some Name!" && len(m.Trackers) == 2 &&
					m.Trackers[0] == "http://t/a" && m.Length == 123 && m.WebSeeds[0] == "http://w/" && m.Peers[0] == "1.2.3.4:5" &&
					FormatRanges(m.SelectOnly) == "0,2,4-6" && !m.HasV2()
			}, ""},
		{"base32", "magnet:?xt=urn:btih:" + b32, func(m *Magnet) bool { return hex.EncodeToString(m.InfoHash[:]) == hexHash }, ""},
		{"base32 lowercase", "magnet:?xt=urn:btih:" + strings.ToLower(b32), func(m *Magnet) bool { return hex.EncodeToString(m.InfoHash[:]) == hexHash }, ""},
		{"uppercase hex and scheme", "MAGNET:?xt=urn:BTIH:" + strings.ToUpper(hexHash), func(m *Magnet) bool { return m.HasV1() }, ""},
		{"v2", "magnet:?xt=urn:btmh:" + v2, func(m *Magnet) bool { return m.HasV2() && !m.HasV1() && hex.EncodeToString(m.InfoHashV2[:]) == v2[4:] }, ""},
		{"hybrid", "magnet:?xt=urn:btih:" + hexHash + "&xt=urn:btmh:" + v2, func(m *Magnet) bool { return m.HasV1() && m.HasV2() }, ""},
		{"same btih twice", "magnet:?xt=urn:btih:" + hexHash + "&xt=urn:btih:" + b32, func(m *Magnet) bool { return m.HasV1() }, ""},
		{"other urn ignored", "magnet:?xt=urn:ed2k:abc&xt=urn:btih:" + hexHash + "&foo=bar", func(m *Magnet) bool { return m.HasV1() }, ""},
		{"empty params", "magnet:?&&xt=urn:btih:" + hexHash + "&", func(m *Magnet) bool { return m.HasV1() }, ""},
		{"not magnet", "http://x/?xt=urn:btih:" + hexHash, nil, "does not start with magnet:"},
		{"no query", "magnet:xt=urn:btih:" + hexHash, nil, "missing '?'"},
		{"no hash", "magnet:?dn=x", nil, "no BitTorrent info hash"},
		{"short hex", "magnet:?xt=urn:btih:abcd", nil, "btih has 4 characters"},
		{"bad hex", "magnet:?xt=urn:btih:" + strings.Repeat("z", 40), nil, "not hex"},
		{"bad base32", "magnet:?xt=urn:btih:" + strings.Repeat("1", 32), nil, "not base32"},
		{"two btih", "magnet:?xt=urn:btih:" + hexHash + "&xt=urn:btih:" + strings.Repeat("0", 40), nil, "two different btih"},
		{"btmh sha1 multihash", "magnet:?xt=urn:btmh:1114" + strings.Repeat("0", 40), nil, "not a SHA-256 multihash"},
		{"btmh short", "magnet:?xt=urn:btmh:1220abcd", nil, "want 64"},
		{"bad escape", "magnet:?xt=urn:btih:" + hexHash + "&dn=%zz", nil, "bad escape"},
		{"negative xl", "magnet:?xt=urn:btih:" + hexHash + "&xl=-1", nil, "not a size"},
		{"bad so", "magnet:?xt=urn:btih:" + hexHash + "&so=1,x", nil, "not a file index"},
		{"backwards so", "magnet:?xt=urn:btih:" + hexHash + "&so=5-3", nil, "runs backwards"},
		{"huge so", "magnet:?xt=urn:btih:" + hexHash + "&so=0-99999999999", nil, "not a file index"},
		{"too long", "magnet:?xt=urn:btih:" + hexHash + "&dn=" + strings.Repeat("a", MaxMagnetLen), nil, "limit"},
		{"too many params", "magnet:?xt=urn:btih:" + hexHash + strings.Repeat("&tr=x", MaxMagnetParams), nil, "more than 1024 parameters"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseMagnet(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrMagnet) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(m) {
				t.Fatalf("parsed %+v", m)
			}
		})
	}
}

func TestRanges(t *testing.T) {
	rs, err := ParseRanges("1,3-5,7")
	if err != nil || FormatRanges(rs) != "1,3-5,7" {
		t.Fatalf("%v %v", rs, err)
	}
	if err := CheckRanges(rs, 8); err != nil {
		t.Error(err)
	}
	if err := CheckRanges(rs, 7); err == nil {
		t.Error("index 7 of 7 files accepted")
	}
	for _, bad := range []string{"", ",", "1,", "-1", "a", "1-", "1--2", " 1", "5-2"} {
		if _, err := ParseRanges(bad); err == nil {
			t.Errorf("ParseRanges(%q) accepted", bad)
		}
	}
}

// FuzzParseMagnet checks that ParseMagnet never panics and that what it
// accepts formats to a link that parses back to the same thing.
func FuzzParseMagnet(f *testing.F) {
	for _, s := range []string{
		"magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&dn=x&tr=udp://t:1&so=0,2-3",
		"magnet:?xt=urn:btih:YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK",
		"magnet:?xt=urn:btmh:1220caf1e1c30e81cb361b9ee167c4aa64228a7fa4fa9f6105232b28ad099f3a302e&xl=5",
		"magnet:?xt=urn:btih:%zz",
		"magnet:?so=1-",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMagnet(s)
		if err != nil {
			return
		}
		s2 := m.String()
		m2, err := ParseMagnet(s2)
		if err != nil {
			t.Fatalf("formatted %q does not parse: %v", s2, err)
		}
		if m2.String() != s2 {
			t.Fatalf("not stable: %q -> %q", s2, m2.String())
		}
	})
}
