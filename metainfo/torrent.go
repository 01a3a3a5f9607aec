package metainfo

import (
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/gale-bt/gale/bencode"
)

// Version says which hash formats a torrent carries.
type Version int

const (
	// V1 is the original format of BEP 3: SHA-1 piece hashes.
	V1 Version = 1
	// V2 is BEP 52 only: a file tree with per-file SHA-256 merkle trees.
	V2 Version = 2
	// Hybrid carries both, describing the same piece-aligned data (BEP 52
	// "Upgrade Path", with BEP 47 padding files in the v1 file list).
	Hybrid Version = 3
)

func (v Version) String() string {
	switch v {
	case V1:
		return "v1"
	case V2:
		return "v2"
	case Hybrid:
		return "hybrid"
	}
	return fmt.Sprintf("Version(%d)", int(v))
}

// HasV1 reports whether v includes the v1 (SHA-1) format.
func (v Version) HasV1() bool { return v == V1 || v == Hybrid }

// HasV2 reports whether v includes the v2 (SHA-256) format.
func (v Version) HasV2() bool { return v == V2 || v == Hybrid }

// Torrent is a parsed metainfo (.torrent) file.
//
// The info dictionary is kept as the exact bytes read (InfoBytes); the
// info hashes are computed over those bytes, never over a re-encoding
// (BEP 3, BEP 52). Info is a decoded, validated view of them. Changing
// Info does not change InfoBytes; use EditInfo for that.
type Torrent struct {
	// Announce is the main tracker URL (BEP 3).
	Announce string
	// AnnounceList holds the tracker tiers of BEP 12, in file order.
	// Empty tiers and non-string entries are dropped.
	AnnounceList [][]string
	// WebSeeds is "url-list" (BEP 19); a single string becomes one entry.
	WebSeeds []string
	// HTTPSeeds is "httpseeds" (BEP 17).
	HTTPSeeds []string
	// Nodes is "nodes", DHT bootstrap nodes (BEP 5).
	Nodes []Node
	// Comment, CreatedBy and Encoding are the optional strings of the same
	// names ("created by").
	Comment   string
	CreatedBy string
	Encoding  string
	// CreationDate is "creation date"; the zero Time when absent or not
	// positive.
	CreationDate time.Time

	// Info is the decoded info dictionary.
	Info Info
	// InfoBytes is the exact encoded info dictionary.
	InfoBytes []byte
	// InfoHash is SHA-1 over InfoBytes: the v1 info hash (BEP 3). It is
	// computed for v2-only torrents too, where it has no meaning.
	InfoHash [20]byte
	// InfoHashV2 is SHA-256 over InfoBytes: the v2 info hash (BEP 52).
	// It is computed for v1-only torrents too, where it has no meaning.
	InfoHashV2 [32]byte

	// PieceLayers maps a file's pieces root to its concatenated piece-layer
	// hashes ("piece layers", BEP 52), for files larger than one piece.
	PieceLayers map[[32]byte][]byte

	// Extra holds the top-level keys gale does not interpret, as raw
	// bencoded values, so that editing a torrent keeps them.
	Extra map[string]bencode.RawMessage

	// Report lists the non-canonical bencoding that parsing accepted
	// (unsorted keys, leading zeros, trailing bytes ...).
	Report bencode.Report
	// Warnings lists optional fields that were ignored because they had
	// the wrong type, and similar oddities that real clients tolerate.
	Warnings []string
}

// Node is a DHT bootstrap node from "nodes" (BEP 5).
type Node struct {
	Host string
	Port int
}

func (n Node) String() string {
	for i := 0; i < len(n.Host); i++ {
		if n.Host[i] == ':' {
			return fmt.Sprintf("[%s]:%d", n.Host, n.Port)
		}
	}
	return fmt.Sprintf("%s:%d", n.Host, n.Port)
}

// Info is the decoded info dictionary.
type Info struct {
	// Name is the suggested name of the file (single-file torrents) or of
	// the directory holding the files.
	Name string
	// PieceLength is the number of bytes per piece.
	PieceLength int64
	// Pieces is the concatenated 20-byte SHA-1 piece hashes (v1 and
	// hybrid); nil for v2-only torrents.
	Pieces []byte
	// Private is the private flag of BEP 27.
	Private bool
	// Source is the "source" string (used by private trackers to make info
	// hashes unique per site).
	Source string
	// MetaVersion is "meta version": 2 for v2 and hybrid torrents, 0 when
	// absent (v1).
	MetaVersion int
	// MultiFile is true when the files live in a directory named Name:
	// the v1 "files" form, or a v2 file tree other than one file.
	MultiFile bool
	// Files lists the files in piece order. For v1 and hybrid torrents
	// this is the v1 list, padding files included; for v2-only torrents it
	// is the file tree in key order.
	Files []File
	// TotalLength is the sum of the lengths of the non-padding files.
	TotalLength int64
}

// File is one file of a torrent.
type File struct {
	// Path is the file's path relative to the directory the torrent is
	// saved into: [Name] for a single-file torrent, [Name, components...]
	// for a multi-file torrent. Parse checked every component with
	// SafePath's platform-independent rules; pass it to SafePath before
	// use on the local file system.
	Path []string
	// Length is the file's size in bytes.
	Length int64
	// Offset is where the file starts in the torrent's piece address
	// space. In v2 and hybrid torrents every non-empty file starts on a
	// piece boundary.
	Offset int64
	// Pad marks a BEP 47 padding file (attr "p", or a BitComet style name
	// "_____padding_file_..."): all zeros, never written to disk.
	Pad bool
	// Attr is the raw BEP 47 attribute string ("x", "h", "p", "l" ...).
	Attr string
	// PiecesRoot is the root of the file's SHA-256 merkle tree (BEP 52);
	// zero for v1-only torrents, padding files and empty files.
	PiecesRoot [32]byte
}

// HasRoot reports whether f carries a v2 pieces root.
func (f *File) HasRoot() bool { return f.PiecesRoot != [32]byte{} }

// Version reports the formats present in the info dictionary.
func (info *Info) Version() Version {
	switch {
	case info.MetaVersion >= 2 && info.Pieces != nil:
		return Hybrid
	case info.MetaVersion >= 2:
		return V2
	}
	return V1
}

// NumPieces returns the number of pieces in the piece address space.
func (info *Info) NumPieces() int {
	if info.PieceLength <= 0 {
		return 0
	}
	var end int64
	if n := len(info.Files); n > 0 {
		end = info.Files[n-1].Offset + info.Files[n-1].Length
	}
	if info.Version() == V2 {
		// Each file's last piece may be short: find the furthest end.
		for i := len(info.Files) - 1; i >= 0; i-- {
			if info.Files[i].Length > 0 {
				end = info.Files[i].Offset + info.Files[i].Length
				break
			}
		}
	}
	n := end / info.PieceLength
	if end%info.PieceLength != 0 {
		n++
	}
	return int(n)
}

// PieceHash returns the v1 SHA-1 hash of piece i, or nil.
func (info *Info) PieceHash(i int) []byte {
	if i < 0 || (i+1)*20 > len(info.Pieces) {
		return nil
	}
	return info.Pieces[i*20 : i*20+20 : i*20+20]
}

// Version reports the formats the torrent carries.
func (t *Torrent) Version() Version { return t.Info.Version() }

// hashInfo sets both info hashes from InfoBytes.
func (t *Torrent) hashInfo() {
	t.InfoHash = sha1.Sum(t.InfoBytes)
	t.InfoHashV2 = sha256.Sum256(t.InfoBytes)
}

// ShortInfoHashV2 returns the v2 info hash truncated to 20 bytes, the
// form used in the peer protocol, with trackers and in the DHT (BEP 52).
func (t *Torrent) ShortInfoHashV2() [20]byte {
	var h [20]byte
	copy(h[:], t.InfoHashV2[:20])
	return h
}

// PieceLayer returns the piece-layer hashes of f (BEP 52), or nil when f
// has none (files of at most one piece, v1 torrents).
func (t *Torrent) PieceLayer(f *File) []byte {
	if !f.HasRoot() {
		return nil
	}
	return t.PieceLayers[f.PiecesRoot]
}

// Trackers returns every tracker URL in tier order, without duplicates:
// the announce-list tiers when present (BEP 12 says to ignore announce
// then), else announce.
func (t *Torrent) Trackers() []string {
	var out []string
	seen := map[string]bool{}
	add := func(u string) {
		if u != "" && !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	for _, tier := range t.AnnounceList {
		for _, u := range tier {
			add(u)
		}
	}
	if len(out) == 0 {
		add(t.Announce)
	}
	return out
}

// Error describes an invalid metainfo file. Field is the dotted key path
// of the bad value (such as "info.files[3].length"); Offset is its byte
// offset in the input, or -1. Err wraps the underlying error, such as a
// *bencode.SyntaxError, when there is one.
type Error struct {
	Field  string
	Offset int64
	Msg    string
	Err    error
}

func (e *Error) Error() string {
	s := "metainfo: "
	if e.Field != "" {
		s += e.Field + ": "
	}
	s += e.Msg
	if e.Offset >= 0 {
		s += fmt.Sprintf(" (at byte offset %d)", e.Offset)
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// ErrTooLarge is wrapped by errors about input beyond a configured limit.
var ErrTooLarge = errors.New("too large")
