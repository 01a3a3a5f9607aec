package metainfo

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// corrupt flips one byte of a file.
func corrupt(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func fileIndex(t *testing.T, tor *Torrent, rel string) int {
	t.Helper()
	for i, f := range tor.Info.Files {
		if strings.Join(f.Path[1:], "/") == rel {
			return i
		}
	}
	t.Fatalf("no file %s", rel)
	return -1
}

func TestVerify(t *testing.T) {
	for _, v := range []Version{V1, V2, Hybrid} {
		t.Run(v.String(), func(t *testing.T) {
			tree, _ := makeTree(t, t.TempDir())
			tor, err := Build(context.Background(), BuildConfig{Path: tree, Version: v, PieceLength: 32 << 10})
			if err != nil {
				t.Fatal(err)
			}
			verify := func() *VerifyResult {
				t.Helper()
				res, err := Verify(context.Background(), tor, tree, VerifyOptions{Threads: 2})
				if err != nil {
					t.Fatal(err)
				}
				return res
			}
			if res := verify(); !res.OK() || res.Pieces != tor.Info.NumPieces() || res.Bytes != tor.Info.TotalLength {
				t.Fatalf("clean data: %+v", res)
			}

			// One flipped byte in the middle of "big" (200000 bytes).
			big := fileIndex(t, tor, "big")
			corrupt(t, filepath.Join(tree, "big"), 100000)
			res := verify()
			wantPiece := int((tor.Info.Files[big].Offset + 100000) / (32 << 10))
			if res.OK() || len(res.BadPieces) != 1 || res.BadPieces[0] != (Range{wantPiece, wantPiece}) {
				t.Fatalf("corrupt byte: bad pieces %v, want [%d]", res.BadPieces, wantPiece)
			}
			if len(res.BadFiles) != 1 || res.BadFiles[0] != big || len(res.MissingFiles) != 0 {
				t.Fatalf("corrupt byte: bad files %v missing %v", res.BadFiles, res.MissingFiles)
			}
			corrupt(t, filepath.Join(tree, "big"), 100000)

			// A missing file and a short file: bad, not an error.
			ax := fileIndex(t, tor, "a/x")
			if err := os.Remove(filepath.Join(tree, "a", "x")); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(filepath.Join(tree, "z"), 1); err != nil {
				t.Fatal(err)
			}
			res = verify()
			z := fileIndex(t, tor, "z")
			if res.OK() || !containsAll(res.MissingFiles, ax, z) || !containsAll(res.BadFiles, ax, z) {
				t.Fatalf("missing/short: %+v", res)
			}
			if res.NumBadPieces() < 4 { // a/x spans at least 3 pieces, z one
				t.Fatalf("missing/short: %d bad pieces %v", res.NumBadPieces(), res.BadPieces)
			}
		})
	}
}

func containsAll(s []int, xs ...int) bool {
	for _, x := range xs {
		found := false
		for _, y := range s {
			found = found || x == y
		}
		if !found {
			return false
		}
	}
	return true
}

// TestVerifyZeroFileMissing: a missing file whose content is all zeros
// would hash correctly as padding; it must still count as bad.
func TestVerifyZeroFileMissing(t *testing.T) {
	root := filepath.Join(t.TempDir(), "z")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "zeros"), make([]byte, 40000), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "empty"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tor, err := Build(context.Background(), BuildConfig{Path: root})
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(root, "zeros"))
	os.Remove(filepath.Join(root, "empty"))
	res, err := Verify(context.Background(), tor, root, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK() || res.NumBadPieces() != res.Pieces || len(res.MissingFiles) != 2 {
		t.Fatalf("%+v", res)
	}
}

func TestVerifySingleAndPaths(t *testing.T) {
	dir := t.TempDir()
	_, single := makeTree(t, dir)
	for _, v := range []Version{V1, V2, Hybrid} {
		tor, err := Build(context.Background(), BuildConfig{Path: single, Version: v})
		if err != nil {
			t.Fatal(err)
		}
		// The file itself, or the directory holding it.
		for _, p := range []string{single, dir} {
			res, err := Verify(context.Background(), tor, p, VerifyOptions{})
			if err != nil || !res.OK() {
				t.Errorf("%v at %s: %+v %v", v, p, res, err)
			}
		}
		if cp, err := tor.ContentPath(dir); err != nil || cp != single {
			t.Errorf("ContentPath = %q, %v", cp, err)
		}
		// v2 without piece layers (a bare info dictionary) checks whole files.
		bare, err := ParseInfo(tor.InfoBytes)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Verify(context.Background(), bare, single, VerifyOptions{})
		if err != nil || !res.OK() {
			t.Errorf("%v bare info: %+v %v", v, res, err)
		}
	}
	if _, err := Verify(context.Background(), &Torrent{}, dir, VerifyOptions{}); err == nil {
		t.Error("empty torrent verified")
	}
	tree := filepath.Join(dir, "tree")
	tor, err := Build(context.Background(), BuildConfig{Path: tree})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(context.Background(), tor, single, VerifyOptions{}); err == nil {
		t.Error("a multi-file torrent verified against a file")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Verify(ctx, tor, tree, VerifyOptions{}); err == nil {
		t.Error("cancelled verify succeeded")
	}
}
