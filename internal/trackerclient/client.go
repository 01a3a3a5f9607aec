// Package trackerclient announces to and scrapes BitTorrent trackers over
// HTTP(S) (BEP 3, BEP 23 compact peers, BEP 7 peers6, BEP 24 external ip,
// BEP 48 scrape) and UDP (BEP 15, with BEP 41 URL data).
//
// A Client is safe for concurrent use and its zero value is ready. It
// starts no goroutines of its own: every network exchange runs on the
// caller's goroutine and honours the caller's context. UDP connection IDs
// (BEP 15) are cached per tracker together with the socket they were
// obtained on, because trackers may bind an ID to the client's address and
// port; Close releases those sockets.
//
// Every response is untrusted input: sizes are bounded (MaxResponseSize for
// HTTP bodies, one datagram for UDP) and malformed responses yield errors
// wrapping ErrMalformed, never a panic.
package trackerclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Event is the announce event of BEP 3; its numeric values are those of
// the BEP 15 announce packet.
type Event int32

// Announce events.
const (
	EventNone      Event = 0 // a regular, periodic announce
	EventCompleted Event = 1 // the download has just completed
	EventStarted   Event = 2 // the download is starting
	EventStopped   Event = 3 // the client is leaving the swarm
)

// String returns the BEP 3 spelling of e ("" for EventNone).
func (e Event) String() string {
	switch e {
	case EventCompleted:
		return "completed"
	case EventStarted:
		return "started"
	case EventStopped:
		return "stopped"
	}
	return ""
}

// AnnounceRequest is what a client tells a tracker about itself in one
// torrent. The zero value of every optional field means "not sent" or "the
// tracker's default".
type AnnounceRequest struct {
	InfoHash [20]byte
	PeerID   [20]byte
	// Port is the TCP port the client accepts peer connections on.
	Port uint16
	// Uploaded, Downloaded and Left are byte counts (BEP 3).
	Uploaded, Downloaded, Left int64
	Event                      Event
	// NumWant is the number of peers wanted: 0 lets the tracker choose
	// (HTTP: numwant omitted, UDP: -1); a negative value asks for none.
	NumWant int
	// Key identifies the client across IP changes (BEP 7). Sent as eight
	// hex digits over HTTP when non-zero; always sent over UDP.
	Key uint32
	// IP is an optional address to announce instead of the source address.
	// Most trackers ignore it; over UDP only an IPv4 address can be sent.
	IP netip.Addr
	// TrackerID echoes the "tracker id" of an earlier HTTP response.
	TrackerID string
}

// Peer is one peer returned by an announce.
type Peer struct {
	// Addr is the peer's address; IPv4 addresses are plain (Is4), never
	// IPv4-mapped IPv6.
	Addr netip.AddrPort
	// ID is the peer id when the tracker sent one (dictionary-model HTTP
	// responses, BEP 3); all zero otherwise.
	ID [20]byte
}

// AnnounceResponse is a successful tracker answer to an announce.
type AnnounceResponse struct {
	// Interval is how long to wait before the next regular announce.
	Interval time.Duration
	// MinInterval, when non-zero, is the shortest allowed re-announce
	// delay (HTTP "min interval").
	MinInterval time.Duration
	// Seeders and Leechers are the swarm counts; -1 when the tracker did
	// not send them (HTTP "complete" and "incomplete" are optional).
	Seeders, Leechers int64
	// Peers holds the peers in the order received: IPv4 ones ("peers")
	// first, then IPv6 ones ("peers6", BEP 7). Entries are passed on as
	// sent, except dictionary-model entries whose "ip" is not an IP
	// address literal, which are dropped.
	Peers []Peer
	// Warning is the HTTP "warning message", if any.
	Warning string
	// TrackerID is the HTTP "tracker id" to send back in later announces.
	TrackerID string
	// ExternalIP is the client's address as the tracker saw it (BEP 24),
	// when reported.
	ExternalIP netip.Addr
}

// ScrapeStats are the counts of one swarm (BEP 48, BEP 15).
type ScrapeStats struct {
	Complete   int64 // seeders
	Incomplete int64 // leechers
	Downloaded int64 // completed downloads ever reported
}

// ScrapeResponse maps each info hash the tracker reported on to its
// counts. Info hashes the tracker left out are absent.
type ScrapeResponse map[[20]byte]ScrapeStats

// TrackerError is a refusal sent by the tracker: an HTTP "failure reason"
// (BEP 3) or a UDP error packet (BEP 15).
type TrackerError struct {
	Reason string
}

func (e *TrackerError) Error() string { return "tracker failure: " + e.Reason }

// Errors returned (wrapped) by the client.
var (
	// ErrMalformed marks a response that could not be decoded.
	ErrMalformed = errors.New("malformed tracker response")
	// ErrResponseTooLarge marks an HTTP body over MaxResponseSize.
	ErrResponseTooLarge = errors.New("tracker response too large")
	// ErrTimeout marks a UDP exchange that got no answer after all retries.
	ErrTimeout = errors.New("tracker did not answer")
	// ErrScrapeUnsupported is returned for HTTP announce URLs from which
	// no scrape URL can be derived (BEP 48), and for UDP full scrapes.
	ErrScrapeUnsupported = errors.New("tracker does not support this scrape")
	// ErrUnsupportedScheme is returned for URLs that are not http, https
	// or udp.
	ErrUnsupportedScheme = errors.New("unsupported tracker URL scheme")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("trackerclient: client closed")
)

// DefaultMaxResponseSize bounds HTTP response bodies when
// Client.MaxResponseSize is zero.
const DefaultMaxResponseSize = 4 << 20

// Default UDP retransmission parameters (BEP 15: 15 * 2^n seconds).
const (
	DefaultUDPTimeout    = 15 * time.Second
	DefaultUDPMaxRetries = 3
)

// Client talks to trackers. The zero value is ready to use.
type Client struct {
	// HTTPClient performs HTTP(S) requests. Nil means an internal client
	// without keep-alive connections (so no idle connection outlives a
	// call) that honours IPVersion.
	HTTPClient *http.Client
	// UserAgent is sent with HTTP requests when non-empty.
	UserAgent string
	// MaxResponseSize bounds an HTTP response body; 0 means
	// DefaultMaxResponseSize.
	MaxResponseSize int64
	// UDPTimeout is the first UDP retransmission timeout; it doubles after
	// every retransmission (BEP 15). 0 means DefaultUDPTimeout.
	UDPTimeout time.Duration
	// UDPMaxRetries is how many times a UDP request is retransmitted
	// before ErrTimeout; 0 means DefaultUDPMaxRetries, negative means none.
	UDPMaxRetries int
	// IPVersion restricts the address family used to reach trackers:
	// 0 for any, 4 or 6. For HTTP it applies only to the internal client.
	IPVersion int
	// Logger receives debug messages; nil discards them.
	Logger *slog.Logger

	mu       sync.Mutex
	closed   bool
	sessions map[string]*udpSession
	httpOnce sync.Once
	httpDef  *http.Client

	now func() time.Time // for tests; nil means time.Now
}

// Announce sends req to the tracker at trackerURL (http, https or udp) and
// returns its answer. A tracker refusal is returned as *TrackerError.
func (c *Client) Announce(ctx context.Context, trackerURL string, req AnnounceRequest) (*AnnounceResponse, error) {
	u, err := parseTrackerURL(trackerURL)
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "http", "https":
		return c.announceHTTP(ctx, u, &req)
	case "udp":
		return c.announceUDP(ctx, u, &req)
	}
	return nil, fmt.Errorf("%w: %q", ErrUnsupportedScheme, u.Scheme)
}

// Scrape asks the tracker at announceURL for the counts of the given
// swarms. For HTTP the scrape URL is derived from the announce URL as BEP
// 48 says; an empty list asks for a full scrape, which only HTTP trackers
// may offer. Over UDP, lists longer than 74 hashes are split into several
// requests (BEP 15).
func (c *Client) Scrape(ctx context.Context, announceURL string, infoHashes [][20]byte) (ScrapeResponse, error) {
	u, err := parseTrackerURL(announceURL)
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "http", "https":
		return c.scrapeHTTP(ctx, u, infoHashes)
	case "udp":
		return c.scrapeUDP(ctx, u, infoHashes)
	}
	return nil, fmt.Errorf("%w: %q", ErrUnsupportedScheme, u.Scheme)
}

// Close releases the cached UDP sockets and idle HTTP connections.
// Calls in progress fail; later calls return ErrClosed for UDP.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	sessions := c.sessions
	c.sessions = nil
	c.mu.Unlock()
	for _, s := range sessions {
		s.close()
	}
	if c.httpDef != nil {
		c.httpDef.CloseIdleConnections()
	}
	return nil
}

func (c *Client) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (c *Client) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

func parseTrackerURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("tracker URL: %w", err)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Host == "" {
		return nil, fmt.Errorf("tracker URL %q: no host", s)
	}
	u.Fragment = ""
	return u, nil
}
