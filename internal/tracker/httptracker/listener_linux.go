//go:build linux

package httptracker

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/gale-bt/gale/internal/bindsock"
)

// acceptTimeout bounds how long an acceptor blocks before checking for
// stop.
const acceptTimeout = 100 * time.Millisecond

// Listen opens a TCP listener on address ("host:port"; port 0 picks one).
// network is "tcp", "tcp4" or "tcp6". An address without a host
// (":6969") listens on IPv6 and IPv4 when the host has IPv6, like the net
// package; "0.0.0.0" means IPv4 only.
func Listen(network, address string) (*Listener, error) {
	bs, err := bindsock.Open(network, address, unix.SOCK_STREAM, setupListener)
	if err != nil {
		return nil, fmt.Errorf("listen tcp %s: %w", address, err)
	}
	fd := bs.FD
	if err := unix.Listen(fd, 4096); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("listen tcp %s: %w", address, err)
	}
	laddr := net.TCPAddrFromAddrPort(bs.Local)
	laddr.Zone = bs.Zone
	return &Listener{fd: fd, laddr: laddr, closeFD: func() error { return unix.Close(fd) }}, nil
}

// setupListener sets a listening socket's options before it is bound.
func setupListener(fd int) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return err
	}
	// Wake the acceptors only once a request has arrived (nginx's
	// "deferred" listen option).
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, 1)
	tv := unix.NsecToTimeval(int64(acceptTimeout))
	return unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
}

// serveRaw runs GOMAXPROCS acceptors on l's descriptor.
func (s *Server) serveRaw(ctx context.Context, l *Listener) error {
	sv := s.begin(l.laddr)
	var stop atomic.Bool
	context.AfterFunc(ctx, func() { stop.Store(true) })
	n := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	errc := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.acceptLoop(sv, l.fd, &stop); err != nil {
				errc <- err
				stop.Store(true)
			}
		}()
	}
	wg.Wait()
	l.Close()
	sv.end()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// acceptLoop accepts and answers connections until stop is set.
func (s *Server) acceptLoop(sv *serving, lfd int, stop *atomic.Bool) error {
	st := &connState{out: make([]byte, headRoom, 4096)}
	var rsa unix.RawSockaddrAny
	delay := time.Duration(0)
	for !stop.Load() {
		rsaLen := uint32(unix.SizeofSockaddrAny)
		r, _, e := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(lfd), uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&rsaLen)), unix.SOCK_CLOEXEC, 0, 0)
		switch e {
		case 0:
			delay = 0
			s.answerRaw(sv, st, int(r), sockaddrPort(&rsa))
		case unix.EAGAIN, unix.EINTR, unix.ECONNABORTED:
		case unix.EMFILE, unix.ENFILE, unix.ENOBUFS, unix.ENOMEM:
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Warn("http accept", "err", e, "retry_in", delay)
			time.Sleep(delay)
		default:
			if stop.Load() {
				return nil
			}
			return fmt.Errorf("accept: %w", e)
		}
	}
	return nil
}

func sockaddrPort(rsa *unix.RawSockaddrAny) netip.AddrPort {
	switch rsa.Addr.Family {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		p := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), p)
	case unix.AF_INET6:
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		p := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), p)
	}
	return netip.AddrPort{}
}

// answerRaw serves a freshly accepted descriptor: a complete,
// one-request announce or scrape is answered and closed right here;
// anything else becomes a net.Conn on its own goroutine.
func (s *Server) answerRaw(sv *serving, st *connState, fd int, remote netip.AddrPort) {
	buf := st.in[:]
	r, _, e := unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), unix.MSG_DONTWAIT, 0, 0)
	n := int(r)
	if e != 0 {
		if e != unix.EAGAIN {
			unix.Close(fd)
			return
		}
		n = 0
	}
	if n == 0 && e == 0 {
		unix.Close(fd) // closed before sending anything
		return
	}
	if end := headerEnd(buf[:n]); end == n {
		start := time.Now()
		h := &st.head
		if !parseRequest(buf[:end], h) {
			sendNow(fd, badRequest, 0)
			unix.Close(fd)
			return
		}
		if rt, ok := route(h); ok && !h.keepAlive {
			resp, acc, client, bodyLen := s.reply(st, h, &rt, remote)
			// MSG_MORE holds the data back until close, which then
			// sends it with the FIN in one segment.
			if rest := sendNow(fd, resp, unix.MSG_MORE); len(rest) == 0 {
				closeNow(fd)
			} else {
				// The send buffer is full (a big response, a client not
				// reading): finish on a goroutine with a deadline.
				s.finishWrite(sv, fd, append([]byte(nil), rest...))
			}
			s.done(&acc, remote, client, h, bodyLen, start)
			return
		}
	}
	// Everything else goes the general way.
	select {
	case sv.sem <- struct{}{}:
	default:
		unix.Close(fd) // at the connection limit
		return
	}
	c, err := fileConn(fd)
	if err != nil {
		<-sv.sem
		return
	}
	sv.goConn(c, append([]byte(nil), buf[:n]...))
}

var badRequest = []byte("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 12\r\n\r\nBad Request\n")

// fileConn turns an accepted descriptor into a net.Conn (which takes a
// duplicate) and closes the original.
func fileConn(fd int) (net.Conn, error) {
	f := os.NewFile(uintptr(fd), "")
	c, err := net.FileConn(f)
	f.Close()
	return c, err
}

// sendNow writes what the socket takes without waiting and returns the
// rest. flags are added to MSG_DONTWAIT|MSG_NOSIGNAL.
func sendNow(fd int, b []byte, flags int) []byte {
	for len(b) > 0 {
		r, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL|flags), 0, 0)
		switch {
		case e == unix.EINTR:
			continue
		case e == unix.EAGAIN:
			return b
		case e != 0 || r == 0:
			return nil // the peer is gone: nothing more to send
		}
		b = b[r:]
	}
	return nil
}

// finishWrite sends rest on a goroutine, bounded by ReadTimeout, then
// closes the connection.
func (s *Server) finishWrite(sv *serving, fd int, rest []byte) {
	c, err := fileConn(fd)
	if err != nil {
		return
	}
	s.track(c, true)
	sv.wg.Add(1)
	go func() {
		defer sv.wg.Done()
		_ = c.SetWriteDeadline(time.Now().Add(s.cfg.ReadTimeout))
		_, _ = c.Write(rest)
		s.track(c, false)
		c.Close()
	}()
}

// closeNow closes a connection descriptor without telling the Go
// scheduler: closing a TCP socket without SO_LINGER never blocks.
func closeNow(fd int) {
	unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
}
