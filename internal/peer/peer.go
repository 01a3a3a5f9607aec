// Package peer holds the small wire types shared by the tracker and its
// clients: the 20-byte peer ID (BEP 3) and the compact peer encodings of
// BEP 23 (IPv4: 4-byte address and 2-byte port, 6 bytes) and BEP 7 (IPv6:
// 16-byte address and 2-byte port, 18 bytes), both in network byte order.
package peer

import (
	"errors"
	"net/netip"
	"strconv"
)

// IDLen is the length of a peer ID in bytes (BEP 3).
const IDLen = 20

// Compact entry lengths: BEP 23 (IPv4) and BEP 7 (IPv6).
const (
	CompactLen4 = 6
	CompactLen6 = 18
)

// ID is a peer's self-chosen 20-byte identifier (BEP 3 "peer_id").
type ID [IDLen]byte

// String returns the ID quoted as a Go string literal, so that client
// prefixes such as "-TR4060-" stay readable and binary bytes are escaped.
func (id ID) String() string { return strconv.Quote(string(id[:])) }

// Canonical returns a in the form the tracker keys peers by: IPv4-mapped
// IPv6 addresses (::ffff:a.b.c.d, as seen on dual-stack sockets) become
// plain IPv4 and any IPv6 zone is dropped.
func Canonical(a netip.Addr) netip.Addr { return a.Unmap().WithZone("") }

// Is4 reports whether a is an IPv4 address once unmapped.
func Is4(a netip.Addr) bool { return a.Unmap().Is4() }

// AppendCompact appends the compact encoding of ap to dst: 6 bytes for an
// IPv4 (or IPv4-mapped) address, 18 bytes for IPv6. An invalid address
// appends nothing.
func AppendCompact(dst []byte, ap netip.AddrPort) []byte {
	a := ap.Addr().Unmap()
	switch {
	case a.Is4():
		b := a.As4()
		dst = append(dst, b[:]...)
	case a.Is6():
		b := a.As16()
		dst = append(dst, b[:]...)
	default:
		return dst
	}
	p := ap.Port()
	return append(dst, byte(p>>8), byte(p))
}

// ErrCompactLength is returned when a compact peer string's length is not a
// multiple of its entry size.
var ErrCompactLength = errors.New("peer: compact peer list length is not a multiple of the entry size")

// DecodeCompact4 decodes a BEP 23 compact IPv4 peer string.
func DecodeCompact4(b []byte) ([]netip.AddrPort, error) {
	return decodeCompact(b, CompactLen4)
}

// DecodeCompact6 decodes a BEP 7 compact IPv6 peer string ("peers6").
func DecodeCompact6(b []byte) ([]netip.AddrPort, error) {
	return decodeCompact(b, CompactLen6)
}

func decodeCompact(b []byte, n int) ([]netip.AddrPort, error) {
	if len(b)%n != 0 {
		return nil, ErrCompactLength
	}
	out := make([]netip.AddrPort, 0, len(b)/n)
	for ; len(b) >= n; b = b[n:] {
		ap, _ := ParseCompact(b[:n])
		out = append(out, ap)
	}
	return out, nil
}

// ParseCompact decodes one compact entry of 6 or 18 bytes; ok is false for
// any other length.
func ParseCompact(b []byte) (ap netip.AddrPort, ok bool) {
	var a netip.Addr
	switch len(b) {
	case CompactLen4:
		a = netip.AddrFrom4([4]byte(b[:4]))
	case CompactLen6:
		a = netip.AddrFrom16([16]byte(b[:16]))
	default:
		return netip.AddrPort{}, false
	}
	p := uint16(b[len(b)-2])<<8 | uint16(b[len(b)-1])
	return netip.AddrPortFrom(a, p), true
}
