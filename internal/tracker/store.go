package tracker

import (
	"bytes"
	"encoding/binary"
	"sync"

	"github.com/gale-bt/gale/internal/peer"
)

// The swarm store. Each of numShards shards owns the swarms whose keyed
// hash selects it and is guarded by one mutex. A shard keeps:
//
//   - swarms: one []byte "blob" per swarm holding a 32-byte header followed
//     by the IPv4 peer records, seeders first then leechers, each region
//     sorted by peer ID (binary search, no per-peer pointers, no map per
//     swarm);
//   - table: an open-addressing index (linear probing, max load 7/8) of
//     uint32 slots, each an 8-bit hash tag and the swarm's index + 1;
//   - v6: the IPv6 records of the few swarms that have any, keyed by info
//     hash, in the same layout with a 4-byte header.
//
// Blob header (little-endian counts):
//
//	[0:20]  info hash
//	[20:24] completed count
//	[24:28] number of IPv4 seeders (records [0, n) of the seeder region)
//	[28:30] flags (flagV6, flagBig)
//	[30:32] tick of the last announce
//
// Peer record (addresses and port big-endian, as on the wire):
//
//	[0:20]           peer ID
//	[20:20+L]        address (L = 4 or 16)
//	[20+L:22+L]      port
//	[22+L:26+L]      key
//	[26+L:28+L]      tick of the last announce
//
// so that the compact entry (BEP 23 / BEP 7) is the slice rec[20:22+L] and
// the dictionary entry's ID and address are contiguous. An IPv4 peer thus
// costs 32 bytes plus its share of the header, index and slice headers.
const (
	numShards = 256

	hdrLen       = 32
	offCompleted = 20
	offSeeds4    = 24
	offFlags     = 28
	offLast      = 30

	flagV6  = 1 << 0 // the swarm has an entry in shard.v6
	flagBig = 1 << 1 // the swarm's records are in shard.big

	v6HdrLen = 4

	rec4 = 32
	rec6 = 44

	maxSwarmsPerShard = 1<<24 - 2
)

// family describes the record layout of one address family.
type family struct {
	ipLen   int // 4 or 16
	recLen  int // rec4 or rec6
	off     int // first record's offset in the blob
	seedOff int // offset of the uint32 seeder count in the blob
	idx     int // 0 for IPv4, 1 for IPv6
}

var (
	fam4 = family{ipLen: 4, recLen: rec4, off: hdrLen, seedOff: offSeeds4, idx: 0}
	fam6 = family{ipLen: 16, recLen: rec6, off: v6HdrLen, seedOff: 0, idx: 1}
)

func (f *family) count(b []byte) int { return (len(b) - f.off) / f.recLen }
func (f *family) seeds(b []byte) int { return int(binary.LittleEndian.Uint32(b[f.seedOff:])) }
func (f *family) setSeeds(b []byte, n int) {
	binary.LittleEndian.PutUint32(b[f.seedOff:], uint32(n))
}
func (f *family) rec(b []byte, i int) []byte {
	p := f.off + i*f.recLen
	return b[p : p+f.recLen : p+f.recLen]
}
func (f *family) keyOff() int  { return 22 + f.ipLen }
func (f *family) tickOff() int { return 26 + f.ipLen }
func (f *family) tick(r []byte) uint16 {
	return binary.LittleEndian.Uint16(r[f.tickOff():])
}

// search finds id among records [lo, hi) of b: its index and true, or the
// insertion index and false.
func (f *family) search(b []byte, lo, hi int, id *peer.ID) (int, bool) {
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		p := f.off + m*f.recLen
		switch c := bytes.Compare(b[p:p+20], id[:]); {
		case c < 0:
			lo = m + 1
		case c > 0:
			hi = m
		default:
			return m, true
		}
	}
	return lo, false
}

// insertAt opens a zeroed record slot at index i and returns the blob,
// possibly reallocated.
func (f *family) insertAt(b []byte, i int) []byte {
	old := len(b)
	b = grow(b, f.recLen)
	p := f.off + i*f.recLen
	copy(b[p+f.recLen:], b[p:old])
	clear(b[p : p+f.recLen])
	return b
}

// removeAt deletes record i.
func (f *family) removeAt(b []byte, i int) []byte {
	p := f.off + i*f.recLen
	copy(b[p:], b[p+f.recLen:])
	return b[:len(b)-f.recLen]
}

// move moves record from to index to, shifting the records between.
func (f *family) move(b []byte, from, to int) {
	if from == to {
		return
	}
	var tmp [rec6]byte
	r := tmp[:f.recLen]
	copy(r, f.rec(b, from))
	pf, pt := f.off+from*f.recLen, f.off+to*f.recLen
	if from < to {
		copy(b[pf:], b[pf+f.recLen:pt+f.recLen])
	} else {
		copy(b[pt+f.recLen:], b[pt:pf])
	}
	copy(b[pt:], r)
}

// grow extends b by n bytes. Blobs of up to 512 bytes grow exactly (the
// allocator rounds to its size classes, which are multiples of 32 there);
// larger ones by an extra eighth, so inserting into big swarms stays
// amortized while small swarms waste nothing.
func grow(b []byte, n int) []byte {
	need := len(b) + n
	if need <= cap(b) {
		return b[:need]
	}
	want := need
	if need > 512 {
		want += need / 8
	}
	nb := append([]byte(nil), make([]byte, want)...) // capacity rounded to a size class
	copy(nb, b)
	return nb[:need]
}

// shrink reallocates b when at least half of its capacity is unused.
func shrink(b []byte) []byte {
	if cap(b) <= 64 || cap(b)-len(b) < len(b) {
		return b
	}
	nb := append([]byte(nil), b...)
	return nb
}

type peerID = peer.ID

type shard struct {
	mu     sync.Mutex
	table  []uint32
	swarms [][]byte
	v6     map[InfoHash][]byte
	big    map[InfoHash]*bigSwarm
	// live record counts by family (0 IPv4, 1 IPv6) and role (0 seeders,
	// 1 leechers), maintained on every change.
	count [2][2]int
	_     [64]byte // keep neighbouring shards' locks off this cache line
}

func slotTag(h uint64) uint32 { return uint32(h >> 56) }
func slotHome(h uint64, mask int) int {
	return int(h>>8) & mask
}

// lookup returns the table slot of ih and its swarm index, or the empty
// slot where it would go and -1.
func (s *shard) lookup(h uint64, ih *InfoHash) (slot, idx int) {
	if len(s.table) == 0 {
		return -1, -1
	}
	mask := len(s.table) - 1
	tag := slotTag(h)
	for i := slotHome(h, mask); ; i = (i + 1) & mask {
		v := s.table[i]
		if v == 0 {
			return i, -1
		}
		if v>>24 == tag {
			j := int(v&0xffffff) - 1
			if [20]byte(s.swarms[j][:20]) == *ih {
				return i, j
			}
		}
	}
}

// addSwarm creates an empty swarm for ih (which must be absent) and
// returns its index. The caller counts it in swarmCount.
func (t *Tracker) addSwarm(s *shard, h uint64, ih *InfoHash, tick uint16) int {
	if (len(s.swarms)+1)*8 > len(s.table)*7 {
		t.rehash(s, max(8, 2*len(s.table)))
	}
	slot, _ := s.lookup(h, ih)
	b := make([]byte, hdrLen)
	copy(b, ih[:])
	binary.LittleEndian.PutUint16(b[offLast:], tick)
	if len(s.swarms) == cap(s.swarms) {
		ns := make([][]byte, len(s.swarms), len(s.swarms)+max(8, len(s.swarms)/8))
		copy(ns, s.swarms)
		s.swarms = ns
	}
	s.swarms = append(s.swarms, b)
	idx := len(s.swarms) - 1
	s.table[slot] = slotTag(h)<<24 | uint32(idx+1)
	return idx
}

func (t *Tracker) rehash(s *shard, size int) {
	s.table = make([]uint32, size)
	mask := size - 1
	for j, b := range s.swarms {
		h := t.hash((*InfoHash)(b[:20]))
		i := slotHome(h, mask)
		for s.table[i] != 0 {
			i = (i + 1) & mask
		}
		s.table[i] = slotTag(h)<<24 | uint32(j+1)
	}
}

// removeSwarm deletes swarm idx (its peers must already be accounted for)
// and moves the last swarm into its place.
func (t *Tracker) removeSwarm(s *shard, idx int) {
	b := s.swarms[idx]
	ih := (*InfoHash)(b[:20])
	if fl := binary.LittleEndian.Uint16(b[offFlags:]); fl&flagV6 != 0 {
		delete(s.v6, *ih)
	} else if fl&flagBig != 0 {
		delete(s.big, *ih)
	}
	h := t.hash(ih)
	slot, _ := s.lookup(h, ih)
	t.deleteSlot(s, slot)
	last := len(s.swarms) - 1
	if idx != last {
		mb := s.swarms[last]
		mh := t.hash((*InfoHash)(mb[:20]))
		mslot, _ := s.lookup(mh, (*InfoHash)(mb[:20]))
		s.table[mslot] = slotTag(mh)<<24 | uint32(idx+1)
		s.swarms[idx] = mb
	}
	s.swarms[last] = nil
	s.swarms = s.swarms[:last]
	t.swarmCount.Add(-1)
}

// deleteSlot empties a table slot, shifting later entries of the probe run
// back (no tombstones).
func (t *Tracker) deleteSlot(s *shard, i int) {
	mask := len(s.table) - 1
	s.table[i] = 0
	for j := (i + 1) & mask; s.table[j] != 0; j = (j + 1) & mask {
		v := s.table[j]
		b := s.swarms[int(v&0xffffff)-1]
		k := slotHome(t.hash((*InfoHash)(b[:20])), mask)
		// Move v to i unless its home k lies cyclically in (i, j].
		if (i < j && (k <= i || k > j)) || (i > j && k <= i && k > j) {
			s.table[i] = v
			s.table[j] = 0
			i = j
		}
	}
}

// v6blob returns the swarm's IPv6 blob, or nil.
func (s *shard) v6blob(b []byte) []byte {
	if binary.LittleEndian.Uint16(b[offFlags:])&flagV6 == 0 {
		return nil
	}
	return s.v6[InfoHash(b[:20])]
}

// setV6 stores (or with an empty blob, drops) the swarm's IPv6 blob.
func (s *shard) setV6(b, v6 []byte) {
	ih := InfoHash(b[:20])
	fl := binary.LittleEndian.Uint16(b[offFlags:])
	if len(v6) <= v6HdrLen {
		if fl&flagV6 != 0 {
			delete(s.v6, ih)
			binary.LittleEndian.PutUint16(b[offFlags:], fl&^flagV6)
		}
		return
	}
	if s.v6 == nil {
		s.v6 = make(map[InfoHash][]byte)
	}
	s.v6[ih] = v6
	binary.LittleEndian.PutUint16(b[offFlags:], fl|flagV6)
}

// swarmStats returns the counts of swarm blob b (both families).
func (s *shard) swarmStats(b []byte) ScrapeStats {
	st := ScrapeStats{Completed: int(binary.LittleEndian.Uint32(b[offCompleted:]))}
	if big := s.bigOf(b); big != nil {
		for i := range big.lists {
			st.Seeders += big.lists[i].seeds
			st.Leechers += big.lists[i].leechers
		}
		return st
	}
	st.Seeders = fam4.seeds(b)
	st.Leechers = fam4.count(b) - st.Seeders
	if v6 := s.v6blob(b); v6 != nil {
		n := fam6.seeds(v6)
		st.Seeders += n
		st.Leechers += fam6.count(v6) - n
	}
	return st
}
