package catalog

import (
	"math"
	"time"

	"github.com/gale-bt/gale/internal/tracker"
)

// Accounting model.
//
// Clients report cumulative counters ("uploaded", "downloaded" since their
// "started" event, BEP 3) and "left". The store keeps, per (user,
// torrent, peer ID), the last counters it accounted (PeerLast), in the
// same transaction as the totals they produced. A new announce's delta is
// new - last per counter, signed: a client may lower its own counter
// inside a session (libtorrent drops the bytes of a piece that failed its
// hash check), and the credit then follows it down, so that what is
// credited always equals what the client last reported. A counter that
// went down on a "started" announce, or after a "stopped" one, belongs to
// a new client session and counts from 0. (Clients pick a new peer ID per
// session, and rows are kept per peer ID, so a restart rarely reaches
// this rule.) Replaying announces already accounted (a client resending
// after a crash) thus adds nothing, and a crash between two flushes loses
// nothing: the next announce carries the counters.
//
// The sink coalesces the announces of one peer between two flushes into
// one PeerUpdate; Account applies it to the stored PeerLast.

// Observation is one announce of a peer.
type Observation struct {
	Uploaded, Downloaded, Left uint64
	At                         int64 // unix nanoseconds
	Event                      tracker.Event
}

// PeerKey identifies a peer's accounting row.
type PeerKey struct {
	UserID, TorrentID int64
	PeerID            [20]byte
}

// PeerUpdate is the announces of one peer since the last flush, folded:
// First and Last observations, and what the steps between them produced.
type PeerUpdate struct {
	PeerKey
	Addr        string
	First, Last Observation
	// Up and Down sum the (signed) counter deltas between consecutive
	// observations from First to Last; Seed and Leech the time between
	// them.
	Up, Down    int64
	Seed, Leech time.Duration
	// Completed: an observation carried event=completed, or left went
	// from non-zero to zero between two of them.
	Completed bool
	// Freeleech and DoubleUpload apply to the whole update (the torrent's
	// or site's state when flushed).
	Freeleech, DoubleUpload bool
}

// AccountRules tune Account.
type AccountRules struct {
	// MaxGap caps the time credited between two announces (a client
	// that vanished is not seeding); default 2 hours.
	MaxGap time.Duration
	// FlagRate flags deltas faster than this many bytes per second; 0
	// disables flagging.
	FlagRate int64
}

// DefaultMaxGap is AccountRules.MaxGap when zero.
const DefaultMaxGap = 2 * time.Hour

func (r AccountRules) maxGap() time.Duration {
	if r.MaxGap <= 0 {
		return DefaultMaxGap
	}
	return r.MaxGap
}

// NewPeerUpdate starts an update with its first observation.
func NewPeerUpdate(k PeerKey, addr string, o Observation) PeerUpdate {
	return PeerUpdate{PeerKey: k, Addr: addr, First: o, Last: o, Completed: o.Event == tracker.EventCompleted}
}

// sat converts a client's counter to int64, saturating: hostile clients
// may send any uint64.
func sat(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}

// addSat adds without wrapping around.
func addSat(a, b int64) int64 {
	switch {
	case b > 0 && a > math.MaxInt64-b:
		return math.MaxInt64
	case b < 0 && a < math.MinInt64-b:
		return math.MinInt64
	}
	return a + b
}

// counterDelta is the signed change from a to b; when the counter went
// down at the start of a new session it is b (counting from 0).
func counterDelta(a, b uint64, newSession bool) int64 {
	if b < a && newSession {
		return sat(b)
	}
	return sat(b) - sat(a)
}

// step returns the counter deltas and times between two observations.
func step(prev, next Observation, prevStopped bool, maxGap time.Duration) (up, down int64, seed, leech time.Duration) {
	stopped := prevStopped || prev.Event == tracker.EventStopped
	newSession := stopped || next.Event == tracker.EventStarted
	up = counterDelta(prev.Uploaded, next.Uploaded, newSession)
	down = counterDelta(prev.Downloaded, next.Downloaded, newSession)
	if stopped {
		return up, down, 0, 0
	}
	gap := time.Duration(next.At - prev.At)
	if gap <= 0 {
		return up, down, 0, 0
	}
	gap = min(gap, maxGap)
	if prev.Left == 0 {
		return up, down, gap, 0
	}
	return up, down, 0, gap
}

// Add folds a later observation of the same peer into u.
func (u *PeerUpdate) Add(addr string, o Observation, maxGap time.Duration) {
	if maxGap <= 0 {
		maxGap = DefaultMaxGap
	}
	up, down, seed, leech := step(u.Last, o, false, maxGap)
	u.Up = addSat(u.Up, up)
	u.Down = addSat(u.Down, down)
	u.Seed += seed
	u.Leech += leech
	if o.Event == tracker.EventCompleted || (u.Last.Left > 0 && o.Left == 0) {
		u.Completed = true
	}
	u.Last = o
	if addr != "" {
		u.Addr = addr
	}
}

// Merge folds a later update of the same peer into u (used when a failed
// flush is retried together with newer announces).
func (u *PeerUpdate) Merge(later *PeerUpdate, maxGap time.Duration) {
	if maxGap <= 0 {
		maxGap = DefaultMaxGap
	}
	up, down, seed, leech := step(u.Last, later.First, false, maxGap)
	u.Up = addSat(u.Up, addSat(up, later.Up))
	u.Down = addSat(u.Down, addSat(down, later.Down))
	u.Seed += seed + later.Seed
	u.Leech += leech + later.Leech
	if later.Completed || (u.Last.Left > 0 && later.First.Left == 0) {
		u.Completed = true
	}
	u.Last = later.Last
	if later.Addr != "" {
		u.Addr = later.Addr
	}
	u.Freeleech, u.DoubleUpload = later.Freeleech, later.DoubleUpload
}

// PeerLast is what the store keeps of a peer's last accounted announce.
type PeerLast struct {
	Exists                     bool
	Uploaded, Downloaded, Left uint64
	At                         int64 // unix nanoseconds (stores keep milliseconds)
	Stopped                    bool
}

// Credit is what one PeerUpdate adds to the totals.
type Credit struct {
	// RawUp and RawDown are the counter deltas (negative when a client
	// lowered its counter); Up and Down what is credited after double
	// upload and freeleech.
	RawUp, RawDown int64
	Up, Down       int64
	Seed, Leech    time.Duration
	// Completed asks the store to count a snatch (once per user and
	// torrent).
	Completed bool
	// Flagged is set when the delta was faster than AccountRules.FlagRate;
	// Rate is the faster direction in bytes/s over Elapsed.
	Flagged bool
	Rate    int64
	Elapsed time.Duration
}

// Account applies u to the stored state prev and returns the new state
// and the credit. It is pure: the store calls it inside the transaction
// that reads prev and writes next with the credit.
//
// An update whose last observation is what is stored (same millisecond,
// counters and left) was applied already, by a transaction that committed
// although its caller saw an error: it credits nothing.
func Account(prev PeerLast, u *PeerUpdate, r AccountRules) (next PeerLast, c Credit) {
	if prev.Exists && prev.At/1e6 == u.Last.At/1e6 && prev.Uploaded == u.Last.Uploaded &&
		prev.Downloaded == u.Last.Downloaded && prev.Left == u.Last.Left &&
		prev.Stopped == (u.Last.Event == tracker.EventStopped) {
		return prev, Credit{}
	}
	maxGap := r.maxGap()
	var elapsed time.Duration
	if prev.Exists {
		last := Observation{Uploaded: prev.Uploaded, Downloaded: prev.Downloaded, Left: prev.Left, At: prev.At}
		up, down, seed, leech := step(last, u.First, prev.Stopped, maxGap)
		c.RawUp, c.RawDown, c.Seed, c.Leech = up, down, seed, leech
		c.Completed = prev.Left > 0 && u.First.Left == 0
		elapsed = time.Duration(u.Last.At - prev.At)
	} else {
		c.RawUp, c.RawDown = sat(u.First.Uploaded), sat(u.First.Downloaded)
		elapsed = time.Duration(u.Last.At - u.First.At)
	}
	c.RawUp = addSat(c.RawUp, u.Up)
	c.RawDown = addSat(c.RawDown, u.Down)
	c.Seed += u.Seed
	c.Leech += u.Leech
	c.Completed = c.Completed || u.Completed
	c.Up, c.Down = c.RawUp, c.RawDown
	if u.DoubleUpload {
		c.Up = addSat(c.Up, c.Up)
	}
	if u.Freeleech {
		c.Down = 0
	}
	c.Elapsed = max(elapsed, time.Second)
	secs := c.Elapsed.Seconds()
	c.Rate = int64(float64(max(c.RawUp, c.RawDown, 0)) / secs)
	c.Flagged = r.FlagRate > 0 && c.Rate > r.FlagRate
	next = PeerLast{
		Exists:     true,
		Uploaded:   u.Last.Uploaded,
		Downloaded: u.Last.Downloaded,
		Left:       u.Last.Left,
		At:         u.Last.At,
		Stopped:    u.Last.Event == tracker.EventStopped,
	}
	return next, c
}
