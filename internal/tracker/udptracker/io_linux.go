//go:build linux

package udptracker

import (
	"encoding/binary"
	"net/netip"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/gale-bt/gale/internal/tracker"
)

// batchIO receives and sends up to n datagrams per system call with
// recvmmsg(2) and sendmmsg(2). The socket is switched to blocking mode
// with a short receive timeout: each worker sleeps in recvmmsg with
// MSG_WAITFORONE and wakes with every datagram queued meanwhile, which
// costs the kernel far fewer wake-ups than going through Go's poller
// (epoll) for every batch. Serve closes the socket only after the workers
// have seen the stop flag at their next timeout.
type batchIO struct {
	fd    int
	stop  *atomic.Bool
	n     int
	hdrs  []unix.Mmsghdr // receive headers
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6 // sockaddrs, reused as destinations
	bufs  [][]byte                // receive buffers
	outs  [][]byte                // response buffers
	shdrs []unix.Mmsghdr          // send headers
	siovs []unix.Iovec

	got, sent, pending int
	errno              syscall.Errno
}

// recvTimeout bounds how long a worker blocks before checking for stop.
const recvTimeout = 100 * time.Millisecond

func (b *batchIO) init(fd int, stop *atomic.Bool, n, outN int) error {
	b.fd = fd
	b.stop, b.n = stop, n
	b.hdrs = make([]unix.Mmsghdr, n)
	b.iovs = make([]unix.Iovec, n)
	b.names = make([]unix.RawSockaddrInet6, n)
	b.bufs = make([][]byte, n)
	b.outs = make([][]byte, n)
	b.shdrs = make([]unix.Mmsghdr, n)
	b.siovs = make([]unix.Iovec, n)
	in := make([]byte, n*inBufLen)
	out := make([]byte, n*outN)
	for i := 0; i < n; i++ {
		b.bufs[i] = in[i*inBufLen : (i+1)*inBufLen : (i+1)*inBufLen]
		b.outs[i] = out[i*outN : (i+1)*outN : (i+1)*outN]
		b.iovs[i].Base = &b.bufs[i][0]
		b.hdrs[i].Hdr.Iov = &b.iovs[i]
		b.hdrs[i].Hdr.Iovlen = 1
		b.hdrs[i].Hdr.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		b.shdrs[i].Hdr.Iov = &b.siovs[i]
		b.shdrs[i].Hdr.Iovlen = 1
	}
	return nil
}

// recv blocks until at least one datagram arrived or the timeout passed
// (b.got == 0 then).
func (b *batchIO) recv() {
	for i := range b.hdrs {
		h := &b.hdrs[i]
		b.iovs[i].SetLen(inBufLen)
		h.Hdr.Namelen = unix.SizeofSockaddrInet6
		h.Hdr.Flags = 0
		h.Len = 0
	}
	r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(b.fd), uintptr(unsafe.Pointer(&b.hdrs[0])), uintptr(len(b.hdrs)), unix.MSG_WAITFORONE, 0, 0)
	b.got, b.errno = int(r), e
	if e != 0 {
		b.got = 0
		if e == unix.EAGAIN || e == unix.EINTR {
			b.errno = 0
		}
	}
}

// send sends the pending responses; a blocking socket waits for buffer
// space if it must.
func (b *batchIO) send() {
	for b.sent < b.pending {
		r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(b.fd), uintptr(unsafe.Pointer(&b.shdrs[b.sent])), uintptr(b.pending-b.sent), 0, 0, 0)
		switch {
		case e == unix.EINTR || e == unix.EAGAIN:
			continue
		case e != 0:
			// The first datagram failed (unreachable, no buffer, ...):
			// drop it and go on with the rest.
			b.sent++
		default:
			b.sent += int(r)
		}
	}
}

// addr decodes the source address of received message i.
func (b *batchIO) addr(i int) (netip.AddrPort, bool) {
	sa := &b.names[i]
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa4.Port))[:])
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port), true
	case unix.AF_INET6:
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), port), true
	}
	return netip.AddrPort{}, false
}

// serveBatched is the Linux loop: receive a batch, answer each datagram
// into its own buffer, send the answers in one call.
func (s *Server) serveBatched(w *worker) error {
	b := &w.io
	accs := make([]Access, b.n)
	for !b.stop.Load() {
		b.recv()
		if b.errno != 0 {
			if b.errno == unix.EBADF {
				return nil
			}
			s.log.Warn("udp recvmmsg", "err", b.errno)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		start := s.now()
		unixNow := start.Unix()
		b.pending, b.sent = 0, 0
		for i := 0; i < b.got; i++ {
			h := &b.hdrs[i]
			from, ok := b.addr(i)
			var acc Access
			var resp []byte
			if ok && h.Hdr.Flags&unix.MSG_TRUNC == 0 {
				resp, acc = s.handle(w, b.bufs[i][:h.Len], from, b.outs[i], unixNow)
			} else {
				acc = Access{Remote: from, Action: tracker.ActionOther, Outcome: tracker.OutcomeInvalid}
			}
			accs[i] = acc
			if resp == nil {
				continue
			}
			sh := &b.shdrs[b.pending]
			sh.Hdr.Name = h.Hdr.Name
			sh.Hdr.Namelen = h.Hdr.Namelen
			b.siovs[b.pending].Base = &resp[0]
			b.siovs[b.pending].SetLen(len(resp))
			b.pending++
		}
		if b.pending > 0 {
			b.send()
		}
		d := time.Since(start)
		for i := 0; i < b.got; i++ {
			s.observe(&accs[i], d)
		}
	}
	return nil
}
