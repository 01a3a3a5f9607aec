package tracker

import (
	"encoding/binary"
	"hash/maphash"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults used for zero Config fields.
const (
	DefaultInterval       = 30 * time.Minute
	DefaultNumWant        = 50
	DefaultNumWantMax     = 200
	DefaultStateInterval  = 5 * time.Minute
	defaultSweepMax       = 30 * time.Second
	maxTicksForTTL        = 16384 // TTL spans at most a quarter of the 16-bit tick range
	minimumPeerTTL        = 2 * time.Second
	maxReasonableInterval = 24 * time.Hour
)

// Config configures a Tracker. The zero value is an open tracker with the
// defaults below.
type Config struct {
	// Interval is the announce interval sent to clients (default 30m);
	// MinInterval the "min interval" (default half of Interval).
	Interval, MinInterval time.Duration
	// NumWantDefault is the number of peers sent when the client does not
	// say (default 50); NumWantMax caps what a client may ask for
	// (default 200).
	NumWantDefault, NumWantMax int
	// PeerTTL is how long a peer stays without announcing (default 1.5 x
	// Interval).
	PeerTTL time.Duration
	// Policy decides which announces are served (default Open).
	Policy Policy
	// Accounting, if set, receives every applied announce.
	Accounting Accounting
	// MaxSwarms and MaxPeersPerSwarm bound memory under floods of new
	// torrents or peers; zero means unlimited.
	MaxSwarms, MaxPeersPerSwarm int
	// StateFile, if set, is where Run saves the swarms every
	// StateInterval (default 5m) and when it returns.
	StateFile     string
	StateInterval time.Duration
	// Logger receives operational messages (default: discard).
	Logger *slog.Logger
	// Now is the clock (default time.Now); tests move it.
	Now func() time.Time
}

// Tracker is the engine. Create it with New; it starts no goroutines until
// Run is called.
type Tracker struct {
	cfg    Config
	policy Policy
	seed   maphash.Seed
	log    *slog.Logger
	now    func() time.Time

	epoch    time.Time     // tick 0
	realTime bool          // cfg.Now is time.Now: use the monotonic clock
	unit     time.Duration // length of one tick
	ttlTicks uint16

	shards [numShards]shard

	aliasMu sync.Mutex
	aliases atomic.Pointer[map[InfoHash]InfoHash]

	swarmCount atomic.Int64
	metrics    Metrics
}

// New returns a Tracker for cfg (see Config for defaults).
func New(cfg Config) *Tracker {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	cfg.Interval = min(cfg.Interval, maxReasonableInterval)
	if cfg.MinInterval <= 0 || cfg.MinInterval > cfg.Interval {
		cfg.MinInterval = cfg.Interval / 2
	}
	if cfg.NumWantMax <= 0 {
		cfg.NumWantMax = DefaultNumWantMax
	}
	if cfg.NumWantDefault <= 0 {
		cfg.NumWantDefault = DefaultNumWant
	}
	cfg.NumWantDefault = min(cfg.NumWantDefault, cfg.NumWantMax)
	if cfg.PeerTTL <= 0 {
		cfg.PeerTTL = cfg.Interval * 3 / 2
	}
	cfg.PeerTTL = max(cfg.PeerTTL, minimumPeerTTL)
	if cfg.StateInterval <= 0 {
		cfg.StateInterval = DefaultStateInterval
	}
	if cfg.Policy == nil {
		cfg.Policy = Open{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	realTime := cfg.Now == nil
	if realTime {
		cfg.Now = time.Now
	}
	t := &Tracker{
		cfg:      cfg,
		policy:   cfg.Policy,
		seed:     maphash.MakeSeed(),
		log:      cfg.Logger,
		now:      cfg.Now,
		realTime: realTime,
	}
	t.epoch = t.now()
	// One tick is a second, or longer for TTLs above 4.5 hours, so that
	// the TTL always spans at most a quarter of the 16-bit tick range and
	// records older than the TTL cannot alias young ones between sweeps.
	t.unit = time.Second
	if n := (cfg.PeerTTL + maxTicksForTTL*time.Second - 1) / (maxTicksForTTL * time.Second); n > 1 {
		t.unit = time.Duration(n) * time.Second
	}
	t.ttlTicks = uint16((cfg.PeerTTL + t.unit - 1) / t.unit)
	return t
}

// Config returns the effective configuration (defaults filled in).
func (t *Tracker) Config() Config { return t.cfg }

func (t *Tracker) hash(ih *InfoHash) uint64 { return maphash.Comparable(t.seed, *ih) }

func (t *Tracker) tickAt(now time.Time) uint16 {
	return uint16(now.Sub(t.epoch) / t.unit)
}

// sinceEpoch is the clock of the hot path: time.Since on the monotonic
// clock costs half of time.Now.
func (t *Tracker) sinceEpoch() time.Duration {
	if t.realTime {
		return time.Since(t.epoch)
	}
	return t.now().Sub(t.epoch)
}

// age returns how many ticks ago tick was, modulo 2^16.
func age(now, tick uint16) uint16 { return now - tick }

// Alias makes alias name the same swarm as canonical: announces and
// scrapes for either reach one set of peers (hybrid v1/v2 torrents, BEP
// 52). Aliases are not saved in state files. Registering is rare and
// copies the alias table; lookups are lock-free.
func (t *Tracker) Alias(alias, canonical InfoHash) {
	t.aliasMu.Lock()
	defer t.aliasMu.Unlock()
	m := map[InfoHash]InfoHash{}
	if old := t.aliases.Load(); old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	if alias == canonical {
		delete(m, alias)
	} else {
		m[alias] = canonical
	}
	t.aliases.Store(&m)
}

// Unalias removes an alias registered with Alias.
func (t *Tracker) Unalias(alias InfoHash) { t.Alias(alias, alias) }

// canonical resolves an alias.
func (t *Tracker) canonical(ih InfoHash) InfoHash {
	if m := t.aliases.Load(); m != nil && len(*m) > 0 {
		if c, ok := (*m)[ih]; ok {
			return c
		}
	}
	return ih
}

// Scrape returns the counts of the swarm for ih (zeros if it is unknown).
// The Policy may refuse with an error.
func (t *Tracker) Scrape(passkey []byte, ih InfoHash) (ScrapeStats, error) {
	if err := t.policy.Scrape(passkey, ih); err != nil {
		return ScrapeStats{}, err
	}
	ih = t.canonical(ih)
	h := t.hash(&ih)
	s := &t.shards[h%numShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	_, idx := s.lookup(h, &ih)
	if idx < 0 {
		return ScrapeStats{}, nil
	}
	return s.swarmStats(s.swarms[idx]), nil
}

// EachSwarm calls fn for every swarm with its counts, shard by shard,
// without holding locks while fn runs; fn returns false to stop.
func (t *Tracker) EachSwarm(fn func(ih InfoHash, st ScrapeStats) bool) {
	type item struct {
		ih InfoHash
		st ScrapeStats
	}
	var buf []item
	for i := range t.shards {
		s := &t.shards[i]
		buf = buf[:0]
		s.mu.Lock()
		for _, b := range s.swarms {
			buf = append(buf, item{InfoHash(b[:20]), s.swarmStats(b)})
		}
		s.mu.Unlock()
		for _, it := range buf {
			if !fn(it.ih, it.st) {
				return
			}
		}
	}
}

// Totals are store-wide counts.
type Totals struct {
	Swarms              int
	Seeders4, Leechers4 int
	Seeders6, Leechers6 int
	Completed           int
	SnapshotAge         time.Duration // since the last saved state; -1 if none
	SnapshotDuration    time.Duration
	SnapshotPeers       int
	SnapshotErrors      uint64
	WhitelistSize       int // -1 when not used
	BlacklistSize       int // -1 when not used
}

// Totals sums the shards' counters (one short lock per shard).
func (t *Tracker) Totals() Totals {
	var tot Totals
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		tot.Swarms += len(s.swarms)
		tot.Seeders4 += s.count[0][0]
		tot.Leechers4 += s.count[0][1]
		tot.Seeders6 += s.count[1][0]
		tot.Leechers6 += s.count[1][1]
		for _, b := range s.swarms {
			tot.Completed += int(binary.LittleEndian.Uint32(b[offCompleted:]))
		}
		s.mu.Unlock()
	}
	tot.SnapshotAge = -1
	if at := t.metrics.snapshotAt.Load(); at != 0 {
		tot.SnapshotAge = t.now().Sub(time.Unix(0, at))
	}
	tot.SnapshotDuration = time.Duration(t.metrics.snapshotDur.Load())
	tot.SnapshotPeers = int(t.metrics.snapshotPeers.Load())
	tot.SnapshotErrors = t.metrics.snapshotErrors.Load()
	tot.WhitelistSize, tot.BlacklistSize = -1, -1
	if lp, ok := t.policy.(*ListPolicy); ok {
		tot.WhitelistSize, tot.BlacklistSize = lp.Counts()
	}
	return tot
}

// randN returns a uniform int in [0, n).
func randN(n int) int { return int(rand.Uint64N(uint64(n))) }
