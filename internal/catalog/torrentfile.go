package catalog

import (
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gale-bt/gale/internal/tracker"
	"github.com/gale-bt/gale/metainfo"
)

var inf = math.Inf(1)

func hexString(b []byte) string { return hex.EncodeToString(b) }

// PreparedTorrent is an uploaded .torrent made fit for the site.
type PreparedTorrent struct {
	// Metainfo is the .torrent to store: private, with the site's source
	// and no trackers (personal announce URLs are added per download).
	Metainfo     []byte
	V1           tracker.InfoHash
	V2           [32]byte
	HasV1, HasV2 bool
	Name         string
	Size         int64
	Files        []File
}

// PrepareTorrent parses an uploaded .torrent (v1, v2 or hybrid; paths are
// checked by metainfo.Parse, so traversal such as ".." is refused) and
// makes it the site's: "private" is set (BEP 27), "source" is set to
// source when not empty, and the announce URL, announce-list (BEP 12),
// DHT nodes (BEP 5) and unknown top-level keys are removed. Web seeds are
// kept. Setting private and source changes the info hashes, which is why
// users download the site's copy. The name and file paths must be valid
// UTF-8 without NUL (BEP 3 says they are UTF-8; the catalog stores and
// searches them as text, which PostgreSQL refuses otherwise), although
// metainfo.Parse accepts other bytes. Errors are EINVALID.
func PrepareTorrent(data []byte, source string) (*PreparedTorrent, error) {
	t, err := metainfo.Parse(data)
	if err != nil {
		if errors.Is(err, metainfo.ErrTooLarge) {
			return nil, Errorf(EINVALID, "the torrent file is too large")
		}
		return nil, Errorf(EINVALID, "not a valid torrent file: %v", err)
	}
	private := true
	edit := metainfo.InfoEdit{Private: &private}
	if source != "" {
		edit.Source = &source
	}
	if err := t.EditInfo(edit); err != nil {
		return nil, Errorf(EINVALID, "cannot make the torrent private: %v", err)
	}
	t.Announce, t.AnnounceList, t.Nodes, t.Extra = "", nil, nil, nil
	out, err := t.Marshal()
	if err != nil {
		return nil, Errorf(EINVALID, "cannot encode the torrent: %v", err)
	}
	if strings.TrimSpace(t.Info.Name) == "" {
		return nil, Errorf(EINVALID, "the torrent has no name")
	}
	p := &PreparedTorrent{Metainfo: out, Name: t.Info.Name, Size: t.Info.TotalLength}
	v := t.Version()
	if v.HasV1() {
		p.HasV1, p.V1 = true, t.InfoHash
	}
	if v.HasV2() {
		p.HasV2, p.V2 = true, t.InfoHashV2
	}
	bad := !isText(p.Name)
	for _, f := range t.Info.Files {
		if f.Pad {
			continue
		}
		path := f.Path
		if t.Info.MultiFile && len(path) > 1 {
			path = path[1:]
		}
		p.Files = append(p.Files, File{Path: strings.Join(path, "/"), Length: f.Length})
		bad = bad || !isText(p.Files[len(p.Files)-1].Path)
	}
	if bad {
		return nil, Errorf(EINVALID, "the torrent's name or file names are not valid UTF-8 text")
	}
	return p, nil
}

// isText reports whether s is valid UTF-8 without NUL.
func isText(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

// WithAnnounce returns the stored metainfo with the given personal
// announce URLs: the first as "announce", and all, one tier each in
// order, as "announce-list" (BEP 12) when there are several.
func WithAnnounce(stored []byte, urls []string) ([]byte, error) {
	t, err := metainfo.Parse(stored)
	if err != nil {
		return nil, err
	}
	t.Announce, t.AnnounceList = "", nil
	if len(urls) > 0 {
		t.Announce = urls[0]
	}
	if len(urls) > 1 {
		for _, u := range urls {
			t.AnnounceList = append(t.AnnounceList, []string{u})
		}
	}
	return t.Marshal()
}

// ParseHash parses a torrent hash given by a user: 40 hex digits (a v1
// hash or a truncated v2 hash) or 64 (a v2 hash).
func ParseHash(s string) (h []byte, err error) {
	s = strings.TrimSpace(s)
	if len(s) != 40 && len(s) != 64 {
		return nil, Errorf(EINVALID, "an info hash has 40 or 64 hex digits")
	}
	h, err = hex.DecodeString(s)
	if err != nil {
		return nil, Errorf(EINVALID, "an info hash has 40 or 64 hex digits")
	}
	return h, nil
}

// Search limits.
const (
	MaxSearchTerms   = 8
	MaxSearchTermLen = 64
)

// SearchTerms splits a user's search into lower-case terms of letters and
// digits; everything else separates terms. At most MaxSearchTerms terms
// of at most MaxSearchTermLen bytes are kept. Stores build their
// full-text queries only from these terms, passed as parameters, so no
// query syntax reaches the database from users.
func SearchTerms(q string) []string {
	var terms []string
	for _, f := range strings.FieldsFunc(strings.ToLower(q), notWordRune) {
		if len(terms) == MaxSearchTerms {
			break
		}
		if len(f) > MaxSearchTermLen {
			f = f[:MaxSearchTermLen]
			for len(f) > 0 && !utf8FullRune(f) {
				f = f[:len(f)-1]
			}
		}
		terms = append(terms, f)
	}
	return terms
}

// SearchText returns the text a store indexes for a torrent: its name,
// description and file paths split into lower-case terms as SearchTerms
// splits queries, so "Foo.Bar-2024.mkv" is found by "bar".
func SearchText(name, description string, files []File) string {
	var b strings.Builder
	add := func(s string) {
		for _, f := range strings.FieldsFunc(strings.ToLower(s), notWordRune) {
			b.WriteString(f)
			b.WriteByte(' ')
		}
	}
	add(name)
	add(description)
	for i, f := range files {
		if i == 1000 || b.Len() > 1<<20 {
			break
		}
		add(f.Path)
	}
	return strings.TrimSpace(b.String())
}

func notWordRune(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }

// utf8FullRune reports whether s ends on a rune boundary.
func utf8FullRune(s string) bool {
	for i := len(s) - 1; i >= 0 && i >= len(s)-4; i-- {
		c := s[i]
		if c < 0x80 {
			return true
		}
		if c >= 0xC0 { // a start byte: is the sequence complete?
			need := 2
			if c >= 0xE0 {
				need = 3
			}
			if c >= 0xF0 {
				need = 4
			}
			return len(s)-i == need
		}
	}
	return false
}
