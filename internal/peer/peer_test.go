package peer

import (
	"bytes"
	"net/netip"
	"testing"
)

func TestAppendCompact(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []byte
	}{
		{"ipv4", "1.2.3.4:6881", []byte{1, 2, 3, 4, 0x1a, 0xe1}},
		{"mapped", "[::ffff:10.0.0.1]:1", []byte{10, 0, 0, 1, 0, 1}},
		{"ipv6", "[2001:db8::1]:65535", append(netip.MustParseAddr("2001:db8::1").AsSlice(), 0xff, 0xff)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := AppendCompact([]byte("x"), netip.MustParseAddrPort(tc.in))
			if !bytes.Equal(got[1:], tc.want) || got[0] != 'x' {
				t.Fatalf("AppendCompact(%s) = %x, want x%x", tc.in, got, tc.want)
			}
			in := netip.MustParseAddrPort(tc.in)
			want := netip.AddrPortFrom(in.Addr().Unmap(), in.Port())
			back, ok := ParseCompact(got[1:])
			if !ok || back != want {
				t.Fatalf("ParseCompact round trip = %v, %v; want %v", back, ok, want)
			}
		})
	}
	if got := AppendCompact(nil, netip.AddrPort{}); len(got) != 0 {
		t.Fatalf("invalid address appended %x", got)
	}
}

func TestDecodeCompact(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		six     bool
		want    []string
		wantErr bool
	}{
		{"empty4", nil, false, nil, false},
		{"two4", []byte{1, 2, 3, 4, 0, 80, 5, 6, 7, 8, 1, 0}, false, []string{"1.2.3.4:80", "5.6.7.8:256"}, false},
		{"short4", []byte{1, 2, 3, 4, 0}, false, nil, true},
		{"one6", append(netip.MustParseAddr("::1").AsSlice(), 0, 1), true, []string{"[::1]:1"}, false},
		{"short6", make([]byte, 17), true, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dec := DecodeCompact4
			if tc.six {
				dec = DecodeCompact6
			}
			got, err := dec(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i].String() != tc.want[i] {
					t.Errorf("entry %d = %v, want %s", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestCanonicalAndString(t *testing.T) {
	if got := Canonical(netip.MustParseAddr("::ffff:1.2.3.4")); got != netip.MustParseAddr("1.2.3.4") {
		t.Errorf("Canonical mapped = %v", got)
	}
	if got := Canonical(netip.MustParseAddr("fe80::1%eth0")); got != netip.MustParseAddr("fe80::1") {
		t.Errorf("Canonical zone = %v", got)
	}
	if !Is4(netip.MustParseAddr("::ffff:1.2.3.4")) || Is4(netip.MustParseAddr("::1")) {
		t.Error("Is4 wrong")
	}
	var id ID
	copy(id[:], "-TR4060-\x00bcdefghijkl")
	if got := id.String(); got != `"-TR4060-\x00bcdefghijkl"` {
		t.Errorf("String = %s", got)
	}
}
