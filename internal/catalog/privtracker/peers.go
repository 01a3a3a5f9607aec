package privtracker

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"math/bits"
	"net/netip"
	"sync"
	"time"

	"github.com/gale-bt/gale/internal/catalog"
	"github.com/gale-bt/gale/internal/peer"
	"github.com/gale-bt/gale/internal/tracker"
)

// The peer table holds, per (user, announced info hash, peer ID), what the
// policy and the accounting need between two announces of a peer, so that
// an announce finds its peer once:
//
//   - the admission: the announce key the policy last admitted for the
//     peer and the snapshot generation it was admitted in (Private.gen,
//     bumped by Load and by every Refresh that applies a change: a user
//     disabled, a key reset, rights, rules, settings, a torrent changed).
//     An admission of the current generation means that at this snapshot
//     the torrent is registered and not deleted, the user exists, is
//     enabled and may see it, and the key is right: the next announce
//     needs only the key comparison (constant time, with the remembered
//     key) and the client rules (which depend on the peer ID). A catalog
//     change thus sends every peer through the full check (and its
//     SHA-1) once more, as soon as Refresh has applied it.
//   - the pending accounting update (see Record), if any, folded as
//     catalog.PeerUpdate does.
//
// Announce hands Record the entry's place in the table through
// Grant.Hint (the engine passes it to Record as Fact.Hint, untouched);
// Record checks that the entry
// there is still the peer's before using it, and looks the peer up
// otherwise.
//
// Memory is bounded: an entry exists while its update is pending (at most
// MaxPending) and for a while after (keepClean flush intervals), at most
// maxPeers() entries exist, a flush removes all entries without a pending
// update when more than MaxPending exist, and shrinks tables that became
// mostly empty.
//
// The table of a shard is open-addressed (linear probing, at most half
// full) by a seeded hash of the key, and holds the entries themselves, 128
// bytes each: an announce of a known peer reads one cache line to decide
// and a second one to account. What only the first announce of an update
// and the flushes need lives in a parallel table (peerCold).
const peerShards = 16

type peerShard struct {
	mu    sync.Mutex
	tab   []peerEntry // len 0 or a power of 2
	cold  []peerCold  // same positions
	used  int         // live entries
	tombs int         // removed entries still in probe chains
	_     [64]byte    // keep shards apart in memory
}

type pendKey struct {
	user uint32 // the user ID (0: an empty slot)
	ih   tracker.InfoHash
	peer peer.ID
}

// digestLen is the length of the SHA-1 part of an announce key, decoded.
const digestLen = (catalog.PasskeyLen - 8) / 2

type peerEntry struct {
	// The first cache line: the key, the admission, flags.
	k      pendKey         // 44 bytes
	digest [digestLen]byte // the admitted key's digest, decoded
	word   uint64          // admission generation (genMask; 0: none) and flags
	// The second: the pending update (see fold): the last announce's
	// counters and time (also the entry's age), and the sums since the
	// first.
	up, down, left uint64
	at             int64
	dUp, dDown     int64
	seed, leech    time.Duration
}

// peerCold is what an announce that continues a pending update does not
// touch: the update's first announce, and the peer's address as of then.
type peerCold struct {
	first catalog.Observation
	addr  netip.AddrPort
}

// The flags in peerEntry.word.
const (
	genMask       = 1<<56 - 1
	flagPending   = 1 << 56 // an update is pending
	flagCompleted = 1 << 57 // the update saw a completion
	flagTomb      = 1 << 58 // a removed entry
	eventShift    = 59      // the last announce's event, 3 bits
)

// hintIndexBits splits Grant.Hint: shard and position + 1.
const hintIndexBits = 24

// maxTable is the largest table of a shard (positions fit hintIndexBits).
const maxTable = 1 << (hintIndexBits - 1)

// keySeed keys the hash of the tables, so that nobody can choose keys
// whose hashes collide (which would only make lookups probe longer).
var keySeed = func() (s [2]uint64) {
	var b [16]byte
	rand.Read(b[:]) // never fails (Go 1.24)
	return [2]uint64{binary.LittleEndian.Uint64(b[:8]) | 1, binary.LittleEndian.Uint64(b[8:])}
}()

func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

func (k *pendKey) hash() uint64 {
	le := binary.LittleEndian
	h := keySeed[1] ^ uint64(k.user)
	h = mix(h^le.Uint64(k.ih[0:]), keySeed[0]^le.Uint64(k.ih[8:]))
	h = mix(h^uint64(le.Uint32(k.ih[16:])), keySeed[0]^le.Uint64(k.peer[0:]))
	h = mix(h^le.Uint64(k.peer[8:]), keySeed[0]^uint64(le.Uint32(k.peer[16:])))
	return mix(h, keySeed[0]^0x9E3779B97F4A7C15)
}

func (p *Private) peerShardOf(h uint64) (*peerShard, int) {
	i := int(h >> 60) // peerShards == 16
	return &p.peers[i], i
}

func hintOf(si int, i int32) uint64 { return uint64(si)<<hintIndexBits | uint64(i) + 1 }

// maxPeers bounds the peer table: the pending peers and a quarter more.
func (p *Private) maxPeers() int64 { return int64(p.cfg.MaxPending + (p.cfg.MaxPending+3)/4) }

// find returns the position of k's entry in sh (h is k's hash), or -1.
// Called with sh.mu held.
func (sh *peerShard) find(k *pendKey, h uint64) int32 {
	if len(sh.tab) == 0 || k.user == 0 {
		return -1
	}
	mask := len(sh.tab) - 1
	for pos := int(h) & mask; ; pos = (pos + 1) & mask {
		e := &sh.tab[pos]
		if e.k == *k {
			return int32(pos)
		}
		if e.k.user == 0 && e.word&flagTomb == 0 {
			return -1
		}
	}
}

// hinted returns the position of k's entry if hint (Grant.Hint, naming
// this shard) points at it, or -1. Called with sh.mu
// held.
func (sh *peerShard) hinted(k *pendKey, hint uint64) int32 {
	if i := int32((hint - 1) & (1<<hintIndexBits - 1)); int(i) < len(sh.tab) && sh.tab[i].k == *k {
		return i
	}
	return -1
}

// addPeer makes an entry for k (not in sh; h is its hash) and returns its
// position, or -1 when the table is full. at is the entry's age. Called
// with sh.mu held.
func (p *Private) addPeer(sh *peerShard, k *pendKey, h uint64, at int64) int32 {
	if p.npeers.Add(1) > p.maxPeers() {
		p.npeers.Add(-1)
		return -1
	}
	if 2*(sh.used+sh.tombs+1) > len(sh.tab) {
		n := max(64, len(sh.tab))
		if 4*(sh.used+1) > n { // more than a quarter full without tombstones: grow
			n *= 2
		}
		if n > maxTable {
			p.npeers.Add(-1)
			return -1
		}
		sh.resize(n)
	}
	mask := len(sh.tab) - 1
	pos := int(h) & mask
	for sh.tab[pos].k.user != 0 {
		pos = (pos + 1) & mask
	}
	if sh.tab[pos].word&flagTomb != 0 {
		sh.tombs--
	}
	sh.tab[pos] = peerEntry{k: *k, at: at}
	sh.cold[pos] = peerCold{}
	sh.used++
	return int32(pos)
}

// removePeer deletes the entry at pos, which is not pending. Called with
// sh.mu held.
func (p *Private) removePeer(sh *peerShard, pos int32) {
	sh.tab[pos] = peerEntry{word: flagTomb}
	sh.cold[pos] = peerCold{}
	sh.used--
	sh.tombs++
	p.npeers.Add(-1)
}

// resize moves the entries to a table of n positions (a power of 2, more
// than twice the entries). Positions change: hints to moved entries no
// longer match and Record looks those peers up. Called with sh.mu held.
func (sh *peerShard) resize(n int) {
	tab, cold := sh.tab, sh.cold
	sh.tab, sh.cold, sh.tombs = make([]peerEntry, n), make([]peerCold, n), 0
	mask := n - 1
	for i := range tab {
		if tab[i].k.user == 0 {
			continue
		}
		pos := int(tab[i].k.hash()) & mask
		for sh.tab[pos].k.user != 0 {
			pos = (pos + 1) & mask
		}
		sh.tab[pos], sh.cold[pos] = tab[i], cold[i]
	}
}

// shrink gives back the memory of a table that became mostly empty (a
// burst of peers is over). Called with sh.mu held.
func (sh *peerShard) shrink() {
	if len(sh.tab) <= 1024 || 16*sh.used > len(sh.tab) {
		return
	}
	n := 64
	for 4*sh.used > n {
		n *= 2
	}
	sh.resize(n)
}

// keyDigest decodes the digest part of an announce key (lower-case hex);
// ok is false for other text. The caller checked the length.
func keyDigest(key []byte) (d [digestLen]byte, ok bool) {
	bad := byte(0)
	for i := range d {
		hi, lo := hexValue[key[8+2*i]], hexValue[key[9+2*i]]
		bad |= hi | lo
		d[i] = hi<<4 | lo&0xf
	}
	return d, bad < 16
}

// admitted looks up the admission of k at generation gen: hit reports
// that there is one, ok that key is its key (compared in constant time),
// and hint is the entry's place for Record.
func (p *Private) admitted(k *pendKey, key []byte, gen uint64) (hit, ok bool, hint uint64) {
	h := k.hash()
	sh, si := p.peerShardOf(h)
	var want [digestLen]byte
	sh.mu.Lock()
	if i := sh.find(k, h); i >= 0 {
		if e := &sh.tab[i]; e.word&genMask == gen {
			want, hit, hint = e.digest, true, hintOf(si, i)
		}
	}
	sh.mu.Unlock()
	if !hit {
		return false, false, 0
	}
	got, valid := keyDigest(key) // whether the text is hex tells nothing of want
	return true, subtle.ConstantTimeCompare(got[:], want[:]) == 1 && valid, hint
}

// admit remembers that k was admitted at generation gen (below 1<<56)
// with key (checked by the caller) and returns the entry's place, or 0
// when the table is full.
func (p *Private) admit(k *pendKey, key []byte, gen uint64) uint64 {
	d, ok := keyDigest(key)
	if !ok {
		return 0 // cannot happen: the key was checked
	}
	h := k.hash()
	sh, si := p.peerShardOf(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	i := sh.find(k, h)
	if i < 0 {
		if i = p.addPeer(sh, k, h, p.cfg.Now().UnixNano()); i < 0 {
			return 0
		}
	}
	e := &sh.tab[i]
	e.word = e.word&^genMask | gen&genMask
	e.digest = d
	return hintOf(si, i)
}

func (e *peerEntry) pending() bool { return e.word&flagPending != 0 }

// last returns the last announce of e's update.
func (e *peerEntry) last() catalog.Observation {
	return catalog.Observation{Uploaded: e.up, Downloaded: e.down, Left: e.left, At: e.at, Event: tracker.Event(e.word >> eventShift & 7)}
}

// setLast records o as the last announce (events beyond 7, which the
// engine does not produce, are kept as 7).
func (e *peerEntry) setLast(o catalog.Observation) {
	e.up, e.down, e.left, e.at = o.Uploaded, o.Downloaded, o.Left, o.At
	e.word = e.word&^(7<<eventShift) | uint64(min(o.Event, 7))<<eventShift
}

// update returns the pending update at pos (without IDs, address and the
// freeleech flags).
func (sh *peerShard) update(pos int32) catalog.PeerUpdate {
	e := &sh.tab[pos]
	return catalog.PeerUpdate{
		PeerKey: catalog.PeerKey{PeerID: e.k.peer}, First: sh.cold[pos].first, Last: e.last(),
		Up: e.dUp, Down: e.dDown, Seed: e.seed, Leech: e.leech, Completed: e.word&flagCompleted != 0,
	}
}

// fold adds an announce to the pending update at pos, as
// catalog.PeerUpdate.Add does (it is used for the arithmetic).
func (sh *peerShard) fold(pos int32, o catalog.Observation, maxGap time.Duration) {
	e := &sh.tab[pos]
	u := catalog.PeerUpdate{Last: e.last(), Up: e.dUp, Down: e.dDown, Seed: e.seed, Leech: e.leech, Completed: e.word&flagCompleted != 0}
	u.Add("", o, maxGap)
	e.setLast(u.Last)
	e.dUp, e.dDown, e.seed, e.leech = u.Up, u.Down, u.Seed, u.Leech
	if u.Completed {
		e.word |= flagCompleted
	}
}

// start makes o (from addr) the first announce of a pending update at
// pos.
func (sh *peerShard) start(pos int32, o catalog.Observation, addr netip.AddrPort) {
	e := &sh.tab[pos]
	u := catalog.NewPeerUpdate(catalog.PeerKey{}, "", o)
	e.setLast(u.Last)
	e.dUp, e.dDown, e.seed, e.leech = 0, 0, 0, 0
	e.word = e.word&^flagCompleted | flagPending
	if u.Completed {
		e.word |= flagCompleted
	}
	sh.cold[pos] = peerCold{first: u.First, addr: addr}
}

// settle marks the update at pos written.
func (sh *peerShard) settle(pos int32) {
	sh.tab[pos].word &^= flagPending | flagCompleted
}
