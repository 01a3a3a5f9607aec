// Package httptracker is the HTTP frontend of the tracker engine: announce
// (BEP 3, compact peers BEP 23, IPv6 BEP 7, external ip BEP 24) and scrape
// (BEP 48) at /announce, /scrape and the private forms /<key>/announce,
// /<key>/scrape, plus the stats pages.
//
// Announces and scrapes are served by a small HTTP/1.1 server written for
// them (keep-alive and pipelining, one read and one write per request, no
// allocation for a known peer's announce). Any other request, and any
// request it does not fully understand, is handed with its connection to
// a net/http server running the pages (or Config.Handler), so browsers,
// Prometheus and odd clients get a complete HTTP implementation.
package httptracker

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gale-bt/gale/internal/tracker"
)

// Defaults for zero Config fields.
const (
	DefaultReadTimeout = 10 * time.Second
	DefaultIdleTimeout = 60 * time.Second
	DefaultMaxConns    = 16384
	// requestBufLen bounds the request line plus headers.
	requestBufLen = 8192
	headRoom      = 192 // space reserved before a body for the status line and headers
)

// Config configures a Server.
type Config struct {
	// Tracker is the engine; required.
	Tracker *tracker.Tracker
	// Logger receives operational messages (default: discard).
	Logger *slog.Logger
	// TrustedProxies lists the addresses whose X-Forwarded-For and
	// X-Real-IP headers are believed; from anyone else they are ignored.
	TrustedProxies []netip.Prefix
	// TrackerID, if set, is sent as "tracker id" (BEP 3).
	TrackerID string
	// FullScrape allows /scrape without info_hash to list every swarm.
	FullScrape bool
	// Handler serves every path that is not announce or scrape (default:
	// the stats pages, see Pages).
	Handler http.Handler
	// ReadTimeout bounds reading one request (default 10s); IdleTimeout
	// how long a keep-alive connection may wait for the next (default 60s).
	ReadTimeout, IdleTimeout time.Duration
	// MaxConns bounds open connections (default 16384); beyond it the
	// server stops accepting until one closes.
	MaxConns int
	// AccessLog, if set, is called once per request, after the response
	// was written. Passkeys in paths are replaced by "<key>".
	AccessLog func(Access)
}

// Access describes one request for an access log.
type Access struct {
	Time      time.Time
	Remote    netip.AddrPort // the connection's peer
	Client    netip.Addr     // the announcing client (differs behind a trusted proxy)
	Method    string
	Target    string // path and query, with any passkey redacted
	Proto     string
	Status    int
	Bytes     int
	UserAgent string
	Action    tracker.Action
	Outcome   tracker.Outcome
	Message   string // failure reason, if any
	Duration  time.Duration
}

// Server serves announces, scrapes and the pages over HTTP.
type Server struct {
	cfg     Config
	tr      *tracker.Tracker
	log     *slog.Logger
	handler http.Handler // for everything but the fast path

	mu    sync.Mutex
	conns map[net.Conn]struct{}

	fullMu   sync.Mutex
	fullBody []byte
	fullAt   time.Time
}

// New returns a Server for cfg. It starts nothing.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	s := &Server{cfg: cfg, tr: cfg.Tracker, log: cfg.Logger, conns: map[net.Conn]struct{}{}}
	h := cfg.Handler
	if h == nil {
		h = Pages(cfg.Tracker)
	}
	s.handler = s.slowPath(h)
	return s
}

// ServeListener accepts connections on ln until ctx is done, then closes
// ln and every open connection and returns nil; or returns an accept error
// that is not temporary. Use it for listeners the net package made (TLS,
// tests); Serve on a Listener from Listen is faster.
func (s *Server) ServeListener(ctx context.Context, ln net.Listener) error {
	sv := s.begin(ln.Addr())
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var err error
	delay := time.Duration(0)
	for {
		select {
		case sv.sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		c, aerr := ln.Accept()
		if aerr != nil {
			<-sv.sem
			if ctx.Err() != nil {
				break
			}
			var ne net.Error
			if errors.As(aerr, &ne) && ne.Timeout() || isTemporary(aerr) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.log.Warn("http accept", "err", aerr, "retry_in", delay)
				time.Sleep(delay)
				continue
			}
			err = aerr
			break
		}
		delay = 0
		sv.goConn(c, nil)
	}
	sv.end()
	return err
}

// serving is the state of one Serve call: the net/http server that takes
// handed-off connections, the connection slots and the goroutines.
type serving struct {
	s       *Server
	handoff *chanListener
	hs      *http.Server
	sem     chan struct{} // one token per open connection
	wg      sync.WaitGroup
}

func (s *Server) begin(addr net.Addr) *serving {
	sv := &serving{s: s, handoff: newChanListener(addr), sem: make(chan struct{}, s.cfg.MaxConns)}
	sv.hs = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.ReadTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    requestBufLen,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	sv.wg.Add(1)
	go func() { defer sv.wg.Done(); _ = sv.hs.Serve(sv.handoff) }()
	return sv
}

// end stops the net/http server, closes every connection and waits.
func (sv *serving) end() {
	sv.handoff.Close()
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_ = sv.hs.Shutdown(sctx)
	cancel()
	sv.hs.Close()
	s := sv.s
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	sv.wg.Wait()
}

// goConn serves c on its own goroutine; prefix holds bytes already read
// from it. The caller holds a slot in sem for c.
func (sv *serving) goConn(c net.Conn, prefix []byte) {
	s := sv.s
	s.track(c, true)
	sv.wg.Add(1)
	go func() {
		defer sv.wg.Done()
		if !s.serveConn(c, sv.handoff, sv.sem, prefix) {
			s.track(c, false)
			c.Close()
			<-sv.sem
		}
	}()
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

func (s *Server) track(c net.Conn, add bool) {
	s.mu.Lock()
	if add {
		s.conns[c] = struct{}{}
	} else {
		delete(s.conns, c)
	}
	s.mu.Unlock()
}

// connState is one connection's buffers and request state, pooled.
type connState struct {
	in   [requestBufLen]byte
	out  []byte
	q    query
	req  tracker.AnnounceRequest
	resp tracker.AnnounceResponse
	head request
	hdr  [headRoom]byte
}

var statePool = sync.Pool{New: func() any {
	return &connState{out: make([]byte, headRoom, 4096)}
}}

// request is the parsed request line and the headers the fast path uses.
// Slices alias the input buffer.
type request struct {
	method, target, proto []byte
	keepAlive             bool
	hasBody               bool
	xff, xRealIP, ua      []byte
}

// serveConn runs the fast path on c, starting with the bytes in prefix.
// It returns true when c was handed to the net/http server (which then
// owns it), false when the caller should close it.
func (s *Server) serveConn(c net.Conn, handoff *chanListener, sem chan struct{}, prefix []byte) bool {
	st := statePool.Get().(*connState)
	defer st.release()
	var remote netip.AddrPort
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		remote = ta.AddrPort()
	}
	buf := st.in[:]
	n := copy(buf, prefix)
	first := true
	for {
		end := headerEnd(buf[:n])
		for end < 0 {
			if n == len(buf) {
				writeSimple(c, 431, "Request Header Fields Too Large")
				return false
			}
			timeout := s.cfg.ReadTimeout
			if !first && n == 0 {
				timeout = s.cfg.IdleTimeout
			}
			_ = c.SetReadDeadline(time.Now().Add(timeout))
			m, err := c.Read(buf[n:])
			n += m
			if m > 0 {
				end = headerEnd(buf[:n])
			}
			if err != nil && end < 0 {
				return false
			}
		}
		first = false
		start := time.Now()
		h := &st.head
		if !parseRequest(buf[:end], h) {
			writeSimple(c, 400, "Bad Request")
			return false
		}
		rt, ok := route(h)
		if !ok {
			// Not ours: net/http takes the connection, replaying what we
			// have read.
			s.track(c, false)
			pc := &prefixConn{Conn: c, prefix: append([]byte(nil), buf[:n]...), release: func() { <-sem }}
			if !handoff.deliver(pc) {
				pc.Close()
			}
			return true
		}
		_ = c.SetReadDeadline(time.Time{})
		resp, acc, client, bodyLen := s.reply(st, h, &rt, remote)
		if len(resp) > 64<<10 {
			_ = c.SetWriteDeadline(time.Now().Add(s.cfg.ReadTimeout))
		}
		_, werr := c.Write(resp)
		s.done(&acc, remote, client, h, bodyLen, start)
		if werr != nil || !h.keepAlive {
			return false
		}
		n = copy(buf, buf[end:n])
	}
}

func (st *connState) release() {
	if cap(st.out) > 64<<10 {
		st.out = make([]byte, headRoom, 4096)
	}
	st.resp.Peers = st.resp.Peers[:0]
	statePool.Put(st)
}

// routed is a request the fast path answers.
type routed struct {
	key, rawQuery []byte
	action        tracker.Action
	head          bool
}

// route reports whether the fast path answers h: GET or HEAD of an
// announce or scrape path, without a body.
func route(h *request) (routed, bool) {
	var rawQuery []byte
	if i := bytes.IndexByte(h.target, '?'); i >= 0 {
		rawQuery = h.target[i+1:]
	}
	key, action, ok := tracker.ParsePath(h.target)
	head := string(h.method) == "HEAD"
	if !ok || h.hasBody || !(head || string(h.method) == "GET") {
		return routed{}, false
	}
	return routed{key: key, rawQuery: rawQuery, action: action, head: head}, true
}

// reply answers a routed request and returns the whole response, ready to
// write.
func (s *Server) reply(st *connState, h *request, rt *routed, remote netip.AddrPort) (resp []byte, acc Access, client netip.Addr, bodyLen int) {
	client = s.clientIP(remote.Addr(), h.xff, h.xRealIP)
	body, acc := s.respond(st, rt.action, rt.key, rt.rawQuery, client, st.out[:headRoom])
	st.out = body[:headRoom]
	return frame(st, body, h.keepAlive, rt.head), acc, client, len(body) - headRoom
}

// done counts a served request and logs it.
func (s *Server) done(acc *Access, remote netip.AddrPort, client netip.Addr, h *request, bodyLen int, start time.Time) {
	d := time.Since(start)
	s.tr.Observe(tracker.HTTP, acc.Action, acc.Outcome, d)
	if s.cfg.AccessLog != nil {
		s.logAccess(acc, remote, client, h, 200, bodyLen, d, start)
	}
}

// frame writes the status line and headers into the head room before
// body and returns the whole response.
func frame(st *connState, body []byte, keepAlive, head bool) []byte {
	h := st.hdr[:0]
	h = append(h, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "...)
	h = strconv.AppendInt(h, int64(len(body)-headRoom), 10)
	if !keepAlive {
		h = append(h, "\r\nConnection: close"...)
	}
	h = append(h, "\r\n\r\n"...)
	p := headRoom - len(h)
	copy(body[p:], h)
	if head {
		return body[p:headRoom]
	}
	return body[p:]
}

func writeSimple(c net.Conn, code int, text string) {
	b := make([]byte, 0, 128)
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	b = append(b, text...)
	b = append(b, "\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(text)+1), 10)
	b = append(b, "\r\n\r\n"...)
	b = append(b, text...)
	b = append(b, '\n')
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.Write(b)
}

// headerEnd returns the length of the request head (through the empty
// line ending it) or -1 if incomplete. Lines may end in CRLF or LF.
func headerEnd(b []byte) int {
	for i := 0; i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		if i+1 < len(b) && b[i+1] == '\n' {
			return i + 2
		}
		if i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n' {
			return i + 3
		}
	}
	return -1
}

// parseRequest parses the request line and the headers the fast path
// needs. It reports false for anything malformed, which the caller
// answers with 400.
func parseRequest(b []byte, r *request) bool {
	*r = request{}
	line, rest := nextLine(b)
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return false
	}
	r.method, line = line[:sp], line[sp+1:]
	sp = bytes.LastIndexByte(line, ' ')
	if sp <= 0 {
		return false
	}
	r.target, r.proto = line[:sp], line[sp+1:]
	switch string(r.proto) {
	case "HTTP/1.1":
		r.keepAlive = true
	case "HTTP/1.0":
	default:
		return false
	}
	if len(r.target) == 0 || bytes.IndexByte(r.target, ' ') >= 0 {
		return false
	}
	for len(rest) > 0 {
		line, rest = nextLine(rest)
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return false // obsolete line folding
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return false
		}
		name, val := line[:colon], bytes.TrimSpace(line[colon+1:])
		switch {
		case asciiEqualFold(name, "connection"):
			if containsToken(val, "close") {
				r.keepAlive = false
			} else if containsToken(val, "keep-alive") {
				r.keepAlive = true
			}
		case asciiEqualFold(name, "content-length"):
			if string(val) != "0" {
				r.hasBody = true
			}
		case asciiEqualFold(name, "transfer-encoding"):
			r.hasBody = true
		case asciiEqualFold(name, "x-forwarded-for"):
			r.xff = val
		case asciiEqualFold(name, "x-real-ip"):
			r.xRealIP = val
		case asciiEqualFold(name, "user-agent"):
			r.ua = val
		}
	}
	return true
}

func nextLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	line, rest = b[:i], b[i+1:]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, rest
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// containsToken reports whether the comma-separated list v contains tok
// (ASCII case-insensitive).
func containsToken(v []byte, tok string) bool {
	for len(v) > 0 {
		var item []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			item, v = v[:i], v[i+1:]
		} else {
			item, v = v, nil
		}
		if asciiEqualFold(bytes.TrimSpace(item), tok) {
			return true
		}
	}
	return false
}

// clientIP returns the announcing client's address: the connection's
// peer, or, when that is a trusted proxy, the right-most untrusted
// address of X-Forwarded-For, else X-Real-IP.
func (s *Server) clientIP(remote netip.Addr, xff, xReal []byte) netip.Addr {
	remote = remote.Unmap()
	if len(s.cfg.TrustedProxies) == 0 || !s.trusted(remote) {
		return remote
	}
	for len(xff) > 0 {
		var item []byte
		if i := bytes.LastIndexByte(xff, ','); i >= 0 {
			item, xff = xff[i+1:], xff[:i]
		} else {
			item, xff = xff, nil
		}
		a, err := netip.ParseAddr(string(bytes.TrimSpace(item)))
		if err != nil {
			break
		}
		a = a.Unmap()
		if !s.trusted(a) {
			return a
		}
	}
	if len(xReal) > 0 {
		if a, err := netip.ParseAddr(string(xReal)); err == nil {
			return a.Unmap()
		}
	}
	return remote
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// respond runs an announce or scrape and appends the bencoded body to
// out. It never fails: errors become a "failure reason".
func (s *Server) respond(st *connState, action tracker.Action, key, rawQuery []byte, client netip.Addr, out []byte) ([]byte, Access) {
	acc := Access{Action: action, Outcome: tracker.OutcomeOK}
	q := &st.q
	if err := parseQuery(rawQuery, action == tracker.ActionScrape, q); err != nil {
		acc.Outcome, acc.Message = tracker.OutcomeInvalid, err.Error()
		return appendFailure(out, acc.Message), acc
	}
	if action == tracker.ActionScrape {
		return s.scrape(q, key, out, acc)
	}
	r := &st.req
	r.InfoHash = q.infoHash
	r.PeerID = q.peerID
	r.Addr = client
	r.Port = q.port
	r.Uploaded, r.Downloaded, r.Left = q.uploaded, q.downloaded, q.left
	if !q.hasLeft {
		r.Left = 1 // unknown: treat as a leecher
	}
	r.Event = q.event
	r.NumWant = q.numWant
	r.Key = q.key
	r.Passkey = key
	r.WantPeerIDs = !q.compact
	r.Protocol = tracker.HTTP
	resp := &st.resp
	resp.Peers = resp.Peers[:0]
	if err := s.tr.Announce(r, resp); err != nil {
		acc.Message = tracker.ClientMessage(err)
		acc.Outcome = tracker.OutcomeRefused
		if !tracker.IsClientError(err) {
			acc.Outcome = tracker.OutcomeFailed
			s.log.Error("announce failed", "err", err)
		}
		return appendFailure(out, acc.Message), acc
	}
	return appendAnnounce(out, resp, q.compact, !q.noPeerID, client, s.cfg.TrackerID), acc
}

func (s *Server) scrape(q *query, key, out []byte, acc Access) ([]byte, Access) {
	if q.nHashes == 0 {
		if !s.cfg.FullScrape {
			acc.Outcome, acc.Message = tracker.OutcomeRefused, "full scrape is disabled"
			return appendFailure(out, acc.Message), acc
		}
		return append(out, s.fullScrape()...), acc
	}
	hs := q.hashes[:q.nHashes]
	slices.SortFunc(hs, func(a, b tracker.InfoHash) int { return bytes.Compare(a[:], b[:]) })
	hs = slices.Compact(hs)
	start := len(out)
	out = append(out, "d5:filesd"...)
	for i := range hs {
		st, err := s.tr.Scrape(key, hs[i])
		if err != nil {
			if !tracker.IsClientError(err) {
				acc.Outcome, acc.Message = tracker.OutcomeFailed, tracker.ClientMessage(err)
				s.log.Error("scrape failed", "err", err)
				return appendFailure(out[:start], acc.Message), acc
			}
			continue // refused hashes are left out (BEP 48 has no per-hash error)
		}
		out = appendScrapeEntry(out, &hs[i], st)
	}
	return append(out, "ee"...), acc
}

// fullScrape returns the body listing every swarm, rebuilt at most every
// 30 seconds.
func (s *Server) fullScrape() []byte {
	s.fullMu.Lock()
	defer s.fullMu.Unlock()
	if s.fullBody != nil && time.Since(s.fullAt) < 30*time.Second {
		return s.fullBody
	}
	type item struct {
		ih tracker.InfoHash
		st tracker.ScrapeStats
	}
	var items []item
	s.tr.EachSwarm(func(ih tracker.InfoHash, st tracker.ScrapeStats) bool {
		items = append(items, item{ih, st})
		return true
	})
	slices.SortFunc(items, func(a, b item) int { return bytes.Compare(a.ih[:], b.ih[:]) })
	b := append(make([]byte, 0, 16+len(items)*72), "d5:filesd"...)
	for i := range items {
		b = appendScrapeEntry(b, &items[i].ih, items[i].st)
	}
	s.fullBody = append(b, "ee"...)
	s.fullAt = time.Now()
	return s.fullBody
}

// redactTarget replaces announce keys in a request target with "<key>",
// in every form tracker.ParsePath reads, also malformed ones (too long,
// bad bytes) that it refuses: the first or second segment of a
// two-segment path whose other segment is "announce" or "scrape", and the
// value of every passkey parameter of the query.
func redactTarget(target []byte) string {
	path, q := target, []byte(nil)
	if i := bytes.IndexByte(target, '?'); i >= 0 {
		path, q = target[:i], target[i:]
	}
	b := make([]byte, 0, len(target)+16)
	first, second, two := bytes.Cut(bytes.TrimPrefix(path, []byte("/")), []byte("/"))
	switch {
	case !two || len(path) == 0 || path[0] != '/' || bytes.IndexByte(second, '/') >= 0:
		b = append(b, path...)
	case isActionSegment(second):
		b = append(append(b, "/<key>/"...), second...)
	case isActionSegment(first):
		b = append(append(append(b, '/'), first...), "/<key>"...)
	default:
		b = append(b, path...)
	}
	for len(q) > 0 {
		// q starts with '?' or '&'.
		b = append(b, q[0])
		q = q[1:]
		pair := q
		if i := bytes.IndexByte(q, '&'); i >= 0 {
			pair = q[:i]
		}
		q = q[len(pair):]
		if name, _, _ := bytes.Cut(pair, []byte("=")); string(name) == tracker.PasskeyParam {
			b = append(b, tracker.PasskeyParam+"=<key>"...)
		} else {
			b = append(b, pair...)
		}
	}
	return string(b)
}

func isActionSegment(s []byte) bool {
	return string(s) == "announce" || string(s) == "scrape"
}

func (s *Server) logAccess(acc *Access, remote netip.AddrPort, client netip.Addr, h *request, status, n int, d time.Duration, at time.Time) {
	acc.Time = at
	acc.Remote, acc.Client = remote, client
	acc.Method, acc.Target, acc.Proto = string(h.method), redactTarget(h.target), string(h.proto)
	acc.Status, acc.Bytes, acc.UserAgent, acc.Duration = status, n, string(h.ua), d
	s.cfg.AccessLog(*acc)
}
