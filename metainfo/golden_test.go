package metainfo

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "regenerate testdata/golden/*.torrent with mktorrent, transmission-create and libtorrent")

// goldenDir holds .torrent files made once by the real tools from the
// tree of makeTree, and golden.json, what libtorrent reads in them.
const goldenDir = "testdata/golden"

// pyCreate makes a torrent with libtorrent: args path, mode (v2|hybrid),
// piece length, output file.
const pyCreate = `
import libtorrent as lt, sys, os
path, mode, pl, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
fs = lt.file_storage()
lt.add_files(fs, path)
flags = lt.create_torrent.v2_only if mode == 'v2' else 0
ct = lt.create_torrent(fs, pl, flags=flags)
ct.add_tracker('http://tracker.example/announce', 0)
ct.add_tracker('http://backup.example/announce', 0)
ct.add_tracker('udp://tracker.example:6969/announce', 1)
ct.add_url_seed('http://seed.example/files/')
ct.add_http_seed('http://httpseed.example/seed')
ct.add_node('router.example', 6881)
ct.set_comment('golden ' + mode)
ct.set_creator('libtorrent ' + lt.__version__)
ct.set_priv(mode == 'hybrid')
lt.set_piece_hashes(ct, os.path.dirname(os.path.abspath(path)))
open(out, 'wb').write(lt.bencode(ct.generate()))
`

// pyDescribe prints, as JSON, what libtorrent reads in each torrent.
const pyDescribe = `
import libtorrent as lt, sys, json
out = {}
for p in sys.argv[1:]:
    ti = lt.torrent_info(p)
    h = ti.info_hashes()
    fs = ti.files()
    out[p.split('/')[-1]] = {
        'v1': str(h.v1) if h.has_v1() else '',
        'v2': str(h.v2) if h.has_v2() else '',
        'name': ti.name(),
        'piece_length': ti.piece_length(),
        'num_pieces': ti.num_pieces(),
        'private': ti.priv(),
        'comment': ti.comment(),
        'creator': ti.creator(),
        'trackers': [[t.tier, t.url] for t in ti.trackers()],
        'web_seeds': [w['url'] for w in ti.web_seeds()],
        'files': [[fs.file_path(i), fs.file_size(i), bool(fs.file_flags(i) & lt.file_storage.flag_pad_file)] for i in range(fs.num_files())],
    }
print(json.dumps(out, indent=1, sort_keys=True))
`

type goldenInfo struct {
	V1          string   `json:"v1"`
	V2          string   `json:"v2"`
	Name        string   `json:"name"`
	PieceLength int64    `json:"piece_length"`
	NumPieces   int      `json:"num_pieces"`
	Private     bool     `json:"private"`
	Comment     string   `json:"comment"`
	Creator     string   `json:"creator"`
	Trackers    [][]any  `json:"trackers"`
	WebSeeds    []string `json:"web_seeds"`
	Files       [][]any  `json:"files"`
}

// TestUpdateGolden regenerates the golden torrents with -update.
func TestUpdateGolden(t *testing.T) {
	if !*update {
		t.Skip("run with -update to regenerate the golden torrents")
	}
	mk := needTool(t, "mktorrent")
	tc := needTool(t, "transmission-create")
	needLibtorrent(t)
	dir := t.TempDir()
	tree, single := makeTree(t, dir)
	out, err := filepath.Abs(goldenDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, b)
		}
	}
	g := func(n string) string { return filepath.Join(out, n) }
	for _, n := range []string{"mktorrent-multi.torrent", "mktorrent-single.torrent", "transmission-multi.torrent"} {
		os.Remove(g(n)) // the tools refuse to overwrite
	}
	run(mk, "-d", "-l", "15", "-p", "-s", "GALE",
		"-a", "http://tracker.example/announce,http://backup.example/announce",
		"-a", "udp://tracker.example:6969/announce",
		"-w", "http://seed.example/files/", "-c", "golden mktorrent",
		"-o", g("mktorrent-multi.torrent"), "tree")
	run(mk, "-d", "-l", "15", "-a", "http://tracker.example/announce", "-o", g("mktorrent-single.torrent"), "single.bin")
	run(tc, "-p", "-s", "32", "-t", "http://tracker.example/announce", "-c", "golden transmission",
		"-o", g("transmission-multi.torrent"), "tree")
	for _, c := range []struct{ path, mode, out string }{
		{tree, "v2", "libtorrent-v2.torrent"},
		{tree, "hybrid", "libtorrent-hybrid.torrent"},
		{single, "v2", "libtorrent-v2-single.torrent"},
		{single, "hybrid", "libtorrent-hybrid-single.torrent"},
	} {
		runPython(t, pyCreate, c.path, c.mode, "32768", g(c.out))
	}
	names, _ := filepath.Glob(filepath.Join(out, "*.torrent"))
	slices.Sort(names)
	desc := runPython(t, pyDescribe, names...)
	if err := os.WriteFile(g("golden.json"), []byte(desc), 0o644); err != nil {
		t.Fatal(err)
	}
}

func loadGolden(t *testing.T) map[string]goldenInfo {
	t.Helper()
	var m map[string]goldenInfo
	if err := json.Unmarshal(mustRead(t, filepath.Join(goldenDir, "golden.json")), &m); err != nil {
		t.Fatal(err)
	}
	if len(m) < 7 {
		t.Fatalf("golden.json lists %d torrents, want 7", len(m))
	}
	return m
}

// TestParseGolden parses the tools' torrents and compares with what
// libtorrent reads in them.
func TestParseGolden(t *testing.T) {
	for name, want := range loadGolden(t) {
		t.Run(name, func(t *testing.T) {
			tor, err := Load(filepath.Join(goldenDir, name))
			if err != nil {
				t.Fatal(err)
			}
			v := tor.Version()
			if got := hexIf(v.HasV1(), tor.InfoHash[:]); got != want.V1 {
				t.Errorf("v1 info hash %q, libtorrent %q", got, want.V1)
			}
			if got := hexIf(v.HasV2(), tor.InfoHashV2[:]); got != want.V2 {
				t.Errorf("v2 info hash %q, libtorrent %q", got, want.V2)
			}
			if tor.Info.PieceLength != want.PieceLength || tor.Info.NumPieces() != want.NumPieces {
				t.Errorf("pieces %d x %d, libtorrent %d x %d", tor.Info.NumPieces(), tor.Info.PieceLength, want.NumPieces, want.PieceLength)
			}
			if tor.Info.Private != want.Private {
				t.Errorf("private %v, libtorrent %v", tor.Info.Private, want.Private)
			}
			if tor.Comment != want.Comment || tor.CreatedBy != want.Creator {
				t.Errorf("comment %q creator %q, libtorrent %q %q", tor.Comment, tor.CreatedBy, want.Comment, want.Creator)
			}
			var trackers [][]any
			for tier, urls := range tor.AnnounceList {
				for _, u := range urls {
					trackers = append(trackers, []any{float64(tier), u})
				}
			}
			if len(tor.AnnounceList) == 0 && tor.Announce != "" {
				trackers = [][]any{{float64(0), tor.Announce}}
			}
			// libtorrent shuffles each tier (BEP 12): compare sorted.
			sortTiers := func(ts [][]any) {
				slices.SortFunc(ts, func(a, b []any) int {
					if c := int(a[0].(float64) - b[0].(float64)); c != 0 {
						return c
					}
					return strings.Compare(a[1].(string), b[1].(string))
				})
			}
			sortTiers(trackers)
			sortTiers(want.Trackers)
			if !jsonEqual(trackers, want.Trackers) {
				t.Errorf("trackers %v, libtorrent %v", trackers, want.Trackers)
			}
			// libtorrent lists url-list and httpseeds together.
			seeds := append(slices.Clone(tor.WebSeeds), tor.HTTPSeeds...)
			if !jsonEqual(seeds, want.WebSeeds) && !(len(seeds) == 0 && len(want.WebSeeds) == 0) {
				t.Errorf("web seeds %v, libtorrent %v", seeds, want.WebSeeds)
			}
			// libtorrent lists a v2-only single file tree under the file
			// name and adds a tail pad to v2 files; compare real files.
			var got, exp [][]any
			for _, f := range tor.Info.Files {
				if !f.Pad {
					got = append(got, []any{strings.Join(f.Path, "/"), float64(f.Length)})
				}
			}
			for _, f := range want.Files {
				if f[2] != true {
					exp = append(exp, f[:2])
				}
			}
			if !jsonEqual(got, exp) {
				t.Errorf("files\n got %v\nwant %v", got, exp)
			}
			if v == Hybrid {
				// Hybrid padding files must be where libtorrent has them.
				var pads, lpads []float64
				for _, f := range tor.Info.Files {
					if f.Pad {
						pads = append(pads, float64(f.Length))
					}
				}
				for _, f := range want.Files {
					if f[2] == true {
						lpads = append(lpads, f[1].(float64))
					}
				}
				if !slices.Equal(pads, lpads) {
					t.Errorf("pad files %v, libtorrent %v", pads, lpads)
				}
			}
		})
	}
}

// TestBuildMatchesGolden builds the golden tree with gale and requires
// the info hashes of the tools' torrents: mktorrent for v1, libtorrent
// for v2 and hybrid. It needs no tools: their output is in testdata.
func TestBuildMatchesGolden(t *testing.T) {
	golden := loadGolden(t)
	tree, single := makeTree(t, t.TempDir())
	for _, c := range []struct {
		file string
		cfg  BuildConfig
	}{
		{"mktorrent-multi.torrent", BuildConfig{Path: tree, Private: true, Source: "GALE"}},
		{"mktorrent-single.torrent", BuildConfig{Path: single}},
		{"libtorrent-v2.torrent", BuildConfig{Path: tree, Version: V2}},
		{"libtorrent-hybrid.torrent", BuildConfig{Path: tree, Version: Hybrid, Private: true}},
		{"libtorrent-v2-single.torrent", BuildConfig{Path: single, Version: V2}},
		{"libtorrent-hybrid-single.torrent", BuildConfig{Path: single, Version: Hybrid, Private: true}},
	} {
		t.Run(c.file, func(t *testing.T) {
			c.cfg.PieceLength = 32768
			tor, err := Build(context.Background(), c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			want := golden[c.file]
			v := tor.Version()
			if got := hexIf(v.HasV1(), tor.InfoHash[:]); got != want.V1 {
				t.Errorf("v1 info hash %s, tool %s", got, want.V1)
			}
			if got := hexIf(v.HasV2(), tor.InfoHashV2[:]); got != want.V2 {
				t.Errorf("v2 info hash %s, tool %s", got, want.V2)
			}
			// The whole info dictionary is byte-identical, and so are the
			// piece layers.
			ref, err := Load(filepath.Join(goldenDir, c.file))
			if err != nil {
				t.Fatal(err)
			}
			if string(ref.InfoBytes) != string(tor.InfoBytes) {
				t.Errorf("info bytes differ from the tool's")
			}
			if len(ref.PieceLayers) != len(tor.PieceLayers) {
				t.Errorf("%d piece layers, tool %d", len(tor.PieceLayers), len(ref.PieceLayers))
			}
			for k, v := range ref.PieceLayers {
				if string(tor.PieceLayers[k]) != string(v) {
					t.Errorf("piece layer %x differs", k[:4])
				}
			}
		})
	}
}

// TestVerifyGolden verifies the regenerated tree against every golden
// torrent, then against a corrupted copy.
func TestVerifyGolden(t *testing.T) {
	golden := loadGolden(t)
	dir := t.TempDir()
	tree, single := makeTree(t, dir)
	for name := range golden {
		tor, err := Load(filepath.Join(goldenDir, name))
		if err != nil {
			t.Fatal(err)
		}
		path := tree
		if !tor.Info.MultiFile {
			path = single
		}
		res, err := Verify(context.Background(), tor, path, VerifyOptions{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !res.OK() || res.Pieces != tor.Info.NumPieces() {
			t.Errorf("%s: %+v, want all %d pieces good", name, res, tor.Info.NumPieces())
		}
	}
}

func hexIf(ok bool, b []byte) string {
	if !ok {
		return ""
	}
	return hex.EncodeToString(b)
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
