package metainfo

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gale-bt/gale/bencode"
)

func enc(t testing.TB, v any) []byte {
	t.Helper()
	b, err := bencode.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// d is shorthand for a bencode dictionary.
type d = map[string]any

// l is shorthand for a bencode list.
type l = []any

func hashes(n int) string { return strings.Repeat("h", 20*n) }

// v1Single is a valid single-file v1 info dictionary.
func v1Single() d {
	return d{"name": "a.txt", "piece length": int64(16384), "length": int64(20000), "pieces": hashes(2)}
}

// v1Multi is a valid multi-file v1 info dictionary with files.
func v1Multi(files ...d) d {
	var fl l
	var total int64
	for _, f := range files {
		fl = append(fl, f)
		total += f["length"].(int64)
	}
	return d{"name": "dir", "piece length": int64(16384), "files": fl, "pieces": hashes(int((total + 16383) / 16384))}
}

func file(length int64, path ...string) d {
	p := l{}
	for _, c := range path {
		p = append(p, c)
	}
	return d{"length": length, "path": p}
}

// v2Tree is a valid v2 info dictionary with one file per path, each of
// length 5, and the piece layers it needs (none).
func v2Info(tree d) d {
	return d{"name": "dir", "piece length": int64(16384), "meta version": int64(2), "file tree": tree}
}

func leaf(length int64) d {
	e := d{"length": length}
	if length > 0 {
		e["pieces root"] = strings.Repeat("r", 32)
	}
	return d{"": e}
}

func TestParseValid(t *testing.T) {
	info := v1Single()
	info["private"] = int64(1)
	info["source"] = "SRC"
	raw := enc(t, d{
		"announce":      "http://a/announce",
		"announce-list": l{l{"http://a/announce", "http://b/announce"}, l{}, l{"udp://c:1"}},
		"url-list":      "http://seed/",
		"httpseeds":     l{"http://hs/"},
		"nodes":         l{l{"router.example", int64(6881)}, l{"::1", int64(7000)}, l{"bad"}},
		"comment":       "hi",
		"created by":    "test",
		"creation date": int64(1700000000),
		"x-unknown":     d{"k": "v"},
		"info":          info,
	})
	tor, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if tor.Announce != "http://a/announce" || len(tor.AnnounceList) != 2 || tor.AnnounceList[1][0] != "udp://c:1" {
		t.Errorf("trackers %q %q", tor.Announce, tor.AnnounceList)
	}
	if got := tor.Trackers(); strings.Join(got, " ") != "http://a/announce http://b/announce udp://c:1" {
		t.Errorf("Trackers() = %q", got)
	}
	if len(tor.WebSeeds) != 1 || tor.WebSeeds[0] != "http://seed/" || tor.HTTPSeeds[0] != "http://hs/" {
		t.Errorf("seeds %q %q", tor.WebSeeds, tor.HTTPSeeds)
	}
	if len(tor.Nodes) != 2 || tor.Nodes[1].String() != "[::1]:7000" || tor.Nodes[0].String() != "router.example:6881" {
		t.Errorf("nodes %v", tor.Nodes)
	}
	if len(tor.Warnings) != 1 {
		t.Errorf("warnings %q, want one for the bad node", tor.Warnings)
	}
	if !tor.CreationDate.Equal(time.Unix(1700000000, 0)) || tor.Comment != "hi" || tor.CreatedBy != "test" {
		t.Errorf("date %v comment %q by %q", tor.CreationDate, tor.Comment, tor.CreatedBy)
	}
	if !tor.Info.Private || tor.Info.Source != "SRC" || tor.Info.MultiFile || tor.Version() != V1 {
		t.Errorf("info %+v", tor.Info)
	}
	if tor.Info.NumPieces() != 2 || tor.Info.TotalLength != 20000 || tor.Info.Files[0].Path[0] != "a.txt" {
		t.Errorf("info %+v", tor.Info)
	}
	if tor.InfoHash != sha1.Sum(enc(t, info)) || tor.InfoHashV2 != sha256.Sum256(enc(t, info)) {
		t.Error("info hash is not over the info bytes")
	}
	if string(tor.Extra["x-unknown"]) != "d1:k1:ve" {
		t.Errorf("extra %q", tor.Extra)
	}
	if !tor.Report.Canonical() {
		t.Errorf("report %v", tor.Report)
	}
}

// TestParseInfoBytesVerbatim checks that a non-canonical info dictionary
// is hashed as found, never re-encoded (BEP 52).
func TestParseInfoBytesVerbatim(t *testing.T) {
	// Keys out of order and an integer with a leading zero.
	info := "d4:name1:a6:lengthi05e12:piece lengthi16384e6:pieces20:" + hashes(1) + "e"
	raw := []byte("d4:info" + info + "8:announce3:urle")
	tor, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if string(tor.InfoBytes) != info || tor.InfoHash != sha1.Sum([]byte(info)) {
		t.Errorf("info bytes %q", tor.InfoBytes)
	}
	if tor.Report.Canonical() || len(tor.Report.Leniencies) < 3 {
		t.Errorf("report %v, want the unsorted keys and leading zero", tor.Report.Leniencies)
	}
	if tor.Info.TotalLength != 5 {
		t.Errorf("length %d", tor.Info.TotalLength)
	}
}

func TestParseErrors(t *testing.T) {
	valid := enc(t, d{"info": v1Single()})
	deep := "d4:info" + strings.Repeat("l", 100000) + strings.Repeat("e", 100000) + "e"
	withInfo := func(info d) []byte { return enc(t, d{"info": info}) }
	mod := func(f func(d)) []byte {
		i := v1Single()
		f(i)
		return withInfo(i)
	}
	tests := []struct {
		name string
		data []byte
		want string // substring of the error
	}{
		{"empty", nil, "empty input"},
		{"not a dictionary", []byte("li1ee"), "not a dictionary"},
		{"garbage", []byte("hello"), "invalid bencoding"},
		{"truncated", valid[:len(valid)/2], "unexpected end of input"},
		{"truncated by one", valid[:len(valid)-1], "unexpected end of input"},
		{"huge length prefix", []byte("d4:infod4:name99999999999:xee"), "string length"},
		{"huge length in pieces", []byte("d4:infod6:pieces2147483000:e"), "exceeds remaining input"},
		{"deep nesting", []byte(deep), "depth"},
		{"no info", enc(t, d{"announce": "x"}), "missing info"},
		{"info not dict", enc(t, d{"info": "x"}), "want dictionary"},
		{"no name", mod(func(i d) { delete(i, "name") }), "missing name"},
		{"name dotdot", mod(func(i d) { i["name"] = ".." }), "unsafe path"},
		{"name with slash", mod(func(i d) { i["name"] = "a/../../b" }), "unsafe path"},
		{"name empty", mod(func(i d) { i["name"] = "" }), "unsafe path"},
		{"no piece length", mod(func(i d) { delete(i, "piece length") }), "missing piece length"},
		{"piece length zero", mod(func(i d) { i["piece length"] = int64(0) }), "not positive"},
		{"piece length negative", mod(func(i d) { i["piece length"] = int64(-16384) }), "not positive"},
		{"piece length huge", mod(func(i d) { i["piece length"] = int64(1) << 40 }), "exceeds the limit"},
		{"piece length string", mod(func(i d) { i["piece length"] = "16384" }), "want integer"},
		{"pieces not multiple of 20", mod(func(i d) { i["pieces"] = hashes(2) + "x" }), "not a multiple of 20"},
		{"pieces too few", mod(func(i d) { i["pieces"] = hashes(1) }), "need 2"},
		{"pieces too many", mod(func(i d) { i["pieces"] = hashes(3) }), "need 2"},
		{"pieces missing", mod(func(i d) { delete(i, "pieces") }), "missing pieces"},
		{"negative length", mod(func(i d) { i["length"] = int64(-1) }), "negative length"},
		{"length overflow", withInfo(d{"name": "x", "piece length": int64(16384), "pieces": "",
			"files": l{file(1<<62, "a"), file(1<<62, "b"), file(1<<62, "c")}}), "overflows"},
		{"length and files", mod(func(i d) { i["files"] = l{file(1, "x")} }), "both length and files"},
		{"neither length nor files", mod(func(i d) { delete(i, "length") }), "neither length nor files"},
		{"empty files", withInfo(d{"name": "x", "piece length": int64(16384), "files": l{}, "pieces": ""}), "empty file list"},
		{"path traversal", withInfo(v1Multi(file(5, "..", "..", "etc", "passwd"))), "unsafe path"},
		{"path absolute", withInfo(v1Multi(file(5, "/etc/passwd"))), "unsafe path"},
		{"path slash inside", withInfo(v1Multi(file(5, "a/b"))), "unsafe path"},
		{"path backslash", withInfo(v1Multi(file(5, `..\evil`))), "unsafe path"},
		{"path nul", withInfo(v1Multi(file(5, "a\x00"))), "unsafe path"},
		{"path empty component", withInfo(v1Multi(file(5, "a", "", "b"))), "unsafe path"},
		{"path dot", withInfo(v1Multi(file(5, "."))), "unsafe path"},
		{"path empty list", withInfo(v1Multi(file(5))), "missing or empty path"},
		{"path not strings", withInfo(v1Multi(d{"length": int64(5), "path": l{int64(1)}})), "want string"},
		{"file without length", withInfo(v1Multi(d{"path": l{"a"}, "length": int64(0)}, d{"path": l{"b"}, "length": int64(1)})), ""},
		{"file entry not dict", withInfo(d{"name": "x", "piece length": int64(16384), "files": l{"a"}, "pieces": ""}), "want dictionary"},
		{"path too long", withInfo(v1Multi(file(5, strings.Repeat("x", 256)))), "unsafe path"},
		{"meta version 3", withInfo(d{"name": "x", "meta version": int64(3)}), "unsupported meta version 3"},
		{"v2 without tree", withInfo(d{"name": "x", "piece length": int64(16384), "meta version": int64(2)}), "without file tree"},
		{"v2 piece length small", withInfo(d{"name": "x", "piece length": int64(8192), "meta version": int64(2), "file tree": d{"a": leaf(5)}}), "less than 16 KiB"},
		{"v2 piece length not pow2", withInfo(d{"name": "x", "piece length": int64(3 * 16384), "meta version": int64(2), "file tree": d{"a": leaf(5)}}), "not a power of two"},
		{"v2 traversal", withInfo(v2Info(d{"..": d{"etc": leaf(5)}})), "unsafe path"},
		{"v2 deep traversal", withInfo(v2Info(d{"a": d{"..": d{"..": leaf(5)}}})), "unsafe path"},
		{"v2 slash key", withInfo(v2Info(d{"a/../../b": leaf(5)})), "unsafe path"},
		{"v2 nul key", withInfo(v2Info(d{"a\x00": leaf(5)})), "unsafe path"},
		{"v2 root is file", withInfo(v2Info(d{"": d{"length": int64(5)}})), "root of the file tree must not be a file"},
		{"v2 file with sibling", withInfo(v2Info(d{"a": d{"": d{"length": int64(0)}, "b": leaf(5)}})), "siblings"},
		{"v2 no pieces root", withInfo(v2Info(d{"a": d{"": d{"length": int64(5)}}})), "without pieces root"},
		{"v2 short pieces root", withInfo(v2Info(d{"a": d{"": d{"length": int64(5), "pieces root": "abc"}}})), "pieces root is 3 bytes"},
		{"v2 no length", withInfo(v2Info(d{"a": d{"": d{"pieces root": strings.Repeat("r", 32)}}})), "missing length"},
		{"v2 node not dict", withInfo(v2Info(d{"a": "b"})), "want dictionary"},
		{"v2 empty tree", withInfo(v2Info(d{})), "no files"},
		{"v2 missing piece layers", withInfo(v2Info(d{"big": leaf(40000)})), "missing piece layer"},
		{"hybrid differs", withInfo(func() d {
			i := v2Info(d{"a": leaf(5)})
			i["files"] = l{file(5, "b")}
			i["pieces"] = hashes(1)
			return i
		}()), "v1 and v2 views differ"},
		{"hybrid unaligned", withInfo(func() d {
			i := v2Info(d{"a": leaf(5), "b": leaf(5)})
			i["files"] = l{file(5, "a"), file(5, "b")}
			i["pieces"] = hashes(1)
			return i
		}()), "does not start on a piece boundary"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.data)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
			var me *Error
			if !errors.As(err, &me) {
				t.Fatalf("error %T is not an *Error", err)
			}
		})
	}
}

// TestParseSyntaxErrorOffset checks that bencode errors carry the byte
// offset and unwrap to *bencode.SyntaxError.
func TestParseSyntaxErrorOffset(t *testing.T) {
	data := []byte("d4:infod4:name1:x12:piece lengthi16384x")
	_, err := Parse(data)
	var se *bencode.SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("error %v does not wrap *bencode.SyntaxError", err)
	}
	var me *Error
	if !errors.As(err, &me) || me.Offset != se.Offset || me.Offset != int64(len(data)-1) {
		t.Fatalf("offsets: %v", err)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("offset %d", len(data)-1)) {
		t.Fatalf("message %q lacks the offset", err)
	}
	// A typed error inside info points into the whole file.
	info := enc(t, d{"name": "x", "piece length": "bad"})
	data = append([]byte("d4:info"), append(info, 'e')...)
	_, err = Parse(data)
	if !errors.As(err, &me) || me.Field != "info.piece length" || me.Offset != int64(7+bytes.Index(info, []byte("3:bad"))) {
		t.Fatalf("error %v: field %q offset %d", err, me.Field, me.Offset)
	}
}

func TestParseLimits(t *testing.T) {
	raw := enc(t, d{"info": v1Multi(file(1, "a"), file(1, "b"), file(1, "c"))})
	if _, err := (ParseOptions{MaxFiles: 2}).Parse(raw); !errors.Is(err, ErrTooLarge) {
		t.Errorf("MaxFiles: %v", err)
	}
	if _, err := (ParseOptions{MaxSize: 10}).Parse(raw); !errors.Is(err, ErrTooLarge) {
		t.Errorf("MaxSize: %v", err)
	}
	if _, err := (ParseOptions{MaxSize: 10}).Read(bytes.NewReader(raw)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Read beyond MaxSize: %v", err)
	}
	tree := enc(t, d{"info": v2Info(d{"a": leaf(1), "b": d{"c": leaf(1), "d": leaf(1)}})})
	if _, err := (ParseOptions{MaxFiles: 2}).Parse(tree); !errors.Is(err, ErrTooLarge) {
		t.Errorf("MaxFiles v2: %v", err)
	}
	if _, err := (ParseOptions{MaxFiles: 3}).Parse(tree); err != nil {
		t.Errorf("3 files within MaxFiles 3: %v", err)
	}
}

// manyFiles returns a v1 torrent with n one-byte files.
func manyFiles(n int) []byte {
	var b bytes.Buffer
	b.WriteString("d4:infod5:filesl")
	for i := range n {
		name := fmt.Sprintf("f%07d", i)
		fmt.Fprintf(&b, "d6:lengthi1e4:pathl%d:%see", len(name), name)
	}
	pieces := (n + 16383) / 16384
	fmt.Fprintf(&b, "e4:name1:x12:piece lengthi16384e6:pieces%d:%see", 20*pieces, hashes(pieces))
	return b.Bytes()
}

// TestParseMillionFiles refuses a torrent of a million files quickly and
// in memory proportional to its size, and parses 100,000 files in memory
// a small multiple of the input.
func TestParseMillionFiles(t *testing.T) {
	for _, c := range []struct {
		n      int
		refuse bool
		factor uint64 // allowed allocation / input size
	}{{1_000_000, true, 2}, {100_000, false, 10}} {
		data := manyFiles(c.n)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		start := time.Now()
		tor, err := Parse(data)
		elapsed := time.Since(start)
		runtime.ReadMemStats(&after)
		alloc := after.TotalAlloc - before.TotalAlloc
		t.Logf("%d files: %d bytes of input, %d allocated, %v, err %v", c.n, len(data), alloc, elapsed, err)
		if c.refuse {
			if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "more than 500000 files") {
				t.Fatalf("a million files: %v", err)
			}
		} else if err != nil || len(tor.Info.Files) != c.n {
			t.Fatalf("%d files: %v", c.n, err)
		}
		if alloc > c.factor*uint64(len(data)) {
			t.Errorf("%d files: allocated %d bytes for %d of input", c.n, alloc, len(data))
		}
		if elapsed > 10*time.Second {
			t.Errorf("%d files took %v", c.n, elapsed)
		}
	}
}

func TestParseV2PieceLayers(t *testing.T) {
	// A real 3-piece file: pieces root and layer computed here.
	data := content("big", 40000)
	var layer []byte
	for off := 0; off < len(data); off += 16384 {
		h := sha256.Sum256(data[off:min(off+16384, len(data))])
		layer = append(layer, h[:]...)
	}
	root := layerRoot(layer, 16384)
	info := v2Info(d{"big": d{"": d{"length": int64(40000), "pieces root": string(root[:])}}})
	good := enc(t, d{"info": info, "piece layers": d{string(root[:]): string(layer)}})
	tor, err := Parse(good)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(tor.PieceLayer(&tor.Info.Files[0]), layer) || tor.Version() != V2 || tor.Info.NumPieces() != 3 {
		t.Fatalf("layer %x", tor.PieceLayer(&tor.Info.Files[0]))
	}
	bad := bytes.Clone(layer)
	bad[0] ^= 1
	for name, pl := range map[string]string{"wrong hash": string(bad), "short": string(layer[:64]), "long": string(layer) + strings.Repeat("x", 32)} {
		_, err := Parse(enc(t, d{"info": info, "piece layers": d{string(root[:]): pl}}))
		if err == nil || !strings.Contains(err.Error(), "piece layers") {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Without piece layers the piece count is bounded by MaxPieces, even
	// for a length near the int64 limit.
	huge := v2Info(d{"big": d{"": d{"length": int64(1<<63 - 2), "pieces root": string(root[:])}}})
	if _, err := ParseInfo(enc(t, huge)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("ParseInfo of a huge file: %v", err)
	}
	// ParseInfo needs no piece layers, but nothing may follow the
	// dictionary.
	if _, err := ParseInfo(enc(t, info)); err != nil {
		t.Errorf("ParseInfo: %v", err)
	}
	if _, err := ParseInfo(append(enc(t, info), 'x')); err == nil || !strings.Contains(err.Error(), "1 bytes after") {
		t.Errorf("ParseInfo with trailing data: %v", err)
	}
}

func TestParseTolerated(t *testing.T) {
	info := v1Single()
	info["private"] = "yes" // wrong type: ignored like libtorrent
	raw := enc(t, d{
		"info":          info,
		"announce":      int64(5),
		"announce-list": "x",
		"url-list":      l{"", int64(3), "http://ok/"},
		"creation date": "yesterday",
		"nodes":         "none",
	})
	tor, err := Parse(append(raw, "trailing"...))
	if err != nil {
		t.Fatal(err)
	}
	if tor.Info.Private || tor.Announce != "" || len(tor.WebSeeds) != 1 || !tor.CreationDate.IsZero() {
		t.Errorf("torrent %+v", tor)
	}
	if len(tor.Warnings) < 5 {
		t.Errorf("warnings %q", tor.Warnings)
	}
	if tor.Report.Canonical() {
		t.Error("trailing bytes not reported")
	}
	// BitComet padding files are recognised by name; BEP 47 padding files
	// need no path.
	multi := v1Multi(file(5, "a"), file(16379, "_____padding_file_0_"), d{"length": int64(16384), "attr": "p"}, file(3, "b"))
	tor, err = Parse(enc(t, d{"info": multi}))
	if err != nil {
		t.Fatal(err)
	}
	f := tor.Info.Files
	if f[0].Pad || !f[1].Pad || !f[2].Pad || f[3].Pad || strings.Join(f[2].Path, "/") != "dir/.pad/16384" || tor.Info.TotalLength != 8 {
		t.Errorf("files %+v", f)
	}
	if f[3].Offset != 32768 {
		t.Errorf("offset %d", f[3].Offset)
	}
	// A non-power-of-two v1 piece length is accepted with a warning.
	odd := v1Single()
	odd["piece length"] = int64(10000)
	tor, err = Parse(enc(t, d{"info": odd}))
	if err != nil || len(tor.Warnings) != 1 {
		t.Errorf("odd piece length: %v %q", err, tor.Warnings)
	}
}
