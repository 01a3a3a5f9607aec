package privtracker

import (
	"context"
	"encoding/binary"
	"sync/atomic"
	"time"

	"github.com/gale-bt/gale/internal/catalog"
	"github.com/gale-bt/gale/internal/tracker"
)

type sinkStats struct {
	recorded, dropped, unknown, flushes, flushErrors, written atomic.Uint64
	lastDropLog                                               atomic.Int64
}

// Stats are the accounting sink's counters.
type Stats struct {
	// Recorded counts announces handed to Record; Dropped those refused
	// because MaxPending peers were waiting and no flush came within
	// MaxWait; Unknown those of torrents no longer in the catalog.
	Recorded, Dropped, Unknown uint64
	// Flushes and FlushErrors count flush attempts; Written the peer
	// updates committed.
	Flushes, FlushErrors, Written uint64
	// Pending is the number of peers with unwritten announces.
	Pending int
	// Users and Torrents are the snapshot's sizes.
	Users, Torrents int
}

// Stats returns the current counters.
func (p *Private) Stats() Stats {
	p.mu.RLock()
	users, torrents := len(p.users), len(p.byID)
	p.mu.RUnlock()
	return Stats{
		Recorded: p.stats.recorded.Load(), Dropped: p.stats.dropped.Load(), Unknown: p.stats.unknown.Load(),
		Flushes: p.stats.flushes.Load(), FlushErrors: p.stats.flushErrors.Load(), Written: p.stats.written.Load(),
		Pending: int(p.npending.Load()), Users: users, Torrents: torrents,
	}
}

// Record implements tracker.Accounting. It folds the announce into the
// peer's pending update (one per user, announced info hash and peer ID
// between two writes, see catalog.PeerUpdate), so memory grows with the
// number of peers, not of announces, and it does not allocate for a peer
// in the peer table (see peers.go).
//
// When MaxPending peers are pending and this peer is not one of them,
// Record waits up to MaxWait for the next flush to take the pending
// updates (not while flushes are failing: the database is down, waiting
// would only slow the tracker); if none comes, the announce is dropped, counted in
// Stats.Dropped and logged. Because clients send cumulative counters, the
// peer's next announce still credits everything; only a last "stopped"
// (the counters since the previous announce) or the snatch of a
// "completed" without a later announce can be lost that way.
func (p *Private) Record(f *tracker.Fact) {
	if f.User == 0 {
		return // not granted by this policy (no user ID)
	}
	p.stats.recorded.Add(1)
	ih := f.Announced
	if ih == (tracker.InfoHash{}) {
		ih = f.InfoHash
	}
	k := pendKey{user: uint32(f.User), ih: ih, peer: f.PeerID}
	for waited := false; !p.pendAdd(&k, f.Hint, f); waited = true {
		if waited || p.failing.Load() {
			if p.tracking.Load() > 0 {
				p.noteMember(f)
			}
			p.stats.dropped.Add(1)
			if now := time.Now().Unix(); p.stats.lastDropLog.Swap(now) != now {
				p.log.Error("accounting queue full: announces dropped (their counters are credited with the peers' next announces)",
					"pending", p.cfg.MaxPending, "dropped", p.stats.dropped.Load())
			}
			return
		}
		ch := *p.flushed.Load()
		if p.npending.Load() >= int64(p.cfg.MaxPending) || p.npeers.Load() >= p.maxPeers() {
			timer := time.NewTimer(p.cfg.MaxWait) // else a flush just made room
			select {
			case <-ch:
			case <-timer.C:
			}
			timer.Stop()
		}
	}
	if p.tracking.Load() > 0 {
		p.noteMember(f)
	}
}

// pendAdd folds f into k's pending update, starting one if there is room;
// it reports false when MaxPending peers are pending or the peer table is
// full. hint is Fact.Hint (Grant.Hint).
func (p *Private) pendAdd(k *pendKey, hint uint64, f *tracker.Fact) bool {
	o := catalog.Observation{Uploaded: f.Uploaded, Downloaded: f.Downloaded, Left: f.Left, At: f.UnixNano, Event: f.Event}
	var sh *peerShard
	i, h := int32(-1), uint64(0)
	if si := int((hint - 1) >> hintIndexBits); hint != 0 && si < peerShards {
		sh = &p.peers[si]
		sh.mu.Lock()
		if i = sh.hinted(k, hint); i < 0 {
			sh.mu.Unlock() // a stale hint
		}
	}
	if i < 0 {
		h = k.hash()
		sh, _ = p.peerShardOf(h)
		sh.mu.Lock()
		i = sh.find(k, h)
	}
	defer sh.mu.Unlock()
	if i >= 0 && sh.tab[i].pending() {
		sh.fold(i, o, p.cfg.MaxGap)
		return true
	}
	if p.npending.Add(1) > int64(p.cfg.MaxPending) {
		p.npending.Add(-1)
		return false
	}
	if i < 0 {
		if i = p.addPeer(sh, k, h, f.UnixNano); i < 0 {
			p.npending.Add(-1)
			return false
		}
	}
	sh.start(i, o, f.Addr)
	return true
}

// Flush writes the pending updates in one transaction. A batch that fails
// is kept and retried, alone, before anything newer (announces keep
// coalescing in the meantime); the stored counters of its peers are read
// again, so a transaction that committed although an error was reported
// is not counted twice (catalog.Account ignores an update equal to what is
// stored). Run flushes every FlushInterval, holding back idle peers (see
// Config.IdleWrite); Flush writes everything.
func (p *Private) Flush(ctx context.Context) error { return p.flush(ctx, true) }

// keepClean is how many flush intervals a peer table entry without a
// pending update stays after its last announce.
const keepClean = 2

func (p *Private) flush(ctx context.Context, all bool) error {
	p.flushMu.Lock()
	defer p.flushMu.Unlock()
	if p.failed != nil {
		if err := p.apply(ctx, p.failed); err != nil {
			return err
		}
		p.failed = nil
	}
	// Take the updates to write from the peer table; idle ones stay (see
	// Config.IdleWrite) unless the queue is filling up. Entries without
	// an update go after keepClean intervals, or at once when the table
	// holds more than MaxPending.
	now := p.cfg.Now()
	hold := !all && p.cfg.IdleWrite > 0 && p.npending.Load() < int64(p.cfg.MaxPending)/2
	crowded := p.npeers.Load() > int64(p.cfg.MaxPending)
	oldest := now.Add(-keepClean * p.cfg.FlushInterval).UnixNano()
	var ups []catalog.PeerUpdate
	var index map[catalog.PeerKey]int
	p.mu.RLock()
	siteFree, double := p.settings.Freeleech, p.settings.DoubleUpload
	for si := range p.peers {
		sh := &p.peers[si]
		sh.mu.Lock()
		for i := range sh.tab {
			pos := int32(i)
			e := &sh.tab[i]
			if e.k.user == 0 {
				continue // empty
			}
			if !e.pending() {
				if crowded || e.at < oldest {
					p.removePeer(sh, pos)
				}
				continue
			}
			if t := p.torrents[e.k.ih]; t == nil {
				p.stats.unknown.Add(1)
			} else {
				u := sh.update(pos)
				u.UserID, u.TorrentID = int64(e.k.user), t.id
				if hold && !t.hasAlias && p.idle(&u, now.UnixNano()) {
					continue
				}
				u.Addr = sh.cold[pos].addr.String()
				u.Freeleech, u.DoubleUpload = siteFree || t.freeleech, double
				if index == nil {
					n := int(p.npending.Load())
					index, ups = make(map[catalog.PeerKey]int, n), make([]catalog.PeerUpdate, 0, n)
				}
				if j, dup := index[u.PeerKey]; dup {
					// Both hashes of a hybrid torrent without a registered
					// alias: one peer, folded in time order.
					if u.First.At < ups[j].First.At {
						u, ups[j] = ups[j], u
					}
					ups[j].Merge(&u, p.cfg.MaxGap)
				} else {
					index[u.PeerKey] = len(ups)
					ups = append(ups, u)
				}
			}
			sh.settle(pos)
			p.npending.Add(-1)
			if crowded {
				p.removePeer(sh, pos)
			}
		}
		sh.shrink()
		sh.mu.Unlock()
	}
	p.mu.RUnlock()
	ch := make(chan struct{})
	close(*p.flushed.Swap(&ch)) // room for waiting Records
	if err := p.apply(ctx, ups); err != nil {
		p.failed = ups
		return err
	}
	return nil
}

// idle reports whether u may wait for a later flush (Config.IdleWrite):
// its peer's last counters are stored and u changes nothing but the time,
// all of it in the role (seeding or leeching) of the stored left count,
// and now is less than IdleWrite (less idleJitter) after the stored
// announce. Should the process die
// before it is written, the peer's next announce credits that time again
// from the stored announce. Called with flushMu held.
func (p *Private) idle(u *catalog.PeerUpdate, now int64) bool {
	l, ok := p.lasts[u.PeerKey]
	if !ok || !l.Exists || l.Stopped {
		return false
	}
	same := func(o *catalog.Observation) bool {
		return o.Uploaded == l.Uploaded && o.Downloaded == l.Downloaded && o.Left == l.Left && o.Event == tracker.EventNone
	}
	role := u.Leech
	if l.Left > 0 {
		role = u.Seed
	}
	return same(&u.First) && same(&u.Last) && u.Up == 0 && u.Down == 0 && !u.Completed && role == 0 &&
		u.Seed+u.Leech == time.Duration(u.Last.At-u.First.At) && u.First.At >= l.At &&
		now-l.At < int64(p.cfg.IdleWrite)-idleJitter(&u.PeerKey, p.cfg.IdleWrite)
}

// idleJitter is up to a quarter of IdleWrite less hold, different for each
// peer: peers that were written together (a restart, a burst of
// newcomers) are not all written together again.
func idleJitter(k *catalog.PeerKey, idle time.Duration) int64 {
	span := uint64(idle / 4)
	if span == 0 {
		return 0
	}
	h := mix(uint64(k.UserID)^keySeed[1], uint64(k.TorrentID)^keySeed[0])
	h = mix(h^binary.LittleEndian.Uint64(k.PeerID[:8]), binary.LittleEndian.Uint64(k.PeerID[8:16])^keySeed[0])
	return int64(h % span)
}

// apply writes ups, using and refreshing the cache of stored counters.
func (p *Private) apply(ctx context.Context, ups []catalog.PeerUpdate) error {
	if len(ups) == 0 {
		return nil
	}
	p.stats.flushes.Add(1)
	p.mu.RLock()
	rules := catalog.AccountRules{MaxGap: p.cfg.MaxGap, FlagRate: p.settings.FlagRate}
	p.mu.RUnlock()
	// The cache itself is the known counters (the store only reads the
	// entries of ups; flushMu keeps it still): no copy of a map per flush.
	res, err := p.store.ApplyAccounting(ctx, ups, p.lasts, rules)
	p.failing.Store(err != nil)
	if err != nil {
		p.stats.flushErrors.Add(1)
		for i := range ups {
			delete(p.lasts, ups[i].PeerKey) // read them again: the commit may have happened
		}
		return err
	}
	for k, l := range res {
		p.lasts[k] = l
	}
	p.stats.written.Add(uint64(len(ups)))
	return nil
}

// evict forgets the cached counters of peers that stopped or went silent.
func (p *Private) evict() {
	p.flushMu.Lock()
	defer p.flushMu.Unlock()
	now := p.cfg.Now()
	cutoff := now.Add(-2 * p.cfg.PeerTTL).UnixNano()
	for k, l := range p.lasts {
		if l.Stopped || l.At < cutoff {
			delete(p.lasts, k)
		}
	}
	// Deleted torrents past their notice: nobody is served any more.
	p.mu.RLock()
	var old []int64
	p.delMu.Lock()
	for id := range p.members {
		if t := p.byID[id]; t == nil || !t.deleted || now.Sub(t.deletedAt) > p.cfg.DeletedNotice+p.cfg.PeerTTL {
			old = append(old, id)
		}
	}
	for _, id := range old {
		delete(p.members, id)
	}
	p.tracking.Store(int32(len(p.members)))
	p.delMu.Unlock()
	p.mu.RUnlock()
}
