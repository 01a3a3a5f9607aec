package tracker

import "github.com/gale-bt/gale/internal/peer"

// Stats returns the counts of the swarm for ih (zeros if it is unknown),
// resolving aliases (see Alias), without consulting the Policy. It is for
// callers that have decided visibility themselves, such as the private
// tracker's website showing seeders and leechers next to a torrent the
// user may see; clients get counts through Scrape. It takes one shard lock
// and does not allocate.
func (t *Tracker) Stats(ih InfoHash) ScrapeStats {
	ih = t.canonical(ih)
	h := t.hash(&ih)
	s := &t.shards[h%numShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	_, idx := s.lookup(h, &ih)
	if idx < 0 {
		return ScrapeStats{}
	}
	return s.swarmStats(s.swarms[idx])
}

// PeerStatus is what the swarm store knows of one peer and its swarm, as
// returned by Tracker.PeerStatus. Peers that have not announced within
// the peer TTL are left out even before a sweep removes them.
type PeerStatus struct {
	// Known is true when the peer ID is in the swarm (in either address
	// family); Seeder tells its role then (a seeder in either family).
	Known, Seeder bool
	// Seeders and Leechers count the swarm's live peers, both families.
	Seeders, Leechers int
}

// PeerStatus reports whether peer id is currently in the swarm for ih
// (resolving aliases) and how many live seeders and leechers the swarm
// has, without consulting the Policy. A policy may call it from its
// Announce (no engine lock is held then) to decide by the actual swarm:
// the private tracker's polite deletion serves a deleted torrent's
// current peers until no leecher is left. It walks the swarm's records to
// leave expired peers out, so it costs O(peers) under one shard lock:
// meant for rare decisions, not for every announce.
func (t *Tracker) PeerStatus(ih InfoHash, id peer.ID) PeerStatus {
	ih = t.canonical(ih)
	h := t.hash(&ih)
	s := &t.shards[h%numShards]
	now := t.tickAt(t.now())
	var st PeerStatus
	s.mu.Lock()
	defer s.mu.Unlock()
	_, idx := s.lookup(h, &ih)
	if idx < 0 {
		return st
	}
	b := s.swarms[idx]
	if big := s.bigOf(b); big != nil {
		for fi, f := range [2]*family{&fam4, &fam6} {
			bl := &big.lists[fi]
			bf := bucketFamily(f)
			mine := t.bucketOf(&id, len(bl.buckets))
			for k, bk := range bl.buckets {
				var pid *peer.ID
				if k == mine {
					pid = &id
				}
				t.peerStatus(&st, bf, bk, pid, now)
			}
		}
		return st
	}
	t.peerStatus(&st, &fam4, b, &id, now)
	if v6 := s.v6blob(b); v6 != nil {
		t.peerStatus(&st, &fam6, v6, &id, now)
	}
	return st
}

// peerStatus adds the live records of list (family f) to st and, when id
// is not nil, looks the peer up in it.
func (t *Tracker) peerStatus(st *PeerStatus, f *family, list []byte, id *peer.ID, now uint16) {
	n, ns := f.count(list), f.seeds(list)
	for i := 0; i < n; i++ {
		if age(now, f.tick(f.rec(list, i))) >= t.ttlTicks {
			continue
		}
		if i < ns {
			st.Seeders++
		} else {
			st.Leechers++
		}
	}
	if id == nil {
		return
	}
	pos, found := f.search(list, 0, ns, id)
	seeder := found
	if !found {
		pos, found = f.search(list, ns, n, id)
	}
	if found && age(now, f.tick(f.rec(list, pos))) < t.ttlTicks {
		st.Known = true
		st.Seeder = st.Seeder || seeder
	}
}
