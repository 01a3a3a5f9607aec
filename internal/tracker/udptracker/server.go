// Package udptracker is the UDP frontend of the tracker engine (BEP 15):
// connect, announce (IPv4 and IPv6 response formats), scrape and error
// packets, BEP 41 URL data (from which a private tracker's key is read),
// and stateless connection IDs.
//
// There is no goroutine per packet: a fixed set of workers per socket
// each owns its buffers and request state, and on Linux receives and
// sends batches of datagrams with recvmmsg/sendmmsg. Answering a connect
// or an announce of a known peer allocates nothing.
package udptracker

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/gale-bt/gale/internal/peer"
	"github.com/gale-bt/gale/internal/tracker"
)

// BEP 15 constants.
const (
	protocolID = 0x41727101980

	actionConnect  = 0
	actionAnnounce = 1
	actionScrape   = 2
	actionError    = 3

	announceLen = 98
	// MaxScrape is how many info hashes one scrape answers (BEP 15: "up
	// to about 74"); further hashes in the packet are ignored.
	MaxScrape = 74
	// maxURLData bounds the BEP 41 URL data collected from one packet.
	maxURLData = 1024
	// inBufLen is the receive buffer size; longer datagrams are dropped.
	inBufLen = 2048
)

// Config configures a Server.
type Config struct {
	// Tracker is the engine; required.
	Tracker *tracker.Tracker
	// Logger receives operational messages (default: discard).
	Logger *slog.Logger
	// Workers is the number of goroutines reading each socket (default
	// GOMAXPROCS).
	Workers int
	// Batch is the number of datagrams received and sent per system call
	// (default 64; Linux only).
	Batch int
	// Secret keys the connection IDs (at least 16 bytes); empty means a
	// random key, so IDs do not survive a restart.
	Secret []byte
	// AccessLog, if set, is called once per answered or dropped packet.
	// It runs on the worker: keep it quick.
	AccessLog func(Access)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Access describes one request for an access log.
type Access struct {
	Remote   netip.AddrPort
	Action   tracker.Action
	Outcome  tracker.Outcome
	InfoHash tracker.InfoHash // announces only
	Event    tracker.Event
	Message  string // refusal or error text
	Duration time.Duration
}

// Server answers UDP tracker requests.
type Server struct {
	cfg  Config
	tr   *tracker.Tracker
	key  connKey
	log  *slog.Logger
	now  func() time.Time
	outN int // response buffer size

	numWantDefault int
}

// New returns a Server for cfg. It starts nothing.
func New(cfg Config) *Server {
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 64
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, tr: cfg.Tracker, key: newConnKey(cfg.Secret), log: cfg.Logger, now: cfg.Now}
	tc := cfg.Tracker.Config()
	s.numWantDefault = tc.NumWantDefault
	s.outN = min(20+tc.NumWantMax*peer.CompactLen6, 65507)
	s.outN = max(s.outN, 8+12*MaxScrape, 8+256)
	return s
}

// ServeConn is Serve for a socket opened with the net package. On Linux
// its descriptor is switched to blocking mode and served in batches, but
// it stays registered with Go's poller, which costs CPU under load:
// prefer Listen and Serve.
func (s *Server) ServeConn(ctx context.Context, conn *net.UDPConn) error {
	return s.Serve(ctx, connSocket(conn))
}

// Serve answers requests on sock until ctx is done, then closes sock. It
// returns nil after ctx is done, or the first socket error that is not
// about a single datagram.
func (s *Server) Serve(ctx context.Context, sock *Socket) error {
	var stop atomic.Bool
	workers := make([]*worker, s.cfg.Workers)
	batched := sock.fd >= 0
	for i := range workers {
		workers[i] = s.newWorker()
		if batched && workers[i].io.init(sock.fd, &stop, s.cfg.Batch, s.outN) != nil {
			batched = false
		}
	}
	if !batched && sock.conn == nil {
		sock.Close()
		return errors.New("udptracker: socket cannot be served on this platform")
	}
	errc := make(chan error, len(workers))
	for _, w := range workers {
		go func() {
			if batched {
				errc <- s.serveBatched(w)
			} else {
				errc <- s.serveSimple(w, sock.conn)
			}
		}()
	}
	var err error
	left := len(workers)
	select {
	case <-ctx.Done():
	case err = <-errc:
		left--
	}
	// Batched workers use the descriptor directly: let them stop (at
	// their next receive timeout) before it is closed and its number
	// possibly reused. Portable workers need the close to wake up.
	stop.Store(true)
	if !batched {
		sock.Close()
	}
	for ; left > 0; left-- {
		<-errc
	}
	sock.Close()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// worker is one reader's state; nothing in it is shared.
type worker struct {
	req     tracker.AnnounceRequest
	resp    tracker.AnnounceResponse
	urlData []byte
	io      batchIO
}

func (s *Server) newWorker() *worker {
	return &worker{urlData: make([]byte, 0, maxURLData)}
}

// isClosed reports whether err means the socket was closed by Serve.
func isClosed(err error) bool { return errors.Is(err, net.ErrClosed) }

// handle answers one datagram in from the given source and returns the
// response written into out (which must hold at least the server's
// response size, see BufferSize), or nil when the datagram is to be
// dropped. now is the current time in unix seconds.
func (s *Server) handle(w *worker, in []byte, from netip.AddrPort, out []byte, now int64) ([]byte, Access) {
	acc := Access{Remote: from, Action: tracker.ActionOther, Outcome: tracker.OutcomeInvalid}
	if len(in) < 16 {
		return nil, acc
	}
	ip := from.Addr().Unmap()
	action := binary.BigEndian.Uint32(in[8:12])
	tx := in[12:16]
	if action == actionConnect {
		acc.Action = tracker.ActionConnect
		if binary.BigEndian.Uint64(in[:8]) != protocolID {
			return nil, acc
		}
		out = out[:16]
		binary.BigEndian.PutUint32(out[0:], actionConnect)
		copy(out[4:8], tx)
		binary.BigEndian.PutUint64(out[8:], s.key.issue(ip, now))
		acc.Outcome = tracker.OutcomeOK
		return out, acc
	}
	switch action {
	case actionAnnounce:
		acc.Action = tracker.ActionAnnounce
	case actionScrape:
		acc.Action = tracker.ActionScrape
	}
	if !s.key.valid(binary.BigEndian.Uint64(in[:8]), ip, now) {
		// BEP 15: ignore requests with a wrong connection ID. Answering
		// would let spoofed packets aim our replies at others.
		acc.Outcome = tracker.OutcomeDropped
		return nil, acc
	}
	switch action {
	case actionAnnounce:
		return s.announce(w, in, from, out, tx, acc)
	case actionScrape:
		return s.scrape(in, out, tx, acc)
	}
	acc.Message = "unknown action"
	return errorPacket(out, tx, acc.Message), acc
}

// maxErrorLen bounds error messages, so no answer is much larger than
// the request that caused it.
const maxErrorLen = 200

// errorPacket writes a BEP 15 error response.
func errorPacket(out, tx []byte, msg string) []byte {
	if len(msg) > maxErrorLen {
		msg = msg[:maxErrorLen]
	}
	out = out[:8]
	binary.BigEndian.PutUint32(out[0:], actionError)
	copy(out[4:8], tx)
	return append(out, msg...)
}

func clampCounter(v uint64) uint64 {
	if int64(v) < 0 {
		return 0
	}
	return v
}

func (s *Server) announce(w *worker, in []byte, from netip.AddrPort, out, tx []byte, acc Access) ([]byte, Access) {
	if len(in) < announceLen {
		acc.Message = "announce packet too short"
		return errorPacket(out, tx, acc.Message), acc
	}
	r := &w.req
	r.InfoHash = tracker.InfoHash(in[16:36])
	r.PeerID = peer.ID(in[36:56])
	r.Downloaded = clampCounter(binary.BigEndian.Uint64(in[56:64]))
	r.Left = clampCounter(binary.BigEndian.Uint64(in[64:72]))
	r.Uploaded = clampCounter(binary.BigEndian.Uint64(in[72:80]))
	ev := binary.BigEndian.Uint32(in[80:84])
	if ev > 3 {
		ev = 0
	}
	r.Event = tracker.Event(ev)
	// in[84:88], the IP address field, is ignored: honouring it would let
	// anyone announce someone else's address.
	r.Key = binary.BigEndian.Uint32(in[88:92])
	numWant := int32(binary.BigEndian.Uint32(in[92:96]))
	r.Port = binary.BigEndian.Uint16(in[96:98])
	r.Addr = from.Addr().Unmap()
	r.Protocol = tracker.UDP
	r.WantPeerIDs = false
	r.Passkey = nil
	acc.InfoHash, acc.Event = r.InfoHash, r.Event

	data, ok := parseOptions(in[announceLen:], w.urlData[:0])
	if !ok {
		acc.Message = "malformed BEP 41 options"
		return errorPacket(out, tx, acc.Message), acc
	}
	if len(data) > 0 {
		key, a, ok := tracker.ParsePath(data)
		if !ok || a != tracker.ActionAnnounce {
			acc.Message = "unknown tracker path"
			acc.Outcome = tracker.OutcomeRefused
			return errorPacket(out, tx, acc.Message), acc
		}
		r.Passkey = key
	}

	entry := peer.CompactLen4
	if r.Addr.Is6() {
		entry = peer.CompactLen6
	}
	limit := (len(out) - 20) / entry
	if numWant < 0 {
		r.NumWant = -1
	} else {
		r.NumWant = int(numWant)
	}
	if r.NumWant < 0 || r.NumWant > limit {
		r.NumWant = min(max(r.NumWant, s.numWantDefault), limit)
	}
	resp := &w.resp
	resp.Peers = out[20:20]
	if err := s.tr.Announce(r, resp); err != nil {
		acc.Message = tracker.ClientMessage(err)
		acc.Outcome = tracker.OutcomeRefused
		if !tracker.IsClientError(err) {
			acc.Outcome = tracker.OutcomeFailed
			s.log.Error("announce failed", "err", err)
		}
		return errorPacket(out, tx, acc.Message), acc
	}
	out = out[:20+len(resp.Peers)]
	binary.BigEndian.PutUint32(out[0:], actionAnnounce)
	copy(out[4:8], tx)
	binary.BigEndian.PutUint32(out[8:], uint32(resp.Interval))
	binary.BigEndian.PutUint32(out[12:], uint32(resp.Leechers))
	binary.BigEndian.PutUint32(out[16:], uint32(resp.Seeders))
	acc.Outcome = tracker.OutcomeOK
	return out, acc
}

// parseOptions reads the BEP 41 options after the announce body and
// returns the concatenated URLData. ok is false for a length byte that
// runs past the end or URL data beyond maxURLData.
func parseOptions(b, data []byte) ([]byte, bool) {
	for len(b) > 0 {
		switch typ := b[0]; typ {
		case 0x0: // EndOfOptions
			return data, true
		case 0x1: // NOP
			b = b[1:]
		default:
			if len(b) < 2 || len(b) < 2+int(b[1]) {
				return data, false
			}
			n := int(b[1])
			if typ == 0x2 { // URLData
				if len(data)+n > maxURLData {
					return data, false
				}
				data = append(data, b[2:2+n]...)
			}
			b = b[2+n:]
		}
	}
	return data, true
}

func (s *Server) scrape(in, out, tx []byte, acc Access) ([]byte, Access) {
	n := (len(in) - 16) / 20
	if n == 0 {
		acc.Message = "scrape without info hash"
		return errorPacket(out, tx, acc.Message), acc
	}
	n = min(n, MaxScrape, (len(out)-8)/12)
	out = out[:8+12*n]
	binary.BigEndian.PutUint32(out[0:], actionScrape)
	copy(out[4:8], tx)
	for i := 0; i < n; i++ {
		ih := tracker.InfoHash(in[16+20*i : 36+20*i])
		st, err := s.tr.Scrape(nil, ih)
		if err != nil && !tracker.IsClientError(err) {
			acc.Outcome = tracker.OutcomeFailed
			acc.Message = tracker.ClientMessage(err)
			return errorPacket(out, tx, acc.Message), acc
		}
		// Refused hashes read as empty swarms: UDP scrape has no way to
		// leave one out.
		p := out[8+12*i:]
		binary.BigEndian.PutUint32(p[0:], uint32(st.Seeders))
		binary.BigEndian.PutUint32(p[4:], uint32(st.Completed))
		binary.BigEndian.PutUint32(p[8:], uint32(st.Leechers))
	}
	acc.Outcome = tracker.OutcomeOK
	return out, acc
}

// serveSimple is one datagram per system call, for platforms without
// recvmmsg.
func (s *Server) serveSimple(w *worker, conn *net.UDPConn) error {
	in := make([]byte, inBufLen)
	out := make([]byte, s.outN)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(in)
		if err != nil {
			if isClosed(err) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.log.Warn("udp read", "err", err)
			continue
		}
		start := s.now()
		resp, acc := s.handle(w, in[:n], from, out, start.Unix())
		if resp != nil {
			if _, err := conn.WriteToUDPAddrPort(resp, from); err != nil && isClosed(err) {
				return nil
			}
		}
		s.observe(&acc, time.Since(start))
	}
}

func (s *Server) observe(acc *Access, d time.Duration) {
	s.tr.Observe(tracker.UDP, acc.Action, acc.Outcome, d)
	if s.cfg.AccessLog != nil {
		acc.Duration = d
		s.cfg.AccessLog(*acc)
	}
}

// BufferSize is the response buffer a Server needs.
func (s *Server) BufferSize() int { return s.outN }
