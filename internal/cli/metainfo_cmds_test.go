package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gale-bt/gale/metainfo"
)

// sampleTree makes a directory with nested files, a hidden file, junk and
// an empty file.
func sampleTree(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "album")
	writeFile(t, filepath.Join(root, "01 intro.flac"), 70_000, 1)
	writeFile(t, filepath.Join(root, "02 song.flac"), 123_457, 2)
	writeFile(t, filepath.Join(root, "extras", "cover.jpg"), 40_000, 3)
	writeFile(t, filepath.Join(root, "extras", "notes.txt"), 999, 4)
	writeFile(t, filepath.Join(root, ".hidden"), 10, 5)
	writeFile(t, filepath.Join(root, "Thumbs.db"), 10, 6)
	writeFile(t, filepath.Join(root, "CVS", "Entries"), 10, 7)
	writeFile(t, filepath.Join(root, "skip.tmp"), 10, 8)
	writeFile(t, filepath.Join(root, "empty"), 0, 9)
	return root
}

func showJSONOf(t *testing.T, path string) showJSON {
	t.Helper()
	var d showJSON
	if err := json.Unmarshal([]byte(mustGale(t, "show", "--json", path)), &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func filePaths(d showJSON) []string {
	var ps []string
	for _, f := range d.Files {
		ps = append(ps, f.Path)
	}
	return ps
}

func TestCreateShow(t *testing.T) {
	root := sampleTree(t)
	out := filepath.Join(t.TempDir(), "a.torrent")
	mustGale(t, "create", "--no-date", "--no-creator", "-a", "http://t1/announce,http://t2/announce",
		"--announce", "udp://t3:6969", "--piece-length", "32KiB", "--private", "--source", "SITE",
		"--comment", "hello", "-w", "http://ws/album", "--http-seed", "http://hs/seed",
		"--dht-node", "router.example:6881", "--exclude", "*.tmp", "-o", out, root)
	d := showJSONOf(t, out)
	want := []string{"album/01 intro.flac", "album/02 song.flac", "album/empty", "album/extras/cover.jpg", "album/extras/notes.txt"}
	if !slices.Equal(filePaths(d), want) {
		t.Errorf("files = %q, want %q", filePaths(d), want)
	}
	if d.InfoHash == nil || len(*d.InfoHash) != 40 || d.InfoHashV2 != nil {
		t.Errorf("hashes: %v %v", d.InfoHash, d.InfoHashV2)
	}
	if d.Name != "album" || d.PieceLength != 32<<10 || !d.Private || d.Source != "SITE" || d.Comment != "hello" ||
		d.TotalSize != 70_000+123_457+40_000+999 || d.CreatedBy != "" || d.CreationDate != nil {
		t.Errorf("unexpected summary: %+v", d)
	}
	if d.Announce != "http://t1/announce" || len(d.AnnounceList) != 2 || len(d.AnnounceList[0]) != 2 || d.AnnounceList[1][0] != "udp://t3:6969" {
		t.Errorf("trackers: %q %q", d.Announce, d.AnnounceList)
	}
	if !slices.Equal(d.WebSeeds, []string{"http://ws/album"}) || !slices.Equal(d.HTTPSeeds, []string{"http://hs/seed"}) ||
		!slices.Equal(d.Nodes, []string{"router.example:6881"}) {
		t.Errorf("seeds/nodes: %v %v %v", d.WebSeeds, d.HTTPSeeds, d.Nodes)
	}
	if !strings.HasPrefix(d.Magnet, "magnet:?xt=urn:btih:"+*d.InfoHash) {
		t.Errorf("magnet %q", d.Magnet)
	}

	// Deterministic: the same input gives the same bytes.
	out2 := filepath.Join(t.TempDir(), "b.torrent")
	mustGale(t, "create", "--no-date", "--no-creator", "-a", "http://t1/announce,http://t2/announce",
		"--announce", "udp://t3:6969", "--piece-length", "32KiB", "--private", "--source", "SITE",
		"--comment", "hello", "-w", "http://ws/album", "--http-seed", "http://hs/seed",
		"--dht-node", "router.example:6881", "--exclude", "*.tmp", "-o", out2, root)
	b1, _ := os.ReadFile(out)
	b2, _ := os.ReadFile(out2)
	if !bytes.Equal(b1, b2) {
		t.Error("two runs with --no-date --no-creator differ")
	}

	// Hidden files on request; junk stays out.
	out3 := filepath.Join(t.TempDir(), "c.torrent")
	mustGale(t, "create", "--include-hidden", "-o", out3, root)
	d3 := showJSONOf(t, out3)
	if !slices.Contains(filePaths(d3), "album/.hidden") || slices.Contains(filePaths(d3), "album/Thumbs.db") ||
		slices.Contains(filePaths(d3), "album/CVS/Entries") || !slices.Contains(filePaths(d3), "album/skip.tmp") {
		t.Errorf("include-hidden files = %q", filePaths(d3))
	}
	if d3.CreatedBy == "" || d3.CreationDate == nil {
		t.Error("created by / creation date missing by default")
	}

	// Refuses to overwrite; --force does.
	if _, errs, code := runGale(t, "create", "-o", out3, root); code != 1 || !strings.Contains(errs, "exists") {
		t.Errorf("overwrite: exit %d, %s", code, errs)
	}
	mustGale(t, "create", "--force", "-o", out3, root)

	// Human output names the essentials.
	human := mustGale(t, "show", out)
	for _, s := range []string{"album", *d.InfoHash, "private:", "yes", "SITE", "tier 1:", "tier 2:", "http://ws/album", "[0] 01 intro.flac", "extras/"} {
		if !strings.Contains(human, s) {
			t.Errorf("show output lacks %q:\n%s", s, human)
		}
	}
}

func TestCreateStdoutAndJSON(t *testing.T) {
	root := sampleTree(t)
	out, _, code := runGale(t, "create", "--no-date", "-o", "-", root)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	tor, err := metainfo.Parse([]byte(out))
	if err != nil {
		t.Fatalf("stdout is not a torrent: %v", err)
	}
	dir := t.TempDir()
	js := mustGale(t, "create", "--json", "--meta-version", "hybrid", "-o", filepath.Join(dir, "h.torrent"), root)
	var s createSummary
	if err := json.Unmarshal([]byte(js), &s); err != nil {
		t.Fatalf("%v: %s", err, js)
	}
	if s.InfoHash == nil || s.InfoHashV2 == nil || s.MetaVersion != "hybrid" || s.Files != 6 || s.TotalSize != tor.Info.TotalLength {
		t.Fatalf("summary %+v", s)
	}
}

func TestCreateEach(t *testing.T) {
	root := sampleTree(t)
	outDir := filepath.Join(t.TempDir(), "torrents")
	mustGale(t, "create", "--each", "--no-date", "-o", outDir, root)
	ents, err := os.ReadDir(outDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	want := []string{"01 intro.flac.torrent", "02 song.flac.torrent", "empty.torrent", "extras.torrent", "skip.tmp.torrent"}
	if !slices.Equal(names, want) {
		t.Fatalf("--each made %q, want %q", names, want)
	}
}

func TestEditKeepsInfoBytes(t *testing.T) {
	root := sampleTree(t)
	dir := t.TempDir()
	f := filepath.Join(dir, "x.torrent")
	other := filepath.Join(dir, "other.torrent")
	mustGale(t, "create", "-a", "http://a/announce", "-o", f, root)
	mustGale(t, "create", "-a", "http://o1/announce", "-a", "http://o2/announce", "-o", other, root)
	orig, err := metainfo.Load(f)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name  string
		args  []string
		check func(t *testing.T, tor *metainfo.Torrent)
	}{
		{"announce", []string{"--announce", "http://b/announce"}, func(t *testing.T, tor *metainfo.Torrent) {
			if tor.Announce != "http://b/announce" || tor.AnnounceList != nil {
				t.Errorf("%q %q", tor.Announce, tor.AnnounceList)
			}
		}},
		{"add", []string{"--add-announce", "udp://c:1"}, func(t *testing.T, tor *metainfo.Torrent) {
			if len(tor.AnnounceList) != 2 || tor.AnnounceList[1][0] != "udp://c:1" {
				t.Errorf("%q", tor.AnnounceList)
			}
		}},
		{"remove", []string{"--remove-announce", "http://b/announce"}, func(t *testing.T, tor *metainfo.Torrent) {
			if tor.Announce != "udp://c:1" || tor.AnnounceList != nil {
				t.Errorf("%q %q", tor.Announce, tor.AnnounceList)
			}
		}},
		{"list", []string{"--announce-list", "http://x/a,http://y/a|udp://z:2"}, func(t *testing.T, tor *metainfo.Torrent) {
			if tor.Announce != "http://x/a" || len(tor.AnnounceList) != 2 || len(tor.AnnounceList[0]) != 2 {
				t.Errorf("%q %q", tor.Announce, tor.AnnounceList)
			}
		}},
		{"copy", []string{"--copy-announce-from", other}, func(t *testing.T, tor *metainfo.Torrent) {
			if tor.Announce != "http://o1/announce" || len(tor.AnnounceList) != 2 {
				t.Errorf("%q %q", tor.Announce, tor.AnnounceList)
			}
		}},
		{"seeds", []string{"-w", "http://w1/", "--web-seed", "http://w2/", "--http-seed", "http://h/", "--comment", "c"}, func(t *testing.T, tor *metainfo.Torrent) {
			if len(tor.WebSeeds) != 2 || len(tor.HTTPSeeds) != 1 || tor.Comment != "c" {
				t.Errorf("%q %q %q", tor.WebSeeds, tor.HTTPSeeds, tor.Comment)
			}
		}},
		{"clear", []string{"--clear-web-seeds", "--clear-http-seeds"}, func(t *testing.T, tor *metainfo.Torrent) {
			if len(tor.WebSeeds) != 0 || len(tor.HTTPSeeds) != 0 {
				t.Errorf("%q %q", tor.WebSeeds, tor.HTTPSeeds)
			}
		}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			out := mustGale(t, append([]string{"edit", f}, st.args...)...)
			if !strings.Contains(out, "unchanged") {
				t.Errorf("output %q does not say the hash is unchanged", out)
			}
			tor, err := metainfo.Load(f)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(tor.InfoBytes, orig.InfoBytes) {
				t.Fatal("info bytes changed")
			}
			st.check(t, tor)
		})
	}

	// Info edits need --allow-hash-change and change the hash.
	if _, _, code := runGale(t, "edit", f, "--private", "on"); code != 2 {
		t.Fatalf("--private without --allow-hash-change: exit %d", code)
	}
	out := filepath.Join(dir, "renamed.torrent")
	msg := mustGale(t, "edit", f, "--name", "new name", "--private", "on", "--source", "S", "--allow-hash-change", "-o", out)
	tor, err := metainfo.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if tor.InfoHash == orig.InfoHash || !tor.Info.Private || tor.Info.Name != "new name" || tor.Info.Source != "S" {
		t.Fatalf("info edit: %+v", tor.Info)
	}
	if !strings.Contains(msg, "->") {
		t.Errorf("output %q does not show old -> new hash", msg)
	}
	// The original was not touched by -o.
	if again, _ := metainfo.Load(f); again.InfoHash != orig.InfoHash {
		t.Error("-o edited the input file")
	}
}

func TestVerifyCommand(t *testing.T) {
	root := sampleTree(t)
	f := filepath.Join(t.TempDir(), "x.torrent")
	mustGale(t, "create", "--piece-length", "16KiB", "--meta-version", "hybrid", "-o", f, root)
	if out := mustGale(t, "verify", f, root); !strings.Contains(out, "good") {
		t.Fatalf("verify: %s", out)
	}
	// The parent directory works as well.
	mustGale(t, "verify", f, filepath.Dir(root))

	// Corrupt one byte in the middle of the second file.
	p := filepath.Join(root, "02 song.flac")
	b, _ := os.ReadFile(p)
	b[60_000] ^= 0xff
	os.WriteFile(p, b, 0o644)
	out, _, code := runGale(t, "verify", f, root)
	if code != 1 || !strings.Contains(out, "02 song.flac") || strings.Contains(out, "01 intro.flac") {
		t.Fatalf("corrupt: exit %d\n%s", code, out)
	}
	// A missing file is reported, not a crash.
	os.Remove(filepath.Join(root, "extras", "notes.txt"))
	out, _, code = runGale(t, "verify", "--json", f, root)
	var res struct {
		OK      bool `json:"ok"`
		Missing []struct {
			Path string `json:"path"`
		} `json:"missing_files"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 1 || res.OK || len(res.Missing) != 1 || res.Missing[0].Path != "album/extras/notes.txt" {
		t.Fatalf("missing: exit %d %v\n%s", code, err, out)
	}
}

func TestMagnetCommand(t *testing.T) {
	root := sampleTree(t)
	f := filepath.Join(t.TempDir(), "x.torrent")
	mustGale(t, "create", "-a", "http://t/announce", "--meta-version", "hybrid", "-o", f, root)
	out := strings.TrimSpace(mustGale(t, "magnet", "--select", "0,2-3", f))
	m, err := metainfo.ParseMagnet(out)
	if err != nil {
		t.Fatal(err)
	}
	tor, _ := metainfo.Load(f)
	if m.InfoHash != tor.InfoHash || m.InfoHashV2 != tor.InfoHashV2 || m.Name != "album" || metainfo.FormatRanges(m.SelectOnly) != "0,2-3" {
		t.Fatalf("magnet %q parsed to %+v", out, m)
	}
	if _, _, code := runGale(t, "magnet", "--select", "0-999", f); code != 2 {
		t.Fatalf("out of range select: exit %d", code)
	}
}

// TestCreateMatchesMktorrent runs the real mktorrent on the same files and
// compares info hashes, public and private.
func TestCreateMatchesMktorrent(t *testing.T) {
	mk := needTool(t, "mktorrent")
	root := sampleTree(t)
	// mktorrent includes hidden files and junk; remove them so both see
	// the same file set.
	for _, p := range []string{".hidden", "Thumbs.db", "CVS", "skip.tmp"} {
		os.RemoveAll(filepath.Join(root, p))
	}
	for _, private := range []bool{false, true} {
		dir := t.TempDir()
		mkOut, galeOut := filepath.Join(dir, "mk.torrent"), filepath.Join(dir, "gale.torrent")
		args := []string{"-l", "15", "-a", "http://t/announce", "-o", mkOut}
		gargs := []string{"create", "--piece-length", "32KiB", "-a", "http://t/announce", "-o", galeOut}
		if private {
			args = append(args, "-p")
			gargs = append(gargs, "--private")
		}
		if out, err := exec.Command(mk, append(args, root)...).CombinedOutput(); err != nil {
			t.Fatalf("mktorrent: %v\n%s", err, out)
		}
		mustGale(t, append(gargs, root)...)
		a, b := showJSONOf(t, mkOut), showJSONOf(t, galeOut)
		if *a.InfoHash != *b.InfoHash {
			t.Errorf("private=%v: mktorrent %s, gale %s", private, *a.InfoHash, *b.InfoHash)
		}
	}
}

// TestTransmissionReadsGale checks that transmission-show accepts gale's
// torrents and reports the same info hash, and that gale reads
// transmission-create's.
func TestTransmissionReadsGale(t *testing.T) {
	show := needTool(t, "transmission-show")
	create := needTool(t, "transmission-create")
	root := sampleTree(t)
	dir := t.TempDir()
	g := filepath.Join(dir, "g.torrent")
	mustGale(t, "create", "-a", "http://t/announce", "-w", "http://ws/", "-o", g, root)
	out, err := exec.Command(show, g).CombinedOutput()
	if err != nil {
		t.Fatalf("transmission-show: %v\n%s", err, out)
	}
	d := showJSONOf(t, g)
	if !strings.Contains(strings.ToLower(string(out)), *d.InfoHash) {
		t.Fatalf("transmission-show does not report %s:\n%s", *d.InfoHash, out)
	}
	tr := filepath.Join(dir, "tr.torrent")
	if out, err := exec.Command(create, "-o", tr, "-t", "http://t/announce", root).CombinedOutput(); err != nil {
		t.Fatalf("transmission-create: %v\n%s", err, out)
	}
	out, err = exec.Command(show, tr).CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?i)hash(?: v1)?:\s+([0-9a-f]{40})`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no hash in transmission-show output:\n%s", out)
	}
	if d2 := showJSONOf(t, tr); *d2.InfoHash != strings.ToLower(string(m[1])) {
		t.Fatalf("gale reads %s, transmission says %s", *d2.InfoHash, m[1])
	}
}

func TestCreateProgress(t *testing.T) {
	root := sampleTree(t)
	dir := t.TempDir()
	// On a pipe (the test's buffers) nothing is drawn unless asked.
	_, errs, code := runGale(t, "create", "-o", filepath.Join(dir, "a.torrent"), root)
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	_, errs, code = runGale(t, "create", "--progress", "always", "-o", filepath.Join(dir, "b.torrent"), root)
	if code != 0 || !strings.Contains(errs, "hashing") || !strings.Contains(errs, "100%") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
}
