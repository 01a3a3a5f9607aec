package metainfo

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/gale-bt/gale/bencode"
)

// TestEditOutsideInfo changes every field outside info of a tool-made
// torrent and checks that the info bytes and hashes stay identical and
// unknown keys survive.
func TestEditOutsideInfo(t *testing.T) {
	for _, name := range []string{"mktorrent-multi.torrent", "libtorrent-hybrid.torrent", "transmission-multi.torrent"} {
		t.Run(name, func(t *testing.T) {
			orig := mustRead(t, filepath.Join(goldenDir, name))
			tor, err := Parse(orig)
			if err != nil {
				t.Fatal(err)
			}
			tor.Announce = "http://new/announce"
			tor.AnnounceList = [][]string{{"http://new/announce"}, {"udp://other:1"}}
			tor.WebSeeds = nil
			tor.HTTPSeeds = []string{"http://hs/"}
			tor.Comment = "edited"
			tor.Extra = map[string]bencode.RawMessage{"zz-custom": []byte("i42e")}
			out, err := tor.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			back, err := Parse(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(back.InfoBytes, tor.InfoBytes) || !bytes.Contains(orig, back.InfoBytes) {
				t.Fatal("info bytes changed")
			}
			if back.InfoHash != tor.InfoHash || back.InfoHashV2 != tor.InfoHashV2 {
				t.Fatal("info hash changed")
			}
			if back.Comment != "edited" || len(back.AnnounceList) != 2 || back.WebSeeds != nil || back.HTTPSeeds[0] != "http://hs/" {
				t.Errorf("edits lost: %+v", back)
			}
			if string(back.Extra["zz-custom"]) != "i42e" || !back.Report.Canonical() {
				t.Errorf("extra %q report %v", back.Extra, back.Report)
			}
			if len(back.PieceLayers) != len(tor.PieceLayers) {
				t.Errorf("piece layers lost")
			}
		})
	}
}

func TestEditInfo(t *testing.T) {
	tree, single := makeTree(t, t.TempDir())
	for _, c := range []struct {
		path string
		v    Version
	}{{tree, V1}, {tree, Hybrid}, {single, V2}, {single, Hybrid}} {
		tor, err := Build(context.Background(), BuildConfig{Path: c.path, Version: c.v})
		if err != nil {
			t.Fatal(err)
		}
		old := tor.InfoHash
		name, yes, src := "new name", true, "SITE"
		if err := tor.EditInfo(InfoEdit{Name: &name, Private: &yes, Source: &src}); err != nil {
			t.Fatalf("%v: %v", c.v, err)
		}
		if tor.InfoHash == old || tor.Info.Name != name || !tor.Info.Private || tor.Info.Source != src {
			t.Fatalf("%v: %+v", c.v, tor.Info)
		}
		if !tor.Info.MultiFile && tor.Info.Files[0].Path[0] != name {
			t.Errorf("%v: single file path %q", c.v, tor.Info.Files[0].Path)
		}
		out, err := tor.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse(out)
		if err != nil {
			t.Fatalf("%v: edited torrent does not parse: %v", c.v, err)
		}
		if back.InfoHash != tor.InfoHash || back.Info.Name != name {
			t.Errorf("%v: reparsed %+v", c.v, back.Info)
		}
		// Undo: private off and source removed give a different hash again.
		no, empty := false, ""
		if err := tor.EditInfo(InfoEdit{Private: &no, Source: &empty}); err != nil {
			t.Fatal(err)
		}
		if tor.Info.Private || tor.Info.Source != "" || bytes.Contains(tor.InfoBytes, []byte("7:private")) {
			t.Errorf("%v: private/source not removed", c.v)
		}
		bad := "../x"
		if err := tor.EditInfo(InfoEdit{Name: &bad}); err == nil {
			t.Errorf("%v: unsafe name accepted", c.v)
		}
	}
}
