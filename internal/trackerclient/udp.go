package trackerclient

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"time"
)

// connIDLifetime is how long a client may use a connection ID (BEP 15).
const connIDLifetime = time.Minute

// maxUDPSessions bounds the cached sockets; idle ones are evicted first.
const maxUDPSessions = 256

// udpSession is one socket connected to one tracker address, with the
// connection ID obtained on it. lock is a one-slot semaphore so waiting
// for it can be abandoned when the context ends; one exchange runs at a
// time per session, on the caller's goroutine. Fields other than mu and
// closed belong to the holder of lock.
type udpSession struct {
	key      string
	lock     chan struct{}
	conn     *net.UDPConn // set under both lock and mu
	ipv6     bool
	connID   uint64
	connIDAt time.Time // zero when there is no valid ID
	lastUse  time.Time
	buf      []byte

	mu     sync.Mutex
	closed bool
}

// close closes the socket, which makes a running exchange return
// promptly, and marks the session dead so waiters look up a new one.
func (s *udpSession) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.conn != nil {
		s.conn.Close()
	}
}

func (s *udpSession) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (c *Client) announceUDP(ctx context.Context, u *url.URL, req *AnnounceRequest) (*AnnounceResponse, error) {
	data := urlData(u.EscapedPath(), u.RawQuery)
	if _, err := AppendAnnounceRequest(nil, 0, 0, req, data); err != nil {
		return nil, err
	}
	var resp *AnnounceResponse
	err := c.udpExchange(ctx, u.Host, ActionAnnounce, func(b []byte, connID uint64, tx uint32) []byte {
		b, _ = AppendAnnounceRequest(b, connID, tx, req, data)
		return b
	}, func(body []byte, ipv6 bool) error {
		var err error
		resp, err = ParseUDPAnnounce(body, ipv6)
		return err
	})
	return resp, err
}

func (c *Client) scrapeUDP(ctx context.Context, u *url.URL, hashes [][20]byte) (ScrapeResponse, error) {
	if len(hashes) == 0 {
		return nil, fmt.Errorf("%w: UDP trackers have no full scrape", ErrScrapeUnsupported)
	}
	out := make(ScrapeResponse, len(hashes))
	for len(hashes) > 0 {
		chunk := hashes[:min(len(hashes), UDPMaxScrapeHashes)]
		hashes = hashes[len(chunk):]
		err := c.udpExchange(ctx, u.Host, ActionScrape, func(b []byte, connID uint64, tx uint32) []byte {
			return AppendScrapeRequest(b, connID, tx, chunk)
		}, func(body []byte, _ bool) error {
			ParseUDPScrape(body, chunk, out)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// session returns the cached session for host, creating (and dialing) it
// if needed, and locks it.
func (c *Client) session(ctx context.Context, host string) (*udpSession, error) {
	network := "udp"
	switch c.IPVersion {
	case 4:
		network = "udp4"
	case 6:
		network = "udp6"
	}
	key := network + " " + host
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, ErrClosed
		}
		s := c.sessions[key]
		if s == nil {
			if c.sessions == nil {
				c.sessions = make(map[string]*udpSession)
			}
			c.evictLocked()
			s = &udpSession{key: key, lock: make(chan struct{}, 1)}
			c.sessions[key] = s
		}
		c.mu.Unlock()

		select {
		case s.lock <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if s.isClosed() { // dropped while we waited: look again
			<-s.lock
			continue
		}
		if s.conn == nil {
			conn, err := dialUDP(ctx, network, host)
			if err != nil {
				c.dropSession(s)
				<-s.lock
				return nil, err
			}
			s.mu.Lock()
			s.conn = conn
			closed := s.closed
			s.mu.Unlock()
			if closed { // Close ran while we dialed
				conn.Close()
				<-s.lock
				return nil, ErrClosed
			}
			s.ipv6 = conn.RemoteAddr().(*net.UDPAddr).IP.To4() == nil
			s.buf = make([]byte, 65536)
		}
		return s, nil
	}
}

// evictLocked removes idle sessions when the cache is full. c.mu is held.
func (c *Client) evictLocked() {
	if len(c.sessions) < maxUDPSessions {
		return
	}
	var oldest *udpSession
	for _, s := range c.sessions {
		select {
		case s.lock <- struct{}{}:
			if oldest == nil || s.lastUse.Before(oldest.lastUse) {
				if oldest != nil {
					<-oldest.lock
				}
				oldest = s
			} else {
				<-s.lock
			}
		default: // busy
		}
	}
	if oldest != nil {
		delete(c.sessions, oldest.key)
		oldest.close()
		<-oldest.lock
	}
}

// dropSession forgets s (after a socket error) so the next call redials.
// The caller holds s.lock.
func (c *Client) dropSession(s *udpSession) {
	c.mu.Lock()
	if c.sessions[s.key] == s {
		delete(c.sessions, s.key)
	}
	c.mu.Unlock()
	s.close()
}

func dialUDP(ctx context.Context, network, host string) (*net.UDPConn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, host)
	if err != nil {
		return nil, err
	}
	return conn.(*net.UDPConn), nil
}

func randomTx() uint32 {
	var b [4]byte
	rand.Read(b[:])
	return binary.BigEndian.Uint32(b[:])
}

// udpExchange performs one request with the connect step when needed and
// BEP 15 retransmissions: the n-th retransmission waits UDPTimeout * 2^n,
// n counting connect and request sends together, and a connection ID older
// than one minute is renewed before a retransmission.
func (c *Client) udpExchange(ctx context.Context, host string, action uint32,
	build func(b []byte, connID uint64, tx uint32) []byte,
	parse func(body []byte, ipv6 bool) error) error {
	s, err := c.session(ctx, host)
	if err != nil {
		return err
	}
	defer func() { <-s.lock }()

	stop := context.AfterFunc(ctx, func() {
		s.conn.SetReadDeadline(time.Unix(1, 0))
	})
	defer stop()

	timeout := c.UDPTimeout
	if timeout <= 0 {
		timeout = DefaultUDPTimeout
	}
	maxRetries := c.UDPMaxRetries
	if maxRetries == 0 {
		maxRetries = DefaultUDPMaxRetries
	} else if maxRetries < 0 {
		maxRetries = 0
	}
	log := c.logger()
	tx := randomTx()
	pkt := make([]byte, 0, 256)
	for n := 0; ; {
		wait := timeout << min(n, 8)
		if s.connIDAt.IsZero() || c.clock().Sub(s.connIDAt) >= connIDLifetime {
			connTx := randomTx()
			pkt = AppendConnectRequest(pkt[:0], connTx)
			body, err := c.udpRoundTrip(ctx, s, pkt, ActionConnect, connTx, wait)
			if errors.Is(err, errRetry) {
				if n++; n > maxRetries {
					return fmt.Errorf("udp tracker %s: connect: %w", host, ErrTimeout)
				}
				log.Debug("udp tracker connect timed out", "tracker", host, "retry", n)
				continue
			}
			if err != nil {
				return err
			}
			id, err := ParseUDPConnect(body)
			if err != nil {
				return err
			}
			s.connID, s.connIDAt = id, c.clock()
		}
		pkt = build(pkt[:0], s.connID, tx)
		body, err := c.udpRoundTrip(ctx, s, pkt, action, tx, wait)
		if errors.Is(err, errRetry) {
			if n++; n > maxRetries {
				return fmt.Errorf("udp tracker %s: %w", host, ErrTimeout)
			}
			log.Debug("udp tracker request timed out", "tracker", host, "action", action, "retry", n)
			continue
		}
		if err != nil {
			return err
		}
		s.lastUse = c.clock()
		return parse(body, s.ipv6)
	}
}

// errRetry reports that a send got no answer in time.
var errRetry = errors.New("retry")

// udpRoundTrip sends pkt and waits up to wait for a response carrying tx.
// Packets with other transaction IDs (late answers to abandoned requests,
// garbage) are skipped. It returns the response body, errRetry on time
// out, a *TrackerError for an error packet, or the context's or socket's
// error; on a socket error the session is dropped.
func (c *Client) udpRoundTrip(ctx context.Context, s *udpSession, pkt []byte, action, tx uint32, wait time.Duration) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, err := s.conn.Write(pkt); err != nil {
		c.dropSession(s)
		return nil, fmt.Errorf("udp tracker: %w", err)
	}
	deadline := time.Now().Add(wait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	s.conn.SetReadDeadline(deadline)
	if ctx.Err() != nil { // the AfterFunc may have run before SetReadDeadline
		return nil, ctx.Err()
	}
	for {
		n, err := s.conn.Read(s.buf)
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, ctxErr
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
					return nil, context.DeadlineExceeded // the socket timer beat the context's
				}
				return nil, errRetry
			}
			c.dropSession(s)
			return nil, fmt.Errorf("udp tracker: %w", err)
		}
		gotAction, gotTx, body, err := ParseUDPHeader(s.buf[:n])
		if err != nil || gotTx != tx {
			continue
		}
		switch gotAction {
		case action:
			return body, nil
		case ActionError:
			return nil, ParseUDPError(body)
		}
		// Same transaction, unexpected action: treat as malformed.
		return nil, fmt.Errorf("%w: action %d in answer to action %d", ErrMalformed, gotAction, action)
	}
}
