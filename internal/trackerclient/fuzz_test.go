package trackerclient

import (
	"errors"
	"testing"
)

// The fuzz targets feed untrusted tracker responses to the decoders: they
// must never panic, and what they return must be self-consistent.

func FuzzParseHTTPAnnounce(f *testing.F) {
	f.Add([]byte("d8:completei3e10:incompletei4e8:intervali1800e12:min intervali900e5:peers6:\x7f\x00\x00\x01\x1a\xe1e"))
	f.Add([]byte("d8:intervali60e5:peersld2:ip9:127.0.0.17:peer id20:ABCDEFGHIJKLMNOPQRST4:porti1eeee"))
	f.Add([]byte("d8:intervali1e6:peers618:\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x1a\xe2e"))
	f.Add([]byte("d14:failure reason6:bannede"))
	f.Add([]byte("d11:external ip4:\x01\x02\x03\x0410:tracker id2:xy15:warning message4:slowe"))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ParseHTTPAnnounce(body)
		if err != nil {
			var te *TrackerError
			if !errors.Is(err, ErrMalformed) && !errors.As(err, &te) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if r.Interval < 0 || r.Interval > maxInterval || r.MinInterval < 0 || r.Seeders < -1 || r.Leechers < -1 {
			t.Fatalf("out of range: %+v", r)
		}
		if len(r.Peers) > len(body)/6 {
			t.Fatalf("%d peers from %d bytes", len(r.Peers), len(body))
		}
		for _, p := range r.Peers {
			if !p.Addr.Addr().IsValid() || p.Addr.Addr().Is4In6() {
				t.Fatalf("bad peer address %v", p.Addr)
			}
		}
	})
}

func FuzzParseHTTPScrape(f *testing.F) {
	f.Add([]byte("d5:filesd20:aaaaaaaaaaaaaaaaaaaad8:completei11e10:downloadedi13772e10:incompletei19eeee"))
	f.Add([]byte("d5:filesdee"))
	f.Add([]byte("d14:failure reason4:nopee"))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ParseHTTPScrape(body)
		if err != nil {
			var te *TrackerError
			if !errors.Is(err, ErrMalformed) && !errors.As(err, &te) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		for _, s := range r {
			if s.Complete < 0 || s.Incomplete < 0 || s.Downloaded < 0 {
				t.Fatalf("negative counts %+v", s)
			}
		}
	})
}

// FuzzParseUDP decodes a datagram the way the client does: header, then
// the body according to its action.
func FuzzParseUDP(f *testing.F) {
	f.Add([]byte("\x00\x00\x00\x00\x00\x00\x00\x07\x00\x00\x00\x00\x00\x00\x00\x2a"), false)
	f.Add([]byte("\x00\x00\x00\x01\x00\x00\x00\x07\x00\x00\x00\x3c\x00\x00\x00\x01\x00\x00\x00\x02\x7f\x00\x00\x01\x1a\xe1"), false)
	f.Add([]byte("\x00\x00\x00\x01\x00\x00\x00\x07\x00\x00\x00\x3c\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x1a\xe1"), true)
	f.Add([]byte("\x00\x00\x00\x02\x00\x00\x00\x07\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03"), false)
	f.Add([]byte("\x00\x00\x00\x03\x00\x00\x00\x07unknown torrent"), false)
	hashes := [][20]byte{hash(1), hash(2)}
	f.Fuzz(func(t *testing.T, p []byte, ipv6 bool) {
		action, _, body, err := ParseUDPHeader(p)
		if err != nil {
			if len(p) >= 8 {
				t.Fatalf("header of %d bytes refused: %v", len(p), err)
			}
			return
		}
		switch action {
		case ActionConnect:
			if _, err := ParseUDPConnect(body); (err == nil) != (len(body) >= 8) {
				t.Fatalf("connect body %d bytes: %v", len(body), err)
			}
		case ActionAnnounce:
			r, err := ParseUDPAnnounce(body, ipv6)
			if err != nil {
				return
			}
			stride := 6
			if ipv6 {
				stride = 18
			}
			if len(r.Peers) != (len(body)-12)/stride || r.Seeders < 0 || r.Leechers < 0 {
				t.Fatalf("%d peers from %d bytes: %+v", len(r.Peers), len(body), r)
			}
		case ActionScrape:
			out := ScrapeResponse{}
			ParseUDPScrape(body, hashes, out)
			if len(out) != min(len(hashes), len(body)/12) {
				t.Fatalf("%d entries from %d bytes", len(out), len(body))
			}
		case ActionError:
			if e := ParseUDPError(body); len(e.Reason) > 1024 {
				t.Fatal("unbounded error message")
			}
		}
	})
}
