package metainfo

// sha1x2Blocks runs the SHA-1 compression function over blocks 64-byte
// blocks of two messages at once, pa for state sa and pb for sb (see
// gen_shax2.go). It needs the SHA extensions, SSSE3 and SSE4.1.
//
//go:noescape
func sha1x2Blocks(sa, sb *[5]uint32, pa, pb *byte, blocks int)

// sha256x2Blocks is sha1x2Blocks for SHA-256.
//
//go:noescape
func sha256x2Blocks(sa, sb *[8]uint32, pa, pb *byte, blocks int)

func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)

// haveSHAx2 reports whether the x2 block functions can run on this CPU.
var haveSHAx2 = func() bool {
	maxLeaf, _, _, _ := cpuid(0, 0)
	if maxLeaf < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	_, ebx7, _, _ := cpuid(7, 0)
	const ssse3, sse41, sha = 1 << 9, 1 << 19, 1 << 29
	return ecx1&ssse3 != 0 && ecx1&sse41 != 0 && ebx7&sha != 0
}()
