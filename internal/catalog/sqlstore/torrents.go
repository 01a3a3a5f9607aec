package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/gale-bt/gale/internal/catalog"
)

const torrentColumns = `t.id, t.info_hash_v1, t.info_hash_v2, t.name, t.size, t.file_count, t.category_id, c.name,
	t.owner_id, u.name, t.description, t.freeleech, t.created_at, t.updated_at, t.deleted, t.deleted_at,
	t.delete_reason, COALESCE(s.snatches, 0)`

const torrentFrom = ` FROM torrents t JOIN categories c ON c.id = t.category_id JOIN users u ON u.id = t.owner_id
	LEFT JOIN torrent_stats s ON s.torrent_id = t.id `

func scanTorrent(r scanner) (*catalog.Torrent, error) {
	var t catalog.Torrent
	var v1, v2 []byte
	var created, updated, deleted int64
	err := r.Scan(&t.ID, &v1, &v2, &t.Name, &t.Size, &t.FileCount, &t.CategoryID, &t.CategoryName,
		&t.OwnerID, &t.OwnerName, &t.Description, &t.Freeleech, &created, &updated, &t.Deleted, &deleted,
		&t.DeleteReason, &t.Snatches)
	if err != nil {
		return nil, err
	}
	if len(v1) == 20 {
		t.HasV1 = true
		copy(t.V1[:], v1)
	}
	if len(v2) == 32 {
		t.HasV2 = true
		copy(t.V2[:], v2)
	}
	t.CreatedAt, t.UpdatedAt, t.DeletedAt = unixTime(created), unixTime(updated), unixTime(deleted)
	return &t, nil
}

// torrent reads a torrent with its files, checking the actor may see it.
func (t *txn) torrent(a catalog.Actor, id int64) (*catalog.Torrent, catalog.Rights, error) {
	var files string
	row := t.row(`SELECT `+torrentColumns+`, t.files`+torrentFrom+`WHERE t.id = $1`, id)
	var tor *catalog.Torrent
	tor, err := scanTorrent(scanFunc(func(dest ...any) error {
		return row.Scan(append(dest, &files)...)
	}))
	if err == sql.ErrNoRows {
		return nil, 0, notFound("torrent")
	}
	if err != nil {
		return nil, 0, err
	}
	r, err := t.actorRights(a, tor.CategoryID)
	if err != nil {
		return nil, 0, err
	}
	if !r.Has(catalog.RightSee) || (tor.Deleted && !r.Has(catalog.RightModerate)) {
		return nil, 0, notFound("torrent")
	}
	if err := json.Unmarshal([]byte(files), &tor.Files); err != nil {
		return nil, 0, err
	}
	return tor, r, nil
}

type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

// AddTorrent implements catalog.TorrentService.
func (s *Store) AddTorrent(ctx context.Context, nt catalog.NewTorrent) (*catalog.Torrent, error) {
	a := catalog.ActorFrom(ctx)
	if err := catalog.RequireActive(a); err != nil {
		return nil, err
	}
	if nt.OwnerID == 0 {
		nt.OwnerID = a.UserID()
	}
	if nt.OwnerID == 0 {
		return nil, catalog.Errorf(catalog.EINVALID, "a torrent needs an owner")
	}
	if nt.OwnerID != a.UserID() && !a.IsAdmin() {
		return nil, catalog.Forbidden("upload for another user")
	}
	if err := catalog.CheckText("the description", nt.Description, catalog.MaxDescriptionLen); err != nil {
		return nil, err
	}
	var tor *catalog.Torrent
	err := s.write(ctx, func(t *txn) error {
		if _, err := t.category(nt.CategoryID); err != nil {
			return err
		}
		r, err := t.actorRights(a, nt.CategoryID)
		if err != nil {
			return err
		}
		if !r.Has(catalog.RightUpload) {
			return catalog.Forbidden("upload to this category")
		}
		if nt.Freeleech && !r.Has(catalog.RightModerate) {
			return catalog.Forbidden("make torrents freeleech")
		}
		if _, err := t.user(nt.OwnerID); err != nil {
			return err
		}
		st, err := t.settings()
		if err != nil {
			return err
		}
		p, err := catalog.PrepareTorrent(nt.Metainfo, st.SiteName)
		if err != nil {
			return err
		}
		pt := &catalog.Torrent{V1: p.V1, V2: p.V2, HasV1: p.HasV1, HasV2: p.HasV2}
		swarm := pt.SwarmHash()
		var alias, v1, v2 []byte
		if h, ok := pt.AliasHash(); ok {
			alias = h[:]
		}
		if p.HasV1 {
			v1 = p.V1[:]
		}
		if p.HasV2 {
			v2 = p.V2[:]
		}
		hashes := [][]byte{swarm[:]}
		if alias != nil {
			hashes = append(hashes, alias)
		}
		for _, h := range hashes {
			var n int
			if err := t.row(`SELECT COUNT(*) FROM torrents WHERE swarm_hash = $1 OR alias_hash = $1`, h).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return catalog.Errorf(catalog.ECONFLICT, "this torrent is registered already")
			}
		}
		files, err := json.Marshal(p.Files)
		if err != nil {
			return err
		}
		if p.Files == nil {
			files = []byte("[]")
		}
		now := t.now.Unix()
		var id int64
		err = t.row(`INSERT INTO torrents (swarm_hash, alias_hash, info_hash_v1, info_hash_v2, name, size, file_count,
			files, category_id, owner_id, description, freeleech, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) RETURNING id`,
			swarm[:], alias, v1, v2, p.Name, p.Size, len(p.Files), string(files), nt.CategoryID, nt.OwnerID,
			nt.Description, nt.Freeleech, now).Scan(&id)
		if isUnique(err) {
			return catalog.Errorf(catalog.ECONFLICT, "this torrent is registered already")
		}
		if err != nil {
			return err
		}
		if _, err := t.exec(`INSERT INTO torrent_metainfo (torrent_id, data) VALUES ($1, $2)`, id, p.Metainfo); err != nil {
			return err
		}
		if _, err := t.exec(`INSERT INTO torrent_stats (torrent_id) VALUES ($1)`, id); err != nil {
			return err
		}
		if err := t.index(id, p.Name, nt.Description, p.Files); err != nil {
			return err
		}
		t.changed(catalog.ChangeTorrent, id)
		tor, _, err = t.torrent(catalog.Actor{System: true}, id)
		return err
	})
	return tor, err
}

// index (re)writes the full-text entry of a torrent.
func (t *txn) index(id int64, name, description string, files []catalog.File) error {
	text := catalog.SearchText(name, description, files)
	if t.s.dialect == postgresDialect {
		_, err := t.exec(`UPDATE torrents SET search = to_tsvector('simple', $1) WHERE id = $2`, text, id)
		return err
	}
	if _, err := t.exec(`DELETE FROM torrents_fts WHERE rowid = $1`, id); err != nil {
		return err
	}
	_, err := t.exec(`INSERT INTO torrents_fts (rowid, body) VALUES ($1, $2)`, id, text)
	return err
}

// Torrent implements catalog.TorrentService.
func (s *Store) Torrent(ctx context.Context, id int64) (*catalog.Torrent, error) {
	a := catalog.ActorFrom(ctx)
	if err := catalog.RequireActive(a); err != nil {
		return nil, err
	}
	var tor *catalog.Torrent
	err := s.read(ctx, func(t *txn) error {
		var err error
		tor, _, err = t.torrent(a, id)
		return err
	})
	return tor, err
}

// TorrentByHash implements catalog.TorrentService.
func (s *Store) TorrentByHash(ctx context.Context, hash string) (*catalog.Torrent, error) {
	a := catalog.ActorFrom(ctx)
	if err := catalog.RequireActive(a); err != nil {
		return nil, err
	}
	h, err := catalog.ParseHash(hash)
	if err != nil {
		return nil, err
	}
	var tor *catalog.Torrent
	err = s.read(ctx, func(t *txn) error {
		var id int64
		err := t.row(`SELECT id FROM torrents WHERE swarm_hash = $1 OR alias_hash = $1 OR info_hash_v2 = $1`, h).Scan(&id)
		if err == sql.ErrNoRows {
			return notFound("torrent")
		}
		if err != nil {
			return err
		}
		tor, _, err = t.torrent(a, id)
		return err
	})
	return tor, err
}

// Torrents implements catalog.TorrentService.
func (s *Store) Torrents(ctx context.Context, f catalog.TorrentFilter) ([]*catalog.Torrent, int, error) {
	a := catalog.ActorFrom(ctx)
	if err := catalog.RequireActive(a); err != nil {
		return nil, 0, err
	}
	off, lim := f.Bounds()
	terms := catalog.SearchTerms(f.Query)
	if strings.TrimSpace(f.Query) != "" && len(terms) == 0 {
		return nil, 0, nil // nothing searchable: no match
	}
	var out []*catalog.Torrent
	var total int
	err := s.read(ctx, func(t *txn) error {
		tab, err := t.rightsTable()
		if err != nil {
			return err
		}
		want := catalog.RightSee
		if f.Deleted {
			want = catalog.RightModerate
		}
		cats, all := tab.Categories(a, want)
		if !all && len(cats) == 0 {
			return nil
		}
		var where []string
		var args []any
		arg := func(v any) string {
			args = append(args, v)
			return "$" + strconv.Itoa(len(args))
		}
		if f.Deleted {
			where = append(where, "t.deleted")
		} else {
			where = append(where, "NOT t.deleted")
		}
		if !all {
			ph := make([]string, len(cats))
			for i, c := range cats {
				ph[i] = arg(c)
			}
			where = append(where, "t.category_id IN ("+strings.Join(ph, ", ")+")")
		}
		if f.CategoryID != 0 {
			where = append(where, "t.category_id = "+arg(f.CategoryID))
		}
		if f.OwnerID != 0 {
			where = append(where, "t.owner_id = "+arg(f.OwnerID))
		}
		rank := ""
		if len(terms) > 0 {
			if s.dialect == postgresDialect {
				q := arg(pgQuery(terms))
				where = append(where, "t.search @@ to_tsquery('simple', "+q+")")
				rank = "ts_rank(t.search, to_tsquery('simple', " + q + ")) DESC, "
			} else {
				where = append(where, "t.id IN (SELECT rowid FROM torrents_fts WHERE torrents_fts MATCH "+arg(ftsQuery(terms))+")")
			}
		}
		cond := " WHERE " + strings.Join(where, " AND ")
		if err := t.row(`SELECT COUNT(*) FROM torrents t`+cond, args...).Scan(&total); err != nil {
			return err
		}
		order := " ORDER BY t.created_at DESC, t.id DESC"
		switch f.Sort {
		case catalog.SortName:
			order = " ORDER BY t.name, t.id"
		case catalog.SortSize:
			order = " ORDER BY t.size DESC, t.id DESC"
		case catalog.SortSnatches:
			order = " ORDER BY COALESCE(s.snatches, 0) DESC, t.id DESC"
		case catalog.SortRelevance:
			if rank != "" {
				order = " ORDER BY " + rank + "t.id DESC"
			} else if len(terms) > 0 {
				order = " ORDER BY (SELECT bm25(torrents_fts) FROM torrents_fts WHERE torrents_fts MATCH " +
					arg(ftsQuery(terms)) + " AND rowid = t.id), t.id DESC"
			}
		}
		q := `SELECT ` + torrentColumns + torrentFrom + cond + order + ` LIMIT ` + arg(lim) + ` OFFSET ` + arg(off)
		rows, err := t.query(q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			tor, err := scanTorrent(rows)
			if err != nil {
				return err
			}
			out = append(out, tor)
		}
		return rows.Err()
	})
	return out, total, err
}

// ftsQuery builds an FTS5 query from search terms: each term a quoted
// string (quotes doubled) with a prefix match, all required.
func ftsQuery(terms []string) string {
	parts := make([]string, len(terms))
	for i, t := range terms {
		parts[i] = `"` + strings.ReplaceAll(t, `"`, `""`) + `"*`
	}
	return strings.Join(parts, " ")
}

// pgQuery builds a to_tsquery text from search terms (letters and digits
// only, see catalog.SearchTerms): prefix matches, all required.
func pgQuery(terms []string) string {
	parts := make([]string, 0, len(terms))
	for _, t := range terms {
		t = strings.Map(func(r rune) rune {
			if strings.ContainsRune(`'\:&|!()<>*`, r) {
				return -1
			}
			return r
		}, t)
		if t != "" {
			parts = append(parts, "'"+t+"':*")
		}
	}
	return strings.Join(parts, " & ")
}

// UpdateTorrent implements catalog.TorrentService.
func (s *Store) UpdateTorrent(ctx context.Context, id int64, up catalog.TorrentUpdate) (*catalog.Torrent, error) {
	a := catalog.ActorFrom(ctx)
	if err := catalog.RequireActive(a); err != nil {
		return nil, err
	}
	if up.Description != nil {
		if err := catalog.CheckText("the description", *up.Description, catalog.MaxDescriptionLen); err != nil {
			return nil, err
		}
	}
	var tor *catalog.Torrent
	err := s.write(ctx, func(t *txn) error {
		cur, r, err := t.torrent(a, id)
		if err != nil {
			return err
		}
		mod := r.Has(catalog.RightModerate)
		now := t.now.Unix()
		if up.Description != nil {
			if !mod && !a.Is(cur.OwnerID) {
				return catalog.Forbidden("edit this torrent")
			}
			if _, err := t.exec(`UPDATE torrents SET description = $1, updated_at = $2 WHERE id = $3`, *up.Description, now, id); err != nil {
				return err
			}
			if err := t.index(id, cur.Name, *up.Description, cur.Files); err != nil {
				return err
			}
		}
		if up.CategoryID != nil && *up.CategoryID != cur.CategoryID {
			if _, err := t.category(*up.CategoryID); err != nil {
				return err
			}
			r2, err := t.actorRights(a, *up.CategoryID)
			if err != nil {
				return err
			}
			if !mod || !r2.Has(catalog.RightModerate) {
				return catalog.Forbidden("move this torrent")
			}
			if _, err := t.exec(`UPDATE torrents SET category_id = $1, updated_at = $2 WHERE id = $3`, *up.CategoryID, now, id); err != nil {
				return err
			}
		}
		if up.Freeleech != nil {
			if !mod {
				return catalog.Forbidden("change freeleech")
			}
			if _, err := t.exec(`UPDATE torrents SET freeleech = $1, updated_at = $2 WHERE id = $3`, *up.Freeleech, now, id); err != nil {
				return err
			}
		}
		t.changed(catalog.ChangeTorrent, id)
		tor, _, err = t.torrent(catalog.Actor{System: true}, id)
		return err
	})
	return tor, err
}

// DeleteTorrent implements catalog.TorrentService.
func (s *Store) DeleteTorrent(ctx context.Context, id int64, reason string) error {
	a := catalog.ActorFrom(ctx)
	if err := catalog.RequireActive(a); err != nil {
		return err
	}
	reason = strings.TrimSpace(reason)
	if err := catalog.CheckText("the reason", reason, catalog.MaxReasonLen); err != nil {
		return err
	}
	return s.write(ctx, func(t *txn) error {
		cur, r, err := t.torrent(a, id)
		if err != nil {
			return err
		}
		if !r.Has(catalog.RightModerate) && !a.Is(cur.OwnerID) {
			return catalog.Forbidden("delete this torrent")
		}
		if cur.Deleted {
			return catalog.Errorf(catalog.ECONFLICT, "the torrent is deleted already")
		}
		var by any
		if uid := a.UserID(); uid != 0 {
			by = uid
		}
		if _, err := t.exec(`UPDATE torrents SET deleted = TRUE, deleted_at = $1, delete_reason = $2, deleted_by = $3,
			updated_at = $1 WHERE id = $4`, t.now.Unix(), reason, by, id); err != nil {
			return err
		}
		t.changed(catalog.ChangeTorrent, id)
		return nil
	})
}

// personal checks PersonalTorrent's rules and returns the torrent and key.
func (t *txn) personal(a catalog.Actor, id, userID int64) (*catalog.Torrent, string, error) {
	if !a.IsAdmin() && !a.Is(userID) {
		if !a.Active() {
			return nil, "", catalog.Errorf(catalog.EUNAUTHORIZED, "sign in first")
		}
		return nil, "", catalog.Forbidden("download for another user")
	}
	tor, _, err := t.torrent(a, id)
	if err != nil {
		return nil, "", err
	}
	if tor.Deleted {
		return nil, "", catalog.Errorf(catalog.ECONFLICT, "the torrent is deleted")
	}
	r, u, err := t.userRights(userID, tor.CategoryID)
	if err != nil {
		return nil, "", err
	}
	if u.Disabled {
		return nil, "", catalog.Errorf(catalog.EFORBIDDEN, "the account is disabled")
	}
	if !r.Has(catalog.RightDownload) {
		return nil, "", catalog.Errorf(catalog.EFORBIDDEN, "%s may not download this torrent", u.Name)
	}
	st, err := t.settings()
	if err != nil {
		return nil, "", err
	}
	key := catalog.Passkey(st.Secret, u.KeyVersion, uint32(u.ID), tor.SwarmHash())
	return tor, key, nil
}

// AnnounceKey implements catalog.TorrentService.
func (s *Store) AnnounceKey(ctx context.Context, id, userID int64) (string, error) {
	a := catalog.ActorFrom(ctx)
	var key string
	err := s.read(ctx, func(t *txn) error {
		var err error
		_, key, err = t.personal(a, id, userID)
		return err
	})
	return key, err
}

// PersonalTorrent implements catalog.TorrentService.
func (s *Store) PersonalTorrent(ctx context.Context, id, userID int64, announce func(string) []string) ([]byte, *catalog.Torrent, error) {
	a := catalog.ActorFrom(ctx)
	var tor *catalog.Torrent
	var key string
	var stored []byte
	err := s.read(ctx, func(t *txn) error {
		var err error
		if tor, key, err = t.personal(a, id, userID); err != nil {
			return err
		}
		return t.row(`SELECT data FROM torrent_metainfo WHERE torrent_id = $1`, id).Scan(&stored)
	})
	if err != nil {
		return nil, nil, err
	}
	out, err := catalog.WithAnnounce(stored, announce(key))
	if err != nil {
		return nil, nil, internal("personal torrent", err)
	}
	return out, tor, nil
}

// TorrentPeers implements catalog.TorrentService.
func (s *Store) TorrentPeers(ctx context.Context, id int64) ([]*catalog.Peer, error) {
	a := catalog.ActorFrom(ctx)
	if err := catalog.RequireActive(a); err != nil {
		return nil, err
	}
	var out []*catalog.Peer
	err := s.read(ctx, func(t *txn) error {
		_, r, err := t.torrent(a, id)
		if err != nil {
			return err
		}
		if !r.Has(catalog.RightModerate) {
			return catalog.Forbidden("see the peers")
		}
		out, err = t.activePeers(id, t.now.Add(-s.opts.PeerTTL))
		return err
	})
	return out, err
}

func (t *txn) activePeers(id int64, since time.Time) ([]*catalog.Peer, error) {
	rows, err := t.query(`SELECT p.user_id, u.name, p.torrent_id, p.peer_id, p.addr, p.uploaded, p.downloaded,
		p.left_bytes, p.at_ms, p.stopped FROM peers p JOIN users u ON u.id = p.user_id
		WHERE p.torrent_id = $1 AND p.at_ms >= $2 AND NOT p.stopped ORDER BY p.at_ms DESC`, id, since.UnixMilli())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*catalog.Peer
	for rows.Next() {
		var p catalog.Peer
		var pid []byte
		var at int64
		if err := rows.Scan(&p.UserID, &p.UserName, &p.TorrentID, &pid, &p.Addr, &p.Uploaded, &p.Downloaded,
			&p.Left, &at, &p.Stopped); err != nil {
			return nil, err
		}
		copy(p.PeerID[:], pid)
		p.Client = catalog.PrintableClient(p.PeerID[:])
		p.LastAnnounce = unixMilli(at)
		out = append(out, &p)
	}
	return out, rows.Err()
}
