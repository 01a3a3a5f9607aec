package metainfo

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func writeFiles(t *testing.T, root string, files map[string]int) {
	t.Helper()
	for p, n := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, content(p, n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func paths(tor *Torrent) string {
	var s []string
	for _, f := range tor.Info.Files {
		if !f.Pad {
			s = append(s, strings.Join(f.Path, "/"))
		}
	}
	return strings.Join(s, " ")
}

func TestAutoPieceLength(t *testing.T) {
	for _, c := range []struct{ total, want int64 }{
		{0, 16 << 10},
		{1, 16 << 10},
		{32 << 20, 16 << 10},       // exactly 2048 pieces
		{32<<20 + 1, 32 << 10},     // 2049 would be too many
		{1 << 30, 512 << 10},       // 1 GiB: 2048 pieces
		{4 << 30, 2 << 20},         // 4 GiB
		{32 << 30, 16 << 20},       // 32 GiB: the cap
		{1 << 40, 16 << 20},        // clamped
		{700 << 20, 512 << 10},     // a CD image: 1400 pieces
		{(4 << 30) + 1, 4 << 20},   // just over 4 GiB
		{1<<62 + 12345, 16 << 20},  // no overflow
		{(64 << 20) - 1, 32 << 10}, // 2048 pieces
		{(16 << 20) + 1, 16 << 10}, // 1025 pieces
		{(3 << 30) / 2, 1 << 20},   // 1.5 GiB: 1536 pieces
		{100 << 10, 16 << 10},      // tiny: 7 pieces
		{123456789012, 16 << 20},   // 115 GB: clamped
		{2048 * (256 << 10), 256 << 10},
	} {
		got := AutoPieceLength(c.total)
		if got != c.want {
			t.Errorf("AutoPieceLength(%d) = %d, want %d", c.total, got, c.want)
		}
		if got&(got-1) != 0 || got < 16<<10 || got > 16<<20 {
			t.Errorf("AutoPieceLength(%d) = %d is out of rule", c.total, got)
		}
	}
}

func TestBuildSelection(t *testing.T) {
	root := filepath.Join(t.TempDir(), "data")
	writeFiles(t, root, map[string]int{
		"keep.txt":            10,
		".hidden":             1,
		".git/config":         1,
		"CVS/Entries":         1,
		"sub/core":            1,
		"sub/.DS_Store":       1,
		"sub/Thumbs.db":       1,
		"desktop.ini":         1,
		"sub/keep2.bin":       20,
		"build/out.o":         1,
		"sub/skip.tmp":        1,
		"deep/skipdir/x.txt":  1,
		"deep/other/y.txt":    1,
		"deep/other/z.tmp.gz": 1,
	})
	if err := os.Symlink(filepath.Join(root, "keep.txt"), filepath.Join(root, "link.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(root, filepath.Join(root, "sub", "loop")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		cfg  BuildConfig
		want string
	}{
		{"defaults", BuildConfig{},
			"data/build/out.o data/deep/other/y.txt data/deep/other/z.tmp.gz data/deep/skipdir/x.txt data/keep.txt data/sub/keep2.bin data/sub/skip.tmp"},
		{"exclude", BuildConfig{Exclude: []string{"*.tmp", "build", "deep/skipdir", "*.gz"}},
			"data/deep/other/y.txt data/keep.txt data/sub/keep2.bin"},
		{"hidden", BuildConfig{IncludeHidden: true, Exclude: []string{"deep", "build", "*.tmp"}},
			"data/.git/config data/.hidden data/keep.txt data/sub/keep2.bin"},
		{"junk", BuildConfig{IncludeJunk: true, IncludeHidden: true, Exclude: []string{"deep", "build", "*.tmp", ".git", ".hidden"}},
			"data/CVS/Entries data/desktop.ini data/keep.txt data/sub/.DS_Store data/sub/Thumbs.db data/sub/core data/sub/keep2.bin"},
		{"symlinks", BuildConfig{FollowSymlinks: true, Exclude: []string{"deep", "build", "*.tmp"}},
			"data/keep.txt data/link.txt data/sub/keep2.bin"},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.cfg.Path = root
			tor, err := Build(context.Background(), c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := paths(tor); got != c.want {
				t.Errorf("files\n got %s\nwant %s", got, c.want)
			}
		})
	}
}

func TestBuildOrder(t *testing.T) {
	root := filepath.Join(t.TempDir(), "o")
	writeFiles(t, root, map[string]int{"a/x": 1, "a.txt": 1, "a-b/y": 1, "B/z": 1, "ä": 1})
	v1, err := Build(context.Background(), BuildConfig{Path: root})
	if err != nil {
		t.Fatal(err)
	}
	// Whole paths in byte order, as mktorrent sorts them.
	if got := paths(v1); got != "o/B/z o/a-b/y o/a.txt o/a/x o/ä" {
		t.Errorf("v1 order %s", got)
	}
	v2, err := Build(context.Background(), BuildConfig{Path: root, Version: V2})
	if err != nil {
		t.Fatal(err)
	}
	// Component by component: the file tree's order.
	if got := paths(v2); got != "o/B/z o/a/x o/a-b/y o/a.txt o/ä" {
		t.Errorf("v2 order %s", got)
	}
}

func TestBuildDeterministic(t *testing.T) {
	tree, _ := makeTree(t, t.TempDir())
	for _, v := range []Version{V1, V2, Hybrid} {
		var outs [][]byte
		for _, threads := range []int{1, 2, 7} {
			tor, err := Build(context.Background(), BuildConfig{Path: tree, Version: v, Threads: threads, PieceLength: 16 << 10,
				Announce: [][]string{{"http://a/"}, {"http://b/", "http://c/"}}, WebSeeds: []string{"http://w/"}})
			if err != nil {
				t.Fatal(err)
			}
			b, err := tor.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			outs = append(outs, b)
		}
		for _, o := range outs[1:] {
			if !bytes.Equal(o, outs[0]) {
				t.Errorf("%v: output depends on the thread count", v)
			}
		}
		if bytes.Contains(outs[0], []byte("creation date")) || bytes.Contains(outs[0], []byte("created by")) {
			t.Errorf("%v: date or creator written though not asked for", v)
		}
	}
}

func TestBuildFields(t *testing.T) {
	_, single := makeTree(t, t.TempDir())
	date := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	cfg := BuildConfig{
		Path:         single,
		Name:         "renamed.bin",
		Announce:     [][]string{{"http://a/announce", "http://a2/announce"}, {"udp://b:80"}},
		WebSeeds:     []string{"http://w/file"},
		HTTPSeeds:    []string{"http://h/seed"},
		Nodes:        []Node{{"router.example", 6881}},
		Private:      true,
		Source:       "SRC",
		Comment:      "a comment",
		CreatedBy:    "gale test",
		CreationDate: date,
	}
	tor, err := Build(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := tor.Marshal()
	back, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Report.Canonical() {
		t.Errorf("not canonical: %v", back.Report.Leniencies)
	}
	if back.Announce != "http://a/announce" || len(back.AnnounceList) != 2 || back.AnnounceList[0][1] != "http://a2/announce" {
		t.Errorf("trackers %q %q", back.Announce, back.AnnounceList)
	}
	if back.WebSeeds[0] != "http://w/file" || back.HTTPSeeds[0] != "http://h/seed" || back.Nodes[0] != cfg.Nodes[0] {
		t.Errorf("seeds %q %q %v", back.WebSeeds, back.HTTPSeeds, back.Nodes)
	}
	if !back.Info.Private || back.Info.Source != "SRC" || back.Comment != "a comment" || back.CreatedBy != "gale test" || !back.CreationDate.Equal(date) {
		t.Errorf("fields %+v", back)
	}
	if back.Info.Name != "renamed.bin" || back.Info.TotalLength != singleSize || back.InfoHash != tor.InfoHash {
		t.Errorf("info %+v", back.Info)
	}
	// One tracker: announce only, no announce-list (like mktorrent).
	one, err := Build(context.Background(), BuildConfig{Path: single, Announce: [][]string{{"http://only/"}}})
	if err != nil {
		t.Fatal(err)
	}
	if one.Announce != "http://only/" || one.AnnounceList != nil {
		t.Errorf("one tracker: %q %q", one.Announce, one.AnnounceList)
	}
}

func TestBuildEmptyFiles(t *testing.T) {
	root := filepath.Join(t.TempDir(), "e")
	writeFiles(t, root, map[string]int{"a": 0, "b/c": 0})
	for _, v := range []Version{V1, V2, Hybrid} {
		tor, err := Build(context.Background(), BuildConfig{Path: root, Version: v})
		if err != nil {
			t.Fatalf("%v: %v", v, err)
		}
		if tor.Info.NumPieces() != 0 || len(tor.Info.Files) != 2 || tor.Info.TotalLength != 0 {
			t.Errorf("%v: %+v", v, tor.Info)
		}
	}
}

func TestBuildErrors(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, filepath.Join(dir, "ok"), map[string]int{"f": 5})
	if err := os.MkdirAll(filepath.Join(dir, "empty", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, filepath.Join(dir, "hiddenonly"), map[string]int{".x": 5})
	for _, c := range []struct {
		name string
		cfg  BuildConfig
		want string
	}{
		{"missing", BuildConfig{Path: filepath.Join(dir, "nope")}, "no such file"},
		{"empty dir", BuildConfig{Path: filepath.Join(dir, "empty")}, "no files"},
		{"only hidden", BuildConfig{Path: filepath.Join(dir, "hiddenonly")}, "no files"},
		{"piece length not pow2", BuildConfig{Path: filepath.Join(dir, "ok"), PieceLength: 3 << 14}, "power of two"},
		{"piece length small", BuildConfig{Path: filepath.Join(dir, "ok"), PieceLength: 8 << 10}, "power of two"},
		{"piece length huge", BuildConfig{Path: filepath.Join(dir, "ok"), PieceLength: 1 << 30}, "power of two"},
		{"bad version", BuildConfig{Path: filepath.Join(dir, "ok"), Version: 7}, "unknown version"},
		{"bad glob", BuildConfig{Path: filepath.Join(dir, "ok"), Exclude: []string{"[x"}}, "exclude pattern"},
		{"bad name", BuildConfig{Path: filepath.Join(dir, "ok"), Name: "../x"}, "unsafe path"},
		{"device", BuildConfig{Path: "/dev/null"}, "not a regular file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Build(context.Background(), c.cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
}

func TestBuildProgressAndCancel(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, content("f", 24<<20+5), 0o644); err != nil {
		t.Fatal(err)
	}
	var calls int
	var last, total int64
	_, err := Build(context.Background(), BuildConfig{Path: path, Version: Hybrid, Progress: func(done, tot int64) {
		if done < last || done > tot {
			t.Errorf("progress %d after %d of %d", done, last, tot)
		}
		calls++
		last, total = done, tot
	}})
	if err != nil {
		t.Fatal(err)
	}
	if calls < 3 || last != 24<<20+5 || total != last {
		t.Errorf("%d progress calls, last %d of %d", calls, last, total)
	}

	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Int32
	start := time.Now()
	_, err = Build(ctx, BuildConfig{Path: path, PieceLength: 16 << 10, Threads: 1, Progress: func(done, _ int64) {
		if n.Add(1) == 2 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled build: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("cancel took %v", time.Since(start))
	}
}
