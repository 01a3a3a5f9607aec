package metainfo

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// benchFile writes a file of n pseudo-random bytes for benchmarks.
func benchFile(b testing.TB, n int) string {
	b.Helper()
	p := filepath.Join(b.TempDir(), "bench.bin")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	chunk := content("bench", 1<<20)
	for w := 0; w < n; w += len(chunk) {
		chunk[0]++
		if _, err := f.Write(chunk[:min(len(chunk), n-w)]); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkBuild measures the hashing pipeline (read, SHA-1 pieces, v2
// merkle trees) on a 256 MiB file in the page cache, 256 KiB pieces,
// every core.
func BenchmarkBuild(b *testing.B) {
	path := benchFile(b, 256<<20)
	for _, v := range []Version{V1, V2, Hybrid} {
		b.Run(v.String(), func(b *testing.B) {
			b.SetBytes(256 << 20)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Build(context.Background(), BuildConfig{Path: path, Version: v, PieceLength: 256 << 10}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestSpeedVsMktorrent compares gale's v1 hashing rate with mktorrent's
// on a file in the page cache, both with every core. It runs only with
// GALE_BENCH_SIZE set (bytes, e.g. 2147483648) and needs mktorrent.
func TestSpeedVsMktorrent(t *testing.T) {
	size, _ := strconv.Atoi(os.Getenv("GALE_BENCH_SIZE"))
	if size <= 0 {
		t.Skip("set GALE_BENCH_SIZE to run")
	}
	mk := needTool(t, "mktorrent")
	path := os.Getenv("GALE_BENCH_FILE")
	if path == "" {
		path = benchFile(t, size)
	}
	if err := exec.Command("cat", path).Run(); err != nil { // warm the page cache
		t.Fatal(err)
	}
	best := func(f func()) time.Duration {
		var d time.Duration
		for i := 0; i < 3; i++ {
			s := time.Now()
			f()
			if e := time.Since(s); d == 0 || e < d {
				d = e
			}
		}
		return d
	}
	out := filepath.Join(t.TempDir(), "mk.torrent")
	dm := best(func() {
		os.Remove(out)
		if b, err := exec.Command(mk, "-d", "-l", "18", "-t", "2", "-o", out, path).CombinedOutput(); err != nil {
			t.Fatalf("%v %s", err, b)
		}
	})
	rate := func(d time.Duration) float64 { return float64(size) / d.Seconds() / 1e6 }
	for _, v := range []Version{V1, V2, Hybrid} {
		dg := best(func() {
			if _, err := Build(context.Background(), BuildConfig{Path: path, PieceLength: 256 << 10, Version: v}); err != nil {
				t.Fatal(err)
			}
		})
		fmt.Printf("%-6s gale %7.0f MB/s (%v)  mktorrent v1 %7.0f MB/s (%v)  ratio %.2f\n", v, rate(dg), dg, rate(dm), dm, dm.Seconds()/dg.Seconds())
	}
}

// TestHashAllocsPerPiece checks that the hashing pipeline's allocations
// do not grow with the number of pieces: buffers and scratch space are
// per worker, hashes land in preallocated tables.
func TestHashAllocsPerPiece(t *testing.T) {
	small, big := benchFile(t, 1<<20), benchFile(t, 32<<20)
	allocs := func(path string, v Version) float64 {
		st, _ := os.Stat(path)
		return testing.AllocsPerRun(3, func() {
			job := layout([]sourceFile{{abs: path, size: st.Size()}}, 16<<10, v)
			job.threads = 2
			if _, err := job.run(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
	for _, v := range []Version{V1, V2, Hybrid} {
		a, b := allocs(small, v), allocs(big, v)
		// 32 times the pieces (2048 vs 64): allow a few chunk-level
		// allocations from the progress channel and file handles only.
		if b-a > 40 {
			t.Errorf("%v: %v allocations for 64 pieces, %v for 2048", v, a, b)
		}
		t.Logf("%v: %v allocations for 64 pieces, %v for 2048", v, a, b)
	}
}
