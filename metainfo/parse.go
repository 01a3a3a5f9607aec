package metainfo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/gale-bt/gale/bencode"
)

// Default limits of ParseOptions.
const (
	// DefaultMaxSize bounds the size of a .torrent file: 64 MiB, far above
	// real torrents (libtorrent's default limit is 10 MB).
	DefaultMaxSize = 64 << 20
	// DefaultMaxFiles bounds the number of files, padding files included,
	// in the v1 list and in the v2 tree (each counted on its own): 500,000,
	// about what libtorrent's default token limit allows. The entries are
	// counted before anything is allocated for them, so a torrent with a
	// million files is refused quickly in memory proportional to its size.
	DefaultMaxFiles = 500_000
	// DefaultMaxPieces bounds the number of pieces: 2^22, twice
	// libtorrent's default (a 64 TiB torrent with 16 MiB pieces). It
	// bounds what building the piece tables for Verify costs.
	DefaultMaxPieces = 1 << 22
	// MaxPieceLength is the largest piece length accepted: 1 GiB.
	MaxPieceLength = 1 << 30
)

// ParseOptions bounds what parsing accepts. The zero value applies the
// defaults; a negative or zero field means its default.
type ParseOptions struct {
	MaxSize   int64 // bytes of input, DefaultMaxSize
	MaxFiles  int   // files including padding files, DefaultMaxFiles
	MaxPieces int   // pieces, DefaultMaxPieces
}

func (o ParseOptions) maxSize() int64 {
	if o.MaxSize <= 0 {
		return DefaultMaxSize
	}
	return o.MaxSize
}

func (o ParseOptions) maxFiles() int {
	if o.MaxFiles <= 0 {
		return DefaultMaxFiles
	}
	return o.MaxFiles
}

func (o ParseOptions) maxPieces() int {
	if o.MaxPieces <= 0 {
		return DefaultMaxPieces
	}
	return o.MaxPieces
}

// Parse parses a .torrent file with the default limits. See
// ParseOptions.Parse.
func Parse(data []byte) (*Torrent, error) { return ParseOptions{}.Parse(data) }

// Load reads and parses the .torrent file at path with the default
// limits.
func Load(path string) (*Torrent, error) { return ParseOptions{}.Load(path) }

// Read reads a .torrent file from r, at most MaxSize bytes, and parses
// it with the default limits.
func Read(r io.Reader) (*Torrent, error) { return ParseOptions{}.Read(r) }

// Load reads and parses the .torrent file at path. Errors name the file.
func (o ParseOptions) Load(path string) (*Torrent, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := o.Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Read reads a .torrent file from r and parses it. It reads at most
// MaxSize+1 bytes, so a hostile stream cannot exhaust memory.
func (o ParseOptions) Read(r io.Reader) (*Torrent, error) {
	limit := o.maxSize()
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	return o.Parse(data)
}

// Parse parses a v1, v2 or hybrid .torrent file (BEP 3, BEP 52).
//
// Decoding is tolerant of what real clients accept: unsorted or duplicate
// keys, leading zeros and trailing bytes are recorded in Torrent.Report;
// optional fields outside info with the wrong type are skipped and noted
// in Torrent.Warnings. The info dictionary is validated strictly: piece
// length (positive; for v2 and hybrid a power of two of at least 16 KiB),
// the length of pieces against the total size, file lengths, every path
// (SafePath's platform-independent rules), the v2 file tree and its
// pieces roots, the piece layers against the pieces roots, and, for
// hybrid torrents, that the v1 and v2 views describe the same files with
// each file piece-aligned by BEP 47 padding files.
//
// Errors are *Error values naming the field and byte offset; malformed
// bencoding yields an *Error wrapping the *bencode.SyntaxError. Time and
// memory are linear in len(data), and the limits of o apply.
func (o ParseOptions) Parse(data []byte) (*Torrent, error) {
	t, err := o.parse(data, false)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// ParseInfo parses a bare info dictionary, such as one received by the
// metadata exchange of BEP 9, into a Torrent with only Info, InfoBytes
// and the info hashes set. Piece layers are not required.
func (o ParseOptions) ParseInfo(info []byte) (*Torrent, error) { return o.parse(info, true) }

// ParseInfo parses a bare info dictionary with the default limits.
func ParseInfo(info []byte) (*Torrent, error) { return ParseOptions{}.ParseInfo(info) }

// maxWarnings bounds Torrent.Warnings.
const maxWarnings = 32

type parser struct {
	opts   ParseOptions
	c      *cursor
	t      *Torrent
	nfiles int      // entries of the v1 file list
	ntree  int      // files of the v2 file tree
	comps  []string // backing array of all file paths
	stack  []string // current v2 file tree path
	tree   []treeFile
}

// treeFile is a file of a v2 file tree while parsing; path is
// comps[start:end].
type treeFile struct {
	start, end int
	length     int64
	root       [32]byte
}

func (p *parser) warn(format string, args ...any) {
	if len(p.t.Warnings) < maxWarnings {
		p.t.Warnings = append(p.t.Warnings, fmt.Sprintf(format, args...))
	}
}

// fieldErr turns a cursor error into an *Error naming field.
func (p *parser) fieldErr(field string, err error) error {
	var te *typeErr
	if errors.As(err, &te) {
		return &Error{Field: field, Offset: te.off, Msg: te.Error()}
	}
	var me *Error
	if errors.As(err, &me) && me.Field == "" {
		me.Field = field
	}
	return err
}

// fail returns an *Error for field at the cursor position.
func (p *parser) fail(field string, off int, format string, args ...any) error {
	return &Error{Field: field, Offset: int64(off) + p.c.base, Msg: fmt.Sprintf(format, args...)}
}

func bencodeErr(err error) error {
	var se *bencode.SyntaxError
	if errors.As(err, &se) {
		return &Error{Offset: se.Offset, Msg: "invalid bencoding: " + se.Msg, Err: err}
	}
	var te *bencode.UnmarshalTypeError
	if errors.As(err, &te) {
		return &Error{Offset: te.Offset, Msg: "top-level value is a " + te.Value + ", not a dictionary", Err: err}
	}
	return &Error{Offset: -1, Msg: err.Error(), Err: err}
}

func (o ParseOptions) parse(data []byte, infoOnly bool) (*Torrent, error) {
	if int64(len(data)) > o.maxSize() {
		return nil, &Error{Offset: -1, Msg: fmt.Sprintf("input exceeds the limit of %d bytes", o.maxSize()), Err: ErrTooLarge}
	}
	if len(data) == 0 {
		return nil, &Error{Offset: 0, Msg: "empty input"}
	}
	// Validate the whole input once; this enforces the nesting limit and
	// string bounds, and records every leniency.
	rep, err := bencode.DecodeOptions{Tolerant: true}.Unmarshal(data, &struct{}{})
	if err != nil {
		return nil, bencodeErr(err)
	}
	t := &Torrent{Report: rep}
	p := &parser{opts: o, t: t}
	if infoOnly {
		if data[0] != 'd' {
			return nil, &Error{Field: "info", Offset: 0, Msg: "not a dictionary"}
		}
		c := &cursor{data: data}
		if err := c.skip(); err != nil {
			return nil, p.fieldErr("info", err)
		}
		if c.pos != len(data) {
			// The bytes are the info dictionary to hash: nothing may follow.
			return nil, &Error{Field: "info", Offset: int64(c.pos), Msg: fmt.Sprintf("%d bytes after the info dictionary", len(data)-c.pos)}
		}
		t.InfoBytes = bytes.Clone(data)
		if err := p.parseInfo(0); err != nil {
			return nil, err
		}
		t.hashInfo()
		return t, nil
	}
	p.c = &cursor{data: data}
	infoStart, infoEnd, layersStart := -1, -1, -1
	err = p.c.dict(func(k []byte, ko int) error {
		var err error
		key := string(k)
		switch key {
		case "announce":
			t.Announce = p.optString(key)
		case "announce-list":
			t.AnnounceList = p.announceList()
		case "url-list":
			t.WebSeeds = p.stringList(key)
		case "httpseeds":
			t.HTTPSeeds = p.stringList(key)
		case "nodes":
			t.Nodes = p.nodes()
		case "comment":
			t.Comment = p.optString(key)
		case "created by":
			t.CreatedBy = p.optString(key)
		case "encoding":
			t.Encoding = p.optString(key)
		case "creation date":
			t.CreationDate = time.Time{}
			if !p.c.is('i') {
				p.warn("ignored %q: %s", key, p.c.mismatch("integer"))
				return p.c.skip()
			}
			n, err := p.c.integer()
			if err != nil {
				return err
			}
			if n > 0 {
				t.CreationDate = time.Unix(n, 0).UTC()
			}
		case "info":
			if !p.c.is('d') {
				return p.fieldErr("info", p.c.mismatch("dictionary"))
			}
			infoStart, infoEnd, err = p.c.raw()
		case "piece layers":
			layersStart, _, err = p.c.raw()
		default:
			var s, e int
			s, e, err = p.c.raw()
			if err == nil {
				if t.Extra == nil {
					t.Extra = map[string]bencode.RawMessage{}
				}
				t.Extra[key] = bytes.Clone(data[s:e])
			}
		}
		return err
	})
	if err != nil {
		return nil, p.fieldErr("", err)
	}
	if infoStart < 0 {
		return nil, &Error{Field: "info", Offset: -1, Msg: "missing info dictionary"}
	}
	t.InfoBytes = bytes.Clone(data[infoStart:infoEnd])
	if err := p.parseInfo(int64(infoStart)); err != nil {
		return nil, err
	}
	t.hashInfo()
	if t.Info.MetaVersion >= 2 {
		if err := p.pieceLayers(data, layersStart); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// optString reads an optional string field, skipping other kinds.
func (p *parser) optString(key string) string {
	if !p.c.isString() {
		p.warn("ignored %q: %s", key, p.c.mismatch("string"))
		_ = p.c.skip()
		return ""
	}
	b, _ := p.c.bytes()
	return string(b)
}

// stringList reads a string or a list of strings (url-list, httpseeds),
// dropping empty strings and other kinds.
func (p *parser) stringList(key string) []string {
	if p.c.isString() {
		if s := p.optString(key); s != "" {
			return []string{s}
		}
		return nil
	}
	if !p.c.is('l') {
		p.warn("ignored %q: %s", key, p.c.mismatch("string or list"))
		_ = p.c.skip()
		return nil
	}
	var out []string
	_ = p.c.list(func(int) error {
		if !p.c.isString() {
			p.warn("ignored an entry of %q: %s", key, p.c.mismatch("string"))
			return p.c.skip()
		}
		b, err := p.c.bytes()
		if len(b) > 0 {
			out = append(out, string(b))
		}
		return err
	})
	return out
}

// announceList reads the BEP 12 tiers; a tier that is a bare string is
// taken as a tier of one.
func (p *parser) announceList() [][]string {
	if !p.c.is('l') {
		p.warn("ignored \"announce-list\": %s", p.c.mismatch("list"))
		_ = p.c.skip()
		return nil
	}
	var tiers [][]string
	_ = p.c.list(func(int) error {
		if tier := p.stringList("announce-list"); len(tier) > 0 {
			tiers = append(tiers, tier)
		}
		return nil
	})
	return tiers
}

// nodes reads BEP 5 "nodes": a list of [host, port] pairs.
func (p *parser) nodes() []Node {
	if !p.c.is('l') {
		p.warn("ignored \"nodes\": %s", p.c.mismatch("list"))
		_ = p.c.skip()
		return nil
	}
	var out []Node
	_ = p.c.list(func(int) error {
		var n Node
		ok := p.c.is('l')
		if !ok {
			return p.c.skip()
		}
		_ = p.c.list(func(i int) error {
			switch {
			case i == 0 && p.c.isString():
				b, _ := p.c.bytes()
				n.Host = string(b)
				return nil
			case i == 1 && p.c.is('i'):
				v, err := p.c.integer()
				if err != nil || v < 1 || v > 65535 {
					ok = false
				}
				n.Port = int(v)
				return nil
			}
			ok = false
			return p.c.skip()
		})
		if ok && n.Host != "" && n.Port != 0 {
			out = append(out, n)
		} else {
			p.warn("ignored an entry of \"nodes\" that is not [host, port]")
		}
		return nil
	})
	return out
}
