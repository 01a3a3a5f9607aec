package metainfo

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"testing"
)

func TestSHA1Pair(t *testing.T) {
	for _, n := range []int{0, 1, 63, 64, 128, 16 << 10, 256 << 10, 1000} {
		a, b := content("a", n), content("b", n)
		var ha, hb [20]byte
		sha1Pair(a, b, &ha, &hb)
		if ha != sha1.Sum(a) || hb != sha1.Sum(b) {
			t.Errorf("len %d: sha1Pair disagrees with crypto/sha1", n)
		}
	}
	// Different lengths fall back.
	a, b := content("a", 64), content("b", 128)
	var ha, hb [20]byte
	sha1Pair(a, b, &ha, &hb)
	if ha != sha1.Sum(a) || hb != sha1.Sum(b) {
		t.Error("unequal lengths")
	}
}

func BenchmarkSHA1Pair(b *testing.B) {
	x, y := content("a", 256<<10), content("b", 256<<10)
	var ha, hb [20]byte
	b.SetBytes(2 * 256 << 10)
	for b.Loop() {
		sha1Pair(x, y, &ha, &hb)
	}
}

func BenchmarkSHA1Single(b *testing.B) {
	x := content("a", 256<<10)
	b.SetBytes(256 << 10)
	for b.Loop() {
		sha1.Sum(x)
	}
}

func TestSHA256Pair(t *testing.T) {
	for _, n := range []int{0, 1, 55, 64, 128, 16 << 10, 1000} {
		a, b := content("a", n), content("b", n)
		var ha, hb [32]byte
		sha256Pair(a, b, &ha, &hb)
		if ha != sha256.Sum256(a) || hb != sha256.Sum256(b) {
			t.Errorf("len %d: sha256Pair disagrees with crypto/sha256", n)
		}
	}
}

func BenchmarkSHA256Pair(b *testing.B) {
	x, y := content("a", 16<<10), content("b", 16<<10)
	var ha, hb [32]byte
	b.SetBytes(2 * 16 << 10)
	for b.Loop() {
		sha256Pair(x, y, &ha, &hb)
	}
}

func BenchmarkSHA256Single(b *testing.B) {
	x := content("a", 16<<10)
	b.SetBytes(16 << 10)
	for b.Loop() {
		sha256.Sum256(x)
	}
}

// TestBuildWithoutSHAx2 builds with the portable hashing path and
// requires the same torrents as with the interleaved one.
func TestBuildWithoutSHAx2(t *testing.T) {
	tree, _ := makeTree(t, t.TempDir())
	for _, v := range []Version{V1, V2, Hybrid} {
		fast, err := Build(context.Background(), BuildConfig{Path: tree, Version: v, PieceLength: 16 << 10})
		if err != nil {
			t.Fatal(err)
		}
		saved := haveSHAx2
		haveSHAx2 = false
		slow, err := Build(context.Background(), BuildConfig{Path: tree, Version: v, PieceLength: 16 << 10})
		haveSHAx2 = saved
		if err != nil {
			t.Fatal(err)
		}
		if string(fast.InfoBytes) != string(slow.InfoBytes) {
			t.Errorf("%v: the fallback hashes differently", v)
		}
	}
}
