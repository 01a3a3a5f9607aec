package tracker

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/gale-bt/gale/internal/peer"
)

// PeerInfo describes one peer of a swarm, for moderators' pages.
type PeerInfo struct {
	ID       peer.ID
	Addr     netip.AddrPort
	Seeder   bool
	LastSeen time.Time
}

// Peers returns the peers of the swarm for ih (resolving aliases), at most
// limit of them (0: all), IPv4 first. It copies under the shard lock.
func (t *Tracker) Peers(ih InfoHash, limit int) []PeerInfo {
	ih = t.canonical(ih)
	h := t.hash(&ih)
	s := &t.shards[h%numShards]
	now := t.now()
	nowTick := t.tickAt(now)
	var out []PeerInfo
	add := func(f *family, list []byte) {
		if list == nil {
			return
		}
		ns := f.seeds(list)
		for i := 0; i < f.count(list) && (limit <= 0 || len(out) < limit); i++ {
			r := f.rec(list, i)
			var a netip.Addr
			if f.ipLen == 4 {
				a = netip.AddrFrom4([4]byte(r[20:24]))
			} else {
				a = netip.AddrFrom16([16]byte(r[20:36]))
			}
			out = append(out, PeerInfo{
				ID:       peer.ID(r[:20]),
				Addr:     netip.AddrPortFrom(a, binary.BigEndian.Uint16(r[20+f.ipLen:])),
				Seeder:   i < ns,
				LastSeen: now.Add(-time.Duration(age(nowTick, f.tick(r))) * t.unit),
			})
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, idx := s.lookup(h, &ih)
	if idx < 0 {
		return nil
	}
	b := s.swarms[idx]
	if big := s.bigOf(b); big != nil {
		for fi, f := range []*family{&fam4, &fam6} {
			for _, bk := range big.lists[fi].buckets {
				add(bucketFamily(f), bk)
			}
		}
		return out
	}
	add(&fam4, b)
	add(&fam6, s.v6blob(b))
	return out
}

// Remove drops the swarm for ih (resolving aliases) with all its peers
// and its completed count, as when a torrent is deleted. It reports
// whether the swarm existed.
func (t *Tracker) Remove(ih InfoHash) bool {
	ih = t.canonical(ih)
	h := t.hash(&ih)
	s := &t.shards[h%numShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	_, idx := s.lookup(h, &ih)
	if idx < 0 {
		return false
	}
	b := s.swarms[idx]
	if big := s.bigOf(b); big != nil {
		for fi := range big.lists {
			s.count[fi][0] -= big.lists[fi].seeds
			s.count[fi][1] -= big.lists[fi].leechers
		}
	} else {
		n, ns := fam4.count(b), fam4.seeds(b)
		s.count[0][0] -= ns
		s.count[0][1] -= n - ns
		if v6 := s.v6blob(b); v6 != nil {
			n, ns := fam6.count(v6), fam6.seeds(v6)
			s.count[1][0] -= ns
			s.count[1][1] -= n - ns
		}
	}
	t.removeSwarm(s, idx)
	return true
}
