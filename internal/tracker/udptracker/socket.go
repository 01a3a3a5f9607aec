package udptracker

import (
	"net"
	"sync"
)

// Socket is a UDP socket for Serve, made by Listen. On Linux it is a
// plain blocking socket created with socket(2) and never registered with
// Go's network poller: a registered socket makes the kernel wake the
// poller for every datagram sent (the send buffer's space callback),
// which costs a fifth of the CPU under load. Elsewhere it wraps a
// *net.UDPConn.
type Socket struct {
	conn  *net.UDPConn // portable form, or the conn given to ServeConn
	fd    int          // descriptor used by the batched workers; -1 if none
	laddr net.Addr
	// closeFD closes fd when it was created by Listen.
	closeFD func() error
	once    sync.Once
	err     error
}

// LocalAddr returns the bound address.
func (s *Socket) LocalAddr() net.Addr { return s.laddr }

// Close closes the socket. Serve closes its socket when it returns; call
// Close only for a socket that was never served.
func (s *Socket) Close() error {
	s.once.Do(func() {
		if s.closeFD != nil {
			s.err = s.closeFD()
		}
		if s.conn != nil {
			if err := s.conn.Close(); s.err == nil {
				s.err = err
			}
		}
	})
	return s.err
}
