package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"

	"github.com/gale-bt/gale/internal/catalog"
)

// The tracker's accounting: the stored last counters of peers and the
// batched write of a flush (ApplyAccounting), the private tracker's hot
// path. A flush of N peers costs, whatever N, a handful of statements per
// table (see bulk): the peers' new last counters; one row per user and
// torrent; one per user; one per torrent, the deltas summed in Go first.
// The statements only ever touch rows by primary key, and migration 0002
// dropped the indexes on the columns they change (peers.at_ms,
// user_torrents.last_ms), which cost as much as the rows themselves.

// PeerLasts implements catalog.TrackerStore.
func (s *Store) PeerLasts(ctx context.Context, keys []catalog.PeerKey) (map[catalog.PeerKey]catalog.PeerLast, error) {
	out := map[catalog.PeerKey]catalog.PeerLast{}
	err := s.read(ctx, func(t *txn) error { return t.peerLasts(keys, out) })
	return out, err
}

// lastsChunk is the number of peers one SQLite query of peerLasts reads.
const lastsChunk = 100

const lastsColumns = `SELECT p.user_id, p.torrent_id, p.peer_id, p.uploaded, p.downloaded, p.left_bytes, p.at_ms, p.stopped FROM peers p`

// lastsQuery is the SQLite query for n peer keys.
func lastsQuery(n int) string {
	cond := make([]string, n)
	for i := range cond {
		cond[i] = "(user_id = ? AND torrent_id = ? AND peer_id = ?)"
	}
	return lastsColumns + ` WHERE ` + strings.Join(cond, " OR ")
}

// peerLasts adds the stored counters of the peers of keys to out.
func (t *txn) peerLasts(keys []catalog.PeerKey, out map[catalog.PeerKey]catalog.PeerLast) error {
	if len(keys) == 0 {
		return nil
	}
	if t.s.dialect == postgresDialect {
		for chunk := range chunks(keys, pgBulkRows) {
			users, torrents, ids := make([]int64, len(chunk)), make([]int64, len(chunk)), make([][]byte, len(chunk))
			for i := range chunk {
				users[i], torrents[i], ids[i] = chunk[i].UserID, chunk[i].TorrentID, chunk[i].PeerID[:]
			}
			rows, err := t.query(lastsColumns+` JOIN unnest($1::bigint[], $2::bigint[], $3::bytea[]) AS k (user_id, torrent_id, peer_id)
				ON p.user_id = k.user_id AND p.torrent_id = k.torrent_id AND p.peer_id = k.peer_id`, users, torrents, ids)
			if err != nil {
				return err
			}
			if err := scanLasts(rows, out); err != nil {
				return err
			}
		}
		return nil
	}
	var st *sql.Stmt // prepared when used more than once
	if len(keys) >= 2*lastsChunk {
		var err error
		if st, err = t.PrepareContext(t.ctx, lastsQuery(lastsChunk)); err != nil {
			return err
		}
		defer st.Close()
	}
	args := make([]any, 0, 3*lastsChunk)
	for chunk := range chunks(keys, lastsChunk) {
		args = args[:0]
		for _, k := range chunk {
			args = append(args, k.UserID, k.TorrentID, k.PeerID[:])
		}
		var rows *sql.Rows
		var err error
		if st != nil && len(chunk) == lastsChunk {
			rows, err = st.QueryContext(t.ctx, args...)
		} else {
			rows, err = t.query(lastsQuery(len(chunk)), args...)
		}
		if err != nil {
			return err
		}
		if err := scanLasts(rows, out); err != nil {
			return err
		}
	}
	return nil
}

// scanLasts reads the rows of a lastsColumns query into out and closes
// them.
func scanLasts(rows *sql.Rows, out map[catalog.PeerKey]catalog.PeerLast) error {
	defer rows.Close()
	for rows.Next() {
		var k catalog.PeerKey
		var pid []byte
		var up, down, left, at int64
		var p catalog.PeerLast
		if err := rows.Scan(&k.UserID, &k.TorrentID, &pid, &up, &down, &left, &at, &p.Stopped); err != nil {
			return err
		}
		copy(k.PeerID[:], pid)
		p.Exists, p.Uploaded, p.Downloaded, p.Left = true, u64(up), u64(down), u64(left)
		p.At = at * int64(time.Millisecond)
		out[k] = p
	}
	return rows.Err()
}

// The bulk writes of a flush. Counters are added to the stored ones; the
// peers' last counters, and user_torrents' left_bytes and last_ms of the
// newest announce, replace them.
var (
	peersBulk = newBulk("peers", []string{"user_id bigint", "torrent_id bigint", "peer_id bytea", "addr text",
		"uploaded bigint", "downloaded bigint", "left_bytes bigint", "at_ms bigint", "stopped boolean"},
		`(user_id, torrent_id, peer_id) DO UPDATE SET addr = excluded.addr, uploaded = excluded.uploaded,
		downloaded = excluded.downloaded, left_bytes = excluded.left_bytes, at_ms = excluded.at_ms, stopped = excluded.stopped`)
	userTorrentsBulk = newBulk("user_torrents", []string{"user_id bigint", "torrent_id bigint", "uploaded bigint",
		"downloaded bigint", "raw_uploaded bigint", "raw_downloaded bigint", "left_bytes bigint", "seed_ms bigint",
		"leech_ms bigint", "first_ms bigint", "last_ms bigint"},
		`(user_id, torrent_id) DO UPDATE SET uploaded = user_torrents.uploaded + excluded.uploaded,
		downloaded = user_torrents.downloaded + excluded.downloaded,
		raw_uploaded = user_torrents.raw_uploaded + excluded.raw_uploaded,
		raw_downloaded = user_torrents.raw_downloaded + excluded.raw_downloaded,
		left_bytes = CASE WHEN excluded.last_ms >= user_torrents.last_ms THEN excluded.left_bytes ELSE user_torrents.left_bytes END,
		seed_ms = user_torrents.seed_ms + excluded.seed_ms, leech_ms = user_torrents.leech_ms + excluded.leech_ms,
		last_ms = CASE WHEN excluded.last_ms > user_torrents.last_ms THEN excluded.last_ms ELSE user_torrents.last_ms END`)
	userStatsBulk = newBulk("user_stats", []string{"user_id bigint", "uploaded bigint", "downloaded bigint",
		"raw_uploaded bigint", "raw_downloaded bigint", "seed_ms bigint", "leech_ms bigint", "snatches bigint"},
		`(user_id) DO UPDATE SET uploaded = user_stats.uploaded + excluded.uploaded,
		downloaded = user_stats.downloaded + excluded.downloaded,
		raw_uploaded = user_stats.raw_uploaded + excluded.raw_uploaded,
		raw_downloaded = user_stats.raw_downloaded + excluded.raw_downloaded,
		seed_ms = user_stats.seed_ms + excluded.seed_ms, leech_ms = user_stats.leech_ms + excluded.leech_ms,
		snatches = user_stats.snatches + excluded.snatches`)
	torrentStatsBulk = newBulk("torrent_stats", []string{"torrent_id bigint", "snatches bigint", "uploaded bigint", "downloaded bigint"},
		`(torrent_id) DO UPDATE SET snatches = torrent_stats.snatches + excluded.snatches,
		uploaded = torrent_stats.uploaded + excluded.uploaded, downloaded = torrent_stats.downloaded + excluded.downloaded`)
	flagsBulk = newBulk("flags", []string{"user_id bigint", "torrent_id bigint", "peer_id bytea", "uploaded bigint",
		"downloaded bigint", "elapsed_ms bigint", "rate bigint", "created_at bigint"}, "")
)

// userTorrentSum accumulates one (user, torrent) row of a batch.
type userTorrentSum struct {
	up, down, rawUp, rawDown, seedMs, leechMs int64
	left, firstMs, lastMs                     int64
}

type statSum struct{ up, down, rawUp, rawDown, seedMs, leechMs, snatches int64 }

func (st *statSum) add(c *catalog.Credit) {
	st.up += c.Up
	st.down += c.Down
	st.rawUp += c.RawUp
	st.rawDown += c.RawDown
	st.seedMs += c.Seed.Milliseconds()
	st.leechMs += c.Leech.Milliseconds()
}

type utKey struct{ user, torrent int64 }

// ApplyAccounting implements catalog.TrackerStore.
func (s *Store) ApplyAccounting(ctx context.Context, ups []catalog.PeerUpdate, known map[catalog.PeerKey]catalog.PeerLast,
	r catalog.AccountRules) (map[catalog.PeerKey]catalog.PeerLast, error) {
	if len(ups) == 0 {
		return map[catalog.PeerKey]catalog.PeerLast{}, nil
	}
	// In key order: rows are locked in the same order every time, and the
	// updates of one user, of one user and torrent, and of one peer are
	// next to each other.
	order := make([]int, len(ups))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { // stable: a peer's updates in their order
		if c := compareKeys(&ups[a].PeerKey, &ups[b].PeerKey); c != 0 {
			return c
		}
		return a - b
	})

	var result map[catalog.PeerKey]catalog.PeerLast
	err := s.write(ctx, func(t *txn) error {
		prev := make(map[catalog.PeerKey]catalog.PeerLast, len(ups))
		var missing []catalog.PeerKey
		for _, u := range ups {
			if p, ok := known[u.PeerKey]; ok {
				prev[u.PeerKey] = p
			} else if _, seen := prev[u.PeerKey]; !seen {
				prev[u.PeerKey] = catalog.PeerLast{}
				missing = append(missing, u.PeerKey)
			}
		}
		if err := t.peerLasts(missing, prev); err != nil {
			return err
		}
		if err := t.account(ups, order, prev, r); err != nil {
			return err
		}
		result = prev
		return nil
	})
	if err != nil {
		return nil, err
	}
	return result, nil
}

// account credits ups, taken in order (sorted by peer key), from the
// stored counters in prev, which it updates.
func (t *txn) account(ups []catalog.PeerUpdate, order []int, prev map[catalog.PeerKey]catalog.PeerLast, r catalog.AccountRules) error {
	var (
		peers, uts, flags []any
		ut                userTorrentSum
		utk               utKey
		users             []int64 // in order, with userSums
		userSums          []statSum
		torrents          = map[int64]*statSum{}
		done              []utKey // completions, with doneAt
		doneAt            []int64
	)
	peers = make([]any, 0, 9*len(ups))
	now := t.now.Unix()
	for n, i := range order {
		u := &ups[i]
		next, c := catalog.Account(prev[u.PeerKey], u, r)
		prev[u.PeerKey] = next
		if n+1 == len(order) || ups[order[n+1]].PeerKey != u.PeerKey {
			// The peer's last update: its new stored counters.
			peers = append(peers, u.UserID, u.TorrentID, u.PeerID[:], u.Addr, i64(next.Uploaded), i64(next.Downloaded),
				i64(next.Left), next.At/int64(time.Millisecond), next.Stopped)
		}
		atMs := u.Last.At / int64(time.Millisecond)
		firstMs := u.First.At / int64(time.Millisecond)
		if k := (utKey{u.UserID, u.TorrentID}); n == 0 || k != utk {
			if n > 0 {
				uts = ut.row(uts, utk)
			}
			utk, ut = k, userTorrentSum{firstMs: firstMs}
		}
		ut.up += c.Up
		ut.down += c.Down
		ut.rawUp += c.RawUp
		ut.rawDown += c.RawDown
		ut.seedMs += c.Seed.Milliseconds()
		ut.leechMs += c.Leech.Milliseconds()
		ut.firstMs = min(ut.firstMs, firstMs)
		if atMs >= ut.lastMs {
			ut.lastMs, ut.left = atMs, i64(u.Last.Left)
		}
		if len(users) == 0 || users[len(users)-1] != u.UserID {
			users = append(users, u.UserID)
			userSums = append(userSums, statSum{})
		}
		userSums[len(userSums)-1].add(&c)
		ts := torrents[u.TorrentID]
		if ts == nil {
			ts = &statSum{}
			torrents[u.TorrentID] = ts
		}
		ts.add(&c)
		if c.Completed {
			done = append(done, utk)
			doneAt = append(doneAt, u.Last.At/int64(time.Second))
		}
		if c.Flagged {
			flags = append(flags, u.UserID, u.TorrentID, u.PeerID[:], c.RawUp, c.RawDown, c.Elapsed.Milliseconds(), c.Rate, now)
		}
	}
	uts = ut.row(uts, utk)

	if err := peersBulk.write(t, peers); err != nil {
		return err
	}
	if err := userTorrentsBulk.write(t, uts); err != nil {
		return err
	}
	// Snatches: once per user and torrent.
	if len(done) > 0 {
		st, err := t.PrepareContext(t.ctx, `UPDATE user_torrents SET snatched = TRUE, completed_at = $1
			WHERE user_id = $2 AND torrent_id = $3 AND NOT snatched`)
		if err != nil {
			return err
		}
		defer st.Close()
		for j, k := range done {
			res, err := st.ExecContext(t.ctx, doneAt[j], k.user, k.torrent)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 1 {
				if x, ok := slices.BinarySearch(users, k.user); ok {
					userSums[x].snatches++
				}
				torrents[k.torrent].snatches++
			}
		}
	}
	// Totals.
	rows := make([]any, 0, 8*max(len(users), len(torrents)))
	for x, id := range users {
		st := &userSums[x]
		rows = append(rows, id, st.up, st.down, st.rawUp, st.rawDown, st.seedMs, st.leechMs, st.snatches)
	}
	if err := userStatsBulk.write(t, rows); err != nil {
		return err
	}
	rows = rows[:0]
	for _, id := range sortedKeys(torrents) {
		st := torrents[id]
		rows = append(rows, id, st.snatches, st.rawUp, st.rawDown)
	}
	if err := torrentStatsBulk.write(t, rows); err != nil {
		return err
	}
	return flagsBulk.write(t, flags)
}

// row appends the user_torrents row of k to rows.
func (ut *userTorrentSum) row(rows []any, k utKey) []any {
	return append(rows, k.user, k.torrent, ut.up, ut.down, ut.rawUp, ut.rawDown, ut.left, ut.seedMs,
		ut.leechMs, ut.firstMs, ut.lastMs)
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func compareKeys(a, b *catalog.PeerKey) int {
	if c := cmpInt(a.UserID, b.UserID); c != 0 {
		return c
	}
	if c := cmpInt(a.TorrentID, b.TorrentID); c != 0 {
		return c
	}
	return bytes.Compare(a.PeerID[:], b.PeerID[:])
}

func sortedKeys[V any](m map[int64]V) []int64 {
	keys := make([]int64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
