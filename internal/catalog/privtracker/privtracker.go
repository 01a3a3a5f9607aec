// Package privtracker is the private mode of the tracker engine, backed by
// the catalog: a tracker.Policy that admits announces by announce key,
// rights and client rules, and a tracker.Accounting sink that credits
// users' transfers in batched transactions.
//
// Wiring (gale serve):
//
//	priv := privtracker.New(store, privtracker.Config{...})
//	if err := priv.Load(ctx); err != nil { ... }   // first snapshot
//	trk := tracker.New(tracker.Config{Policy: priv, Accounting: priv, ...})
//	priv.SetAliaser(trk)                            // hybrid torrents: one swarm
//	go priv.Run(ctx)                                // refresh, flush; final flush at the end
//
// The policy works from an in-memory snapshot of users, torrents, rights,
// client rules and settings. Run polls the catalog's change counter every
// PollInterval (250 ms) and reloads what changed, so a change made by any
// process on the same database (`gale user disable` while the server runs)
// reaches the tracker within a second.
package privtracker

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gale-bt/gale/internal/catalog"
	"github.com/gale-bt/gale/internal/peer"
	"github.com/gale-bt/gale/internal/tracker"
)

// Config configures a Private; the zero value works.
type Config struct {
	// Logger receives operational messages; keys are never logged.
	Logger *slog.Logger
	// PollInterval is how often Run looks for catalog changes (default
	// 250 ms).
	PollInterval time.Duration
	// FlushInterval is how often accounting is written (default 1 s).
	FlushInterval time.Duration
	// PeerTTL is how long a peer counts as present after its last
	// announce, for polite deletion (default: the tracker's default peer
	// TTL, 45 minutes). Set it to the tracker's Config.PeerTTL.
	PeerTTL time.Duration
	// MaxGap caps the seeding or leeching time credited between two
	// announces (default catalog.DefaultMaxGap). Set it above the
	// announce interval.
	MaxGap time.Duration
	// MaxPending bounds the peers with unwritten announces (default
	// 262144, at most 4194304). See Record for what happens when it is
	// reached.
	MaxPending int
	// MaxWait is how long Record waits for a flush when MaxPending is
	// reached (default 20 ms).
	MaxWait time.Duration
	// IdleWrite is how long the periodic flushes may hold back a peer's
	// announces that change nothing but the time: the same counters and
	// left as its last written announce, no event, no time lost to a
	// stop. Such a peer is written at the first flush IdleWrite or more
	// after its last written announce (default 30 s, at most MaxGap/4;
	// negative: never held back). Announces that move a counter or left,
	// or carry an event, are written by the next flush as always.
	// Nothing is lost if the process dies meanwhile: the held-back
	// announces only carry seeding or leeching time, which the peer's
	// next announce credits again from its last written one (see
	// catalog.Account). It saves writing peers that re-announce faster
	// than the flushes a row per peer per second; clients that announce
	// at the tracker's interval are not held back. (XBT writes all its
	// accounting every 60 seconds, its write_db_interval.)
	IdleWrite time.Duration
	// DeletedNotice is how long refused announces to a deleted torrent
	// are told its deletion reason; afterwards they get "unregistered
	// torrent" (default 24 hours).
	DeletedNotice time.Duration
	// PeerRetention is how long the last counters of a silent peer are
	// kept (default 7 days); a peer silent for longer starts over.
	PeerRetention time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Aliaser registers alias info hashes with the tracker engine;
// *tracker.Tracker implements it.
type Aliaser interface {
	Alias(alias, canonical tracker.InfoHash)
	Unalias(alias tracker.InfoHash)
}

// SwarmView reports what the engine's swarm store knows of a peer;
// *tracker.Tracker implements it. See SetAliaser.
type SwarmView interface {
	PeerStatus(ih tracker.InfoHash, id peer.ID) tracker.PeerStatus
}

type swarmViewRef struct{ v SwarmView }

// Client-visible refusals.
var (
	ErrBadKey        = &tracker.Error{Reason: "invalid announce key; download the torrent again"}
	ErrDisabled      = &tracker.Error{Reason: "your account is disabled"}
	ErrAccessRevoked = &tracker.Error{Reason: "access revoked: you may no longer see this torrent"}
	ErrClient        = &tracker.Error{Reason: "client not allowed on this tracker"}
)

type userSnap struct {
	keyVersion int64
	group      int64
	admin      bool
	disabled   bool
}

type torrentSnap struct {
	id         int64
	swarm      tracker.InfoHash
	alias      tracker.InfoHash
	hasAlias   bool
	category   int64
	freeleech  bool
	deleted    bool
	deletedAt  time.Time
	deletedErr *tracker.Error
}

// Private is the private tracker's policy and accounting sink. Create it
// with New; it is safe for concurrent use.
type Private struct {
	store catalog.TrackerStore
	cfg   Config
	log   *slog.Logger

	mu       sync.RWMutex
	loaded   bool
	seq      int64
	users    map[uint32]userSnap
	torrents map[tracker.InfoHash]*torrentSnap // by swarm and alias hash
	byID     map[int64]*torrentSnap
	rights   catalog.RightsTable
	rules    []catalog.ClientRule
	settings catalog.Settings
	// gen numbers the snapshots: Load and every Refresh that changes
	// anything bump it (see peers.go); fast is gen with the client rules
	// of that snapshot, for announces of admitted peers.
	gen  uint64
	fast atomic.Pointer[fastSnap]

	aliasMu sync.Mutex
	aliaser Aliaser
	aliasOf map[int64]aliasPair // registered aliases by torrent ID
	swarms  atomic.Pointer[swarmViewRef]

	// The peer table (peers.go) and the accounting (sink.go).
	peers    [peerShards]peerShard
	npeers   atomic.Int64                  // entries in the peer table
	npending atomic.Int64                  // entries with a pending update
	flushed  atomic.Pointer[chan struct{}] // closed after each flush
	flushMu  sync.Mutex                    // one flush at a time
	failed   []catalog.PeerUpdate
	lasts    map[catalog.PeerKey]catalog.PeerLast // flushed state cache
	failing  atomic.Bool                          // the last flush failed
	stats    sinkStats

	// Polite deletion (policy.go).
	delMu    sync.Mutex
	members  map[int64]*swarmMembers
	tracking atomic.Int32 // len(members), read without the lock
}

type aliasPair struct{ alias, canon tracker.InfoHash }

type fastSnap struct {
	gen   uint64
	rules []catalog.ClientRule
}

// maxPending caps Config.MaxPending: the peer table has at most twice as
// many entries, addressed with hintIndexBits per shard.
const maxPending = 1 << 22

// New returns a Private over store. It starts nothing: call Load, then
// Run.
func New(store catalog.TrackerStore, cfg Config) *Private {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 250 * time.Millisecond
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = time.Second
	}
	if cfg.PeerTTL <= 0 {
		cfg.PeerTTL = tracker.DefaultInterval * 3 / 2
	}
	if cfg.MaxGap <= 0 {
		cfg.MaxGap = catalog.DefaultMaxGap
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 1 << 18
	}
	cfg.MaxPending = min(cfg.MaxPending, maxPending)
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 20 * time.Millisecond
	}
	switch {
	case cfg.IdleWrite == 0:
		cfg.IdleWrite = 30 * time.Second
	case cfg.IdleWrite < 0:
		cfg.IdleWrite = 0
	}
	cfg.IdleWrite = min(cfg.IdleWrite, cfg.MaxGap/4)
	if cfg.DeletedNotice <= 0 {
		cfg.DeletedNotice = 24 * time.Hour
	}
	if cfg.PeerRetention <= 0 {
		cfg.PeerRetention = 7 * 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := &Private{
		store:    store,
		cfg:      cfg,
		log:      cfg.Logger,
		users:    map[uint32]userSnap{},
		torrents: map[tracker.InfoHash]*torrentSnap{},
		byID:     map[int64]*torrentSnap{},
		aliasOf:  map[int64]aliasPair{},
		lasts:    map[catalog.PeerKey]catalog.PeerLast{},
		members:  map[int64]*swarmMembers{},
	}
	ch := make(chan struct{})
	p.flushed.Store(&ch)
	p.fast.Store(&fastSnap{})
	return p
}

// SetAliaser registers the alias hashes of hybrid torrents with a (the
// tracker engine), now and whenever torrents change. When a also
// implements SwarmView, as *tracker.Tracker does, polite deletion asks it
// who is in a deleted torrent's swarm (see deleted in policy.go).
func (p *Private) SetAliaser(a Aliaser) {
	if v, ok := a.(SwarmView); ok {
		p.swarms.Store(&swarmViewRef{v})
	}
	p.aliasMu.Lock()
	p.aliaser = a
	for _, ap := range p.aliasOf {
		a.Alias(ap.alias, ap.canon)
	}
	p.aliasMu.Unlock()
}

// Load reads the whole catalog state. Run calls it when needed; call it
// before serving so the first announces are not refused.
func (p *Private) Load(ctx context.Context) error {
	st, err := p.store.TrackerState(ctx)
	if err != nil {
		return err
	}
	users := make(map[uint32]userSnap, len(st.Users))
	for _, u := range st.Users {
		if u.ID > 0 && u.ID <= catalog.MaxKeyUserID {
			users[uint32(u.ID)] = snapUser(u)
		}
	}
	byID := make(map[int64]*torrentSnap, len(st.Torrents))
	for i := range st.Torrents {
		t := p.snapTorrent(&st.Torrents[i])
		byID[t.id] = t
	}
	torrents := make(map[tracker.InfoHash]*torrentSnap, len(byID))
	for _, t := range byID {
		torrents[t.swarm] = t
		if t.hasAlias {
			torrents[t.alias] = t
		}
	}
	rights := catalog.RightsTable{}
	for _, r := range st.Rights {
		rights[catalog.RightsKey{GroupID: r.GroupID, CategoryID: r.CategoryID}] = r.Rights.Normalize()
	}
	p.syncDeleted(ctx, byID) // before publishing: members are known when refusals start
	p.mu.Lock()
	p.loaded = true
	p.seq = st.Seq
	p.users, p.torrents, p.byID = users, torrents, byID
	p.gen++
	p.rights, p.rules, p.settings = rights, st.Rules, st.Settings
	p.fast.Store(&fastSnap{gen: p.gen, rules: p.rules})
	p.mu.Unlock()
	p.setAliases(byID, nil)
	p.log.Debug("tracker state loaded", "users", len(users), "torrents", len(byID), "seq", st.Seq)
	return nil
}

func snapUser(u catalog.TrackerUser) userSnap {
	return userSnap{keyVersion: u.KeyVersion, group: u.GroupID, admin: u.Admin, disabled: u.Disabled}
}

func (p *Private) snapTorrent(t *catalog.TrackerTorrent) *torrentSnap {
	s := &torrentSnap{
		id: t.ID, swarm: t.Swarm, alias: t.Alias, hasAlias: t.HasAlias, category: t.CategoryID,
		freeleech: t.Freeleech, deleted: t.Deleted, deletedAt: t.DeletedAt,
	}
	if t.Deleted {
		reason := "torrent deleted"
		if t.DeleteReason != "" {
			reason += ": " + t.DeleteReason
		}
		s.deletedErr = &tracker.Error{Reason: reason}
	}
	return s
}

// setAliases brings the engine's aliases in line with byID: for the
// torrents in ids, or for all (removing the others) when ids is nil.
func (p *Private) setAliases(byID map[int64]*torrentSnap, ids map[int64]bool) {
	p.aliasMu.Lock()
	defer p.aliasMu.Unlock()
	update := func(id int64) {
		old, had := p.aliasOf[id]
		var want aliasPair
		t := byID[id]
		ok := t != nil && t.hasAlias
		if ok {
			want = aliasPair{t.alias, t.swarm}
		}
		if had && (!ok || old != want) {
			delete(p.aliasOf, id)
			if p.aliaser != nil {
				p.aliaser.Unalias(old.alias)
			}
		}
		if ok && (!had || old != want) {
			p.aliasOf[id] = want
			if p.aliaser != nil {
				p.aliaser.Alias(want.alias, want.canon)
			}
		}
	}
	if ids != nil {
		for id := range ids {
			update(id)
		}
		return
	}
	for id := range p.aliasOf {
		update(id)
	}
	for id := range byID {
		update(id)
	}
}

// Refresh applies the catalog changes made since the last load or
// refresh; Run calls it every PollInterval.
func (p *Private) Refresh(ctx context.Context) error {
	p.mu.RLock()
	loaded, seq := p.loaded, p.seq
	p.mu.RUnlock()
	if !loaded {
		return p.Load(ctx)
	}
	cur, err := p.store.ChangeSeq(ctx)
	if err != nil || cur == seq {
		return err
	}
	const limit = 1000
	changes, err := p.store.Changes(ctx, seq, limit)
	if err != nil {
		return err
	}
	if len(changes) == 0 || changes[0].Seq != seq+1 {
		return p.Load(ctx) // pruned or rewound: start over
	}
	var userIDs, torrentIDs []int64
	full := false
	for _, c := range changes {
		switch c.Entity {
		case catalog.ChangeUser:
			userIDs = append(userIDs, c.ID)
		case catalog.ChangeTorrent:
			torrentIDs = append(torrentIDs, c.ID)
		default: // rights, rules, settings: small, but read with everything
			full = true
		}
	}
	if full {
		return p.Load(ctx)
	}
	last := changes[len(changes)-1].Seq
	users, err := p.store.TrackerUsers(ctx, userIDs)
	if err != nil {
		return err
	}
	torrents, err := p.store.TrackerTorrents(ctx, torrentIDs)
	if err != nil {
		return err
	}
	changed := map[int64]bool{}
	fresh := map[int64]*torrentSnap{}
	for i := range torrents {
		t := p.snapTorrent(&torrents[i])
		fresh[t.id] = t
	}
	p.syncDeleted(ctx, fresh) // before publishing, as in Load
	p.mu.Lock()
	for _, id := range userIDs {
		if id > 0 && id <= catalog.MaxKeyUserID {
			delete(p.users, uint32(id))
		}
	}
	for _, u := range users {
		if u.ID > 0 && u.ID <= catalog.MaxKeyUserID {
			p.users[uint32(u.ID)] = snapUser(u)
		}
	}
	for _, id := range torrentIDs {
		changed[id] = true
		if old := p.byID[id]; old != nil {
			delete(p.torrents, old.swarm)
			if old.hasAlias {
				delete(p.torrents, old.alias)
			}
			delete(p.byID, id)
		}
	}
	for _, t := range fresh {
		p.byID[t.id] = t
		p.torrents[t.swarm] = t
		if t.hasAlias {
			p.torrents[t.alias] = t
		}
	}
	p.seq = last
	p.gen++
	p.fast.Store(&fastSnap{gen: p.gen, rules: p.rules})
	p.mu.Unlock()
	p.setAliases(fresh, changed)
	return nil
}

// Run refreshes the snapshot every PollInterval and flushes accounting
// every FlushInterval until ctx is done, then flushes once more (with a
// 10 second limit) and returns that flush's error.
func (p *Private) Run(ctx context.Context) error {
	poll := time.NewTicker(p.cfg.PollInterval)
	defer poll.Stop()
	flush := time.NewTicker(p.cfg.FlushInterval)
	defer flush.Stop()
	maint := time.NewTicker(time.Minute)
	defer maint.Stop()
	lastPrune := time.Time{}
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			err := p.Flush(fctx)
			if err != nil {
				p.log.Error("final accounting flush failed", "err", err)
			}
			return err
		case <-poll.C:
			if err := p.Refresh(ctx); err != nil && ctx.Err() == nil {
				p.log.Warn("refreshing the tracker state failed", "err", err)
			}
		case <-flush.C:
			if err := p.flush(ctx, false); err != nil && ctx.Err() == nil {
				p.log.Error("accounting flush failed; will retry", "err", err)
			}
		case <-maint.C:
			p.evict()
			if now := p.cfg.Now(); now.Sub(lastPrune) > time.Hour {
				lastPrune = now
				if n, err := p.store.PrunePeers(ctx, now.Add(-p.cfg.PeerRetention)); err != nil {
					p.log.Warn("pruning peers failed", "err", err)
				} else if n > 0 {
					p.log.Debug("pruned silent peers", "n", n)
				}
			}
		}
	}
}
