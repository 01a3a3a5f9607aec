package tracker

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"time"
)

// State file format (integers little-endian; record bytes as stored):
//
//	magic    "GALETRK1"
//	savedAt  int64, unix nanoseconds
//	swarms, each:
//	  'S' infohash[20] completed u32 lastAge u32 n4 u32 seeds4 u32 n6 u32 seeds6 u32
//	  n4 IPv4 records: id[20] addr[4] port[2] key[4] age u32
//	  n6 IPv6 records: id[20] addr[16] port[2] key[4] age u32
//	'E' swarmCount u64 crc32c u32 (of every byte before the CRC)
//
// Ages are seconds before savedAt. Each region (seeders, then leechers) is
// sorted by peer ID. Loading checks the CRC, the order and every count, so
// a damaged file is refused as a whole.
var stateMagic = [8]byte{'G', 'A', 'L', 'E', 'T', 'R', 'K', '1'}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// maxStateRecords bounds one swarm's records in a state file.
const maxStateRecords = 1 << 26

// StateInfo describes a saved or loaded state.
type StateInfo struct {
	Swarms, Peers int
	// Dropped counts peers in a loaded file that had expired meanwhile.
	Dropped  int
	Duration time.Duration
}

// WriteState writes the store to w. Each shard is copied under its lock
// (a memory copy of a 1/256 share) and encoded after the lock is
// released, so announces are not held up by the encoding or by w.
func (t *Tracker) WriteState(w io.Writer) (StateInfo, error) {
	start := time.Now()
	now := t.now()
	nowTick := t.tickAt(now)
	var info StateInfo
	crc := uint32(0)
	out := make([]byte, 0, 64<<10)
	flush := func(force bool) error {
		if len(out) == 0 || (!force && len(out) < 60<<10) {
			return nil
		}
		crc = crc32.Update(crc, crcTable, out)
		_, err := w.Write(out)
		out = out[:0]
		return err
	}
	out = append(out, stateMagic[:]...)
	out = binary.LittleEndian.AppendUint64(out, uint64(now.UnixNano()))

	var raw []byte // copied blobs of one shard
	type span struct {
		n4, n6 int  // bytes of the IPv4 blob and of the IPv6 blob
		sort   bool // from a big swarm: regions still to be sorted
	}
	var lens []span
	for i := range t.shards {
		s := &t.shards[i]
		raw, lens = raw[:0], lens[:0]
		s.mu.Lock()
		for _, b := range s.swarms {
			start := len(raw)
			if big := s.bigOf(b); big != nil {
				raw = append(raw, b[:hdrLen]...)
				fam4.setSeeds(raw[start:], big.lists[0].seeds)
				raw = appendBuckets(raw, &big.lists[0], &fam4b)
				mid := len(raw)
				if big.lists[1].seeds+big.lists[1].leechers > 0 {
					raw = binary.LittleEndian.AppendUint32(raw, uint32(big.lists[1].seeds))
					raw = appendBuckets(raw, &big.lists[1], &fam6)
				}
				lens = append(lens, span{mid - start, len(raw) - mid, true})
				continue
			}
			raw = append(raw, b...)
			v6 := s.v6blob(b)
			raw = append(raw, v6...)
			lens = append(lens, span{len(b), len(v6), false})
		}
		s.mu.Unlock()
		rest := raw
		for _, l := range lens {
			b := rest[:l.n4]
			v6 := rest[l.n4 : l.n4+l.n6]
			rest = rest[l.n4+l.n6:]
			if l.sort {
				sortRegions(b, &fam4)
				if len(v6) > 0 {
					sortRegions(v6, &fam6)
				}
			}
			n4, s4 := fam4.count(b), fam4.seeds(b)
			n6, s6 := 0, 0
			if len(v6) > 0 {
				n6, s6 = fam6.count(v6), fam6.seeds(v6)
			}
			out = append(out, 'S')
			out = append(out, b[:20]...)
			out = append(out, b[offCompleted:offCompleted+4]...)
			out = binary.LittleEndian.AppendUint32(out, t.ageSeconds(nowTick, binary.LittleEndian.Uint16(b[offLast:])))
			for _, v := range [4]int{n4, s4, n6, s6} {
				out = binary.LittleEndian.AppendUint32(out, uint32(v))
			}
			for k := 0; k < n4; k++ {
				out = t.appendStateRecord(out, &fam4, fam4.rec(b, k), nowTick)
				if err := flush(false); err != nil {
					return info, err
				}
			}
			for k := 0; k < n6; k++ {
				out = t.appendStateRecord(out, &fam6, fam6.rec(v6, k), nowTick)
				if err := flush(false); err != nil {
					return info, err
				}
			}
			info.Swarms++
			info.Peers += n4 + n6
		}
		if err := flush(false); err != nil {
			return info, err
		}
	}
	out = append(out, 'E')
	out = binary.LittleEndian.AppendUint64(out, uint64(info.Swarms))
	if err := flush(true); err != nil {
		return info, err
	}
	var tail [4]byte
	binary.LittleEndian.PutUint32(tail[:], crc)
	if _, err := w.Write(tail[:]); err != nil {
		return info, err
	}
	info.Duration = time.Since(start)
	return info, nil
}

// appendBuckets appends the records of bl, all seeders first.
func appendBuckets(dst []byte, bl *bigList, bf *family) []byte {
	for _, b := range bl.buckets {
		dst = append(dst, b[bf.off:bf.off+bf.seeds(b)*bf.recLen]...)
	}
	for _, b := range bl.buckets {
		dst = append(dst, b[bf.off+bf.seeds(b)*bf.recLen:]...)
	}
	return dst
}

// sortRegions sorts the seeder and the leecher region of list by ID.
func sortRegions(list []byte, f *family) {
	ns := f.seeds(list)
	p := f.off + ns*f.recLen
	sortRecords(list[f.off:p], f.recLen)
	sortRecords(list[p:], f.recLen)
}

func (t *Tracker) ageSeconds(now, tick uint16) uint32 {
	return uint32(time.Duration(age(now, tick)) * t.unit / time.Second)
}

func (t *Tracker) appendStateRecord(out []byte, f *family, r []byte, now uint16) []byte {
	out = append(out, r[:f.tickOff()]...)
	return binary.LittleEndian.AppendUint32(out, t.ageSeconds(now, f.tick(r)))
}

// SaveStateFile writes the state to path atomically: a temporary file in
// the same directory is written, synced and renamed over path, and the
// directory is synced. The file is created with mode 0600.
func (t *Tracker) SaveStateFile(path string) (StateInfo, error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		t.metrics.snapshotErrors.Add(1)
		return StateInfo{}, err
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
			t.metrics.snapshotErrors.Add(1)
		}
	}()
	bw := bufio.NewWriterSize(tmp, 256<<10)
	info, err := t.WriteState(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = tmp.Sync()
	}
	if err == nil {
		err = tmp.Close()
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return info, fmt.Errorf("saving state to %s: %w", path, err)
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // not supported everywhere; the rename is done
		d.Close()
	}
	t.metrics.snapshotAt.Store(t.now().UnixNano())
	t.metrics.snapshotDur.Store(int64(info.Duration))
	t.metrics.snapshotPeers.Store(int64(info.Peers))
	return info, nil
}

// LoadStateFile loads a state saved by SaveStateFile. A missing file is
// not an error (the returned info is zero). See ReadState.
func (t *Tracker) LoadStateFile(path string) (StateInfo, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return StateInfo{}, nil
	}
	if err != nil {
		return StateInfo{}, err
	}
	defer f.Close()
	info, err := t.ReadState(bufio.NewReaderSize(f, 256<<10))
	if err != nil {
		return info, fmt.Errorf("loading state from %s: %w", path, err)
	}
	return info, nil
}

// errCorrupt wraps every format error of ReadState.
var errCorrupt = errors.New("corrupt state")

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errCorrupt, fmt.Sprintf(format, args...))
}

// ReadState replaces the store's swarms with those read from r. Peers
// whose age (plus the time since the state was saved) exceeds the peer TTL
// are dropped. The file is verified completely before anything is
// replaced; on error the store is unchanged.
func (t *Tracker) ReadState(r io.Reader) (StateInfo, error) {
	start := time.Now()
	var info StateInfo
	h := crc32.New(crcTable)
	tr := io.TeeReader(r, h)
	var hdr [16]byte
	if _, err := io.ReadFull(tr, hdr[:]); err != nil {
		return info, corrupt("header: %v", err)
	}
	if [8]byte(hdr[:8]) != stateMagic {
		return info, corrupt("not a gale tracker state file")
	}
	now := t.now()
	downtime := max(now.Sub(time.Unix(0, int64(binary.LittleEndian.Uint64(hdr[8:])))), 0)
	nowTick := t.tickAt(now)

	fresh := new([numShards]shard)
	var scratch []byte
	for {
		var tag [1]byte
		if _, err := io.ReadFull(tr, tag[:]); err != nil {
			return info, corrupt("swarm tag: %v", err)
		}
		if tag[0] == 'E' {
			break
		}
		if tag[0] != 'S' {
			return info, corrupt("unexpected byte %#x", tag[0])
		}
		var sh [44]byte
		if _, err := io.ReadFull(tr, sh[:]); err != nil {
			return info, corrupt("swarm header: %v", err)
		}
		ih := InfoHash(sh[:20])
		completed := binary.LittleEndian.Uint32(sh[20:])
		lastAge := binary.LittleEndian.Uint32(sh[24:])
		var cnt [4]int
		for k := range cnt {
			cnt[k] = int(binary.LittleEndian.Uint32(sh[28+4*k:]))
		}
		if cnt[0] > maxStateRecords || cnt[2] > maxStateRecords || cnt[1] > cnt[0] || cnt[3] > cnt[2] {
			return info, corrupt("swarm %v: bad counts %v", ih, cnt)
		}
		hv := t.hash(&ih)
		s := &fresh[hv%numShards]
		if _, idx := s.lookup(hv, &ih); idx >= 0 {
			return info, corrupt("swarm %v appears twice", ih)
		}
		lastTick := nowTick - t.toTicks(time.Duration(lastAge)*time.Second+downtime)
		idx := t.addSwarm(s, hv, &ih, lastTick)
		b := s.swarms[idx]
		binary.LittleEndian.PutUint32(b[offCompleted:], completed)
		var err error
		var kept, dropped int
		scratch, kept, dropped, err = t.readList(tr, s, &fam4, scratch, cnt[0], cnt[1], downtime, nowTick)
		if err != nil {
			return info, corrupt("swarm %v: %v", ih, err)
		}
		if kept > 0 {
			b = append(b, scratch[hdrLen:]...)
			fam4.setSeeds(b, fam4.seeds(scratch))
			s.swarms[idx] = b
		}
		info.Peers += kept
		info.Dropped += dropped
		if cnt[2] > 0 {
			scratch, kept, dropped, err = t.readList(tr, s, &fam6, scratch, cnt[2], cnt[3], downtime, nowTick)
			if err != nil {
				return info, corrupt("swarm %v: %v", ih, err)
			}
			if kept > 0 {
				s.setV6(b, append([]byte(nil), scratch...))
			}
			info.Peers += kept
			info.Dropped += dropped
		}
		if b := s.swarms[idx]; fam4.count(b) > bigThreshold || (s.v6blob(b) != nil && fam6.count(s.v6blob(b)) > bigThreshold) {
			t.makeBig(s, idx)
		}
		info.Swarms++
	}
	var tail [8]byte
	if _, err := io.ReadFull(tr, tail[:]); err != nil {
		return info, corrupt("trailer: %v", err)
	}
	sum := h.Sum32()
	var crc [4]byte
	if _, err := io.ReadFull(r, crc[:]); err != nil {
		return info, corrupt("checksum: %v", err)
	}
	if binary.LittleEndian.Uint64(tail[:]) != uint64(info.Swarms) {
		return info, corrupt("trailer counts %d swarms, read %d", binary.LittleEndian.Uint64(tail[:]), info.Swarms)
	}
	if binary.LittleEndian.Uint32(crc[:]) != sum {
		return info, corrupt("checksum mismatch")
	}
	var total int64
	for i := range t.shards {
		s, f := &t.shards[i], &fresh[i]
		s.mu.Lock()
		old := len(s.swarms)
		s.table, s.swarms, s.v6, s.big, s.count = f.table, f.swarms, f.v6, f.big, f.count
		total += int64(len(s.swarms)) - int64(old)
		s.mu.Unlock()
	}
	t.swarmCount.Add(total)
	info.Duration = time.Since(start)
	return info, nil
}

func (t *Tracker) toTicks(d time.Duration) uint16 {
	ticks := (d + t.unit - 1) / t.unit
	return uint16(min(ticks, time.Duration(t.ttlTicks)))
}

// readList reads n records (the first seeds of them seeders) into scratch,
// laid out as a blob of family f, and counts the kept ones into s.
func (t *Tracker) readList(r io.Reader, s *shard, f *family, scratch []byte, n, seeds int, downtime time.Duration, now uint16) ([]byte, int, int, error) {
	scratch = append(scratch[:0], make([]byte, f.off)...)
	fileRec := f.tickOff() + 4
	var buf [rec6 + 4]byte
	var prev [20]byte
	kept, keptSeeds, dropped := 0, 0, 0
	for i := 0; i < n; i++ {
		rec := buf[:fileRec]
		if _, err := io.ReadFull(r, rec); err != nil {
			return scratch, 0, 0, err
		}
		if i != 0 && i != seeds && bytes.Compare(prev[:], rec[:20]) >= 0 {
			return scratch, 0, 0, errors.New("records out of order")
		}
		copy(prev[:], rec[:20])
		a := time.Duration(binary.LittleEndian.Uint32(rec[f.tickOff():]))*time.Second + downtime
		if a >= t.cfg.PeerTTL {
			dropped++
			continue
		}
		if i < seeds {
			keptSeeds++
		}
		scratch = append(scratch, rec[:f.tickOff()]...)
		scratch = binary.LittleEndian.AppendUint16(scratch, now-t.toTicks(a))
		kept++
	}
	// Regions must not share an ID either.
	f.setSeeds(scratch, keptSeeds)
	if keptSeeds > 0 && kept > keptSeeds {
		for i := keptSeeds; i < kept; i++ {
			id := (*peerID)(f.rec(scratch, i)[:20])
			if _, dup := f.search(scratch, 0, keptSeeds, id); dup {
				return scratch, 0, 0, errors.New("peer both seeder and leecher")
			}
		}
	}
	s.count[f.idx][0] += keptSeeds
	s.count[f.idx][1] += kept - keptSeeds
	return scratch, kept, dropped, nil
}
