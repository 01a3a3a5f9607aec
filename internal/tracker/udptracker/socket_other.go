//go:build !linux

package udptracker

import "net"

// Listen opens a UDP socket on address (as net.ListenUDP).
func Listen(network, address string) (*Socket, error) {
	ua, err := net.ResolveUDPAddr(network, address)
	if err != nil {
		return nil, err
	}
	c, err := net.ListenUDP(network, ua)
	if err != nil {
		return nil, err
	}
	return connSocket(c), nil
}

func connSocket(conn *net.UDPConn) *Socket {
	return &Socket{conn: conn, fd: -1, laddr: conn.LocalAddr()}
}
