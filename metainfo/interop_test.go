package metainfo

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// interopTree writes a tree with sizes around piece boundaries for piece
// length pl, nested directories, empty files and names whose v1 and v2
// orders differ.
func interopTree(t *testing.T, dir string, pl int) string {
	t.Helper()
	root := filepath.Join(dir, "data")
	files := map[string]int{
		"A/one":           pl,
		"A/two":           pl + 1,
		"a/b/c/deep":      3*pl - 1,
		"a/empty":         0,
		"a-b":             17,
		"a.bin":           5*pl + 123,
		"m/empty2":        0,
		"m/n/small":       1,
		"z/last":          2*pl + 7,
		"space name.txt":  999,
		"ünïcödé/ß.dat":   pl / 2,
		"zz_exactly_zero": 0,
	}
	for p, n := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, content(p, n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestInteropMktorrent requires the v1 info hash of mktorrent for the
// same files, piece length and private flag.
func TestInteropMktorrent(t *testing.T) {
	mk := needTool(t, "mktorrent")
	dir := t.TempDir()
	for _, c := range []struct {
		exp     int
		private bool
		single  bool
	}{{15, false, false}, {16, true, false}, {18, false, false}, {15, true, true}, {20, false, true}} {
		t.Run(fmt.Sprintf("l%d-private=%v-single=%v", c.exp, c.private, c.single), func(t *testing.T) {
			pl := 1 << c.exp
			sub := t.TempDir()
			path := interopTree(t, sub, pl)
			if c.single {
				path = filepath.Join(path, "a.bin")
			}
			out := filepath.Join(dir, fmt.Sprintf("mk-%d-%v-%v.torrent", c.exp, c.private, c.single))
			args := []string{"-d", "-l", strconv.Itoa(c.exp), "-o", out}
			if c.private {
				args = append(args, "-p")
			}
			if b, err := exec.Command(mk, append(args, path)...).CombinedOutput(); err != nil {
				t.Fatalf("mktorrent: %v\n%s", err, b)
			}
			want, err := Load(out)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Build(context.Background(), BuildConfig{Path: path, PieceLength: int64(pl), Private: c.private})
			if err != nil {
				t.Fatal(err)
			}
			if got.InfoHash != want.InfoHash {
				t.Fatalf("info hash %x, mktorrent %x", got.InfoHash, want.InfoHash)
			}
		})
	}
}

// pyLibtorrentV2 prints the v2 info hash libtorrent gives the files at
// argv[1] with v2_only and piece length argv[2].
const pyLibtorrentV2 = `
import libtorrent as lt, sys, os
fs = lt.file_storage()
lt.add_files(fs, sys.argv[1])
ct = lt.create_torrent(fs, int(sys.argv[2]), flags=lt.create_torrent.v2_only)
lt.set_piece_hashes(ct, os.path.dirname(os.path.abspath(sys.argv[1])))
ti = lt.torrent_info(ct.generate())
print(ti.info_hashes().v2)
`

// TestInteropLibtorrentV2 requires libtorrent's v2 info hash.
func TestInteropLibtorrentV2(t *testing.T) {
	needLibtorrent(t)
	for _, pl := range []int{16 << 10, 64 << 10, 1 << 20} {
		for _, single := range []bool{false, true} {
			t.Run(fmt.Sprintf("pl=%d-single=%v", pl, single), func(t *testing.T) {
				path := interopTree(t, t.TempDir(), pl)
				if single {
					path = filepath.Join(path, "a.bin")
				}
				want := strings.TrimSpace(runPython(t, pyLibtorrentV2, path, strconv.Itoa(pl)))
				got, err := Build(context.Background(), BuildConfig{Path: path, PieceLength: int64(pl), Version: V2})
				if err != nil {
					t.Fatal(err)
				}
				if hex.EncodeToString(got.InfoHashV2[:]) != want {
					t.Fatalf("v2 info hash %x, libtorrent %s", got.InfoHashV2, want)
				}
			})
		}
	}
}

// pyRecheck loads argv[1] in a libtorrent session with the data saved in
// argv[2], forces a recheck and prints the outcome as JSON.
const pyRecheck = `
import libtorrent as lt, sys, time, json
ses = lt.session({'listen_interfaces': '127.0.0.1:0', 'enable_dht': False, 'enable_lsd': False,
                  'enable_upnp': False, 'enable_natpmp': False, 'alert_mask': 0})
ti = lt.torrent_info(sys.argv[1])
atp = lt.add_torrent_params()
atp.ti = ti
atp.save_path = sys.argv[2]
atp.flags &= ~lt.torrent_flags.seed_mode
atp.flags &= ~lt.torrent_flags.auto_managed
atp.flags &= ~lt.torrent_flags.paused
h = ses.add_torrent(atp)
h.force_recheck()
start = time.time()
while time.time() - start < 60:
    s = h.status()
    if s.is_seeding:
        break
    if time.time() - start > 5 and s.state not in (lt.torrent_status.checking_files, lt.torrent_status.checking_resume_data):
        break
    time.sleep(0.1)
s = h.status()
ih = ti.info_hashes()
print(json.dumps({'seeding': s.is_seeding, 'have': s.num_pieces, 'pieces': ti.num_pieces(),
                  'v1': str(ih.v1) if ih.has_v1() else '', 'v2': str(ih.v2) if ih.has_v2() else '',
                  'state': str(s.state)}))
`

type recheck struct {
	Seeding bool   `json:"seeding"`
	Have    int    `json:"have"`
	Pieces  int    `json:"pieces"`
	V1      string `json:"v1"`
	V2      string `json:"v2"`
	State   string `json:"state"`
}

// TestInteropLibtorrentHybrid loads gale's hybrid (and v2, v1) torrents in
// libtorrent, which must see both info hashes and find the data complete.
func TestInteropLibtorrentHybrid(t *testing.T) {
	needLibtorrent(t)
	for _, c := range []struct {
		v       Version
		pl      int64
		single  bool
		corrupt bool // negative control: libtorrent must notice
	}{{Hybrid, 16 << 10, false, false}, {Hybrid, 64 << 10, false, false}, {Hybrid, 32 << 10, true, false},
		{V2, 32 << 10, false, false}, {V1, 32 << 10, false, false}, {Hybrid, 32 << 10, false, true}} {
		t.Run(fmt.Sprintf("%v-pl=%d-single=%v-corrupt=%v", c.v, c.pl, c.single, c.corrupt), func(t *testing.T) {
			dir := t.TempDir()
			path := interopTree(t, dir, int(c.pl))
			if c.single {
				path = filepath.Join(path, "a.bin")
			}
			tor, err := Build(context.Background(), BuildConfig{Path: path, PieceLength: c.pl, Version: c.v})
			if err != nil {
				t.Fatal(err)
			}
			b, err := tor.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(dir, "gale.torrent")
			if err := os.WriteFile(file, b, 0o644); err != nil {
				t.Fatal(err)
			}
			if c.corrupt {
				corrupt(t, filepath.Join(path, "a.bin"), 3*c.pl+5)
			}
			var r recheck
			out := runPython(t, pyRecheck, file, filepath.Dir(path))
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if r.V1 != hexIf(c.v.HasV1(), tor.InfoHash[:]) || r.V2 != hexIf(c.v.HasV2(), tor.InfoHashV2[:]) {
				t.Errorf("libtorrent hashes v1=%q v2=%q, gale %x %x", r.V1, r.V2, tor.InfoHash, tor.InfoHashV2)
			}
			if c.corrupt {
				if r.Seeding || r.Have != r.Pieces-1 {
					t.Errorf("libtorrent after recheck of corrupt data: %+v, want exactly one piece missing", r)
				}
				return
			}
			if !r.Seeding || r.Have != r.Pieces || r.Pieces != tor.Info.NumPieces() {
				t.Errorf("libtorrent after recheck: %+v, want seeding with all %d pieces", r, tor.Info.NumPieces())
			}
		})
	}
}

// TestInteropTransmissionShow has transmission-show read gale's v1
// torrent and report its info hash and files.
func TestInteropTransmissionShow(t *testing.T) {
	ts := needTool(t, "transmission-show")
	dir := t.TempDir()
	path := interopTree(t, dir, 32<<10)
	tor, err := Build(context.Background(), BuildConfig{Path: path, Private: true,
		Announce: [][]string{{"http://127.0.0.1:1/announce"}}, Comment: "gale interop"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := tor.Marshal()
	file := filepath.Join(dir, "gale.torrent")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(ts, file).CombinedOutput()
	if err != nil {
		t.Fatalf("transmission-show: %v\n%s", err, out)
	}
	s := string(out)
	for _, want := range []string{
		"Hash: " + hex.EncodeToString(tor.InfoHash[:]),
		"Privacy: Private torrent",
		"gale interop",
		"http://127.0.0.1:1/announce",
		"ünïcödé/ß.dat",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("transmission-show output lacks %q:\n%s", want, s)
		}
	}
}
