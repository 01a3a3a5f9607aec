package httptracker

import (
	"context"
	"net"
	"sync"
)

// Listener is a listening TCP socket for Serve, made by Listen. On Linux
// it is a blocking socket created with socket(2), outside Go's network
// poller, with TCP_DEFER_ACCEPT: a connection is accepted only once its
// request has arrived, so the acceptors read, answer and close a
// one-request connection (what BEP 3 clients open) with four system
// calls and no goroutine, as event-driven C trackers do. Connections that
// need more (keep-alive, slow or partial requests, the pages) become
// net.Conns served on goroutines. Elsewhere Listener wraps a
// net.Listener.
type Listener struct {
	ln      net.Listener // portable form
	fd      int          // raw descriptor, or -1
	laddr   net.Addr
	closeFD func() error
	once    sync.Once
	err     error
}

// Addr returns the bound address.
func (l *Listener) Addr() net.Addr { return l.laddr }

// Close closes the listener. Serve closes its listener when it returns;
// call Close only for one that was never served.
func (l *Listener) Close() error {
	l.once.Do(func() {
		if l.closeFD != nil {
			l.err = l.closeFD()
		}
		if l.ln != nil {
			if err := l.ln.Close(); l.err == nil {
				l.err = err
			}
		}
	})
	return l.err
}

// Serve accepts connections on l until ctx is done, then closes l and
// every open connection and returns nil; or returns an accept error that
// is not temporary.
func (s *Server) Serve(ctx context.Context, l *Listener) error {
	if l.fd < 0 {
		return s.ServeListener(ctx, l.ln)
	}
	return s.serveRaw(ctx, l)
}
