package privtracker

import (
	"context"
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
	p.accMu.Lock()
	pending := len(p.pending)
	p.accMu.Unlock()
	p.mu.RLock()
	users, torrents := len(p.users), len(p.byID)
	p.mu.RUnlock()
	return Stats{
		Recorded: p.stats.recorded.Load(), Dropped: p.stats.dropped.Load(), Unknown: p.stats.unknown.Load(),
		Flushes: p.stats.flushes.Load(), FlushErrors: p.stats.flushErrors.Load(), Written: p.stats.written.Load(),
		Pending: pending, Users: users, Torrents: torrents,
	}
}

// Record implements tracker.Accounting. It folds the announce into the
// peer's pending update (one per user, torrent and peer ID between two
// flushes, see catalog.PeerUpdate), so memory grows with the number of
// peers, not of announces, and it does not allocate for a peer already
// pending.
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
		return // not granted by this policy
	}
	p.stats.recorded.Add(1)
	k := pendKey{user: f.User, ih: f.InfoHash, peer: f.PeerID}
	o := catalog.Observation{Uploaded: f.Uploaded, Downloaded: f.Downloaded, Left: f.Left, At: f.UnixNano, Event: f.Event}
	p.accMu.Lock()
	e, ok := p.pending[k]
	if !ok && len(p.pending) >= p.cfg.MaxPending && !p.failing.Load() {
		ch := p.flushed
		p.accMu.Unlock()
		timer := time.NewTimer(p.cfg.MaxWait)
		select {
		case <-ch:
		case <-timer.C:
		}
		timer.Stop()
		p.accMu.Lock()
		e, ok = p.pending[k]
		if !ok && len(p.pending) >= p.cfg.MaxPending {
			p.accMu.Unlock()
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
	}
	if ok {
		e.upd.Add("", o, p.cfg.MaxGap)
		e.addr = f.Addr
	} else {
		e = pendEntry{upd: catalog.NewPeerUpdate(catalog.PeerKey{PeerID: f.PeerID}, "", o), addr: f.Addr}
	}
	p.pending[k] = e
	p.accMu.Unlock()
	if p.tracking.Load() > 0 {
		p.noteMember(f)
	}
}

// Flush writes the pending updates in one transaction. A batch that fails
// is kept and retried, alone, before anything newer (announces keep
// coalescing in the meantime); the stored counters of its peers are read
// again, so a transaction that committed although an error was reported
// is not counted twice (catalog.Account ignores an update equal to what is
// stored). Run calls Flush every FlushInterval.
func (p *Private) Flush(ctx context.Context) error {
	p.flushMu.Lock()
	defer p.flushMu.Unlock()
	if p.failed != nil {
		if err := p.apply(ctx, p.failed); err != nil {
			return err
		}
		p.failed = nil
	}
	p.accMu.Lock()
	batch := p.pending
	p.pending, p.spare = p.spare, nil
	close(p.flushed)
	p.flushed = make(chan struct{})
	p.accMu.Unlock()
	defer func() {
		clear(batch)
		p.accMu.Lock()
		p.spare = batch
		p.accMu.Unlock()
	}()
	if len(batch) == 0 {
		return nil
	}
	ups := make([]catalog.PeerUpdate, 0, len(batch))
	index := make(map[catalog.PeerKey]int, len(batch))
	p.mu.RLock()
	siteFree, double := p.settings.Freeleech, p.settings.DoubleUpload
	for k, e := range batch {
		t := p.torrents[k.ih]
		if t == nil {
			p.stats.unknown.Add(1)
			continue
		}
		u := e.upd
		u.UserID, u.TorrentID = int64(k.user), t.id
		u.Addr = e.addr.String()
		u.Freeleech, u.DoubleUpload = siteFree || t.freeleech, double
		if i, dup := index[u.PeerKey]; dup {
			// Both hashes of a hybrid torrent without a registered alias:
			// one peer, folded in time order.
			if u.First.At < ups[i].First.At {
				u, ups[i] = ups[i], u
			}
			ups[i].Merge(&u, p.cfg.MaxGap)
			continue
		}
		index[u.PeerKey] = len(ups)
		ups = append(ups, u)
	}
	p.mu.RUnlock()
	if err := p.apply(ctx, ups); err != nil {
		p.failed = ups
		return err
	}
	return nil
}

// apply writes ups, using and refreshing the cache of stored counters.
func (p *Private) apply(ctx context.Context, ups []catalog.PeerUpdate) error {
	if len(ups) == 0 {
		return nil
	}
	p.stats.flushes.Add(1)
	known := make(map[catalog.PeerKey]catalog.PeerLast, len(ups))
	for i := range ups {
		if l, ok := p.lasts[ups[i].PeerKey]; ok {
			known[ups[i].PeerKey] = l
		}
	}
	p.mu.RLock()
	rules := catalog.AccountRules{MaxGap: p.cfg.MaxGap, FlagRate: p.settings.FlagRate}
	p.mu.RUnlock()
	res, err := p.store.ApplyAccounting(ctx, ups, known, rules)
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
