package metainfo

import (
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Limits on magnet links accepted by ParseMagnet.
const (
	// MaxMagnetLen is the longest magnet link accepted, in bytes.
	MaxMagnetLen = 64 << 10
	// MaxMagnetParams is the most parameters a magnet link may have.
	MaxMagnetParams = 1024
	// MaxRanges is the most ranges a select-only list may have.
	MaxRanges = 4096
	// maxFileIndex bounds file indices in select-only lists.
	maxFileIndex = 1<<31 - 1
)

// Magnet is a BitTorrent magnet link (BEP 9).
type Magnet struct {
	// InfoHash is the v1 info hash (xt=urn:btih:), zero when absent.
	InfoHash [20]byte
	// InfoHashV2 is the v2 info hash (xt=urn:btmh: with the SHA-256
	// multihash prefix 1220, BEP 9 and BEP 52), zero when absent.
	InfoHashV2 [32]byte
	// Name is the display name (dn).
	Name string
	// Length is the total size in bytes (xl), 0 when unknown.
	Length int64
	// Trackers are the tracker URLs (tr), in order.
	Trackers []string
	// WebSeeds are web seed URLs (ws, BEP 19).
	WebSeeds []string
	// Peers are peer addresses (x.pe) as host:port.
	Peers []string
	// SelectOnly lists the file indices to download (so, BEP 53), as
	// inclusive ranges of indices into Info.Files (padding files count,
	// as in libtorrent).
	SelectOnly []Range
}

// HasV1 reports whether m carries a v1 info hash.
func (m *Magnet) HasV1() bool { return m.InfoHash != [20]byte{} }

// HasV2 reports whether m carries a v2 info hash.
func (m *Magnet) HasV2() bool { return m.InfoHashV2 != [32]byte{} }

// Range is an inclusive range of file indices.
type Range struct{ First, Last int }

// Magnet returns a magnet link for t: btih for v1 and hybrid torrents,
// btmh for v2 and hybrid torrents, the name, the total size, every
// tracker in tier order (Trackers) and the web seeds. Set SelectOnly on
// the result to add a BEP 53 "so" parameter.
func (t *Torrent) Magnet() *Magnet {
	m := &Magnet{
		Name:     t.Info.Name,
		Length:   t.Info.TotalLength,
		Trackers: t.Trackers(),
		WebSeeds: append([]string(nil), t.WebSeeds...),
	}
	v := t.Version()
	if v.HasV1() {
		m.InfoHash = t.InfoHash
	}
	if v.HasV2() {
		m.InfoHashV2 = t.InfoHashV2
	}
	return m
}

// magnetEscape percent-encodes everything but RFC 3986 unreserved bytes,
// so the value survives both query and form decoding.
func magnetEscape(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// String formats m as a magnet URI: xt (btih in lowercase hex, then
// btmh), dn, xl, tr, ws, x.pe and so, in that order.
func (m *Magnet) String() string {
	var b strings.Builder
	b.WriteString("magnet:?")
	sep := func() {
		if b.Len() > len("magnet:?") {
			b.WriteByte('&')
		}
	}
	if m.HasV1() {
		sep()
		b.WriteString("xt=urn:btih:" + hex.EncodeToString(m.InfoHash[:]))
	}
	if m.HasV2() {
		sep()
		b.WriteString("xt=urn:btmh:1220" + hex.EncodeToString(m.InfoHashV2[:]))
	}
	if m.Name != "" {
		sep()
		b.WriteString("dn=" + magnetEscape(m.Name))
	}
	if m.Length > 0 {
		sep()
		b.WriteString("xl=" + strconv.FormatInt(m.Length, 10))
	}
	for _, list := range []struct {
		key  string
		vals []string
	}{{"tr", m.Trackers}, {"ws", m.WebSeeds}, {"x.pe", m.Peers}} {
		for _, v := range list.vals {
			sep()
			b.WriteString(list.key + "=" + magnetEscape(v))
		}
	}
	if len(m.SelectOnly) > 0 {
		sep()
		b.WriteString("so=" + FormatRanges(m.SelectOnly))
	}
	return b.String()
}

// ErrMagnet is wrapped by every error ParseMagnet returns.
var ErrMagnet = errors.New("invalid magnet link")

func magnetErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMagnet, fmt.Sprintf(format, args...))
}

// ParseMagnet parses a BitTorrent magnet link (BEP 9): xt as urn:btih
// (40 hex digits, or 32 base32 characters for old links) and/or
// urn:btmh (a SHA-256 multihash, "1220" and 64 hex digits, BEP 52), dn,
// xl, tr, ws, x.pe and so (BEP 53). Other parameters and xt values of
// other networks are ignored. At least one BitTorrent info hash is
// required; two different hashes of the same kind are an error. Links
// longer than MaxMagnetLen or with more than MaxMagnetParams parameters
// are refused.
func ParseMagnet(s string) (*Magnet, error) {
	if len(s) > MaxMagnetLen {
		return nil, magnetErr("%d bytes, limit %d", len(s), MaxMagnetLen)
	}
	const scheme = "magnet:"
	if len(s) < len(scheme) || !strings.EqualFold(s[:len(scheme)], scheme) {
		return nil, magnetErr("does not start with magnet:")
	}
	q := s[len(scheme):]
	if i := strings.IndexByte(q, '#'); i >= 0 {
		q = q[:i]
	}
	if !strings.HasPrefix(q, "?") {
		return nil, magnetErr("missing '?' after magnet:")
	}
	q = q[1:]
	if strings.Count(q, "&")+1 > MaxMagnetParams {
		return nil, magnetErr("more than %d parameters", MaxMagnetParams)
	}
	m := &Magnet{}
	for _, param := range strings.Split(q, "&") {
		if param == "" {
			continue
		}
		k, v, _ := strings.Cut(param, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return nil, magnetErr("bad escape in parameter name %q", trunc(k))
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return nil, magnetErr("bad escape in %s", trunc(key))
		}
		switch key {
		case "xt":
			if err := m.parseXT(val); err != nil {
				return nil, err
			}
		case "dn":
			m.Name = val
		case "xl":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || n < 0 {
				return nil, magnetErr("xl %q is not a size", trunc(val))
			}
			m.Length = n
		case "tr":
			if val != "" {
				m.Trackers = append(m.Trackers, val)
			}
		case "ws":
			if val != "" {
				m.WebSeeds = append(m.WebSeeds, val)
			}
		case "x.pe":
			if val != "" {
				m.Peers = append(m.Peers, val)
			}
		case "so":
			r, err := ParseRanges(val)
			if err != nil {
				return nil, magnetErr("so: %v", err)
			}
			m.SelectOnly = r
		}
	}
	if !m.HasV1() && !m.HasV2() {
		return nil, magnetErr("no BitTorrent info hash (xt=urn:btih: or xt=urn:btmh:)")
	}
	return m, nil
}

func trunc(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// parseXT handles one exact topic.
func (m *Magnet) parseXT(v string) error {
	const btih, btmh = "urn:btih:", "urn:btmh:"
	switch {
	case len(v) >= len(btih) && strings.EqualFold(v[:len(btih)], btih):
		var h [20]byte
		s := v[len(btih):]
		switch len(s) {
		case 40:
			if _, err := hex.Decode(h[:], []byte(s)); err != nil {
				return magnetErr("btih %q is not hex", s)
			}
		case 32:
			b, err := base32.StdEncoding.DecodeString(strings.ToUpper(s))
			if err != nil || len(b) != 20 {
				return magnetErr("btih %q is not base32", s)
			}
			copy(h[:], b)
		default:
			return magnetErr("btih has %d characters, want 40 hex or 32 base32", len(s))
		}
		if m.HasV1() && m.InfoHash != h {
			return magnetErr("two different btih info hashes")
		}
		m.InfoHash = h
	case len(v) >= len(btmh) && strings.EqualFold(v[:len(btmh)], btmh):
		s := v[len(btmh):]
		if len(s) < 4 || !strings.EqualFold(s[:4], "1220") {
			return magnetErr("btmh %q is not a SHA-256 multihash (prefix 1220)", trunc(s))
		}
		var h [32]byte
		if len(s) != 4+64 {
			return magnetErr("btmh has %d hex digits after 1220, want 64", len(s)-4)
		}
		if _, err := hex.Decode(h[:], []byte(s[4:])); err != nil {
			return magnetErr("btmh %q is not hex", s)
		}
		if m.HasV2() && m.InfoHashV2 != h {
			return magnetErr("two different btmh info hashes")
		}
		m.InfoHashV2 = h
	}
	return nil
}

// ParseRanges parses a BEP 53 select-only list such as "0,2,4,6-8" into
// inclusive ranges, in the order given. Indices are non-negative and fit
// 31 bits; at most MaxRanges ranges are accepted.
func ParseRanges(s string) ([]Range, error) {
	if s == "" {
		return nil, errors.New("empty list")
	}
	if strings.Count(s, ",")+1 > MaxRanges {
		return nil, fmt.Errorf("more than %d ranges", MaxRanges)
	}
	var out []Range
	for _, part := range strings.Split(s, ",") {
		a, b, isRange := strings.Cut(part, "-")
		first, err := parseIndex(a)
		if err != nil {
			return nil, err
		}
		last := first
		if isRange {
			if last, err = parseIndex(b); err != nil {
				return nil, err
			}
			if last < first {
				return nil, fmt.Errorf("range %q runs backwards", part)
			}
		}
		out = append(out, Range{first, last})
	}
	return out, nil
}

func parseIndex(s string) (int, error) {
	if s == "" || len(s) > 10 {
		return 0, fmt.Errorf("%q is not a file index", trunc(s))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%q is not a file index", trunc(s))
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > maxFileIndex {
		return 0, fmt.Errorf("file index %s is too large", s)
	}
	return int(n), nil
}

// FormatRanges formats ranges as a select-only list ("1,3-5").
func FormatRanges(rs []Range) string {
	var b strings.Builder
	for i, r := range rs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(r.First))
		if r.Last != r.First {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(r.Last))
		}
	}
	return b.String()
}

// CheckRanges reports an error if a range in rs names a file index
// outside [0, numFiles).
func CheckRanges(rs []Range, numFiles int) error {
	for _, r := range rs {
		if r.First < 0 || r.Last < r.First || r.Last >= numFiles {
			return fmt.Errorf("file index range %s is outside 0-%d", FormatRanges([]Range{r}), numFiles-1)
		}
	}
	return nil
}
