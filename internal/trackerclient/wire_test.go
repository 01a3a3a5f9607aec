package trackerclient

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

func hash(b byte) [20]byte {
	var h [20]byte
	for i := range h {
		h[i] = b + byte(i)
	}
	return h
}

func TestAnnounceURL(t *testing.T) {
	req := AnnounceRequest{
		InfoHash: [20]byte{0x00, ' ', '+', '%', 'a', 0xff, '~'},
		PeerID:   [20]byte{'-', 'G', 'L', '0', '0', '0', '1', '-'},
		Port:     6881, Uploaded: 1, Downloaded: 2, Left: 3,
	}
	tests := []struct {
		name string
		base string
		mod  func(r *AnnounceRequest)
		want []string // substrings, in order
		not  []string
	}{
		{
			name: "plain",
			base: "http://t.example/announce",
			want: []string{"http://t.example/announce?info_hash=%00%20%2B%25a%FF~%00%00", "&peer_id=-GL0001-%00", "&port=6881&uploaded=1&downloaded=2&left=3&compact=1"},
			not:  []string{"event=", "numwant=", "key=", "ip=", "trackerid="},
		},
		{
			name: "passkey kept",
			base: "https://t.example/pk/announce?passkey=abc#frag",
			want: []string{"https://t.example/pk/announce?passkey=abc&info_hash="},
			not:  []string{"#frag"},
		},
		{
			name: "optional fields",
			base: "http://t.example/announce",
			mod: func(r *AnnounceRequest) {
				r.Event, r.NumWant, r.Key = EventStarted, 50, 0xbeef
				r.IP = netip.MustParseAddr("::ffff:10.0.0.1")
				r.TrackerID = "a b"
			},
			want: []string{"&event=started&numwant=50&key=0000beef&ip=10.0.0.1&trackerid=a+b"},
		},
		{
			name: "numwant none",
			base: "http://t.example/announce",
			mod:  func(r *AnnounceRequest) { r.NumWant = -5; r.Event = EventStopped; r.Left = -1 },
			want: []string{"&left=0&compact=1&event=stopped&numwant=0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := req
			if tt.mod != nil {
				tt.mod(&r)
			}
			u, err := parseTrackerURL(tt.base)
			if err != nil {
				t.Fatal(err)
			}
			got := AnnounceURL(u, &r)
			pos := 0
			for _, w := range tt.want {
				i := strings.Index(got[pos:], w)
				if i < 0 {
					t.Fatalf("AnnounceURL = %s\nmissing (in order) %s", got, w)
				}
				pos += i + len(w)
			}
			for _, n := range tt.not {
				if strings.Contains(got, n) {
					t.Errorf("AnnounceURL = %s, must not contain %s", got, n)
				}
			}
			// The query must decode back to the exact bytes.
			pu, err := url.Parse(got)
			if err != nil {
				t.Fatal(err)
			}
			if ih := pu.Query().Get("info_hash"); ih != string(r.InfoHash[:]) {
				t.Errorf("info_hash round trip = %q", ih)
			}
		})
	}
}

func TestScrapeURL(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"http://example.com/announce", "http://example.com/scrape"},
		{"http://example.com/x/announce", "http://example.com/x/scrape"},
		{"http://example.com/announce.php", "http://example.com/scrape.php"},
		{"http://example.com/announce?x2%0644", "http://example.com/scrape?x2%0644"},
		{"http://example.com/announce?passkey=p", "http://example.com/scrape?passkey=p"},
		{"http://example.com/a", ""},
		{"http://example.com/announce/x", ""},
		{"http://example.com/x%064announce", ""},
		{"http://example.com", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			u, _ := url.Parse(tt.in)
			got, err := ScrapeURL(u)
			if tt.want == "" {
				if !errors.Is(err, ErrScrapeUnsupported) {
					t.Fatalf("ScrapeURL(%s) = %v, %v; want ErrScrapeUnsupported", tt.in, got, err)
				}
				return
			}
			if err != nil || got.String() != tt.want {
				t.Fatalf("ScrapeURL(%s) = %v, %v; want %s", tt.in, got, err, tt.want)
			}
		})
	}
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestParseHTTPAnnounce(t *testing.T) {
	id := "ABCDEFGHIJKLMNOPQRST"
	tests := []struct {
		name    string
		body    string
		want    *AnnounceResponse
		failure string
		bad     bool
	}{
		{
			name: "compact v4 and v6",
			body: "d8:completei3e10:incompletei4e8:intervali1800e12:min intervali900e5:peers12:\x7f\x00\x00\x01\x1a\xe1\x0a\x00\x00\x02\x00\x016:peers618:" +
				"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x1a\xe2e",
			want: &AnnounceResponse{
				Interval: 1800 * time.Second, MinInterval: 900 * time.Second, Seeders: 3, Leechers: 4,
				Peers: []Peer{{Addr: ap("127.0.0.1:6881")}, {Addr: ap("10.0.0.2:1")}, {Addr: ap("[::1]:6882")}},
			},
		},
		{
			name: "dictionary peers, unsorted keys, extras",
			body: "d8:intervali60e5:peersld2:ip9:127.0.0.17:peer id20:" + id + "4:porti1eed2:ip3:::14:porti2eed2:ip11:example.com4:porti3eed2:ip8:10.0.0.14:porti70000eee" +
				"10:tracker id2:xy15:warning message4:slow11:external ip4:\x01\x02\x03\x04e",
			want: &AnnounceResponse{
				Interval: 60 * time.Second, Seeders: -1, Leechers: -1, Warning: "slow", TrackerID: "xy",
				ExternalIP: netip.MustParseAddr("1.2.3.4"),
				Peers:      []Peer{{Addr: ap("127.0.0.1:1"), ID: [20]byte([]byte(id))}, {Addr: ap("[::1]:2")}},
			},
		},
		{
			name: "mapped v6 peer and external ip unmapped",
			body: "d8:intervali1e11:external ip16:\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x01\x02\x03\x04" +
				"6:peers618:\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x01\x02\x03\x04\x00\x05e",
			want: &AnnounceResponse{
				Interval: time.Second, Seeders: -1, Leechers: -1, ExternalIP: netip.MustParseAddr("1.2.3.4"),
				Peers: []Peer{{Addr: ap("1.2.3.4:5")}},
			},
		},
		{
			name: "huge and negative values clamped",
			body: "d8:completei-5e8:intervali99999999999e5:peers0:e",
			want: &AnnounceResponse{Interval: maxInterval, Seeders: 0, Leechers: -1},
		},
		{name: "failure", body: "d14:failure reason6:banned8:intervali5ee", failure: "banned"},
		{name: "empty failure", body: "d14:failure reason0:e", failure: ""},
		{name: "bad compact length", body: "d8:intervali1e5:peers5:abcdee", bad: true},
		{name: "bad peers6 length", body: "d8:intervali1e6:peers66:abcdefe", bad: true},
		{name: "peers wrong type", body: "d8:intervali1e5:peersi3ee", bad: true},
		{name: "interval wrong type", body: "d8:interval2:10e", bad: true},
		{name: "not bencode", body: "<html>", bad: true},
		{name: "list", body: "le", bad: true},
		{name: "empty", body: "", bad: true},
		{name: "truncated", body: "d8:intervali1e5:peers12:abc", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseHTTPAnnounce([]byte(tt.body))
			var te *TrackerError
			switch {
			case tt.bad:
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("got %+v, %v; want ErrMalformed", got, err)
				}
			case tt.want == nil:
				if !errors.As(err, &te) || te.Reason != tt.failure {
					t.Fatalf("got %+v, %v; want failure %q", got, err, tt.failure)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("got  %+v\nwant %+v", got, tt.want)
				}
			}
		})
	}
}

func TestParseHTTPScrape(t *testing.T) {
	h1, h2 := hash(1), hash(50)
	tests := []struct {
		name    string
		body    string
		want    ScrapeResponse
		failure string
		bad     bool
	}{
		{
			name: "two files",
			body: "d5:filesd20:" + string(h1[:]) + "d8:completei11e10:downloadedi13772e10:incompletei19ee20:" +
				string(h2[:]) + "d8:completei21e10:downloadedi206e10:incompletei20e4:name1:xeee",
			want: ScrapeResponse{h1: {11, 19, 13772}, h2: {21, 20, 206}},
		},
		{
			name: "short key skipped, flags ignored",
			body: "d5:filesd3:abcd8:completei1eee5:flagsd20:min_request_intervali60eee",
			want: ScrapeResponse{},
		},
		{name: "failure", body: "d14:failure reason4:nopee", failure: "nope"},
		{name: "no files", body: "de", bad: true},
		{name: "files not dict", body: "d5:filesli1eee", bad: true},
		{name: "count not int", body: "d5:filesd20:" + string(h1[:]) + "d8:complete1:xeee", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseHTTPScrape([]byte(tt.body))
			var te *TrackerError
			switch {
			case tt.bad:
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("got %v, %v; want ErrMalformed", got, err)
				}
			case tt.want == nil:
				if !errors.As(err, &te) || te.Reason != tt.failure {
					t.Fatalf("got %v, %v; want failure %q", got, err, tt.failure)
				}
			default:
				if err != nil || !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("got %v, %v; want %v", got, err, tt.want)
				}
			}
		})
	}
}

func TestAppendAnnounceRequest(t *testing.T) {
	r := &AnnounceRequest{
		InfoHash: hash(1), PeerID: hash(100), Port: 0x1ae1,
		Downloaded: 5, Left: 6, Uploaded: 7, Event: EventCompleted,
		IP: netip.MustParseAddr("10.1.2.3"), Key: 0xdeadbeef, NumWant: 30,
	}
	p, err := AppendAnnounceRequest(nil, 0x1122334455667788, 0xabcdef01, r, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(p) != UDPAnnounceSize {
		t.Fatalf("len = %d", len(p))
	}
	be := binary.BigEndian
	checks := []struct {
		name      string
		got, want uint64
	}{
		{"connID", be.Uint64(p), 0x1122334455667788},
		{"action", uint64(be.Uint32(p[8:])), 1},
		{"tx", uint64(be.Uint32(p[12:])), 0xabcdef01},
		{"downloaded", be.Uint64(p[56:]), 5},
		{"left", be.Uint64(p[64:]), 6},
		{"uploaded", be.Uint64(p[72:]), 7},
		{"event", uint64(be.Uint32(p[80:])), 1},
		{"ip", uint64(be.Uint32(p[84:])), 0x0a010203},
		{"key", uint64(be.Uint32(p[88:])), 0xdeadbeef},
		{"numwant", uint64(be.Uint32(p[92:])), 30},
		{"port", uint64(be.Uint16(p[96:])), 0x1ae1},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %#x, want %#x", c.name, c.got, c.want)
		}
	}
	if !bytes.Equal(p[16:36], r.InfoHash[:]) || !bytes.Equal(p[36:56], r.PeerID[:]) {
		t.Error("info hash or peer id misplaced")
	}

	tests := []struct {
		name    string
		numWant int
		ip      netip.Addr
		data    string
		wantNW  uint32
		wantIP  uint32
		wantExt []byte
	}{
		{"default numwant", 0, netip.Addr{}, "", 0xffffffff, 0, nil},
		{"no peers", -1, netip.MustParseAddr("::1"), "", 0, 0, nil},
		{"url data", 1, netip.Addr{}, "/dir?a=b&c=d", 1, 0, append([]byte{2, 12}, "/dir?a=b&c=d"...)},
		{"url data chunked", 1, netip.Addr{}, strings.Repeat("x", 300), 1, 0,
			append(append(append([]byte{2, 255}, strings.Repeat("x", 255)...), 2, 45), strings.Repeat("x", 45)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &AnnounceRequest{NumWant: tt.numWant, IP: tt.ip}
			p, err := AppendAnnounceRequest([]byte{9}, 0, 0, r, tt.data)
			if err != nil {
				t.Fatal(err)
			}
			p = p[1:]
			if nw := be.Uint32(p[92:]); nw != tt.wantNW {
				t.Errorf("numwant = %#x, want %#x", nw, tt.wantNW)
			}
			if ip := be.Uint32(p[84:]); ip != tt.wantIP {
				t.Errorf("ip = %#x", ip)
			}
			if !bytes.Equal(p[UDPAnnounceSize:], tt.wantExt) {
				t.Errorf("options = %q, want %q", p[UDPAnnounceSize:], tt.wantExt)
			}
		})
	}
	if _, err := AppendAnnounceRequest(nil, 0, 0, r, strings.Repeat("x", MaxURLDataSize+1)); err == nil {
		t.Error("over-long URL data accepted")
	}
}

func TestParseUDP(t *testing.T) {
	be := binary.BigEndian
	hdr := func(action, tx uint32, rest ...byte) []byte {
		b := be.AppendUint32(nil, action)
		b = be.AppendUint32(b, tx)
		return append(b, rest...)
	}
	t.Run("header", func(t *testing.T) {
		a, tx, body, err := ParseUDPHeader(hdr(3, 7, 'x'))
		if err != nil || a != 3 || tx != 7 || string(body) != "x" {
			t.Fatalf("got %d %d %q %v", a, tx, body, err)
		}
		if _, _, _, err := ParseUDPHeader(make([]byte, 7)); !errors.Is(err, ErrMalformed) {
			t.Fatalf("short header: %v", err)
		}
	})
	t.Run("connect", func(t *testing.T) {
		id, err := ParseUDPConnect([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9})
		if err != nil || id != 0x0102030405060708 {
			t.Fatalf("got %#x %v", id, err)
		}
		if _, err := ParseUDPConnect(make([]byte, 7)); !errors.Is(err, ErrMalformed) {
			t.Fatal("short connect accepted")
		}
	})
	t.Run("announce v4", func(t *testing.T) {
		body := []byte{0, 0, 0, 60, 0, 0, 0, 2, 0, 0, 0, 3, 127, 0, 0, 1, 0x1a, 0xe1, 1, 2, 3}
		r, err := ParseUDPAnnounce(body, false)
		want := &AnnounceResponse{Interval: time.Minute, Leechers: 2, Seeders: 3, Peers: []Peer{{Addr: ap("127.0.0.1:6881")}}}
		if err != nil || !reflect.DeepEqual(r, want) {
			t.Fatalf("got %+v %v", r, err)
		}
	})
	t.Run("announce v6", func(t *testing.T) {
		body := append(make([]byte, 12), make([]byte, 18)...)
		body[12+15], body[12+17] = 1, 9
		r, err := ParseUDPAnnounce(body, true)
		if err != nil || len(r.Peers) != 1 || r.Peers[0].Addr != ap("[::1]:9") {
			t.Fatalf("got %+v %v", r, err)
		}
	})
	t.Run("announce short", func(t *testing.T) {
		if _, err := ParseUDPAnnounce(make([]byte, 11), false); !errors.Is(err, ErrMalformed) {
			t.Fatal("short announce accepted")
		}
	})
	t.Run("scrape", func(t *testing.T) {
		hs := [][20]byte{hash(1), hash(2), hash(3)}
		body := []byte{0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5, 0, 0, 0, 6, 0}
		got := ScrapeResponse{}
		ParseUDPScrape(body, hs, got)
		want := ScrapeResponse{hs[0]: {Complete: 1, Downloaded: 2, Incomplete: 3}, hs[1]: {Complete: 4, Downloaded: 5, Incomplete: 6}}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got %v", got)
		}
	})
	t.Run("error", func(t *testing.T) {
		if e := ParseUDPError(bytes.Repeat([]byte("e"), 5000)); len(e.Reason) != 1024 {
			t.Fatalf("reason length %d", len(e.Reason))
		}
	})
}
