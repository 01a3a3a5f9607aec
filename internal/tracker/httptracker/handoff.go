package httptracker

import (
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gale-bt/gale/internal/tracker"
)

// chanListener is a net.Listener fed by the fast path with connections it
// hands to net/http.
type chanListener struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// deliver hands c to the net/http server; false if it is shut down.
func (l *chanListener) deliver(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }

// prefixConn replays bytes the fast path already read, and frees the
// connection's slot when closed.
type prefixConn struct {
	net.Conn
	prefix  []byte
	release func()
	once    sync.Once
}

func (c *prefixConn) Read(b []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(b, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

func (c *prefixConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// slowPath is the handler of the net/http server: announce and scrape
// paths go to ServeHTTP, the rest to h; both are access-logged.
func (s *Server) slowPath(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, _, ok := tracker.ParsePath([]byte(r.URL.RequestURI())); ok {
			s.ServeHTTP(w, r)
			return
		}
		if s.cfg.AccessLog == nil {
			h.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: 200}
		h.ServeHTTP(rec, r)
		remote, _ := netip.ParseAddrPort(r.RemoteAddr)
		s.cfg.AccessLog(Access{
			Time: start, Remote: remote, Client: remote.Addr().Unmap(),
			Method: r.Method, Target: redactTarget([]byte(r.URL.RequestURI())), Proto: r.Proto,
			Status: rec.status, Bytes: rec.n, UserAgent: r.UserAgent(),
			Action: tracker.ActionOther, Outcome: tracker.OutcomeOK, Duration: time.Since(start),
		})
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status, n int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	n, err := r.ResponseWriter.Write(b)
	r.n += n
	return n, err
}

// ServeHTTP answers announce and scrape requests through net/http, for
// mounting the tracker in another server (for example behind TLS). Other
// paths get 404. It is slower than Serve's own path but equivalent.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	target := []byte(r.URL.RequestURI())
	key, action, ok := tracker.ParsePath(target)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	remote, _ := netip.ParseAddrPort(r.RemoteAddr)
	xff := strings.Join(r.Header.Values("X-Forwarded-For"), ",")
	client := s.clientIP(remote.Addr(), []byte(xff), []byte(r.Header.Get("X-Real-IP")))
	st := statePool.Get().(*connState)
	defer statePool.Put(st)
	body, acc := s.respond(st, action, key, []byte(r.URL.RawQuery), client, st.out[:0])
	st.out = body[:0]
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
	d := time.Since(start)
	s.tr.Observe(tracker.HTTP, acc.Action, acc.Outcome, d)
	if s.cfg.AccessLog != nil {
		acc.Time, acc.Remote, acc.Client = start, remote, client
		acc.Method, acc.Target, acc.Proto = r.Method, redactTarget(target), r.Proto
		acc.Status, acc.Bytes, acc.UserAgent, acc.Duration = 200, len(body), r.UserAgent(), d
		s.cfg.AccessLog(acc)
	}
}
