//go:build linux

package udptracker

import (
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

// Listen opens a UDP socket on address (as net.ListenUDP: "host:port",
// port 0 picks one). network is "udp", "udp4" or "udp6". An address
// without a host (":6969") listens on IPv6 and IPv4 when the host has
// IPv6, like the net package does; "0.0.0.0" means IPv4 only.
func Listen(network, address string) (*Socket, error) {
	ua, err := net.ResolveUDPAddr(network, address)
	if err != nil {
		return nil, err
	}
	ap := ua.AddrPort()
	ip := ap.Addr()
	dual := false
	family := unix.AF_INET6
	switch {
	case network == "udp4" || ip.Is4() || ip.Is4In6():
		family, ip = unix.AF_INET, ip.Unmap()
	case network == "udp6":
	case !ua.IP.IsUnspecified() && len(ua.IP) != 0:
	default:
		dual = true
	}
	fd, err := socket(family, dual)
	if err != nil && dual {
		family, dual = unix.AF_INET, false
		fd, err = socket(family, false)
	}
	if err != nil {
		return nil, fmt.Errorf("listen udp %s: %w", address, err)
	}
	var sa unix.Sockaddr
	if family == unix.AF_INET {
		sa = &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ip.As4()}
	} else {
		s6 := &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ip.As16()}
		if ua.Zone != "" {
			if ifi, err := net.InterfaceByName(ua.Zone); err == nil {
				s6.ZoneId = uint32(ifi.Index)
			}
		}
		if dual {
			s6.Addr = [16]byte{}
		}
		sa = s6
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("listen udp %s: bind: %w", address, err)
	}
	got, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("listen udp %s: %w", address, err)
	}
	var laddr *net.UDPAddr
	switch got := got.(type) {
	case *unix.SockaddrInet4:
		laddr = net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.AddrFrom4(got.Addr), uint16(got.Port)))
	case *unix.SockaddrInet6:
		laddr = net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.AddrFrom16(got.Addr), uint16(got.Port)))
		laddr.Zone = ua.Zone
	}
	return &Socket{fd: fd, laddr: laddr, closeFD: func() error { return unix.Close(fd) }}, nil
}

func socket(family int, dual bool) (int, error) {
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return -1, err
	}
	if family == unix.AF_INET6 {
		v6only := 1
		if dual {
			v6only = 0
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v6only); err != nil {
			unix.Close(fd)
			return -1, err
		}
	}
	// A larger receive buffer absorbs bursts; the kernel caps it at
	// net.core.rmem_max, so failure is not an error.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
	if err := setRecvTimeout(fd); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
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
