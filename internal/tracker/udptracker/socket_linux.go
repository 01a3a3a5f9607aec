//go:build linux

package udptracker

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"

	"github.com/gale-bt/gale/internal/bindsock"
)

// Listen opens a UDP socket on address (as net.ListenUDP: "host:port",
// port 0 picks one). network is "udp", "udp4" or "udp6". An address
// without a host (":6969") listens on IPv6 and IPv4 when the host has
// IPv6, like the net package does; "0.0.0.0" means IPv4 only.
func Listen(network, address string) (*Socket, error) {
	bs, err := bindsock.Open(network, address, unix.SOCK_DGRAM, func(fd int) error {
		// A larger receive buffer absorbs bursts; the kernel caps it at
		// net.core.rmem_max, so failure is not an error.
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
		return setRecvTimeout(fd)
	})
	if err != nil {
		return nil, fmt.Errorf("listen udp %s: %w", address, err)
	}
	fd := bs.FD
	laddr := net.UDPAddrFromAddrPort(bs.Local)
	laddr.Zone = bs.Zone
	return &Socket{fd: fd, laddr: laddr, closeFD: func() error { return unix.Close(fd) }}, nil
}

func setRecvTimeout(fd int) error {
	tv := unix.NsecToTimeval(int64(recvTimeout))
	return unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
}

// connSocket wraps a net.UDPConn for ServeConn: its descriptor is put in
// blocking mode with a receive timeout and used directly.
func connSocket(conn *net.UDPConn) *Socket {
	s := &Socket{conn: conn, fd: -1, laddr: conn.LocalAddr()}
	rc, err := conn.SyscallConn()
	if err != nil {
		return s
	}
	_ = rc.Control(func(fd uintptr) {
		if unix.SetNonblock(int(fd), false) != nil || setRecvTimeout(int(fd)) != nil {
			return
		}
		s.fd = int(fd)
	})
	return s
}
