package metainfo

import (
	"bytes"
	"crypto/sha1"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that Parse never panics on hostile input, that what it
// accepts is consistent (hashes over the exact info bytes, safe paths,
// pieces matching the size) and that Marshal keeps the info bytes.
func FuzzParse(f *testing.F) {
	names, _ := filepath.Glob(filepath.Join(goldenDir, "*.torrent"))
	for _, n := range names {
		if b, err := os.ReadFile(n); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		"d4:infod6:lengthi5e4:name1:a12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee",
		"d4:infod5:filesld6:lengthi1e4:pathl2:..eee4:name1:x12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee",
		"d4:infod9:file treed1:ad0:d6:lengthi0eeee12:meta versioni2e4:name1:x12:piece lengthi16384eee",
		"d4:infod4:name1:x12:piece lengthi-1eee",
		"d8:announce3:url4:infod4:name99999999:x",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tor, err := ParseOptions{MaxFiles: 1000}.Parse(data)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T is not an *Error: %v", err, err)
			}
			return
		}
		if !bytes.Contains(data, tor.InfoBytes) || tor.InfoHash != sha1.Sum(tor.InfoBytes) {
			t.Fatal("info hash not over the input's info bytes")
		}
		info := &tor.Info
		if info.PieceLength <= 0 || len(info.Files) == 0 {
			t.Fatalf("accepted info %+v", info)
		}
		for _, f := range info.Files {
			if err := checkPath(f.Path, false); err != nil {
				t.Fatalf("accepted unsafe path %q: %v", f.Path, err)
			}
		}
		if v := info.Version(); v.HasV1() && len(info.Pieces) != 20*info.NumPieces() {
			t.Fatalf("%d piece hashes for %d pieces", len(info.Pieces)/20, info.NumPieces())
		}
		out, err := tor.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseOptions{MaxFiles: 1000}.Parse(out)
		if err != nil {
			t.Fatalf("Marshal output does not parse: %v", err)
		}
		if back.InfoHash != tor.InfoHash || len(back.Info.Files) != len(info.Files) {
			t.Fatal("Marshal changed the torrent")
		}
	})
}

// FuzzParseInfo covers ParseInfo, which decodes info dictionaries
// received from peers (BEP 9 metadata exchange).
func FuzzParseInfo(f *testing.F) {
	names, _ := filepath.Glob(filepath.Join(goldenDir, "*.torrent"))
	for _, n := range names {
		if tor, err := Load(n); err == nil {
			f.Add(tor.InfoBytes)
		}
	}
	f.Add([]byte("d6:lengthi5e4:name1:a12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaae"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tor, err := ParseOptions{MaxFiles: 1000}.ParseInfo(data)
		if err != nil {
			return
		}
		if !bytes.Equal(tor.InfoBytes, data) || tor.InfoHash != sha1.Sum(data) {
			t.Fatal("ParseInfo did not keep the exact bytes")
		}
		for _, f := range tor.Info.Files {
			if err := checkPath(f.Path, false); err != nil {
				t.Fatalf("accepted unsafe path %q", f.Path)
			}
		}
	})
}
