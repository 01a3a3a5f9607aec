package cli

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gale-bt/gale/internal/trackerclient"
)

// UDP load generation: each socket is served by one goroutine that keeps
// up to its share of --concurrency requests outstanding. Requests are
// pre-built packets (one per peer, or per scrape batch) patched in place
// with the connection ID and a transaction ID that names the slot and its
// generation, so late answers to timed-out requests are recognised and
// ignored. Sends and receives go through batchConn (sendmmsg/recvmmsg on
// Linux).

const (
	udpBatch      = 64
	connectTx     = 0xFFFFFFFF // the slot part 0xFFFF is never a real slot
	udpMaxWindow  = 0xFFFF
	connIDRenewal = 50 * time.Second // BEP 15: usable for one minute
)

type udpSlot struct {
	sent time.Duration // since the worker's base time
	gen  uint16
	busy bool
}

type udpWorker struct {
	cfg      *benchConfig
	rate     float64 // requests per second of this worker; 0: closed loop
	conn     *net.UDPConn
	bc       batchConn
	stride   int // bytes per peer entry in announce answers
	pktSize  int
	pkts     []byte // pre-built requests, pktSize each
	slotBufs []byte // one request buffer per slot, pktSize each
	npkts    int
	next     int
	scrape   bool
	slots    []udpSlot
	free     []uint16

	base      time.Time
	connID    uint64
	connIDAt  time.Duration
	connectAt time.Duration // when a pending renewal was sent, or -1
	stats     benchStats
}

func benchUDP(ctx context.Context, c *benchConfig, u *url.URL, target netip.AddrPort, pop *benchPopulation) (*benchResult, error) {
	nsock := min(c.sockets, c.concurrency)
	window := max(c.concurrency/nsock, 1)
	if window > udpMaxWindow {
		return nil, usagef("--concurrency / --sockets must be at most %d", udpMaxWindow)
	}
	data := u.EscapedPath()
	if u.RawQuery != "" {
		data += "?" + u.RawQuery
	}
	workers := make([]*udpWorker, nsock)
	for w := range workers {
		conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(target))
		if err != nil {
			for _, o := range workers[:w] {
				o.conn.Close()
			}
			return nil, err
		}
		conn.SetReadBuffer(4 << 20)
		conn.SetWriteBuffer(4 << 20)
		wk := &udpWorker{cfg: c, conn: conn, stride: 6, scrape: c.mode == "scrape", connectAt: -1, rate: c.rate / float64(nsock)}
		if target.Addr().Is6() {
			wk.stride = 18
		}
		if wk.bc, err = newBatchConn(conn); err != nil {
			conn.Close()
			return nil, err
		}
		if err := wk.build(pop, w, nsock, data); err != nil {
			conn.Close()
			return nil, err
		}
		wk.slots = make([]udpSlot, window)
		wk.slotBufs = make([]byte, window*wk.pktSize)
		for i := window - 1; i >= 0; i-- {
			wk.free = append(wk.free, uint16(i))
		}
		workers[w] = wk
	}
	var stop atomic.Bool
	release := context.AfterFunc(ctx, func() { stop.Store(true) })
	defer release()
	var wg sync.WaitGroup
	started := time.Now()
	errs := make([]error, nsock)
	for i, wk := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer wk.conn.Close()
			errs[i] = wk.run(&stop)
		}()
	}
	wg.Wait()
	res := &benchResult{start: started}
	for i, wk := range workers {
		if errs[i] != nil {
			return nil, errs[i]
		}
		res.stats.merge(&wk.stats)
	}
	return res, nil
}

// build pre-builds the requests of worker w of n: announces of peers
// w, w+n, ... or scrapes starting at torrents w, w+n, ...
func (wk *udpWorker) build(pop *benchPopulation, w, n int, urlData string) error {
	if wk.scrape {
		h := min(wk.cfg.scrapeHashes, trackerclient.UDPMaxScrapeHashes)
		T := len(pop.hashes)
		wk.pktSize = 16 + 20*h
		hs := make([][20]byte, h)
		for t := w; t < T || t == w; t += n {
			for k := range hs {
				hs[k] = pop.hashes[(t+k)%T]
			}
			wk.pkts = trackerclient.AppendScrapeRequest(wk.pkts, 0, 0, hs)
			wk.npkts++
		}
		return nil
	}
	var err error
	req := trackerclient.AnnounceRequest{Event: trackerclient.EventStarted, NumWant: wk.cfg.numWant}
	if wk.cfg.numWant == 0 {
		req.NumWant = -1
	}
	for i := w; i < pop.peers || i == w; i += n {
		p := i % pop.peers
		req.InfoHash = pop.hashes[pop.torrent(p)]
		req.PeerID = pop.peerID(p)
		req.Port = pop.port(p)
		req.Left = pop.left(p)
		req.Key = uint32(p)
		data := urlData
		if pop.keyed != nil {
			data = pop.urlTarget(p) // personal key (bench_keys.go)
		}
		start := len(wk.pkts)
		if wk.pkts, err = trackerclient.AppendAnnounceRequest(wk.pkts, 0, 0, &req, data); err != nil {
			return err
		}
		if wk.npkts > 0 && len(wk.pkts)-start != wk.pktSize {
			return errKeyedSize
		}
		wk.pktSize = len(wk.pkts) - start
		wk.npkts++
	}
	return nil
}

func (wk *udpWorker) now() time.Duration { return time.Since(wk.base) }

// connect obtains the first connection ID, retrying a few times.
func (wk *udpWorker) connect(stop *atomic.Bool) error {
	pkt := trackerclient.AppendConnectRequest(nil, connectTx)
	buf := make([]byte, 2048)
	for try := 0; try < 5 && !stop.Load(); try++ {
		wk.stats.connects++
		if _, err := wk.conn.Write(pkt); err != nil {
			return fmt.Errorf("udp connect: %w", err)
		}
		wk.conn.SetReadDeadline(time.Now().Add(wk.cfg.timeout))
		for {
			n, err := wk.conn.Read(buf)
			if err != nil {
				if errors.Is(err, syscall.ECONNREFUSED) {
					return fmt.Errorf("udp tracker %s: connection refused", wk.conn.RemoteAddr())
				}
				break // timeout: retry
			}
			action, tx, body, err := trackerclient.ParseUDPHeader(buf[:n])
			if err != nil || tx != connectTx {
				continue
			}
			if action == trackerclient.ActionError {
				return fmt.Errorf("udp connect: %w", trackerclient.ParseUDPError(body))
			}
			id, err := trackerclient.ParseUDPConnect(body)
			if err != nil || action != trackerclient.ActionConnect {
				return fmt.Errorf("udp connect: bad answer")
			}
			wk.connID, wk.connIDAt = id, wk.now()
			return nil
		}
	}
	if stop.Load() {
		return nil
	}
	return fmt.Errorf("udp tracker %s: no answer to connect", wk.conn.RemoteAddr())
}

func (wk *udpWorker) run(stop *atomic.Bool) error {
	wk.base = time.Now()
	if err := wk.connect(stop); err != nil || stop.Load() {
		return err
	}
	var (
		sendq       = make([][]byte, 0, udpBatch)
		bufs        = make([][]byte, udpBatch)
		lens        = make([]int, udpBatch)
		connectPkt  = trackerclient.AppendConnectRequest(nil, connectTx)
		inflight    int
		stopping    bool
		drainUntil  time.Duration
		deadlineAt  time.Duration
		nextExpiry  time.Duration
		timeout     = wk.cfg.timeout
		window      = len(wk.slots)
		be          = binary.BigEndian
		expireEvery = min(timeout/4, 100*time.Millisecond)
		// Pacing (--rate): credit accrues at wk.rate; at most 5 ms of it
		// is kept, so a stall does not turn into a burst.
		credit, creditAt = 0.0, time.Duration(0)
		maxCredit        = max(wk.rate*0.005, 1)
	)
	for i := range bufs {
		bufs[i] = make([]byte, 2048)
	}
	for {
		now := wk.now()
		if !stopping && stop.Load() {
			stopping, drainUntil = true, now+timeout
		}
		if stopping && (inflight == 0 || now > drainUntil) {
			wk.stats.timeouts += uint64(inflight)
			return nil
		}
		// Renew the connection ID in band, keeping the old one meanwhile.
		if !stopping && now-wk.connIDAt > connIDRenewal && (wk.connectAt < 0 || now-wk.connectAt > timeout) {
			wk.connectAt = now
			wk.stats.connects++
			sendq = append(sendq, connectPkt)
		}
		if wk.rate > 0 {
			credit = min(credit+wk.rate*(now-creditAt).Seconds(), maxCredit)
			creditAt = now
		}
		// Fill the window (with --rate: as far as the credit goes).
		for !stopping && len(wk.free) > 0 && (wk.rate == 0 || credit >= 1) {
			credit--
			s := wk.free[len(wk.free)-1]
			wk.free = wk.free[:len(wk.free)-1]
			slot := &wk.slots[s]
			slot.gen++
			slot.busy, slot.sent = true, now
			off := wk.next * wk.pktSize
			tmpl := wk.pkts[off : off+wk.pktSize]
			pkt := wk.slotBufs[int(s)*wk.pktSize : (int(s)+1)*wk.pktSize]
			copy(pkt, tmpl)
			if !wk.scrape {
				be.PutUint32(tmpl[80:], 0) // later announces of this peer carry no event
			}
			be.PutUint64(pkt, wk.connID)
			be.PutUint32(pkt[12:], uint32(slot.gen)<<16|uint32(s))
			sendq = append(sendq, pkt)
			inflight++
			wk.stats.requests++
			if wk.next++; wk.next == wk.npkts {
				wk.next = 0
				if wk.cfg.once { // every request sent once: drain and stop
					stopping, drainUntil = true, now+timeout
				}
			}
			if len(sendq) == udpBatch {
				if err := wk.send(sendq); err != nil {
					return err
				}
				sendq = sendq[:0]
			}
		}
		if len(sendq) > 0 {
			if err := wk.send(sendq); err != nil {
				return err
			}
			sendq = sendq[:0]
		}
		// Receive what has arrived, waiting a little if nothing has (with
		// --rate: no longer than until the next request is due).
		if wk.rate > 0 {
			wait := time.Duration(max(1-credit, 0) / wk.rate * float64(time.Second))
			deadlineAt = now + min(max(wait, 50*time.Microsecond), 50*time.Millisecond)
			wk.conn.SetReadDeadline(wk.base.Add(deadlineAt))
		} else if now+10*time.Millisecond > deadlineAt {
			deadlineAt = now + 50*time.Millisecond
			wk.conn.SetReadDeadline(wk.base.Add(deadlineAt))
		}
		n, err := wk.bc.readBatch(bufs, lens)
		if err != nil {
			switch {
			case errors.Is(err, syscall.ECONNREFUSED):
				wk.stats.errorf("connection refused")
			case errors.Is(err, errBatchTimeout):
			default:
				return err
			}
		}
		now = wk.now()
		if n > 0 {
			wk.stats.last = wk.base.Add(now)
		}
		for i := range n {
			p := bufs[i][:lens[i]]
			action, tx, body, err := trackerclient.ParseUDPHeader(p)
			if err != nil {
				continue
			}
			if tx == connectTx {
				if action == trackerclient.ActionConnect {
					if id, err := trackerclient.ParseUDPConnect(body); err == nil {
						wk.connID, wk.connIDAt, wk.connectAt = id, now, -1
					}
				}
				continue
			}
			s := int(tx & 0xFFFF)
			if s >= window {
				continue
			}
			slot := &wk.slots[s]
			if !slot.busy || slot.gen != uint16(tx>>16) {
				continue // late answer to a timed-out request
			}
			slot.busy = false
			wk.free = append(wk.free, uint16(s))
			inflight--
			switch {
			case action == trackerclient.ActionError:
				wk.stats.errorf("tracker error: %.100s", body)
			case wk.scrape && action == trackerclient.ActionScrape:
				wk.stats.responses++
				wk.stats.hist.add(now - slot.sent)
			case !wk.scrape && action == trackerclient.ActionAnnounce && len(body) >= 12:
				wk.stats.responses++
				wk.stats.peersReturned += uint64((len(body) - 12) / wk.stride)
				wk.stats.hist.add(now - slot.sent)
			default:
				wk.stats.errorf("unexpected answer: action %d, %d bytes", action, len(p))
			}
		}
		// Expire requests unanswered for too long.
		if now >= nextExpiry {
			nextExpiry = now + expireEvery
			for s := range wk.slots {
				slot := &wk.slots[s]
				if slot.busy && now-slot.sent > timeout {
					slot.busy = false
					wk.free = append(wk.free, uint16(s))
					inflight--
					wk.stats.timeouts++
				}
			}
		}
	}
}

func (wk *udpWorker) send(pkts [][]byte) error {
	err := wk.bc.writeBatch(pkts)
	if errors.Is(err, syscall.ECONNREFUSED) {
		wk.stats.errorf("connection refused")
		return nil
	}
	return err
}

// errBatchTimeout is returned by readBatch when the read deadline passed.
var errBatchTimeout = errors.New("read deadline")

// batchConn sends and receives several datagrams per system call where
// the platform allows.
type batchConn interface {
	// writeBatch sends all pkts, waiting for buffer space if needed.
	writeBatch(pkts [][]byte) error
	// readBatch waits until the read deadline for at least one datagram
	// and returns how many it read into bufs (lengths in lens).
	readBatch(bufs [][]byte, lens []int) (int, error)
}

// simpleBatchConn is the portable batchConn: one system call per datagram.
type simpleBatchConn struct{ c *net.UDPConn }

func (s simpleBatchConn) writeBatch(pkts [][]byte) error {
	for _, p := range pkts {
		if _, err := s.c.Write(p); err != nil {
			return err
		}
	}
	return nil
}

func (s simpleBatchConn) readBatch(bufs [][]byte, lens []int) (int, error) {
	n, err := s.c.Read(bufs[0])
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return 0, errBatchTimeout
		}
		return 0, err
	}
	lens[0] = n
	return 1, nil
}
