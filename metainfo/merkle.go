package metainfo

import (
	"crypto/sha256"
	"math/bits"
)

// BlockSize is the size of a leaf block of the BEP 52 merkle trees.
const BlockSize = 16 << 10

// zeroHashes[k] is the root of a merkle tree over 2^k leaves whose hashes
// are all zero, the padding BEP 52 prescribes beyond the end of a file.
var zeroHashes = func() (z [64][32]byte) {
	for k := 1; k < len(z); k++ {
		z[k] = hashPair(&z[k-1], &z[k-1])
	}
	return z
}()

func hashPair(a, b *[32]byte) [32]byte {
	var buf [64]byte
	copy(buf[:32], a[:])
	copy(buf[32:], b[:])
	return sha256.Sum256(buf[:])
}

// nextPow2 returns the smallest power of two >= n (1 for n <= 1).
func nextPow2(n int64) int64 {
	if n <= 1 {
		return 1
	}
	return 1 << bits.Len64(uint64(n-1))
}

// log2 returns k for n = 2^k.
func log2(n int64) int { return bits.TrailingZeros64(uint64(n)) }

// merkleReduce computes the root of a tree whose nodes at one level are
// the n 32-byte hashes in buf, padded to width (a power of two >= n)
// with zeroHashes[level], level being the height of those nodes above
// the leaves. buf is overwritten.
func merkleReduce(buf []byte, n int, width int64, level int) [32]byte {
	if n == 0 {
		return zeroHashes[level+log2(width)]
	}
	var a, b [32]byte
	for width > 1 {
		m := 0
		for i := 0; i < n; i += 2 {
			copy(a[:], buf[i*32:])
			if i+1 < n {
				copy(b[:], buf[(i+1)*32:])
			} else {
				b = zeroHashes[level]
			}
			h := hashPair(&a, &b)
			copy(buf[m*32:], h[:])
			m++
		}
		n = m
		width /= 2
		level++
	}
	var root [32]byte
	copy(root[:], buf[:32])
	return root
}

// leafHashes hashes data in BlockSize blocks into dst (32 bytes per block,
// the last block over its short length) and returns the block count.
// Full blocks are hashed two at a time.
func leafHashes(dst []byte, data []byte) int {
	n := 0
	var h, h2 [32]byte
	for off := 0; off < len(data); {
		if off+2*BlockSize <= len(data) {
			sha256Pair(data[off:off+BlockSize], data[off+BlockSize:off+2*BlockSize], &h, &h2)
			copy(dst[n*32:], h[:])
			copy(dst[(n+1)*32:], h2[:])
			n += 2
			off += 2 * BlockSize
			continue
		}
		end := min(off+BlockSize, len(data))
		h = sha256.Sum256(data[off:end])
		copy(dst[n*32:], h[:])
		n++
		off = end
	}
	return n
}

// pieceRoot returns the v2 hash of one piece of a file: the merkle root
// over its 16 KiB blocks. For a file of more than one piece the subtree
// is padded to a whole piece (width leavesPerPiece, BEP 52 piece layer);
// for a file of at most one piece the tree is the file's own tree, padded
// only to the next power of two of its block count, and the result is
// the pieces root. scratch must hold 32 bytes per block of a piece.
func pieceRoot(scratch, data []byte, leavesPerPiece int64, multiPiece bool) [32]byte {
	n := leafHashes(scratch, data)
	width := leavesPerPiece
	if !multiPiece {
		width = nextPow2(int64(n))
	}
	return merkleReduce(scratch, n, width, 0)
}

// layerRoot returns the pieces root of a file from its piece layer
// (concatenated 32-byte hashes, one per piece of pieceLength bytes).
func layerRoot(layer []byte, pieceLength int64) [32]byte {
	n := len(layer) / 32
	buf := make([]byte, len(layer))
	copy(buf, layer)
	return merkleReduce(buf, n, nextPow2(int64(n)), log2(pieceLength/BlockSize))
}
