package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/gale-bt/gale/internal/tracker/httptracker"
	"github.com/gale-bt/gale/internal/tracker/udptracker"
)

// listeners are the bound sockets of `gale tracker` and `gale serve`.
type listeners struct {
	http []*httptracker.Listener
	udp  []*udptracker.Socket
}

// bindListeners binds every address before anything is served, so that a
// bad address fails the command at once. On error nothing stays open.
func bindListeners(httpAddrs, udpAddrs []string) (*listeners, error) {
	l := &listeners{}
	for _, a := range httpAddrs {
		ln, err := httptracker.Listen("tcp", a)
		if err != nil {
			l.close()
			return nil, fmt.Errorf("--http %s: %v", a, err)
		}
		l.http = append(l.http, ln)
	}
	for _, a := range udpAddrs {
		pc, err := udptracker.Listen("udp", a)
		if err != nil {
			l.close()
			return nil, fmt.Errorf("--udp %s: %v", a, err)
		}
		l.udp = append(l.udp, pc)
	}
	return l, nil
}

func (l *listeners) close() {
	for _, ln := range l.http {
		ln.Close()
	}
	for _, pc := range l.udp {
		pc.Close()
	}
}

// serve prints "listening http ADDR" / "listening udp ADDR" on out for
// every socket and serves them until ctx is done or one fails; it
// returns after every server has stopped, with the first failure.
func (l *listeners) serve(ctx context.Context, out io.Writer, hsrv *httptracker.Server, usrv *udptracker.Server) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, len(l.http)+len(l.udp))
	for _, ln := range l.http {
		fmt.Fprintf(out, "listening http %s\n", ln.Addr())
		wg.Add(1)
		go func() { defer wg.Done(); errc <- hsrv.Serve(ctx, ln) }()
	}
	for _, pc := range l.udp {
		fmt.Fprintf(out, "listening udp %s\n", pc.LocalAddr())
		wg.Add(1)
		go func() { defer wg.Done(); errc <- usrv.Serve(ctx, pc) }()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		if err == nil {
			err = errors.New("a listener stopped")
		}
	}
	cancel()
	wg.Wait()
	return err
}
