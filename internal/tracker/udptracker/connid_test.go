package udptracker

import (
	"net/netip"
	"testing"
)

// TestSipHashVector checks the reference test vector of the SipHash paper
// (key 00..0f, message 00..0e, 15 bytes).
func TestSipHashVector(t *testing.T) {
	var m [15]byte
	for i := range m {
		m[i] = byte(i)
	}
	const k0, k1 = 0x0706050403020100, 0x0f0e0d0c0b0a0908
	if got := siphash24(k0, k1, m[:]); got != 0xa129ca6149be45e5 {
		t.Fatalf("siphash24 = %#x, want 0xa129ca6149be45e5", got)
	}
	if got := siphash24(k0, k1, nil); got != 0x726fdb47dd0e0e31 {
		t.Fatalf("siphash24(empty) = %#x, want 0x726fdb47dd0e0e31", got)
	}
}

func TestConnID(t *testing.T) {
	k := newConnKey(nil)
	ip := netip.MustParseAddr("192.0.2.7")
	other := netip.MustParseAddr("192.0.2.8")
	const now = 1_700_000_000
	id := k.issue(ip, now)
	tests := []struct {
		name string
		id   uint64
		ip   netip.Addr
		at   int64
		want bool
	}{
		{"fresh", id, ip, now, true},
		{"mapped form of the same address", id, netip.MustParseAddr("::ffff:192.0.2.7"), now + 1, true},
		{"two minutes later", id, ip, now + 120, true},
		{"expired", id, ip, now + 121, false},
		{"from the future", id, ip, now - 1, false},
		{"other address", id, other, now, false},
		{"flipped MAC bit", id ^ 1, ip, now, false},
		{"shifted time", id + 1<<48, ip, now + 5, false},
		{"other key", newConnKey(nil).issue(ip, now), ip, now, false},
		{"zero", 0, ip, now, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := k.valid(tc.id, tc.ip, tc.at); got != tc.want {
				t.Fatalf("valid = %v, want %v", got, tc.want)
			}
		})
	}
	// Wrap-around of the 16-bit time field.
	wrap := int64(65535 + 65536*20000)
	if !k.valid(k.issue(ip, wrap), ip, wrap+3) {
		t.Fatal("ID issued just before the 16-bit wrap rejected")
	}
	fixed := newConnKey([]byte("0123456789abcdef"))
	if fixed.issue(ip, now) != newConnKey([]byte("0123456789abcdef")).issue(ip, now) {
		t.Fatal("a configured secret does not give stable IDs")
	}
}
