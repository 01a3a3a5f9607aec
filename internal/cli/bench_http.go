package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gale-bt/gale/internal/trackerclient"
)

// HTTP load generation: --concurrency goroutines, each a client that
// writes a request formatted into a reused buffer on a raw TCP connection
// and reads the answer with a minimal HTTP/1.1 response parser. By default
// every request uses a new connection with "Connection: close" (as BEP 3
// clients do) and waits for the tracker to close it, so TIME_WAIT stays on
// the tracker's side (--close-first closes once the answer is complete,
// as clients that trust the answer's length do); with --keepalive
// connections are reused.

type httpWorker struct {
	cfg      *benchConfig
	pop      *benchPopulation
	raddr    *net.TCPAddr
	dialer   *net.Dialer
	addr     string
	prefix   []byte   // "GET /path?query&" up to the first parameter
	suffix   []byte   // " HTTP/1.1\r\nHost: ...\r\n\r\n"
	escaped  [][]byte // escaped info hashes
	peers    []int    // announce: peers served by this worker
	started  []bool
	next     int
	sentAll  bool // every peer of this worker has announced at least once
	torrentN int  // scrape: next first torrent
	buf      []byte
	rbuf     []byte
	conn     *net.TCPConn
	stats    benchStats
}

func benchHTTP(ctx context.Context, c *benchConfig, u *url.URL, target netip.AddrPort, pop *benchPopulation) (*benchResult, error) {
	prefix, suffix, escaped, err := httpRequestParts(c, u, pop)
	if err != nil {
		return nil, err
	}
	n := c.concurrency
	workers := make([]*httpWorker, n)
	for w := range workers {
		wk := &httpWorker{
			cfg: c, pop: pop, raddr: net.TCPAddrFromAddrPort(target),
			// No TCP keep-alive: it costs three setsockopt calls per
			// connection and requests are short.
			dialer: &net.Dialer{KeepAlive: -1}, addr: target.String(),
			prefix: prefix, suffix: suffix, escaped: escaped,
			buf: make([]byte, 0, 1024), rbuf: make([]byte, 64<<10), torrentN: w,
		}
		for i := w; i < pop.peers; i += n {
			wk.peers = append(wk.peers, i)
		}
		if len(wk.peers) == 0 {
			wk.peers = []int{w % pop.peers}
		}
		wk.started = make([]bool, len(wk.peers))
		workers[w] = wk
	}
	var stop atomic.Bool
	release := context.AfterFunc(ctx, func() { stop.Store(true) })
	defer release()
	var wg sync.WaitGroup
	started := time.Now()
	for _, wk := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wk.run(&stop)
		}()
	}
	wg.Wait()
	res := &benchResult{start: started}
	for _, wk := range workers {
		res.stats.merge(&wk.stats)
	}
	if res.stats.responses == 0 && res.stats.errors > 0 {
		return nil, fmt.Errorf("no successful request; first error: %s", res.stats.errorSample)
	}
	return res, nil
}

// httpRequestParts returns what every request shares: the request line
// up to the first parameter ("GET /announce?"), the rest of the request
// after the parameters (protocol, headers and the blank line), and the
// URL-escaped info hashes.
func httpRequestParts(c *benchConfig, u *url.URL, pop *benchPopulation) (prefix, suffix []byte, escaped [][]byte, err error) {
	path := *u
	if c.mode == "scrape" {
		su, err := trackerclient.ScrapeURL(u)
		if err != nil {
			return nil, nil, nil, err
		}
		path = *su
	}
	prefix = []byte("GET " + path.EscapedPath())
	if path.RawQuery != "" {
		prefix = append(prefix, '?')
		prefix = append(prefix, path.RawQuery...)
		prefix = append(prefix, '&')
	} else {
		prefix = append(prefix, '?')
	}
	conn := "close"
	if c.keepAlive {
		conn = "keep-alive"
	}
	suffix = []byte(" HTTP/1.1\r\nHost: " + u.Host + "\r\nUser-Agent: gale-bench\r\nAccept-Encoding: identity\r\nConnection: " + conn + "\r\n\r\n")
	escaped = make([][]byte, len(pop.hashes))
	for i, h := range pop.hashes {
		escaped[i] = []byte(trackerclient.EscapeBinary(h[:]))
	}
	return prefix, suffix, escaped, nil
}

// appendAnnounceQuery appends the announce parameters of peer p (without
// an event) to b; escaped holds the URL-escaped info hashes.
func appendAnnounceQuery(b []byte, pop *benchPopulation, escaped [][]byte, p, numWant int) []byte {
	id := pop.peerID(p)
	b = append(b, "info_hash="...)
	b = append(b, escaped[pop.torrent(p)]...)
	b = append(b, "&peer_id="...)
	b = append(b, id[:]...) // ASCII: needs no escaping
	b = append(b, "&port="...)
	b = strconv.AppendUint(b, uint64(pop.port(p)), 10)
	b = append(b, "&uploaded=0&downloaded=0&left="...)
	b = strconv.AppendInt(b, pop.left(p), 10)
	b = append(b, "&compact=1&numwant="...)
	b = strconv.AppendInt(b, int64(max(numWant, 0)), 10)
	b = append(b, "&key="...)
	return strconv.AppendUint(b, uint64(uint32(p)), 16)
}

// request formats the next request into wk.buf.
func (wk *httpWorker) request() []byte {
	b := append(wk.buf[:0], wk.prefix...)
	if wk.cfg.mode == "scrape" {
		T := len(wk.escaped)
		for k := range wk.cfg.scrapeHashes {
			if k > 0 {
				b = append(b, '&')
			}
			b = append(b, "info_hash="...)
			b = append(b, wk.escaped[(wk.torrentN+k)%T]...)
		}
		wk.torrentN = (wk.torrentN + wk.cfg.concurrency) % T
	} else {
		j := wk.next
		if wk.next++; wk.next == len(wk.peers) {
			wk.next, wk.sentAll = 0, true
		}
		if wk.pop.keyed != nil {
			b = wk.pop.appendRequestLine(b[:0], wk.peers[j]) // personal key (bench_keys.go)
		}
		b = appendAnnounceQuery(b, wk.pop, wk.escaped, wk.peers[j], wk.cfg.numWant)
		if !wk.started[j] {
			wk.started[j] = true
			b = append(b, "&event=started"...)
		}
	}
	b = append(b, wk.suffix...)
	wk.buf = b
	return b
}

func (wk *httpWorker) run(stop *atomic.Bool) {
	defer func() {
		if wk.conn != nil {
			wk.conn.Close()
		}
	}()
	for !stop.Load() && !(wk.cfg.once && wk.sentAll) {
		req := wk.request()
		start := time.Now()
		wk.stats.requests++
		ok, err := wk.do(req, start)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				wk.stats.timeouts++
			} else {
				wk.stats.errorf("%v", err)
				time.Sleep(time.Millisecond) // do not spin on a dead target
			}
			if wk.conn != nil {
				wk.conn.Close()
				wk.conn = nil
			}
			continue
		}
		if ok {
			wk.stats.last = time.Now()
			wk.stats.responses++
			wk.stats.hist.add(wk.stats.last.Sub(start))
		}
	}
}

var errConnClosed = errors.New("connection closed before the response")

// do performs one request; it reports whether the answer was a success.
// A bad answer is counted as an error here and returns ok=false, err=nil.
func (wk *httpWorker) do(req []byte, start time.Time) (ok bool, err error) {
	fresh := false
	if wk.conn == nil {
		c, err := wk.dialer.Dial("tcp", wk.addr)
		if err != nil {
			return false, fmt.Errorf("connect: %w", err)
		}
		wk.conn, fresh = c.(*net.TCPConn), true
		wk.stats.connects++
	}
	c := wk.conn
	c.SetDeadline(start.Add(wk.cfg.timeout))
	if _, err := c.Write(req); err != nil {
		if !fresh && wk.cfg.keepAlive { // the tracker closed an idle connection: retry once
			c.Close()
			wk.conn = nil
			return wk.do(req, start)
		}
		return false, err
	}
	status, body, keep, err := readHTTPResponse(c, wk.rbuf)
	if errors.Is(err, errConnClosed) && !fresh {
		c.Close()
		wk.conn = nil
		return wk.do(req, start)
	}
	if err != nil {
		return false, err
	}
	if !wk.cfg.keepAlive || !keep {
		if !wk.cfg.keepAlive && !wk.cfg.closeFirst {
			// Let the tracker close first (it was asked to).
			var one [1]byte
			c.Read(one[:])
		}
		c.Close()
		wk.conn = nil
	}
	switch {
	case status != 200:
		wk.stats.errorf("HTTP status %d: %.100q", status, body)
	case bytes.Contains(body, []byte("14:failure reason")):
		wk.stats.errorf("failure: %.100q", body)
	case len(body) == 0 || body[0] != 'd':
		wk.stats.errorf("not a bencoded dictionary: %.100q", body)
	default:
		if wk.cfg.mode == "announce" {
			wk.stats.peersReturned += compactCount(body, "5:peers", 6) + compactCount(body, "6:peers6", 18)
		}
		return true, nil
	}
	return false, nil
}

// compactCount returns the number of compact entries under key in body.
func compactCount(body []byte, key string, size int) uint64 {
	i := bytes.Index(body, []byte(key))
	if i < 0 {
		return 0
	}
	rest := body[i+len(key):]
	j := bytes.IndexByte(rest, ':')
	if j <= 0 {
		return 0
	}
	n, err := strconv.Atoi(string(rest[:j]))
	if err != nil || n < 0 {
		return 0
	}
	return uint64(n / size)
}

// readHTTPResponse reads one response into buf (which bounds its size)
// and returns the status, the body, and whether the connection may be
// reused. Bodies need a Content-Length or end at EOF; chunked encoding is
// decoded only as far as needed to find the end.
func readHTTPResponse(c net.Conn, buf []byte) (status int, body []byte, keep bool, err error) {
	n := 0
	hdrEnd := -1
	for hdrEnd < 0 {
		if n == len(buf) {
			return 0, nil, false, errors.New("response header too large")
		}
		m, err := c.Read(buf[n:])
		n += m
		if err != nil {
			if n == 0 && (err == io.EOF || errors.Is(err, syscall.ECONNRESET)) {
				return 0, nil, false, errConnClosed
			}
			if err == io.EOF {
				return 0, nil, false, errors.New("truncated response header")
			}
			return 0, nil, false, err
		}
		hdrEnd = bytes.Index(buf[:n], []byte("\r\n\r\n"))
	}
	head := buf[:hdrEnd]
	line, rest, _ := bytes.Cut(head, []byte("\r\n"))
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, nil, false, fmt.Errorf("bad status line %.60q", line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, false, fmt.Errorf("bad status line %.60q", line)
	}
	keep = line[7] == '1'
	clen, chunked := -1, false
	for len(rest) > 0 {
		var h []byte
		h, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		k, v, _ := bytes.Cut(h, []byte(":"))
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			if clen, err = strconv.Atoi(string(v)); err != nil || clen < 0 {
				return 0, nil, false, fmt.Errorf("bad Content-Length %q", v)
			}
		case bytes.EqualFold(k, []byte("Connection")):
			keep = !bytes.EqualFold(v, []byte("close"))
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(v, []byte("chunked"))
		}
	}
	bodyStart := hdrEnd + 4
	switch {
	case chunked:
		// Read until the terminating zero-length chunk.
		for !bytes.HasSuffix(buf[:n], []byte("0\r\n\r\n")) {
			if n == len(buf) {
				return 0, nil, false, errors.New("response too large")
			}
			m, err := c.Read(buf[n:])
			n += m
			if err != nil {
				return 0, nil, false, fmt.Errorf("truncated chunked body: %w", err)
			}
		}
		return status, dechunk(buf[bodyStart:n]), keep, nil
	case clen >= 0:
		if bodyStart+clen > len(buf) {
			return 0, nil, false, errors.New("response too large")
		}
		for n < bodyStart+clen {
			m, err := c.Read(buf[n:])
			n += m
			if err != nil {
				return 0, nil, false, fmt.Errorf("truncated body: %w", err)
			}
		}
		return status, buf[bodyStart : bodyStart+clen], keep, nil
	}
	for {
		if n == len(buf) {
			return 0, nil, false, errors.New("response too large")
		}
		m, err := c.Read(buf[n:])
		n += m
		if err == io.EOF {
			return status, buf[bodyStart:n], false, nil
		}
		if err != nil {
			return 0, nil, false, err
		}
	}
}

// dechunk joins the data of a chunked body (in place).
func dechunk(b []byte) []byte {
	out := b[:0]
	for {
		line, rest, ok := bytes.Cut(b, []byte("\r\n"))
		if !ok {
			return out
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.SplitN(line, []byte(";"), 2)[0])), 16, 32)
		if err != nil || size <= 0 || int(size) > len(rest) {
			return out
		}
		out = append(out, rest[:size]...)
		b = bytes.TrimPrefix(rest[size:], []byte("\r\n"))
	}
}
