package tracker

import (
	"net/netip"

	"github.com/gale-bt/gale/internal/peer"
)

// Accounting receives the facts of every applied announce, for per-user
// statistics in the private tracker. Record is called synchronously after
// the swarm was updated and outside any lock; it must not block (queue the
// fact and write batches elsewhere) and must copy *f if it keeps it: the
// engine reuses the value.
//
// The uploaded, downloaded and left counters are the client's cumulative
// ones as sent; deltas are the consumer's business (it keeps each peer's
// last counters next to the totals they produced).
type Accounting interface {
	Record(f *Fact)
}

// AccountingFunc adapts a function to Accounting.
type AccountingFunc func(f *Fact)

// Record calls fn(f).
func (fn AccountingFunc) Record(f *Fact) { fn(f) }

// Fact is one announce as applied to the store.
type Fact struct {
	// User is Grant.User from the Policy.
	User uint64
	// Hint is Grant.Hint from the Policy, unchanged.
	Hint uint64
	// InfoHash is the swarm's canonical info hash (see Tracker.Alias);
	// Announced is the one the client sent.
	InfoHash, Announced InfoHash
	PeerID              peer.ID
	Addr                netip.AddrPort
	Uploaded            uint64
	Downloaded          uint64
	Left                uint64
	Event               Event
	Protocol            Protocol
	// UnixNano is the engine's clock at the announce.
	UnixNano int64
	// Known is true when the peer was already in the swarm; WasSeeder
	// tells its previous role then.
	Known, WasSeeder bool
}
