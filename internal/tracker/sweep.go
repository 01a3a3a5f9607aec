package tracker

import (
	"context"
	"encoding/binary"
	"time"
)

// Run sweeps expired peers periodically and, when Config.StateFile is set,
// saves the state every Config.StateInterval and once more when ctx is
// done. It blocks until ctx is done and returns the error of that final
// save, if any.
func (t *Tracker) Run(ctx context.Context) error {
	sweep := time.NewTicker(t.SweepInterval())
	defer sweep.Stop()
	var saveC <-chan time.Time
	if t.cfg.StateFile != "" {
		save := time.NewTicker(t.cfg.StateInterval)
		defer save.Stop()
		saveC = save.C
	}
	for {
		select {
		case <-ctx.Done():
			if t.cfg.StateFile == "" {
				return nil
			}
			return t.saveLogged()
		case <-sweep.C:
			t.Sweep()
		case <-saveC:
			_ = t.saveLogged()
		}
	}
}

// SweepInterval is how often Run sweeps: an eighth of the peer TTL, at
// least a second and at most 30 seconds.
func (t *Tracker) SweepInterval() time.Duration {
	return min(max(t.cfg.PeerTTL/8, time.Second), defaultSweepMax)
}

func (t *Tracker) saveLogged() error {
	info, err := t.SaveStateFile(t.cfg.StateFile)
	if err != nil {
		t.log.Error("saving state failed", "file", t.cfg.StateFile, "err", err)
		return err
	}
	t.log.Info("state saved", "file", t.cfg.StateFile, "swarms", info.Swarms, "peers", info.Peers, "duration", info.Duration)
	return nil
}

// Sweep removes peers that have not announced within the peer TTL, and
// swarms without peers whose last announce is older than the TTL. It
// locks one shard at a time and returns the number of peers removed.
func (t *Tracker) Sweep() int {
	now := t.tickAt(t.now())
	total := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for idx := 0; idx < len(s.swarms); {
			var empty bool
			if big := s.bigOf(s.swarms[idx]); big != nil {
				var n int
				n, empty = t.expireBig(s, idx, big, now)
				total += n
			} else {
				b, n := t.expire(s, &fam4, s.swarms[idx], now)
				s.swarms[idx] = b
				total += n
				empty = fam4.count(b) == 0
				if v6 := s.v6blob(b); v6 != nil {
					v6, n = t.expire(s, &fam6, v6, now)
					total += n
					s.setV6(b, v6)
					empty = empty && fam6.count(v6) == 0
				}
			}
			b := s.swarms[idx]
			if empty && age(now, binary.LittleEndian.Uint16(b[offLast:])) >= t.ttlTicks {
				t.removeSwarm(s, idx)
				continue // the last swarm moved into idx
			}
			idx++
		}
		t.compactShard(s)
		s.mu.Unlock()
	}
	t.metrics.expired.Add(uint64(total))
	return total
}

// expire drops the expired records of one list, keeping both regions
// sorted, and returns the list and how many records it dropped.
func (t *Tracker) expire(s *shard, f *family, b []byte, now uint16) ([]byte, int) {
	n, ns := f.count(b), f.seeds(b)
	w, seeds := 0, 0
	for i := 0; i < n; i++ {
		r := f.rec(b, i)
		if age(now, f.tick(r)) >= t.ttlTicks {
			continue
		}
		if w != i {
			copy(f.rec(b, w), r)
		}
		if i < ns {
			seeds++
		}
		w++
	}
	if w == n {
		return b, 0
	}
	s.count[f.idx][0] -= ns - seeds
	s.count[f.idx][1] -= (n - ns) - (w - seeds)
	b = b[:f.off+w*f.recLen]
	f.setSeeds(b, seeds)
	return shrink(b), n - w
}

// expireBig expires the buckets of a big swarm and merges it back when it
// has shrunk. It returns the records removed and whether none is left.
func (t *Tracker) expireBig(s *shard, idx int, big *bigSwarm, now uint16) (int, bool) {
	removed, left := 0, 0
	for i := range big.lists {
		bl := &big.lists[i]
		bf := bucketFamily([]*family{&fam4, &fam6}[i])
		bl.seeds, bl.leechers = 0, 0
		for k, b := range bl.buckets {
			b, n := t.expire(s, bf, b, now)
			bl.buckets[k] = b
			removed += n
			ns := bf.seeds(b)
			bl.seeds += ns
			bl.leechers += bf.count(b) - ns
		}
		left += bl.seeds + bl.leechers
	}
	if max(big.lists[0].seeds+big.lists[0].leechers, big.lists[1].seeds+big.lists[1].leechers) < bigThreshold/4 {
		t.unbig(s, idx, big)
	}
	return removed, left == 0
}

// compactShard gives back memory after many swarms went away.
func (t *Tracker) compactShard(s *shard) {
	n := len(s.swarms)
	if cap(s.swarms) > 64 && cap(s.swarms) > 2*n {
		s.swarms = append(make([][]byte, 0, n+n/8), s.swarms...)
	}
	size := 8
	for n*8 > size*7 {
		size *= 2
	}
	if len(s.table) > 8 && len(s.table) >= 4*size {
		t.rehash(s, size*2)
	}
	if n == 0 {
		s.table = nil
	}
	if s.v6 != nil && len(s.v6) == 0 {
		s.v6 = nil
	}
	if s.big != nil && len(s.big) == 0 {
		s.big = nil
	}
}
