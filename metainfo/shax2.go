package metainfo

//go:generate go run gen_shax2.go

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
)

var sha1IV = [5]uint32{0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0}

// sha1Pair sets *ha and *hb to the SHA-1 digests of a and b. When a and
// b have the same length, a multiple of 64 (every full piece), and the
// CPU has the SHA extensions, both are hashed in one interleaved pass,
// almost twice as fast as one after the other; otherwise it falls back to
// crypto/sha1.
func sha1Pair(a, b []byte, ha, hb *[20]byte) {
	if !haveSHAx2 || len(a) != len(b) || len(a)%64 != 0 || len(a) == 0 {
		*ha, *hb = sha1.Sum(a), sha1.Sum(b)
		return
	}
	sa, sb := sha1IV, sha1IV
	sha1x2Blocks(&sa, &sb, &a[0], &b[0], len(a)/64)
	var pad [64]byte
	pad[0] = 0x80
	binary.BigEndian.PutUint64(pad[56:], uint64(len(a))*8)
	sha1x2Blocks(&sa, &sb, &pad[0], &pad[0], 1)
	for i := range 5 {
		binary.BigEndian.PutUint32(ha[4*i:], sa[i])
		binary.BigEndian.PutUint32(hb[4*i:], sb[i])
	}
}

var sha256IV = [8]uint32{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19}

// sha256Pair is sha1Pair for SHA-256 (v2 leaf blocks).
func sha256Pair(a, b []byte, ha, hb *[32]byte) {
	if !haveSHAx2 || len(a) != len(b) || len(a)%64 != 0 || len(a) == 0 {
		*ha, *hb = sha256.Sum256(a), sha256.Sum256(b)
		return
	}
	sa, sb := sha256IV, sha256IV
	sha256x2Blocks(&sa, &sb, &a[0], &b[0], len(a)/64)
	var pad [64]byte
	pad[0] = 0x80
	binary.BigEndian.PutUint64(pad[56:], uint64(len(a))*8)
	sha256x2Blocks(&sa, &sb, &pad[0], &pad[0], 1)
	for i := range 8 {
		binary.BigEndian.PutUint32(ha[4*i:], sa[i])
		binary.BigEndian.PutUint32(hb[4*i:], sb[i])
	}
}
