package tracker

import (
	"bytes"
	"encoding/binary"
	"net/netip"
)

// Announce applies req to its swarm and fills resp: counts, intervals and
// up to NumWant peers of the requester's address family, sampled at random
// positions, never the requester itself, and no seeders for a seeder
// (left == 0). A "stopped" announce removes the peer and returns no peers.
//
// A peer is identified by its peer ID within a swarm and family. A known
// peer announcing from another address is moved only if it sends the same
// non-zero key as before (BEP 7 "key"); otherwise ErrPeerMoved.
//
// Errors are the Policy's refusal or one of the engine's *Error values.
// Announce does not allocate when the swarm and peer already exist.
func (t *Tracker) Announce(req *AnnounceRequest, resp *AnnounceResponse) error {
	elapsed := t.sinceEpoch()
	resp.Interval = int32(t.cfg.Interval / 1e9)
	resp.MinInterval = int32(t.cfg.MinInterval / 1e9)
	resp.Seeders, resp.Leechers, resp.Completed = 0, 0, 0
	resp.Warning = ""

	addr := req.Addr.Unmap()
	var f *family
	switch {
	case addr.Is4():
		f = &fam4
		resp.IPv6 = false
	case addr.Is6():
		f = &fam6
		resp.IPv6 = true
	default:
		return ErrAddress
	}
	if req.Port == 0 && req.Event != EventStopped {
		return ErrPort
	}
	grant, err := t.policy.Announce(req)
	if err != nil {
		return err
	}
	resp.Warning = grant.Warning

	ih := t.canonical(req.InfoHash)
	now := uint16(elapsed / t.unit)
	want := req.NumWant
	if want < 0 {
		want = t.cfg.NumWantDefault
	}
	want = min(want, t.cfg.NumWantMax)

	// The record as it will be stored: ID, address, port, key, tick.
	var nr [rec6]byte
	r := nr[:f.recLen]
	copy(r, req.PeerID[:])
	if f == &fam4 {
		a := addr.As4()
		copy(r[20:], a[:])
	} else {
		a := addr.As16()
		copy(r[20:], a[:])
	}
	binary.BigEndian.PutUint16(r[20+f.ipLen:], req.Port)
	binary.LittleEndian.PutUint32(r[f.keyOff():], req.Key)
	binary.LittleEndian.PutUint16(r[f.tickOff():], now)

	h := t.hash(&ih)
	s := &t.shards[h%numShards]
	s.mu.Lock()
	_, idx := s.lookup(h, &ih)
	if idx < 0 {
		if req.Event == EventStopped {
			s.mu.Unlock()
			return nil
		}
		if (t.cfg.MaxSwarms > 0 && int(t.swarmCount.Load()) >= t.cfg.MaxSwarms) || len(s.swarms) >= maxSwarmsPerShard {
			s.mu.Unlock()
			return ErrTooManySwarms
		}
		idx = t.addSwarm(s, h, &ih, now)
		t.swarmCount.Add(1)
	}
	b := s.swarms[idx]
	full := false
	if t.cfg.MaxPeersPerSwarm > 0 {
		st := s.swarmStats(b)
		full = st.Seeders+st.Leechers >= t.cfg.MaxPeersPerSwarm
	}

	var a applied
	big := s.bigOf(b)
	var bl *bigList
	var bf *family
	var k int
	if big != nil {
		// A big swarm: the peer's records live in the bucket its ID
		// hashes to.
		bl = &big.lists[f.idx]
		bf = bucketFamily(f)
		k = t.bucketOf(&req.PeerID, len(bl.buckets))
		bl.buckets[k], a = t.apply(bl.buckets[k], bf, r, req, full)
		bl.seeds += a.dSeeds
		bl.leechers += a.dLeechers
	} else {
		var list []byte
		if f == &fam6 {
			list = s.v6blob(b)
			if list == nil {
				list = make([]byte, v6HdrLen, v6HdrLen+rec6)
			}
		} else {
			list = b
		}
		list, a = t.apply(list, f, r, req, full)
		if f == &fam6 {
			s.setV6(b, list)
		} else {
			b = list
			s.swarms[idx] = b
		}
		if f.count(list) > bigThreshold {
			big = t.makeBig(s, idx)
			b = s.swarms[idx]
		}
	}
	s.count[f.idx][0] += a.dSeeds
	s.count[f.idx][1] += a.dLeechers
	if a.completed {
		c := binary.LittleEndian.Uint32(b[offCompleted:])
		binary.LittleEndian.PutUint32(b[offCompleted:], c+1)
	}
	if a.err == nil {
		binary.LittleEndian.PutUint16(b[offLast:], now)
	}
	st := s.swarmStats(b)
	resp.Seeders, resp.Leechers, resp.Completed = st.Seeders, st.Leechers, st.Completed
	if a.err == nil && req.Event != EventStopped && want > 0 {
		seeder := req.Left == 0
		switch {
		case big != nil && bl == nil:
			// Just converted: the requester is somewhere in the buckets.
			resp.Peers = t.sampleBig(resp.Peers, &big.lists[f.idx], bucketFamily(f), -1, -1, seeder, want, now, req.WantPeerIDs, &req.PeerID)
		case big != nil:
			resp.Peers = t.sampleBig(resp.Peers, bl, bf, k, a.self, seeder, want, now, req.WantPeerIDs, nil)
			if bl.seeds+bl.leechers > len(bl.buckets)*bucketMax {
				t.splitBuckets(bl, bf)
			}
		default:
			list := b
			if f == &fam6 {
				list = s.v6blob(b)
			}
			lo := 0
			if seeder {
				lo = f.seeds(list)
			}
			resp.Peers = t.sample(resp.Peers, f, list, lo, f.count(list), a.self, want, now, req.WantPeerIDs)
		}
	}
	s.mu.Unlock()
	if a.err != nil {
		return a.err
	}

	if t.cfg.Accounting != nil {
		fa := &resp.fact
		*fa = Fact{
			User:       grant.User,
			Hint:       grant.Hint,
			InfoHash:   ih,
			Announced:  req.InfoHash,
			PeerID:     req.PeerID,
			Addr:       netip.AddrPortFrom(addr, req.Port),
			Uploaded:   req.Uploaded,
			Downloaded: req.Downloaded,
			Left:       req.Left,
			Event:      req.Event,
			Protocol:   req.Protocol,
			UnixNano:   t.epoch.UnixNano() + int64(elapsed),
			Known:      a.found,
			WasSeeder:  a.wasSeeder,
		}
		t.cfg.Accounting.Record(fa)
	}
	return nil
}

// applied is what applying an announce to one list did.
type applied struct {
	found, wasSeeder, completed bool
	self                        int // the requester's index afterwards, or -1
	dSeeds, dLeechers           int // changes of the list's counts
	err                         error
}

// apply updates list (of family f) with the announce req whose record is
// r: insert, update, move between the seeder and leecher regions, or
// remove. full forbids inserting.
func (t *Tracker) apply(list []byte, f *family, r []byte, req *AnnounceRequest, full bool) ([]byte, applied) {
	a := applied{self: -1}
	seeder := req.Left == 0
	n, ns := f.count(list), f.seeds(list)
	pos, found := f.search(list, 0, ns, &req.PeerID)
	a.wasSeeder = found
	if !found {
		pos, found = f.search(list, ns, n, &req.PeerID)
	}
	a.found = found
	switch {
	case found:
		old := f.rec(list, pos)
		ipEnd := 20 + f.ipLen
		if !bytes.Equal(old[20:ipEnd], r[20:ipEnd]) {
			k := binary.LittleEndian.Uint32(old[f.keyOff():])
			if req.Key == 0 || req.Key != k {
				a.err = ErrPeerMoved
				return list, a
			}
		}
		if req.Event == EventStopped {
			list = f.removeAt(list, pos)
			if a.wasSeeder {
				f.setSeeds(list, ns-1)
				a.dSeeds = -1
			} else {
				a.dLeechers = -1
			}
			return list, a
		}
		switch {
		case seeder && !a.wasSeeder:
			to, _ := f.search(list, 0, ns, &req.PeerID)
			f.move(list, pos, to)
			f.setSeeds(list, ns+1)
			pos = to
			a.completed = req.Event == EventCompleted
			a.dSeeds, a.dLeechers = 1, -1
		case !seeder && a.wasSeeder:
			to, _ := f.search(list, ns, n, &req.PeerID)
			to--
			f.move(list, pos, to)
			f.setSeeds(list, ns-1)
			pos = to
			a.dSeeds, a.dLeechers = -1, 1
		}
		copy(f.rec(list, pos), r)
		a.self = pos
	case req.Event == EventStopped:
		// Unknown peer leaving: nothing to do.
	case full:
		a.err = ErrSwarmFull
	default:
		if seeder {
			pos, _ = f.search(list, 0, ns, &req.PeerID)
			list = f.insertAt(list, pos)
			f.setSeeds(list, ns+1)
			a.dSeeds = 1
		} else {
			list = f.insertAt(list, pos)
			a.dLeechers = 1
		}
		copy(f.rec(list, pos), r)
		a.self = pos
		a.completed = req.Event == EventCompleted
	}
	return list, a
}

// sample appends up to want entries from records [lo, hi) of list,
// skipping self and expired records. When fewer records than wanted exist
// all are sent; otherwise want records are picked at evenly spaced
// positions from a random start, so each peer is equally likely to be
// sent and the picks spread over the swarm.
func (t *Tracker) sample(dst []byte, f *family, list []byte, lo, hi, self, want int, now uint16, withIDs bool) []byte {
	m := hi - lo
	selfIn := self >= lo && self < hi
	if selfIn {
		m--
	}
	if m <= 0 {
		return dst
	}
	if want >= m {
		for i := lo; i < hi; i++ {
			if i != self {
				dst = t.emit(dst, f, list, i, now, withIDs)
			}
		}
		return dst
	}
	off := randN(m)
	for k := 0; k < want; k++ {
		j := off + k*m/want
		if j >= m {
			j -= m
		}
		i := lo + j
		if selfIn && i >= self {
			i++
		}
		dst = t.emit(dst, f, list, i, now, withIDs)
	}
	return dst
}

// emit appends record i's entry unless it has expired.
func (t *Tracker) emit(dst []byte, f *family, list []byte, i int, now uint16, withIDs bool) []byte {
	r := f.rec(list, i)
	if age(now, f.tick(r)) >= t.ttlTicks {
		return dst
	}
	if withIDs {
		return append(dst, r[:22+f.ipLen]...)
	}
	return append(dst, r[20:22+f.ipLen]...)
}
