package trackerclient

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"
)

// BEP 15 constants.
const (
	// UDPProtocolID is the magic constant of a connect request.
	UDPProtocolID uint64 = 0x41727101980

	ActionConnect  uint32 = 0
	ActionAnnounce uint32 = 1
	ActionScrape   uint32 = 2
	ActionError    uint32 = 3

	// UDPAnnounceSize is the size of an announce request without BEP 41
	// options.
	UDPAnnounceSize = 98
	// UDPMaxScrapeHashes is how many info hashes fit one scrape request.
	UDPMaxScrapeHashes = 74
	// MaxURLDataSize bounds the BEP 41 URL data this package sends.
	MaxURLDataSize = 1024
)

// BEP 41 option types.
const (
	optEndOfOptions = 0x0
	optNOP          = 0x1
	optURLData      = 0x2
)

// AppendConnectRequest appends a BEP 15 connect request to b.
func AppendConnectRequest(b []byte, tx uint32) []byte {
	b = binary.BigEndian.AppendUint64(b, UDPProtocolID)
	b = binary.BigEndian.AppendUint32(b, ActionConnect)
	return binary.BigEndian.AppendUint32(b, tx)
}

// AppendAnnounceRequest appends a BEP 15 announce request to b, followed
// by urlData (the path and query of the tracker URL) as BEP 41 URLData
// options when urlData is not empty. The connection ID sits at offset 0
// and the transaction ID at offset 12, where callers may patch them.
// urlData longer than MaxURLDataSize is an error.
func AppendAnnounceRequest(b []byte, connID uint64, tx uint32, r *AnnounceRequest, urlData string) ([]byte, error) {
	if len(urlData) > MaxURLDataSize {
		return b, fmt.Errorf("udp tracker URL path and query longer than %d bytes", MaxURLDataSize)
	}
	b = binary.BigEndian.AppendUint64(b, connID)
	b = binary.BigEndian.AppendUint32(b, ActionAnnounce)
	b = binary.BigEndian.AppendUint32(b, tx)
	b = append(b, r.InfoHash[:]...)
	b = append(b, r.PeerID[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Downloaded))
	b = binary.BigEndian.AppendUint64(b, uint64(r.Left))
	b = binary.BigEndian.AppendUint64(b, uint64(r.Uploaded))
	b = binary.BigEndian.AppendUint32(b, uint32(r.Event))
	var ip [4]byte
	if r.IP.Is4() || r.IP.Is4In6() {
		ip = r.IP.Unmap().As4()
	}
	b = append(b, ip[:]...)
	b = binary.BigEndian.AppendUint32(b, r.Key)
	numWant := int32(-1)
	switch {
	case r.NumWant < 0:
		numWant = 0
	case r.NumWant > 0:
		numWant = int32(min(r.NumWant, 1<<31-1))
	}
	b = binary.BigEndian.AppendUint32(b, uint32(numWant))
	b = binary.BigEndian.AppendUint16(b, r.Port)
	for len(urlData) > 0 {
		n := min(len(urlData), 255)
		b = append(b, optURLData, byte(n))
		b = append(b, urlData[:n]...)
		urlData = urlData[n:]
	}
	return b, nil
}

// AppendScrapeRequest appends a BEP 15 scrape request for up to
// UDPMaxScrapeHashes info hashes to b.
func AppendScrapeRequest(b []byte, connID uint64, tx uint32, hashes [][20]byte) []byte {
	b = binary.BigEndian.AppendUint64(b, connID)
	b = binary.BigEndian.AppendUint32(b, ActionScrape)
	b = binary.BigEndian.AppendUint32(b, tx)
	for _, h := range hashes {
		b = append(b, h[:]...)
	}
	return b
}

// ParseUDPHeader returns the action and transaction ID of a tracker
// response and the bytes after them. Packets shorter than 8 bytes are
// malformed.
func ParseUDPHeader(p []byte) (action, tx uint32, body []byte, err error) {
	if len(p) < 8 {
		return 0, 0, nil, fmt.Errorf("%w: udp packet of %d bytes", ErrMalformed, len(p))
	}
	return binary.BigEndian.Uint32(p), binary.BigEndian.Uint32(p[4:]), p[8:], nil
}

// ParseUDPConnect returns the connection ID in the body of a connect
// response (after ParseUDPHeader). Extra trailing bytes are ignored (BEP 15:
// packets may grow).
func ParseUDPConnect(body []byte) (uint64, error) {
	if len(body) < 8 {
		return 0, fmt.Errorf("%w: connect response too short", ErrMalformed)
	}
	return binary.BigEndian.Uint64(body), nil
}

// ParseUDPError returns the message of an error response body as a
// *TrackerError. The message is cut at 1024 bytes.
func ParseUDPError(body []byte) *TrackerError {
	if len(body) > 1024 {
		body = body[:1024]
	}
	return &TrackerError{Reason: string(body)}
}

// ParseUDPAnnounce decodes the body of an announce response (after
// ParseUDPHeader). ipv6 tells whether the response came over IPv6, which
// makes peer entries 18 bytes instead of 6 (BEP 15). A trailing partial
// entry is ignored.
func ParseUDPAnnounce(body []byte, ipv6 bool) (*AnnounceResponse, error) {
	if len(body) < 12 {
		return nil, fmt.Errorf("%w: announce response too short", ErrMalformed)
	}
	r := &AnnounceResponse{
		Interval: time.Duration(binary.BigEndian.Uint32(body)) * time.Second,
		Leechers: int64(binary.BigEndian.Uint32(body[4:])),
		Seeders:  int64(binary.BigEndian.Uint32(body[8:])),
	}
	peers := body[12:]
	if ipv6 {
		r.Peers = appendCompact6(nil, peers)
	} else {
		r.Peers = appendCompact4(nil, peers)
	}
	return r, nil
}

// ParseUDPScrape decodes the body of a scrape response for the given info
// hashes, in request order. Entries the tracker left out are absent from
// the result.
func ParseUDPScrape(body []byte, hashes [][20]byte, into ScrapeResponse) {
	for i := 0; i < len(hashes) && len(body) >= 12; i++ {
		into[hashes[i]] = ScrapeStats{
			Complete:   int64(binary.BigEndian.Uint32(body)),
			Downloaded: int64(binary.BigEndian.Uint32(body[4:])),
			Incomplete: int64(binary.BigEndian.Uint32(body[8:])),
		}
		body = body[12:]
	}
}

// appendCompact4 decodes BEP 23 compact IPv4 peers (6 bytes each),
// ignoring a trailing partial entry.
func appendCompact4(dst []Peer, b []byte) []Peer {
	if n := len(b) / 6; n > 0 && dst == nil {
		dst = make([]Peer, 0, n)
	}
	for ; len(b) >= 6; b = b[6:] {
		ip := netip.AddrFrom4([4]byte(b[:4]))
		dst = append(dst, Peer{Addr: netip.AddrPortFrom(ip, binary.BigEndian.Uint16(b[4:]))})
	}
	return dst
}

// appendCompact6 decodes BEP 7 compact IPv6 peers (18 bytes each),
// ignoring a trailing partial entry. IPv4-mapped addresses are unmapped.
func appendCompact6(dst []Peer, b []byte) []Peer {
	if n := len(b) / 18; n > 0 && dst == nil {
		dst = make([]Peer, 0, n)
	}
	for ; len(b) >= 18; b = b[18:] {
		ip := netip.AddrFrom16([16]byte(b[:16])).Unmap()
		dst = append(dst, Peer{Addr: netip.AddrPortFrom(ip, binary.BigEndian.Uint16(b[16:]))})
	}
	return dst
}

// urlData returns the BEP 41 URL data (path and query) of a tracker URL.
func urlData(path, rawQuery string) string {
	if rawQuery != "" {
		return path + "?" + rawQuery
	}
	return path
}
