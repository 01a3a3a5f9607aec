package udptracker

import (
	"crypto/rand"
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// Connection IDs (BEP 15) are stateless, like SYN cookies: the top 16 bits
// are the issue time in seconds (modulo 2^16) and the low 48 bits a
// SipHash-2-4 MAC, under a random 128-bit key, of the client's IP address
// and the full issue time. An ID is accepted from the same IP address for
// ConnIDLifetime after it was issued; forging one means guessing 48 bits.
// The port is left out so clients behind NATs that rebind ports between
// connect and announce keep working.
const ConnIDLifetime = 120 // seconds

type connKey struct{ k0, k1 uint64 }

func newConnKey(secret []byte) connKey {
	var b [16]byte
	if len(secret) >= 16 {
		copy(b[:], secret)
	} else if _, err := rand.Read(b[:]); err != nil {
		panic("udptracker: no randomness: " + err.Error()) // crypto/rand never fails on supported systems
	}
	return connKey{binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:])}
}

func (k connKey) mac(ip netip.Addr, unix int64) uint64 {
	a := ip.Unmap().As16()
	var m [24]byte
	copy(m[:16], a[:])
	binary.LittleEndian.PutUint64(m[16:], uint64(unix))
	return siphash24(k.k0, k.k1, m[:])
}

// issue returns a connection ID for ip at time unix (seconds).
func (k connKey) issue(ip netip.Addr, unix int64) uint64 {
	return uint64(uint16(unix))<<48 | k.mac(ip, unix)&(1<<48-1)
}

// valid reports whether id was issued to ip within ConnIDLifetime
// seconds before unix.
func (k connKey) valid(id uint64, ip netip.Addr, unix int64) bool {
	age := int64(uint16(unix) - uint16(id>>48))
	if age > ConnIDLifetime {
		return false
	}
	return k.mac(ip, unix-age)&(1<<48-1) == id&(1<<48-1)
}

// siphash24 is SipHash-2-4 (Aumasson and Bernstein) of m under key
// (k0, k1).
func siphash24(k0, k1 uint64, m []byte) uint64 {
	v0 := k0 ^ 0x736f6d6570736575
	v1 := k1 ^ 0x646f72616e646f6d
	v2 := k0 ^ 0x6c7967656e657261
	v3 := k1 ^ 0x7465646279746573
	round := func() {
		v0 += v1
		v1 = bits.RotateLeft64(v1, 13)
		v1 ^= v0
		v0 = bits.RotateLeft64(v0, 32)
		v2 += v3
		v3 = bits.RotateLeft64(v3, 16)
		v3 ^= v2
		v0 += v3
		v3 = bits.RotateLeft64(v3, 21)
		v3 ^= v0
		v2 += v1
		v1 = bits.RotateLeft64(v1, 17)
		v1 ^= v2
		v2 = bits.RotateLeft64(v2, 32)
	}
	n := len(m)
	for ; len(m) >= 8; m = m[8:] {
		w := binary.LittleEndian.Uint64(m)
		v3 ^= w
		round()
		round()
		v0 ^= w
	}
	var last [8]byte
	copy(last[:], m)
	last[7] = byte(n)
	w := binary.LittleEndian.Uint64(last[:])
	v3 ^= w
	round()
	round()
	v0 ^= w
	v2 ^= 0xff
	round()
	round()
	round()
	round()
	return v0 ^ v1 ^ v2 ^ v3
}
