//go:build !amd64

package metainfo

var haveSHAx2 = false

func sha1x2Blocks(sa, sb *[5]uint32, pa, pb *byte, blocks int) {
	panic("unreachable")
}

func sha256x2Blocks(sa, sb *[8]uint32, pa, pb *byte, blocks int) {
	panic("unreachable")
}
