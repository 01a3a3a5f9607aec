package sqlstore

import (
	"context"
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
