package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"time"

	"github.com/gale-bt/gale/internal/catalog"
)

// SiteStats implements catalog.StatsService.
func (s *Store) SiteStats(ctx context.Context) (*catalog.SiteStats, error) {
	if err := catalog.RequireActive(catalog.ActorFrom(ctx)); err != nil {
		return nil, err
	}
	st := &catalog.SiteStats{}
	err := s.read(ctx, func(t *txn) error {
		if err := t.row(`SELECT COUNT(*) FROM users`).Scan(&st.Users); err != nil {
			return err
		}
		if err := t.row(`SELECT COUNT(*) FROM torrents WHERE NOT deleted`).Scan(&st.Torrents); err != nil {
			return err
		}
		if err := t.row(`SELECT COALESCE(SUM(uploaded), 0), COALESCE(SUM(downloaded), 0), COALESCE(SUM(raw_uploaded), 0),
			COALESCE(SUM(raw_downloaded), 0), COALESCE(SUM(snatches), 0) FROM user_stats`).Scan(
			&st.Uploaded, &st.Downloaded, &st.RawUploaded, &st.RawDownloaded, &st.Snatches); err != nil {
			return err
		}
		since := t.now.Add(-s.opts.PeerTTL).UnixMilli()
		if err := t.row(`SELECT COUNT(*) FROM peers WHERE at_ms >= $1 AND NOT stopped`, since).Scan(&st.ActivePeers); err != nil {
			return err
		}
		return t.row(`SELECT COUNT(*) FROM flags WHERE NOT resolved`).Scan(&st.OpenFlags)
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// Flags implements catalog.StatsService.
func (s *Store) Flags(ctx context.Context, f catalog.FlagFilter) ([]*catalog.Flag, error) {
	a := catalog.ActorFrom(ctx)
	if err := catalog.RequireActive(a); err != nil {
		return nil, err
	}
	off, lim := f.Bounds()
	var out []*catalog.Flag
	err := s.read(ctx, func(t *txn) error {
		tab, err := t.rightsTable()
		if err != nil {
			return err
		}
		cats, all := tab.Categories(a, catalog.RightModerate)
		if !all && len(cats) == 0 {
			return catalog.Forbidden("see flagged deltas")
		}
		var where []string
		var args []any
		arg := func(v any) string {
			args = append(args, v)
			return "$" + strconv.Itoa(len(args))
		}
		if f.Open {
			where = append(where, "NOT f.resolved")
		}
		if f.UserID != 0 {
			where = append(where, "f.user_id = "+arg(f.UserID))
		}
		if !all {
			ph := make([]string, len(cats))
			for i, c := range cats {
				ph[i] = arg(c)
			}
			where = append(where, "tt.category_id IN ("+strings.Join(ph, ", ")+")")
		}
		cond := ""
		if len(where) > 0 {
			cond = " WHERE " + strings.Join(where, " AND ")
		}
		rows, err := t.query(`SELECT f.id, f.user_id, u.name, f.torrent_id, tt.name, f.peer_id, f.uploaded, f.downloaded,
			f.elapsed_ms, f.rate, f.created_at, f.resolved, COALESCE(f.resolved_by, 0), f.note
			FROM flags f JOIN users u ON u.id = f.user_id JOIN torrents tt ON tt.id = f.torrent_id`+cond+
			` ORDER BY f.id DESC LIMIT `+arg(lim)+` OFFSET `+arg(off), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var fl catalog.Flag
			var pid []byte
			var ms, at int64
			if err := rows.Scan(&fl.ID, &fl.UserID, &fl.UserName, &fl.TorrentID, &fl.TorrentName, &pid, &fl.Uploaded,
				&fl.Downloaded, &ms, &fl.Rate, &at, &fl.Resolved, &fl.ResolvedBy, &fl.Note); err != nil {
				return err
			}
			fl.Client = catalog.PrintableClient(pid)
			fl.Seconds = (time.Duration(ms) * time.Millisecond).Seconds()
			fl.CreatedAt = unixTime(at)
			out = append(out, &fl)
		}
		return rows.Err()
	})
	return out, err
}

// ResolveFlag implements catalog.StatsService.
func (s *Store) ResolveFlag(ctx context.Context, id int64, note string) error {
	a := catalog.ActorFrom(ctx)
	if err := catalog.RequireActive(a); err != nil {
		return err
	}
	if err := catalog.CheckText("the note", note, catalog.MaxReasonLen); err != nil {
		return err
	}
	return s.write(ctx, func(t *txn) error {
		var cat int64
		err := t.row(`SELECT tt.category_id FROM flags f JOIN torrents tt ON tt.id = f.torrent_id WHERE f.id = $1`, id).Scan(&cat)
		if err == sql.ErrNoRows {
			return notFound("flag")
		}
		if err != nil {
			return err
		}
		r, err := t.actorRights(a, cat)
		if err != nil {
			return err
		}
		if !r.Has(catalog.RightModerate) {
			return catalog.Forbidden("resolve this flag")
		}
		var by any
		if uid := a.UserID(); uid != 0 {
			by = uid
		}
		_, err = t.exec(`UPDATE flags SET resolved = TRUE, resolved_by = $1, note = $2 WHERE id = $3`, by, note, id)
		return err
	})
}
