//go:build !linux

package httptracker

import (
	"context"
	"errors"
	"net"
)

// Listen opens a TCP listener on address (as net.Listen).
func Listen(network, address string) (*Listener, error) {
	ln, err := net.Listen(network, address)
	if err != nil {
		return nil, err
	}
	return &Listener{ln: ln, fd: -1, laddr: ln.Addr()}, nil
}

func (s *Server) serveRaw(context.Context, *Listener) error {
	return errors.New("unreachable")
}
