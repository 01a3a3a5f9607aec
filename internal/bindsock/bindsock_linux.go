//go:build linux

// Package bindsock opens bound sockets for "host:port" listen addresses
// the way the net package reads them, but returns the raw descriptor, so
// that servers can run their own system calls (accept4, recvmmsg) on it.
//
// An address without a host (":6969") gives one dual-stack IPv6 socket
// that also takes IPv4 when the machine has IPv6, else an IPv4 socket;
// "0.0.0.0" means IPv4 only; "[::]" or network "tcp6"/"udp6" IPv6 only.
package bindsock

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"golang.org/x/sys/unix"
)

// Socket is a bound descriptor and the address the kernel gave it.
type Socket struct {
	FD    int
	Local netip.AddrPort // the bound address (port 0 in the request resolved)
	Zone  string         // the IPv6 zone of the request, if any
}

// Open creates a socket of sotype (unix.SOCK_STREAM or unix.SOCK_DGRAM)
// for network ("tcp", "tcp4", "tcp6", "udp", "udp4", "udp6") and address,
// calls setup (may be nil) to set options before binding, and binds it.
// The descriptor is blocking and close-on-exec; the caller owns it.
// Errors name the failing step ("bind: ..."); callers add the address.
func Open(network, address string, sotype int, setup func(fd int) error) (Socket, error) {
	var (
		ip   net.IP
		port int
		zone string
	)
	udp := strings.HasPrefix(network, "udp")
	if udp {
		ua, err := net.ResolveUDPAddr(network, address)
		if err != nil {
			return Socket{}, err
		}
		ip, port, zone = ua.IP, ua.Port, ua.Zone
	} else {
		ta, err := net.ResolveTCPAddr(network, address)
		if err != nil {
			return Socket{}, err
		}
		ip, port, zone = ta.IP, ta.Port, ta.Zone
	}
	addr, _ := netip.AddrFromSlice(ip)
	dual := false
	family := unix.AF_INET6
	switch {
	case strings.HasSuffix(network, "4") || addr.Is4() || addr.Is4In6():
		family, addr = unix.AF_INET, addr.Unmap()
	case strings.HasSuffix(network, "6"):
	case len(ip) != 0 && !ip.IsUnspecified():
	default:
		dual = true
	}
	if family == unix.AF_INET && !addr.IsValid() {
		addr = netip.IPv4Unspecified() // "tcp4" with no host
	}
	fd, err := socket(family, sotype, dual, setup)
	if err != nil && dual {
		family, dual = unix.AF_INET, false
		addr = netip.IPv4Unspecified()
		fd, err = socket(family, sotype, false, setup)
	}
	if err != nil {
		return Socket{}, err
	}
	var sa unix.Sockaddr
	if family == unix.AF_INET {
		sa = &unix.SockaddrInet4{Port: port, Addr: addr.As4()}
	} else {
		s6 := &unix.SockaddrInet6{Port: port}
		if !dual && addr.IsValid() {
			s6.Addr = addr.As16()
		}
		if zone != "" {
			if ifi, err := net.InterfaceByName(zone); err == nil {
				s6.ZoneId = uint32(ifi.Index)
			}
		}
		sa = s6
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return Socket{}, fmt.Errorf("bind: %w", err)
	}
	local, err := LocalAddr(fd)
	if err != nil {
		unix.Close(fd)
		return Socket{}, err
	}
	return Socket{FD: fd, Local: local, Zone: zone}, nil
}

// LocalAddr returns the address fd is bound to (IPv4-mapped IPv6
// addresses unmapped).
func LocalAddr(fd int) (netip.AddrPort, error) {
	got, err := unix.Getsockname(fd)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("getsockname: %w", err)
	}
	switch got := got.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(got.Addr), uint16(got.Port)), nil
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(got.Addr), uint16(got.Port)), nil
	}
	return netip.AddrPort{}, fmt.Errorf("getsockname: unexpected address family")
}

func socket(family, sotype int, dual bool, setup func(fd int) error) (int, error) {
	proto := unix.IPPROTO_TCP
	if sotype == unix.SOCK_DGRAM {
		proto = unix.IPPROTO_UDP
	}
	fd, err := unix.Socket(family, sotype|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	if family == unix.AF_INET6 {
		v6only := 1
		if dual {
			v6only = 0
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v6only); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("setsockopt IPV6_V6ONLY: %w", err)
		}
	}
	if setup != nil {
		if err := setup(fd); err != nil {
			unix.Close(fd)
			return -1, err
		}
	}
	return fd, nil
}
