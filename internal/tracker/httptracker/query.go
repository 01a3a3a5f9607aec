package httptracker

import (
	"github.com/gale-bt/gale/internal/tracker"
)

// MaxScrapeHashes bounds the info hashes answered by one scrape.
const MaxScrapeHashes = 128

// query is a parsed announce or scrape query string. Byte slices alias
// the request buffer.
type query struct {
	queryHead
	hashes [MaxScrapeHashes]tracker.InfoHash // the first nHashes are set
}

// queryHead is what parseQuery resets for every request (the hashes
// array is only read up to nHashes, so it is not cleared).
type queryHead struct {
	infoHash    tracker.InfoHash
	nHashes     int
	tooMany     bool
	peerID      [20]byte
	hasInfoHash bool
	hasPeerID   bool
	hasPort     bool
	port        uint16
	uploaded    uint64
	downloaded  uint64
	left        uint64
	hasLeft     bool
	event       tracker.Event
	compact     bool
	noPeerID    bool
	numWant     int
	key         uint32
}

// queryError is a malformed query: the reason is told to the client.
type queryError string

func (e queryError) Error() string { return string(e) }

// Reasons, allocated once.
const (
	errMissingInfoHash queryError = "missing info_hash"
	errInfoHash        queryError = "invalid info_hash: want 20 bytes"
	errMissingPeerID   queryError = "missing peer_id"
	errPeerID          queryError = "invalid peer_id: want 20 bytes"
	errMissingPort     queryError = "missing port"
	errPort            queryError = "invalid port"
	errNumber          queryError = "invalid number in uploaded, downloaded, left or numwant"
	errEscape          queryError = "malformed percent-escape in query"
	errTooManyHashes   queryError = "too many info_hash values in one scrape"
)

// parseQuery parses an application/x-www-form-urlencoded query (BEP 3
// announce parameters; for scrapes, any number of info_hash values, BEP
// 48). Unknown keys are ignored, as are "ip" (which would let anyone
// announce someone else's address; see BEP 7) and "trackerid". It never
// allocates.
func parseQuery(q []byte, scrape bool, out *query) error {
	out.queryHead = queryHead{compact: true, numWant: -1}
	var buf [64]byte
	for len(q) > 0 {
		var pair []byte
		i := indexByte(q, '&')
		if i < 0 {
			pair, q = q, nil
		} else {
			pair, q = q[:i], q[i+1:]
		}
		if len(pair) == 0 {
			continue
		}
		var k, v []byte
		if j := indexByte(pair, '='); j >= 0 {
			k, v = pair[:j], pair[j+1:]
		} else {
			k = pair
		}
		switch string(k) {
		case "info_hash":
			n, err := unescape(v, buf[:])
			if err != nil {
				return err
			}
			if n != 20 {
				return errInfoHash
			}
			h := tracker.InfoHash(buf[:20])
			if scrape {
				if out.nHashes == MaxScrapeHashes {
					return errTooManyHashes
				}
				out.hashes[out.nHashes] = h
				out.nHashes++
			}
			out.infoHash, out.hasInfoHash = h, true
		case "peer_id":
			n, err := unescape(v, buf[:])
			if err != nil {
				return err
			}
			if n != 20 {
				return errPeerID
			}
			out.peerID, out.hasPeerID = [20]byte(buf[:20]), true
		case "port":
			p, ok := parseUint(v)
			if !ok || p > 65535 {
				return errPort
			}
			out.port, out.hasPort = uint16(p), true
		case "uploaded", "downloaded", "left":
			n, ok := parseCounter(v)
			if !ok {
				return errNumber
			}
			switch k[0] {
			case 'u':
				out.uploaded = n
			case 'd':
				out.downloaded = n
			default:
				out.left, out.hasLeft = n, true
			}
		case "event":
			switch string(v) {
			case "started":
				out.event = tracker.EventStarted
			case "completed":
				out.event = tracker.EventCompleted
			case "stopped":
				out.event = tracker.EventStopped
			default: // "", "empty", "paused" (BEP 21) and unknown values
				out.event = tracker.EventNone
			}
		case "compact":
			out.compact = string(v) != "0"
		case "no_peer_id":
			out.noPeerID = string(v) != "0"
		case "numwant":
			n, ok := parseUint(v)
			if !ok {
				return errNumber
			}
			out.numWant = int(min(n, 1<<20))
		case "key":
			// Hash whatever the client sends (often 8 hex digits) to 32
			// bits; 0 means "no key".
			n, err := unescape(v, buf[:])
			if err != nil {
				return err
			}
			h := uint32(2166136261)
			for _, c := range buf[:n] {
				h = (h ^ uint32(c)) * 16777619
			}
			if h == 0 {
				h = 1
			}
			out.key = h
		}
	}
	if scrape {
		return nil
	}
	switch {
	case !out.hasInfoHash:
		return errMissingInfoHash
	case !out.hasPeerID:
		return errMissingPeerID
	case !out.hasPort:
		return errMissingPort
	}
	return nil
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// unescape percent-decodes s into dst ('+' is a space) and returns the
// length. Values longer than dst are errors for the caller's length check
// (the returned length exceeds 20).
func unescape(s, dst []byte) (int, error) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '%':
			if i+2 >= len(s) {
				return 0, errEscape
			}
			h, ok1 := unhex(s[i+1])
			l, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return 0, errEscape
			}
			c = h<<4 | l
			i += 2
		case '+':
			c = ' '
		}
		if n == len(dst) {
			return n + 1, nil
		}
		dst[n] = c
		n++
	}
	return n, nil
}

func unhex(c byte) (byte, bool) {
	v := unhexTable[c]
	return v & 0x0f, v != 0
}

// unhexTable maps a hex digit to 0x10 | its value, anything else to 0.
var unhexTable = func() (t [256]byte) {
	for c := range 256 {
		switch {
		case '0' <= c && c <= '9':
			t[c] = 0x10 | byte(c-'0')
		case 'a' <= c && c <= 'f':
			t[c] = 0x10 | byte(c-'a'+10)
		case 'A' <= c && c <= 'F':
			t[c] = 0x10 | byte(c-'A'+10)
		}
	}
	return t
}()

// parseUint parses a non-empty run of decimal digits without overflow.
func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (1<<64-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// parseCounter parses uploaded/downloaded/left: decimal, where negative
// values (sent by some broken clients) read as 0.
func parseCounter(b []byte) (uint64, bool) {
	if len(b) > 1 && b[0] == '-' {
		if _, ok := parseUint(b[1:]); !ok {
			return 0, false
		}
		return 0, true
	}
	return parseUint(b)
}
