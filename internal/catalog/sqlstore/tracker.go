package sqlstore

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/gale-bt/gale/internal/catalog"
)

// The tracker's side: state snapshots, the change log and accounting.

// TrackerState implements catalog.TrackerStore. The sequence number is
// read first, so the state is at least as new as it says.
func (s *Store) TrackerState(ctx context.Context) (*catalog.TrackerState, error) {
	st := &catalog.TrackerState{}
	err := s.read(ctx, func(t *txn) error {
		if err := t.row(`SELECT seq FROM change_counter WHERE id = 1`).Scan(&st.Seq); err != nil {
			return err
		}
		set, err := t.settings()
		if err != nil {
			return err
		}
		st.Settings = *set
		if st.Users, err = t.trackerUsers(nil); err != nil {
			return err
		}
		if st.Torrents, err = t.trackerTorrents(nil); err != nil {
			return err
		}
		if st.Rights, err = t.rightsList(); err != nil {
			return err
		}
		st.Rules, err = t.clientRules()
		return err
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// idList returns " WHERE col IN ($1, ...)" for ids, or "" for nil ids.
func idList(col string, ids []int64) (string, []any) {
	if ids == nil {
		return "", nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return " WHERE " + col + " IN (" + placeholders(1, len(ids)) + ")", args
}

func (t *txn) trackerUsers(ids []int64) ([]catalog.TrackerUser, error) {
	var out []catalog.TrackerUser
	for chunk := range chunks(ids, 500) {
		where, args := idList("id", chunk)
		rows, err := t.query(`SELECT id, key_version, group_id, admin, disabled FROM users`+where, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var u catalog.TrackerUser
			if err := rows.Scan(&u.ID, &u.KeyVersion, &u.GroupID, &u.Admin, &u.Disabled); err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, u)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (t *txn) trackerTorrents(ids []int64) ([]catalog.TrackerTorrent, error) {
	var out []catalog.TrackerTorrent
	for chunk := range chunks(ids, 500) {
		where, args := idList("id", chunk)
		rows, err := t.query(`SELECT id, swarm_hash, alias_hash, category_id, freeleech, deleted, deleted_at, delete_reason
			FROM torrents`+where, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var tt catalog.TrackerTorrent
			var swarm, alias []byte
			var deletedAt int64
			if err := rows.Scan(&tt.ID, &swarm, &alias, &tt.CategoryID, &tt.Freeleech, &tt.Deleted, &deletedAt, &tt.DeleteReason); err != nil {
				rows.Close()
				return nil, err
			}
			copy(tt.Swarm[:], swarm)
			if len(alias) == 20 {
				tt.HasAlias = true
				copy(tt.Alias[:], alias)
			}
			tt.DeletedAt = unixTime(deletedAt)
			out = append(out, tt)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// chunks yields ids in pieces of at most n; a nil ids yields one nil
// chunk (meaning "all").
func chunks[T any](ids []T, n int) func(yield func([]T) bool) {
	return func(yield func([]T) bool) {
		if ids == nil {
			yield(nil)
			return
		}
		for len(ids) > 0 {
			k := min(n, len(ids))
			if !yield(ids[:k]) {
				return
			}
			ids = ids[k:]
		}
	}
}

// ChangeSeq implements catalog.TrackerStore.
func (s *Store) ChangeSeq(ctx context.Context) (int64, error) {
	var seq int64
	err := s.db.QueryRowContext(ctx, `SELECT seq FROM change_counter WHERE id = 1`).Scan(&seq)
	if err != nil {
		return 0, wrap(err)
	}
	return seq, nil
}

// Changes implements catalog.TrackerStore.
func (s *Store) Changes(ctx context.Context, after int64, limit int) ([]catalog.Change, error) {
	var out []catalog.Change
	err := s.read(ctx, func(t *txn) error {
		rows, err := t.query(`SELECT seq, entity, entity_id FROM change_log WHERE seq > $1 ORDER BY seq LIMIT $2`, after, max(limit, 1))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c catalog.Change
			if err := rows.Scan(&c.Seq, &c.Entity, &c.ID); err != nil {
				return err
			}
			out = append(out, c)
		}
		return rows.Err()
	})
	return out, err
}

// TrackerUsers implements catalog.TrackerStore.
func (s *Store) TrackerUsers(ctx context.Context, ids []int64) ([]catalog.TrackerUser, error) {
	if ids == nil {
		ids = []int64{}
	}
	var out []catalog.TrackerUser
	err := s.read(ctx, func(t *txn) error {
		var err error
		out, err = t.trackerUsers(ids)
		return err
	})
	return out, err
}

// TrackerTorrents implements catalog.TrackerStore.
func (s *Store) TrackerTorrents(ctx context.Context, ids []int64) ([]catalog.TrackerTorrent, error) {
	if ids == nil {
		ids = []int64{}
	}
	var out []catalog.TrackerTorrent
	err := s.read(ctx, func(t *txn) error {
		var err error
		out, err = t.trackerTorrents(ids)
		return err
	})
	return out, err
}

// ActivePeers implements catalog.TrackerStore.
func (s *Store) ActivePeers(ctx context.Context, torrentID int64, since time.Time) ([]*catalog.Peer, error) {
	var out []*catalog.Peer
	err := s.read(ctx, func(t *txn) error {
		var err error
		out, err = t.activePeers(torrentID, since)
		return err
	})
	return out, err
}

// PeerLasts implements catalog.TrackerStore.
func (s *Store) PeerLasts(ctx context.Context, keys []catalog.PeerKey) (map[catalog.PeerKey]catalog.PeerLast, error) {
	out := map[catalog.PeerKey]catalog.PeerLast{}
	err := s.read(ctx, func(t *txn) error { return t.peerLasts(keys, out) })
	return out, err
}

func (t *txn) peerLasts(keys []catalog.PeerKey, out map[catalog.PeerKey]catalog.PeerLast) error {
	for chunk := range chunks(keys, 100) {
		if len(chunk) == 0 {
			continue
		}
		var cond []string
		var args []any
		for i, k := range chunk {
			cond = append(cond, "(user_id = "+t.s.params(3*i+1, 1)+" AND torrent_id = "+t.s.params(3*i+2, 1)+
				" AND peer_id = "+t.s.params(3*i+3, 1)+")")
			args = append(args, k.UserID, k.TorrentID, k.PeerID[:])
		}
		rows, err := t.query(`SELECT user_id, torrent_id, peer_id, uploaded, downloaded, left_bytes, at_ms, stopped
			FROM peers WHERE `+strings.Join(cond, " OR "), args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var k catalog.PeerKey
			var pid []byte
			var up, down, left, at int64
			var p catalog.PeerLast
			if err := rows.Scan(&k.UserID, &k.TorrentID, &pid, &up, &down, &left, &at, &p.Stopped); err != nil {
				rows.Close()
				return err
			}
			copy(k.PeerID[:], pid)
			p.Exists, p.Uploaded, p.Downloaded, p.Left = true, u64(up), u64(down), u64(left)
			p.At = at * int64(time.Millisecond)
			out[k] = p
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// userTorrentSum accumulates one (user, torrent) row of a batch.
type userTorrentSum struct {
	up, down, rawUp, rawDown, seedMs, leechMs int64
	left, firstMs, lastMs                     int64
}

type statSum struct{ up, down, rawUp, rawDown, seedMs, leechMs, snatches int64 }

type utKey struct{ user, torrent int64 }

// ApplyAccounting implements catalog.TrackerStore.
func (s *Store) ApplyAccounting(ctx context.Context, ups []catalog.PeerUpdate, known map[catalog.PeerKey]catalog.PeerLast,
	r catalog.AccountRules) (map[catalog.PeerKey]catalog.PeerLast, error) {
	if len(ups) == 0 {
		return map[catalog.PeerKey]catalog.PeerLast{}, nil
	}
	// A fixed order takes row locks in the same order every time.
	order := make([]int, len(ups))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return compareKeys(&ups[a].PeerKey, &ups[b].PeerKey) })

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
		uts := map[utKey]*userTorrentSum{}
		users := map[int64]*statSum{}
		torrents := map[int64]*statSum{}
		type completion struct {
			k  utKey
			at int64
		}
		var done []completion
		var flags [][]any
		addr := map[catalog.PeerKey]string{}
		now := t.now.Unix()
		for _, i := range order {
			u := &ups[i]
			next, c := catalog.Account(prev[u.PeerKey], u, r)
			prev[u.PeerKey] = next
			addr[u.PeerKey] = u.Addr
			k := utKey{u.UserID, u.TorrentID}
			atMs := u.Last.At / int64(time.Millisecond)
			firstMs := u.First.At / int64(time.Millisecond)
			ut := uts[k]
			if ut == nil {
				ut = &userTorrentSum{firstMs: firstMs}
				uts[k] = ut
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
			us := users[u.UserID]
			if us == nil {
				us = &statSum{}
				users[u.UserID] = us
			}
			ts := torrents[u.TorrentID]
			if ts == nil {
				ts = &statSum{}
				torrents[u.TorrentID] = ts
			}
			for _, st := range []*statSum{us, ts} {
				st.up += c.Up
				st.down += c.Down
				st.rawUp += c.RawUp
				st.rawDown += c.RawDown
				st.seedMs += c.Seed.Milliseconds()
				st.leechMs += c.Leech.Milliseconds()
			}
			if c.Completed {
				done = append(done, completion{k, u.Last.At / int64(time.Second)})
			}
			if c.Flagged {
				flags = append(flags, []any{u.UserID, u.TorrentID, u.PeerID[:], c.RawUp, c.RawDown,
					c.Elapsed.Milliseconds(), c.Rate, now})
			}
		}

		// Peers: the new last counters.
		var rows [][]any
		keys := make([]catalog.PeerKey, 0, len(prev))
		for k := range addr {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b catalog.PeerKey) int { return compareKeys(&a, &b) })
		for _, k := range keys {
			p := prev[k]
			rows = append(rows, []any{k.UserID, k.TorrentID, k.PeerID[:], addr[k], i64(p.Uploaded), i64(p.Downloaded),
				i64(p.Left), p.At / int64(time.Millisecond), p.Stopped})
		}
		if err := t.upsert(`peers (user_id, torrent_id, peer_id, addr, uploaded, downloaded, left_bytes, at_ms, stopped)`,
			`(user_id, torrent_id, peer_id) DO UPDATE SET addr = excluded.addr, uploaded = excluded.uploaded,
			downloaded = excluded.downloaded, left_bytes = excluded.left_bytes, at_ms = excluded.at_ms, stopped = excluded.stopped`,
			rows); err != nil {
			return err
		}

		// Per user and torrent.
		rows = rows[:0]
		utKeys := make([]utKey, 0, len(uts))
		for k := range uts {
			utKeys = append(utKeys, k)
		}
		slices.SortFunc(utKeys, func(a, b utKey) int {
			if a.user != b.user {
				return cmpInt(a.user, b.user)
			}
			return cmpInt(a.torrent, b.torrent)
		})
		for _, k := range utKeys {
			ut := uts[k]
			rows = append(rows, []any{k.user, k.torrent, ut.up, ut.down, ut.rawUp, ut.rawDown, ut.left, ut.seedMs,
				ut.leechMs, ut.firstMs, ut.lastMs})
		}
		if err := t.upsert(`user_torrents (user_id, torrent_id, uploaded, downloaded, raw_uploaded, raw_downloaded,
			left_bytes, seed_ms, leech_ms, first_ms, last_ms)`,
			`(user_id, torrent_id) DO UPDATE SET uploaded = user_torrents.uploaded + excluded.uploaded,
			downloaded = user_torrents.downloaded + excluded.downloaded,
			raw_uploaded = user_torrents.raw_uploaded + excluded.raw_uploaded,
			raw_downloaded = user_torrents.raw_downloaded + excluded.raw_downloaded,
			left_bytes = CASE WHEN excluded.last_ms >= user_torrents.last_ms THEN excluded.left_bytes ELSE user_torrents.left_bytes END,
			seed_ms = user_torrents.seed_ms + excluded.seed_ms, leech_ms = user_torrents.leech_ms + excluded.leech_ms,
			last_ms = CASE WHEN excluded.last_ms > user_torrents.last_ms THEN excluded.last_ms ELSE user_torrents.last_ms END`,
			rows); err != nil {
			return err
		}

		// Snatches: once per user and torrent.
		for _, d := range done {
			res, err := t.exec(`UPDATE user_torrents SET snatched = TRUE, completed_at = $1
				WHERE user_id = $2 AND torrent_id = $3 AND NOT snatched`, d.at, d.k.user, d.k.torrent)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 1 {
				users[d.k.user].snatches++
				torrents[d.k.torrent].snatches++
			}
		}

		// Totals.
		rows = rows[:0]
		for _, id := range sortedKeys(users) {
			st := users[id]
			rows = append(rows, []any{id, st.up, st.down, st.rawUp, st.rawDown, st.seedMs, st.leechMs, st.snatches})
		}
		if err := t.upsert(`user_stats (user_id, uploaded, downloaded, raw_uploaded, raw_downloaded, seed_ms, leech_ms, snatches)`,
			`(user_id) DO UPDATE SET uploaded = user_stats.uploaded + excluded.uploaded,
			downloaded = user_stats.downloaded + excluded.downloaded,
			raw_uploaded = user_stats.raw_uploaded + excluded.raw_uploaded,
			raw_downloaded = user_stats.raw_downloaded + excluded.raw_downloaded,
			seed_ms = user_stats.seed_ms + excluded.seed_ms, leech_ms = user_stats.leech_ms + excluded.leech_ms,
			snatches = user_stats.snatches + excluded.snatches`, rows); err != nil {
			return err
		}
		rows = rows[:0]
		for _, id := range sortedKeys(torrents) {
			st := torrents[id]
			rows = append(rows, []any{id, st.snatches, st.rawUp, st.rawDown})
		}
		if err := t.upsert(`torrent_stats (torrent_id, snatches, uploaded, downloaded)`,
			`(torrent_id) DO UPDATE SET snatches = torrent_stats.snatches + excluded.snatches,
			uploaded = torrent_stats.uploaded + excluded.uploaded, downloaded = torrent_stats.downloaded + excluded.downloaded`,
			rows); err != nil {
			return err
		}
		if len(flags) > 0 {
			if err := t.insertRows(`flags (user_id, torrent_id, peer_id, uploaded, downloaded, elapsed_ms, rate, created_at)`, flags); err != nil {
				return err
			}
		}
		result = prev
		return nil
	})
	if err != nil {
		return nil, err
	}
	return result, nil
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

// maxParams bounds the parameters of one statement (SQLite allows 32766,
// PostgreSQL 65535).
const maxParams = 8000

// insertRows inserts rows into target ("table (col, ...)") with
// multi-row VALUES statements.
func (t *txn) insertRows(target string, rows [][]any) error {
	return t.upsert(target, "", rows)
}

// upsert inserts rows into target with "ON CONFLICT <conflict>" when
// conflict is not empty. Rows must not repeat a conflict key.
func (t *txn) upsert(target, conflict string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	width := len(rows[0])
	per := max(maxParams/width, 1)
	for chunk := range chunks(rows, per) {
		var b strings.Builder
		b.WriteString("INSERT INTO " + target + " VALUES ")
		args := make([]any, 0, len(chunk)*width)
		for i, r := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(" + t.s.params(len(args)+1, width) + ")")
			args = append(args, r...)
		}
		if conflict != "" {
			b.WriteString(" ON CONFLICT " + conflict)
		}
		if _, err := t.exec(b.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

// PrunePeers implements catalog.TrackerStore.
func (s *Store) PrunePeers(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.write(ctx, func(t *txn) error {
		res, err := t.exec(`DELETE FROM peers WHERE at_ms < $1`, before.UnixMilli())
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return n, err
}
