// Package tracker is the BitTorrent tracker engine shared by `gale tracker`
// and `gale serve`: announce and scrape logic (BEP 3, BEP 15, BEP 48) over a
// sharded in-memory swarm store, a Policy consulted on every request, an
// accounting hook, peer expiry and state snapshots.
//
// The engine knows nothing of HTTP or UDP: the frontends in the
// httptracker and udptracker subpackages parse requests into an
// AnnounceRequest and encode the AnnounceResponse. Announce and Scrape are
// safe for concurrent use and do not allocate on the path taken by a peer
// that re-announces to an existing swarm.
package tracker

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"

	"github.com/gale-bt/gale/internal/peer"
)

// InfoHash identifies a swarm: the SHA-1 of a v1 info dictionary, or a v2
// SHA-256 info hash truncated to 20 bytes as clients send it (BEP 52).
type InfoHash [20]byte

// String returns the lower-case hex form.
func (h InfoHash) String() string { return hex.EncodeToString(h[:]) }

// ParseInfoHash parses 40 hex digits (either case).
func ParseInfoHash(s string) (InfoHash, error) {
	var h InfoHash
	if len(s) != 40 {
		return h, fmt.Errorf("info hash %q: want 40 hex digits", s)
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, fmt.Errorf("info hash %q: %v", s, err)
	}
	return h, nil
}

// Event is the announce event, numbered as in BEP 15.
type Event uint8

// Announce events (BEP 3 "event"; BEP 15 numbering).
const (
	EventNone      Event = 0
	EventCompleted Event = 1
	EventStarted   Event = 2
	EventStopped   Event = 3
)

func (e Event) String() string {
	switch e {
	case EventNone:
		return "none"
	case EventCompleted:
		return "completed"
	case EventStarted:
		return "started"
	case EventStopped:
		return "stopped"
	}
	return fmt.Sprintf("event(%d)", uint8(e))
}

// Protocol is the frontend a request arrived on.
type Protocol uint8

// Frontends.
const (
	HTTP Protocol = iota
	UDP
	numProtocols
)

func (p Protocol) String() string {
	if p == UDP {
		return "udp"
	}
	return "http"
}

// AnnounceRequest is one announce as the engine sees it. Frontends fill it
// from the wire; it may be reused between calls.
type AnnounceRequest struct {
	InfoHash InfoHash
	PeerID   peer.ID
	// Addr is the peer's address as decided by the frontend (source
	// address, or a trusted proxy's header). IPv4-mapped addresses are
	// treated as IPv4.
	Addr netip.Addr
	// Port is the peer's listening port; 0 is refused unless Event is
	// EventStopped.
	Port                       uint16
	Uploaded, Downloaded, Left uint64
	Event                      Event
	// NumWant is the number of peers asked for; negative means the default.
	NumWant int
	// Key is the client's key (BEP 7; BEP 15 "key"), 0 when absent. A
	// known peer may move to another address only with the same non-zero
	// key.
	Key uint32
	// Passkey is the user key from the HTTP path /<key>/announce or from
	// BEP 41 URL data; nil in open mode. The engine never retains it.
	Passkey []byte
	// WantPeerIDs asks for entries carrying the peer ID (BEP 3 dictionary
	// model) instead of compact ones.
	WantPeerIDs bool
	Protocol    Protocol
}

// AnnounceResponse is filled by Announce. Peers is appended to, so a
// caller reusing a response should reset it to Peers[:0] first.
type AnnounceResponse struct {
	// Interval and MinInterval are in seconds.
	Interval, MinInterval int32
	// Seeders, Leechers count both address families; Completed counts
	// "completed" events ever seen for the swarm.
	Seeders, Leechers, Completed int
	// IPv6 is true when Peers holds IPv6 entries (the requester's family).
	IPv6 bool
	// Peers holds entries of the requester's address family only: compact
	// (6 or 18 bytes, BEP 23 / BEP 7) or, with WantPeerIDs, the 20-byte
	// peer ID followed by the compact entry (26 or 38 bytes).
	Peers []byte
	// Warning, when not empty, is a message for the user (BEP 3
	// "warning message").
	Warning string

	fact Fact // handed to Accounting without allocating
}

// EntryLen returns the size of one entry in Peers.
func (r *AnnounceResponse) EntryLen(withIDs bool) int {
	n := peer.CompactLen4
	if r.IPv6 {
		n = peer.CompactLen6
	}
	if withIDs {
		n += peer.IDLen
	}
	return n
}

// ScrapeStats are one swarm's counts (BEP 48).
type ScrapeStats struct {
	Seeders, Leechers, Completed int
}

// Error is a refusal meant for the client: its Reason becomes the HTTP
// "failure reason" (BEP 3) or the UDP error message (BEP 15). Any other
// error returned by the engine is internal and must be shown to clients
// only as a generic message (see ClientMessage).
type Error struct{ Reason string }

func (e *Error) Error() string { return e.Reason }

// Errorf returns a client-visible *Error.
func Errorf(format string, args ...any) error {
	return &Error{Reason: fmt.Sprintf(format, args...)}
}

// Client-visible refusals of the engine, preallocated so refusing does not
// allocate.
var (
	ErrPort           = &Error{Reason: "invalid port"}
	ErrAddress        = &Error{Reason: "invalid peer address"}
	ErrPeerMoved      = &Error{Reason: "peer_id is registered from another address; send the same key to move"}
	ErrNotRegistered  = &Error{Reason: "unregistered torrent"}
	ErrBlacklisted    = &Error{Reason: "torrent is blacklisted"}
	ErrTooManySwarms  = &Error{Reason: "tracker is full"}
	ErrSwarmFull      = &Error{Reason: "swarm is full"}
	ErrInternalReason = "internal tracker error"
)

// ClientMessage returns what a client may be told about err: an *Error's
// reason, or a generic message for anything else.
func ClientMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ErrInternalReason
}

// IsClientError reports whether err carries a client-visible reason.
func IsClientError(err error) bool {
	var e *Error
	return errors.As(err, &e)
}
