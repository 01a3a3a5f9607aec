package privtracker

import (
	"context"

	"github.com/gale-bt/gale/internal/catalog"
	"github.com/gale-bt/gale/internal/peer"
	"github.com/gale-bt/gale/internal/tracker"
)

var (
	_ tracker.Policy     = (*Private)(nil)
	_ tracker.Accounting = (*Private)(nil)
)

// Announce implements tracker.Policy. The key comes from the HTTP path
// /<key>/announce or BEP 41 URL data (req.Passkey). Refusals, in the
// order they are checked: an unknown info hash is "unregistered torrent";
// a malformed key, unknown user or wrong key (computed as catalog.Passkey
// over the torrent's swarm hash, compared in constant time) ErrBadKey; then
// ErrDisabled, ErrAccessRevoked (the user's group may no longer see the
// torrent's category), ErrClient (peer ID prefix rules, see
// catalog.ClientAllowed), and for a deleted torrent its reason (see
// deleted). An admitted peer is remembered until the next catalog change
// (see peers.go), so the SHA-1 runs once per peer and change. It does
// not allocate once the peer is in the peer table.
func (p *Private) Announce(req *tracker.AnnounceRequest) (tracker.Grant, error) {
	uid, hint, err := p.check(req.Passkey, req.InfoHash, &req.PeerID, req.Event, true)
	if err != nil {
		return tracker.Grant{}, err
	}
	return tracker.Grant{User: uint64(uid), Hint: hint}, nil
}

// Scrape implements tracker.Policy with Announce's rules, except that
// client rules are not applied and deleted torrents may be scraped.
func (p *Private) Scrape(passkey []byte, ih tracker.InfoHash) error {
	_, _, err := p.check(passkey, ih, nil, 0, false)
	return err
}

// check decides an announce (id set) or a scrape (id nil) and returns the
// user ID and, for an admitted announce, its peer's place in the peer
// table (0: none).
func (p *Private) check(key []byte, ih tracker.InfoHash, id *peer.ID, ev tracker.Event, announce bool) (uint32, uint64, error) {
	uid, ok := keyUser(key)
	if !ok {
		return 0, 0, ErrBadKey
	}
	var k pendKey
	if id != nil {
		k = pendKey{user: uid, ih: ih, peer: *id}
		fs := p.fast.Load()
		if hit, good, hint := p.admitted(&k, key, fs.gen); hit && fs.gen != 0 {
			// Admitted before in this snapshot: only the key and the
			// client rules can differ.
			switch {
			case !good:
				return 0, 0, ErrBadKey
			case len(fs.rules) > 0 && !catalog.ClientAllowed(fs.rules, id[:]):
				return 0, 0, ErrClient
			}
			return uid, hint, nil
		}
	}
	p.mu.RLock()
	gen := p.gen
	t := p.torrents[ih]
	u, uok := p.users[uid]
	secret := p.settings.Secret
	var rights catalog.Rights
	clientOK := true
	if t != nil && uok {
		if u.admin {
			rights = catalog.RightsAll
		} else {
			rights = p.rights[catalog.RightsKey{GroupID: u.group, CategoryID: t.category}]
		}
		if id != nil && len(p.rules) > 0 {
			clientOK = catalog.ClientAllowed(p.rules, id[:])
		}
	}
	p.mu.RUnlock()
	switch {
	case t == nil:
		return 0, 0, tracker.ErrNotRegistered
	case !uok || !catalog.CheckPasskey(key, secret, u.keyVersion, uid, (*[20]byte)(&t.swarm)):
		return 0, 0, ErrBadKey
	case u.disabled:
		return 0, 0, ErrDisabled
	case !rights.Has(catalog.RightSee):
		return 0, 0, ErrAccessRevoked
	}
	var hint uint64
	if id != nil && !t.deleted {
		hint = p.admit(&k, key, gen)
	}
	if !clientOK {
		return 0, 0, ErrClient
	}
	if announce && t.deleted {
		if err := p.deleted(t, id, ev); err != nil {
			return 0, 0, err
		}
	}
	return uid, hint, nil
}

// keyUser returns the user ID of an announce key: its first 8 hex digits
// (lower case, as catalog.PasskeyUser). The other 24 are not looked at
// here: the comparison with the expected key refuses any other text.
func keyUser(key []byte) (uint32, bool) {
	if len(key) != catalog.PasskeyLen {
		return 0, false
	}
	var uid uint32
	for _, c := range key[:8] {
		v := hexValue[c]
		if v > 15 {
			return 0, false
		}
		uid = uid<<4 | uint32(v)
	}
	return uid, true
}

// hexValue maps '0'-'9' and 'a'-'f' to their values, anything else to
// 0xff.
var hexValue = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i := range 10 {
		t['0'+i] = byte(i)
	}
	for i := range 6 {
		t['a'+i] = byte(10 + i)
	}
	return t
}()

// Polite deletion. A deleted torrent keeps serving its current peers for
// as long as one of them is a leecher; a member's "stopped" is always
// accepted so its last counters are credited. Once no leecher is left the
// torrent is gone for good. Everyone else is refused with "torrent
// deleted: <reason>" for DeletedNotice after the deletion, then with
// "unregistered torrent".
//
// The current peers are known two ways, and a peer is one if either says
// so: the engine's swarm (SwarmView, set by SetAliaser), which is exact
// while the tracker runs, including peers whose announces were still
// being written when the deletion was seen; and the accounting (the
// stored peers that announced within PeerTTL and did not stop, the
// pending announces, and every announce admitted since), which still
// knows them when the engine restarted without its swarms. Newcomers
// cannot join either: their announces are refused before they reach the
// swarm.

type member struct {
	left uint64
	seen int64 // unix nanoseconds
}

type swarmMembers struct {
	peers map[peer.ID]member
	gone  bool
}

// deleted decides an announce to a deleted torrent; nil admits it.
func (p *Private) deleted(t *torrentSnap, id *peer.ID, ev tracker.Event) error {
	now := p.cfg.Now()
	refuse := error(t.deletedErr)
	if now.Sub(t.deletedAt) > p.cfg.DeletedNotice {
		refuse = tracker.ErrNotRegistered
	}
	if id == nil {
		return refuse
	}
	var live tracker.PeerStatus
	if sv := p.swarms.Load(); sv != nil {
		live = sv.v.PeerStatus(t.swarm, *id) // before delMu: takes a shard lock
	}
	p.delMu.Lock()
	defer p.delMu.Unlock()
	m := p.members[t.id]
	if m == nil {
		return refuse // deleted long ago (see syncDeleted and evict)
	}
	cutoff := now.Add(-p.cfg.PeerTTL).UnixNano()
	if me, ok := m.peers[*id]; !live.Known && (!ok || me.seen < cutoff) {
		return refuse
	}
	if ev == tracker.EventStopped {
		return nil
	}
	if !m.gone {
		if live.Leechers > 0 {
			return nil
		}
		for _, o := range m.peers {
			if o.left > 0 && o.seen >= cutoff {
				return nil
			}
		}
		m.gone = true // no leecher left: only goodbyes from now on
	}
	return refuse
}

// noteMember updates the membership of a deleted torrent's swarm from an
// applied announce (called by Record): a peer the policy admitted is a
// member with its new left count until it stops.
func (p *Private) noteMember(f *tracker.Fact) {
	p.mu.RLock()
	t := p.torrents[f.InfoHash]
	p.mu.RUnlock()
	if t == nil || !t.deleted {
		return
	}
	p.delMu.Lock()
	defer p.delMu.Unlock()
	m := p.members[t.id]
	if m == nil {
		return
	}
	if f.Event == tracker.EventStopped {
		delete(m.peers, f.PeerID)
		return
	}
	m.peers[f.PeerID] = member{left: f.Left, seen: f.UnixNano}
}

// syncDeleted starts tracking the members of newly deleted torrents among
// ts, from the stored peers and the announces not yet flushed, and stops
// tracking torrents that are no longer deleted.
func (p *Private) syncDeleted(ctx context.Context, ts map[int64]*torrentSnap) {
	now := p.cfg.Now()
	for id, t := range ts {
		p.delMu.Lock()
		_, tracked := p.members[id]
		if !t.deleted && tracked {
			delete(p.members, id)
		}
		p.tracking.Store(int32(len(p.members)))
		p.delMu.Unlock()
		if !t.deleted || tracked {
			continue
		}
		if now.Sub(t.deletedAt) > p.cfg.DeletedNotice+p.cfg.PeerTTL {
			continue // long gone: nobody is served (see deleted)
		}
		m := &swarmMembers{peers: map[peer.ID]member{}}
		{
			peers, err := p.store.ActivePeers(ctx, id, now.Add(-p.cfg.PeerTTL))
			if err != nil {
				p.log.Warn("reading the peers of a deleted torrent failed", "torrent", id, "err", err)
			}
			for _, pe := range peers {
				m.peers[peer.ID(pe.PeerID)] = member{left: u64(pe.Left), seen: pe.LastAnnounce.UnixNano()}
			}
			for i := range p.peers {
				sh := &p.peers[i]
				sh.mu.Lock()
				for j := range sh.tab {
					if e := &sh.tab[j]; e.k.user != 0 && e.pending() && (e.k.ih == t.swarm || (t.hasAlias && e.k.ih == t.alias)) {
						if e.last().Event == tracker.EventStopped {
							delete(m.peers, e.k.peer)
						} else {
							m.peers[e.k.peer] = member{left: e.left, seen: e.at}
						}
					}
				}
				sh.mu.Unlock()
			}
		}
		p.delMu.Lock()
		p.members[id] = m
		p.tracking.Store(int32(len(p.members)))
		p.delMu.Unlock()
	}
}

func u64(v int64) uint64 {
	if v < 0 {
		return 0
	}
	return uint64(v)
}
