//go:build !linux

package udptracker

import (
	"errors"
	"sync/atomic"
)

// batchIO is unavailable here: Serve falls back to one datagram per call.
type batchIO struct{}

func (b *batchIO) init(int, *atomic.Bool, int, int) error {
	return errors.New("no batch I/O on this platform")
}

func (s *Server) serveBatched(*worker) error { return errors.New("unreachable") }
