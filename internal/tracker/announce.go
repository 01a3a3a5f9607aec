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
	seeder := req.Left == 0

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
	var v6 []byte
	list := b
	if f == &fam6 {
		v6 = s.v6blob(b)
		if v6 == nil {
			v6 = make([]byte, v6HdrLen, v6HdrLen+rec6)
		}
		list = v6
	}

	n, ns := f.count(list), f.seeds(list)
	pos, found := f.search(list, 0, ns, &req.PeerID)
	wasSeeder := found
	if !found {
		pos, found = f.search(list, ns, n, &req.PeerID)
	}
	var stErr error
	self := -1
	completed := false
	switch {
	case found:
		old := f.rec(list, pos)
		ipEnd := 20 + f.ipLen
		if !bytes.Equal(old[20:ipEnd], r[20:ipEnd]) {
			k := binary.LittleEndian.Uint32(old[f.keyOff():])
			if req.Key == 0 || req.Key != k {
				stErr = ErrPeerMoved
				break
			}
		}
		role := 1
		if wasSeeder {
			role = 0
		}
		if req.Event == EventStopped {
			list = f.removeAt(list, pos)
			if wasSeeder {
				f.setSeeds(list, ns-1)
			}
			s.count[f.idx][role]--
			break
		}
		switch {
		case seeder && !wasSeeder:
			to, _ := f.search(list, 0, ns, &req.PeerID)
			f.move(list, pos, to)
			f.setSeeds(list, ns+1)
			pos = to
			completed = req.Event == EventCompleted
			s.count[f.idx][1]--
			s.count[f.idx][0]++
		case !seeder && wasSeeder:
			to, _ := f.search(list, ns, n, &req.PeerID)
			to--
			f.move(list, pos, to)
			f.setSeeds(list, ns-1)
			pos = to
			s.count[f.idx][0]--
			s.count[f.idx][1]++
		}
		copy(f.rec(list, pos), r)
		self = pos
	case req.Event == EventStopped:
		// Unknown peer leaving: nothing to do.
	default:
		if t.cfg.MaxPeersPerSwarm > 0 {
			if st := s.swarmStats(b); st.Seeders+st.Leechers >= t.cfg.MaxPeersPerSwarm {
				stErr = ErrSwarmFull
				break
			}
		}
		if seeder {
			pos, _ = f.search(list, 0, ns, &req.PeerID)
			list = f.insertAt(list, pos)
			f.setSeeds(list, ns+1)
			s.count[f.idx][0]++
		} else {
			list = f.insertAt(list, pos)
			s.count[f.idx][1]++
		}
		copy(f.rec(list, pos), r)
		self = pos
		completed = req.Event == EventCompleted
	}

	// Store the (possibly reallocated) lists back.
	if f == &fam6 {
		s.setV6(b, list)
	} else {
		b = list
		s.swarms[idx] = b
	}
	if completed {
		c := binary.LittleEndian.Uint32(b[offCompleted:])
		binary.LittleEndian.PutUint32(b[offCompleted:], c+1)
	}
	if stErr == nil {
		binary.LittleEndian.PutUint16(b[offLast:], now)
		fl := binary.LittleEndian.Uint16(b[offFlags:])
		binary.LittleEndian.PutUint16(b[offFlags:], fl&^flagIdle)
	}
	st := s.swarmStats(b)
	resp.Seeders, resp.Leechers, resp.Completed = st.Seeders, st.Leechers, st.Completed
	if stErr == nil && req.Event != EventStopped && want > 0 {
		n, ns = f.count(list), f.seeds(list)
		lo := 0
		if seeder {
			lo = ns
		}
		resp.Peers = t.sample(resp.Peers, f, list, lo, n, self, want, now, req.WantPeerIDs)
	}
	s.mu.Unlock()
	if stErr != nil {
		return stErr
	}

	if t.cfg.Accounting != nil {
		fa := &resp.fact
		*fa = Fact{
			User:       grant.User,
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
			Known:      found,
			WasSeeder:  wasSeeder,
		}
		t.cfg.Accounting.Record(fa)
	}
	return nil
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
	start := 20
	if withIDs {
		start = 0
	}
	end := 22 + f.ipLen
	emit := func(i int) {
		r := f.rec(list, i)
		if age(now, f.tick(r)) >= t.ttlTicks {
			return
		}
		dst = append(dst, r[start:end]...)
	}
	if want >= m {
		for i := lo; i < hi; i++ {
			if i != self {
				emit(i)
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
		emit(i)
	}
	return dst
}
