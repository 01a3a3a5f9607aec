package tracker

import (
	"encoding/binary"
	"hash/maphash"
	"sort"

	"github.com/gale-bt/gale/internal/peer"
)

// Big swarms. A list sorted by peer ID makes inserting and removing a
// peer cost a memory move of half the list, fine for thousands of peers
// but not for a million (a flood of new peers would hold the shard lock
// for milliseconds each). A swarm whose list of one family outgrows
// bigThreshold records therefore moves both families into buckets: the
// bucket of a peer is chosen by a keyed hash of its ID, each bucket is a
// small list in the usual layout, and buckets split in two when they
// average more than bucketMax records. The swarm blob keeps only its
// header (flagBig set); the buckets live in shard.big. A big swarm that
// shrinks below a quarter of bigThreshold is merged back by Sweep.
//
// (Variables so that tests can exercise the transitions with small
// swarms.)
var (
	bigThreshold = 4096
	bucketMax    = 2048
)

type bigList struct {
	buckets         [][]byte // each: seeders u32, then seeder and leecher records
	seeds, leechers int
}

type bigSwarm struct {
	lists [2]bigList // by family index
}

// fam4b is the IPv4 record layout inside a bucket (fam6 already has the
// 4-byte header).
var fam4b = family{ipLen: 4, recLen: rec4, off: v6HdrLen, seedOff: 0, idx: 0}

func bucketFamily(f *family) *family {
	if f.idx == 0 {
		return &fam4b
	}
	return &fam6
}

// bigOf returns the buckets of swarm blob b, or nil for a small swarm.
func (s *shard) bigOf(b []byte) *bigSwarm {
	if binary.LittleEndian.Uint16(b[offFlags:])&flagBig == 0 {
		return nil
	}
	return s.big[InfoHash(b[:20])]
}

func (t *Tracker) bucketOf(id *peer.ID, n int) int {
	return int(maphash.Comparable(t.seed, *id)>>7) & (n - 1)
}

// makeBig moves swarm idx's records into buckets.
func (t *Tracker) makeBig(s *shard, idx int) *bigSwarm {
	b := s.swarms[idx]
	big := &bigSwarm{}
	big.lists[0] = t.distribute(b, &fam4)
	big.lists[1] = t.distribute(s.v6blob(b), &fam6)
	s.setV6(b, nil)
	hb := make([]byte, hdrLen)
	copy(hb, b[:hdrLen])
	fam4.setSeeds(hb, 0)
	fl := binary.LittleEndian.Uint16(hb[offFlags:])
	binary.LittleEndian.PutUint16(hb[offFlags:], fl|flagBig)
	s.swarms[idx] = hb
	if s.big == nil {
		s.big = make(map[InfoHash]*bigSwarm)
	}
	s.big[InfoHash(hb[:20])] = big
	return big
}

// distribute spreads a sorted list over enough buckets for at most
// bucketMax/2 records each. Walking the seeders, then the leechers, in
// order keeps every bucket's regions sorted.
func (t *Tracker) distribute(list []byte, f *family) bigList {
	n, ns := 0, 0
	if list != nil {
		n, ns = f.count(list), f.seeds(list)
	}
	nb := 1
	for nb*bucketMax/2 < n {
		nb *= 2
	}
	return t.spread(nb, f, func(yield func(r []byte, seeder bool)) {
		for i := 0; i < n; i++ {
			yield(f.rec(list, i), i < ns)
		}
	})
}

// spread builds nb buckets from records given seeders first, each region
// in ID order.
func (t *Tracker) spread(nb int, f *family, each func(yield func(r []byte, seeder bool))) bigList {
	bf := bucketFamily(f)
	sizes := make([]int, nb)
	each(func(r []byte, _ bool) { sizes[t.bucketOf((*peer.ID)(r[:20]), nb)]++ })
	bl := bigList{buckets: make([][]byte, nb)}
	for k := range bl.buckets {
		bl.buckets[k] = make([]byte, bf.off, bf.off+sizes[k]*bf.recLen)
	}
	each(func(r []byte, seeder bool) {
		k := t.bucketOf((*peer.ID)(r[:20]), nb)
		bl.buckets[k] = append(bl.buckets[k], r...)
		if seeder {
			bf.setSeeds(bl.buckets[k], bf.seeds(bl.buckets[k])+1)
			bl.seeds++
		} else {
			bl.leechers++
		}
	})
	return bl
}

// splitBuckets doubles the number of buckets.
func (t *Tracker) splitBuckets(bl *bigList, bf *family) {
	old := bl.buckets
	*bl = t.spread(2*len(old), bf, func(yield func(r []byte, seeder bool)) {
		for _, b := range old {
			for i := 0; i < bf.seeds(b); i++ {
				yield(bf.rec(b, i), true)
			}
		}
		for _, b := range old {
			n, ns := bf.count(b), bf.seeds(b)
			for i := ns; i < n; i++ {
				yield(bf.rec(b, i), false)
			}
		}
	})
}

// flatten returns the records of bl as one list of family f: seeders,
// then leechers, each region sorted by ID.
func flatten(bl *bigList, f *family) []byte {
	bf := bucketFamily(f)
	out := make([]byte, f.off, f.off+(bl.seeds+bl.leechers)*f.recLen)
	for pass := 0; pass < 2; pass++ {
		start := len(out)
		for _, b := range bl.buckets {
			n, ns := bf.count(b), bf.seeds(b)
			lo, hi := 0, ns
			if pass == 1 {
				lo, hi = ns, n
			}
			out = append(out, b[bf.off+lo*bf.recLen:bf.off+hi*bf.recLen]...)
		}
		sortRecords(out[start:], f.recLen)
		if pass == 0 {
			f.setSeeds(out, (len(out)-start)/f.recLen)
		}
	}
	return out
}

// unbig merges a big swarm that has shrunk back into the small layout.
func (t *Tracker) unbig(s *shard, idx int, big *bigSwarm) {
	hb := s.swarms[idx]
	l4 := flatten(&big.lists[0], &fam4)
	copy(l4, hb[:hdrLen])
	fam4.setSeeds(l4, big.lists[0].seeds)
	fl := binary.LittleEndian.Uint16(l4[offFlags:])
	binary.LittleEndian.PutUint16(l4[offFlags:], fl&^flagBig)
	delete(s.big, InfoHash(hb[:20]))
	s.swarms[idx] = l4
	s.setV6(l4, flatten(&big.lists[1], &fam6))
}

// sampleBig is sample over the buckets of bl: want entries at evenly
// spaced positions of the virtual concatenation of the eligible regions
// (leechers only for a seeder), skipping the requester (bucket selfB,
// index selfI; or by ID when selfB < 0) and expired records.
func (t *Tracker) sampleBig(dst []byte, bl *bigList, bf *family, selfB, selfI int, seeder bool, want int, now uint16, withIDs bool, selfID *peer.ID) []byte {
	m := bl.seeds + bl.leechers
	if seeder {
		m = bl.leechers
	}
	selfIn := selfB >= 0 && !seeder
	if selfIn {
		m--
	}
	if m <= 0 {
		return dst
	}
	eligible := func(b []byte) (lo, hi int) {
		lo, hi = 0, bf.count(b)
		if seeder {
			lo = bf.seeds(b)
		}
		return lo, hi
	}
	emit := func(k, i int) {
		if selfID != nil && [20]byte(bf.rec(bl.buckets[k], i)[:20]) == *selfID {
			return
		}
		dst = t.emit(dst, bf, bl.buckets[k], i, now, withIDs)
	}
	if want >= m {
		for k, b := range bl.buckets {
			lo, hi := eligible(b)
			for i := lo; i < hi; i++ {
				if !(selfIn && k == selfB && i == selfI) {
					emit(k, i)
				}
			}
		}
		return dst
	}
	// Positions off + j*m/want (mod m) in increasing order: those before
	// the wrap-around come last.
	off := randN(m)
	k0 := 0
	for k0 < want && off+k0*m/want < m {
		k0++
	}
	b, base := 0, 0 // current bucket and eligible records before it
	lo, hi := eligible(bl.buckets[0])
	size := func() int {
		n := hi - lo
		if selfIn && b == selfB {
			n--
		}
		return n
	}
	for j := 0; j < want; j++ {
		kk := (k0 + j) % want
		p := off + kk*m/want
		if p >= m {
			p -= m
		}
		for p >= base+size() {
			base += size()
			b++
			lo, hi = eligible(bl.buckets[b])
		}
		i := lo + p - base
		if selfIn && b == selfB && i >= selfI {
			i++
		}
		emit(b, i)
	}
	return dst
}

// recSorter sorts fixed-size records by their leading 20-byte ID.
type recSorter struct {
	b  []byte
	rs int
}

func (r recSorter) Len() int { return len(r.b) / r.rs }
func (r recSorter) Less(i, j int) bool {
	return string(r.b[i*r.rs:i*r.rs+20]) < string(r.b[j*r.rs:j*r.rs+20])
}
func (r recSorter) Swap(i, j int) {
	var tmp [rec6]byte
	a, c := r.b[i*r.rs:(i+1)*r.rs], r.b[j*r.rs:(j+1)*r.rs]
	copy(tmp[:r.rs], a)
	copy(a, c)
	copy(c, tmp[:r.rs])
}

func sortRecords(b []byte, rs int) { sort.Sort(recSorter{b, rs}) }
