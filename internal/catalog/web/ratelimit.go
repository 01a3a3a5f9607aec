package web

import (
	"context"
	"sync"
	"time"
)

// maxLimiterKeys bounds a limiter's memory: beyond it, expired windows are
// swept and, if that is not enough, arbitrary entries are forgotten.
const maxLimiterKeys = 1 << 16

// limiter counts attempts per key in fixed windows: at most lim.Failures
// per lim.Window. Memory is bounded by maxLimiterKeys.
type limiter struct {
	lim RateLimit
	now func() time.Time

	mu sync.Mutex
	m  map[string]*window
}

type window struct {
	start time.Time
	n     int
}

func newLimiter(lim RateLimit, now func() time.Time) *limiter {
	return &limiter{lim: lim, now: now, m: map[string]*window{}}
}

// blocked reports whether key used up its attempts, and when it may try
// again.
func (l *limiter) blocked(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.m[key]
	if w == nil {
		return false, 0
	}
	now := l.now()
	if end := w.start.Add(l.lim.Window); !now.Before(end) {
		delete(l.m, key)
		return false, 0
	} else if w.n >= l.lim.Failures {
		return true, end.Sub(now)
	}
	return false, 0
}

// add counts one attempt of key.
func (l *limiter) add(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	w := l.m[key]
	if w != nil && !now.Before(w.start.Add(l.lim.Window)) {
		w = nil
	}
	if w == nil {
		if len(l.m) >= maxLimiterKeys {
			l.sweep(now)
		}
		w = &window{start: now}
		l.m[key] = w
	}
	w.n++
}

// reset forgets key (after a successful sign-in).
func (l *limiter) reset(key string) {
	l.mu.Lock()
	delete(l.m, key)
	l.mu.Unlock()
}

// sweep drops expired windows, then arbitrary ones until a quarter of the
// capacity is free.
func (l *limiter) sweep(now time.Time) {
	for k, w := range l.m {
		if !now.Before(w.start.Add(l.lim.Window)) {
			delete(l.m, k)
		}
	}
	for k := range l.m {
		if len(l.m) < maxLimiterKeys*3/4 {
			break
		}
		delete(l.m, k)
	}
}

func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}

// hashing runs fn while holding one of the password hashing slots.
func (s *Server) hashing(ctx context.Context, fn func() error) error {
	select {
	case s.hashSem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.hashSem }()
	return fn()
}
