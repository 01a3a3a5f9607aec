package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/gale-bt/gale/internal/catalog"
)

const userColumns = `u.id, u.name, u.admin, u.disabled, u.disabled_reason, u.group_id, g.name,
	u.key_version, u.feed_version, u.created_at, u.updated_at`

const userFrom = ` FROM users u JOIN user_groups g ON g.id = u.group_id `

type scanner interface{ Scan(dest ...any) error }

func scanUser(r scanner) (*catalog.User, error) {
	var u catalog.User
	var created, updated int64
	err := r.Scan(&u.ID, &u.Name, &u.Admin, &u.Disabled, &u.DisabledReason, &u.GroupID, &u.GroupName,
		&u.KeyVersion, &u.FeedVersion, &created, &updated)
	if err != nil {
		return nil, err
	}
	u.CreatedAt, u.UpdatedAt = unixTime(created), unixTime(updated)
	return &u, nil
}

func (t *txn) user(id int64) (*catalog.User, error) {
	u, err := scanUser(t.row(`SELECT `+userColumns+userFrom+`WHERE u.id = $1`, id))
	if err == sql.ErrNoRows {
		return nil, notFound("user")
	}
	return u, err
}

func (t *txn) userByName(name string) (*catalog.User, error) {
	u, err := scanUser(t.row(`SELECT `+userColumns+userFrom+`WHERE u.name_key = $1`, strings.ToLower(name)))
	if err == sql.ErrNoRows {
		return nil, notFound("user")
	}
	return u, err
}

// insertUser adds a user; the caller checked rights and inputs.
func (t *txn) insertUser(name, password string, admin bool, group int64) (*catalog.User, error) {
	if err := catalog.CheckUserName(name); err != nil {
		return nil, err
	}
	hash := ""
	if password != "" {
		var err error
		if hash, err = catalog.HashPassword(password, t.s.opts.Argon2); err != nil {
			return nil, err
		}
	}
	if group == 0 {
		group = 1
	}
	var n int
	if err := t.row(`SELECT COUNT(*) FROM user_groups WHERE id = $1`, group).Scan(&n); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, notFound("group")
	}
	now := t.now.Unix()
	var id int64
	err := t.row(`INSERT INTO users (name, name_key, password_hash, admin, group_id, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id`, name, strings.ToLower(name), hash, admin, group, now).Scan(&id)
	if isUnique(err) {
		return nil, catalog.Errorf(catalog.ECONFLICT, "the name %q is taken", name)
	}
	if err != nil {
		return nil, err
	}
	if id > catalog.MaxKeyUserID {
		return nil, catalog.Errorf(catalog.EINTERNAL, "user IDs are exhausted")
	}
	if _, err := t.exec(`INSERT INTO user_stats (user_id) VALUES ($1)`, id); err != nil {
		return nil, err
	}
	t.changed(catalog.ChangeUser, id)
	return t.user(id)
}

// CreateUser implements catalog.UserService.
func (s *Store) CreateUser(ctx context.Context, nu catalog.NewUser) (*catalog.User, error) {
	if err := catalog.RequireAdmin(catalog.ActorFrom(ctx), "create users"); err != nil {
		return nil, err
	}
	var u *catalog.User
	err := s.write(ctx, func(t *txn) error {
		var err error
		u, err = t.insertUser(nu.Name, nu.Password, nu.Admin, nu.GroupID)
		return err
	})
	return u, err
}

// User implements catalog.UserService.
func (s *Store) User(ctx context.Context, id int64) (*catalog.User, error) {
	if err := catalog.RequireActive(catalog.ActorFrom(ctx)); err != nil {
		return nil, err
	}
	var u *catalog.User
	err := s.read(ctx, func(t *txn) error {
		var err error
		u, err = t.user(id)
		return err
	})
	return u, err
}

// UserByName implements catalog.UserService.
func (s *Store) UserByName(ctx context.Context, name string) (*catalog.User, error) {
	if err := catalog.RequireActive(catalog.ActorFrom(ctx)); err != nil {
		return nil, err
	}
	var u *catalog.User
	err := s.read(ctx, func(t *txn) error {
		var err error
		u, err = t.userByName(name)
		return err
	})
	return u, err
}

// Users implements catalog.UserService.
func (s *Store) Users(ctx context.Context, f catalog.UserFilter) ([]*catalog.User, int, error) {
	if err := catalog.RequireAdmin(catalog.ActorFrom(ctx), "list users"); err != nil {
		return nil, 0, err
	}
	off, lim := f.Bounds()
	where := `WHERE u.name_key LIKE $1 ESCAPE '\' AND ($2 = 0 OR u.group_id = $2) AND u.name_key > $3 AND (NOT $4 OR u.disabled)`
	args := []any{likePrefix(strings.ToLower(f.Query)), f.GroupID, strings.ToLower(f.After), f.Disabled}
	var out []*catalog.User
	var total int
	err := s.read(ctx, func(t *txn) error {
		if err := t.row(`SELECT COUNT(*)`+userFrom+where, args...).Scan(&total); err != nil {
			return err
		}
		rows, err := t.query(`SELECT `+userColumns+userFrom+where+` ORDER BY u.name_key LIMIT $5 OFFSET $6`,
			append(args, lim, off)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			u, err := scanUser(rows)
			if err != nil {
				return err
			}
			out = append(out, u)
		}
		return rows.Err()
	})
	return out, total, err
}

// likePrefix escapes LIKE wildcards and appends '%'.
func likePrefix(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s) + "%"
}

// UpdateUser implements catalog.UserService.
func (s *Store) UpdateUser(ctx context.Context, id int64, up catalog.UserUpdate) (*catalog.User, error) {
	a := catalog.ActorFrom(ctx)
	if err := catalog.RequireActive(a); err != nil {
		return nil, err
	}
	onlyPassword := up.Admin == nil && up.Disabled == nil && up.DisabledReason == nil && up.GroupID == nil
	switch {
	case a.IsAdmin():
		if a.Is(id) && (up.Admin != nil || up.Disabled != nil) {
			return nil, catalog.Forbidden("change your own administrator or disabled flag")
		}
	case a.Is(id) && onlyPassword:
	default:
		return nil, catalog.Forbidden("change this user")
	}
	var hash string
	if up.Password != nil {
		var err error
		if hash, err = catalog.HashPassword(*up.Password, s.opts.Argon2); err != nil {
			return nil, err
		}
	}
	if up.DisabledReason != nil {
		if err := catalog.CheckText("the reason", *up.DisabledReason, catalog.MaxReasonLen); err != nil {
			return nil, err
		}
	}
	var u *catalog.User
	err := s.write(ctx, func(t *txn) error {
		if _, err := t.user(id); err != nil {
			return err
		}
		now := t.now.Unix()
		if up.Password != nil {
			if _, err := t.exec(`UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3`, hash, now, id); err != nil {
				return err
			}
			// Other sessions end with a password change.
			if _, err := t.exec(`DELETE FROM sessions WHERE user_id = $1`, id); err != nil {
				return err
			}
		}
		if up.Admin != nil {
			if _, err := t.exec(`UPDATE users SET admin = $1, updated_at = $2 WHERE id = $3`, *up.Admin, now, id); err != nil {
				return err
			}
		}
		if up.Disabled != nil {
			if _, err := t.exec(`UPDATE users SET disabled = $1, updated_at = $2 WHERE id = $3`, *up.Disabled, now, id); err != nil {
				return err
			}
			if *up.Disabled {
				if _, err := t.exec(`DELETE FROM sessions WHERE user_id = $1`, id); err != nil {
					return err
				}
			}
		}
		if up.DisabledReason != nil {
			if _, err := t.exec(`UPDATE users SET disabled_reason = $1, updated_at = $2 WHERE id = $3`, *up.DisabledReason, now, id); err != nil {
				return err
			}
		}
		if up.GroupID != nil {
			var n int
			if err := t.row(`SELECT COUNT(*) FROM user_groups WHERE id = $1`, *up.GroupID).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return notFound("group")
			}
			if _, err := t.exec(`UPDATE users SET group_id = $1, updated_at = $2 WHERE id = $3`, *up.GroupID, now, id); err != nil {
				return err
			}
		}
		t.changed(catalog.ChangeUser, id)
		var err error
		u, err = t.user(id)
		return err
	})
	return u, err
}

// bumpVersion increments a user's key_version or feed_version.
func (s *Store) bumpVersion(ctx context.Context, id int64, column string) (*catalog.User, error) {
	a := catalog.ActorFrom(ctx)
	if !a.IsAdmin() && !a.Is(id) {
		if err := catalog.RequireActive(a); err != nil {
			return nil, err
		}
		return nil, catalog.Forbidden("reset another user's keys")
	}
	var u *catalog.User
	err := s.write(ctx, func(t *txn) error {
		// column is one of two constants, never input.
		res, err := t.exec(`UPDATE users SET `+column+` = `+column+` + 1, updated_at = $1 WHERE id = $2`, t.now.Unix(), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound("user")
		}
		t.changed(catalog.ChangeUser, id)
		u, err = t.user(id)
		return err
	})
	return u, err
}

// ResetKey implements catalog.UserService.
func (s *Store) ResetKey(ctx context.Context, id int64) (*catalog.User, error) {
	return s.bumpVersion(ctx, id, "key_version")
}

// ResetFeedKey implements catalog.UserService.
func (s *Store) ResetFeedKey(ctx context.Context, id int64) (*catalog.User, error) {
	return s.bumpVersion(ctx, id, "feed_version")
}

// FeedKey implements catalog.UserService.
func (s *Store) FeedKey(ctx context.Context, id int64) (string, error) {
	a := catalog.ActorFrom(ctx)
	if !a.IsAdmin() && !a.Is(id) {
		if err := catalog.RequireActive(a); err != nil {
			return "", err
		}
		return "", catalog.Forbidden("see another user's feed key")
	}
	var key string
	err := s.read(ctx, func(t *txn) error {
		u, err := t.user(id)
		if err != nil {
			return err
		}
		st, err := t.settings()
		if err != nil {
			return err
		}
		key = catalog.FeedKey(st.Secret, u.ID, u.FeedVersion)
		return nil
	})
	return key, err
}

var errBadFeedKey = catalog.Errorf(catalog.EUNAUTHORIZED, "invalid feed key")

// FeedUser implements catalog.UserService.
func (s *Store) FeedUser(ctx context.Context, key string) (*catalog.User, error) {
	uid, ok := catalog.FeedKeyUser(key)
	if !ok {
		return nil, errBadFeedKey
	}
	var u *catalog.User
	err := s.read(ctx, func(t *txn) error {
		var err error
		if u, err = t.user(uid); err != nil {
			return errBadFeedKey
		}
		st, err := t.settings()
		if err != nil {
			return err
		}
		if u.Disabled || !catalog.CheckFeedKey(key, st.Secret, u.ID, u.FeedVersion) {
			return errBadFeedKey
		}
		return nil
	})
	return u, err
}

var errBadLogin = catalog.Errorf(catalog.EUNAUTHORIZED, "wrong name or password")

// dummyHash is verified against when the user does not exist, so that
// signing in takes as long for unknown names as for known ones.
func (s *Store) dummyHash() string {
	s.dummyOnce.Do(func() { s.dummy, _ = catalog.HashPassword("not a password at all", s.opts.Argon2) })
	return s.dummy
}

// Authenticate implements catalog.UserService.
func (s *Store) Authenticate(ctx context.Context, name, password string) (*catalog.User, error) {
	var u *catalog.User
	var hash string
	err := s.read(ctx, func(t *txn) error {
		err := t.row(`SELECT password_hash FROM users WHERE name_key = $1`, strings.ToLower(name)).Scan(&hash)
		if err == sql.ErrNoRows {
			return nil
		}
		if err != nil {
			return err
		}
		u, err = t.userByName(name)
		return err
	})
	if err != nil {
		return nil, err
	}
	if u == nil || hash == "" {
		catalog.VerifyPassword(password, s.dummyHash(), s.opts.Argon2)
		return nil, errBadLogin
	}
	ok, stale := catalog.VerifyPassword(password, hash, s.opts.Argon2)
	if !ok {
		return nil, errBadLogin
	}
	if u.Disabled {
		msg := "your account is disabled"
		if u.DisabledReason != "" {
			msg += ": " + u.DisabledReason
		}
		return nil, catalog.Errorf(catalog.EUNAUTHORIZED, "%s", msg)
	}
	if stale {
		if h, err := catalog.HashPassword(password, s.opts.Argon2); err == nil {
			err = s.write(ctx, func(t *txn) error {
				_, err := t.exec(`UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3`, h, u.ID, hash)
				return err
			})
			if err != nil {
				s.log.Warn("re-hashing a password failed", "user", u.ID, "err", err)
			}
		}
	}
	return u, nil
}

// UserStats implements catalog.UserService.
func (s *Store) UserStats(ctx context.Context, id int64) (*catalog.UserStats, error) {
	m, err := s.UsersStats(ctx, []int64{id})
	if err != nil {
		return nil, err
	}
	st, ok := m[id]
	if !ok {
		return nil, notFound("user")
	}
	return st, nil
}

// UsersStats implements catalog.UserService.
func (s *Store) UsersStats(ctx context.Context, ids []int64) (map[int64]*catalog.UserStats, error) {
	if err := catalog.RequireActive(catalog.ActorFrom(ctx)); err != nil {
		return nil, err
	}
	if len(ids) > catalog.MaxStatsBatch {
		return nil, catalog.Errorf(catalog.EINVALID, "at most %d users at once", catalog.MaxStatsBatch)
	}
	out := make(map[int64]*catalog.UserStats, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	in, args := idList("user_id", ids)
	err := s.read(ctx, func(t *txn) error {
		rows, err := t.query(`SELECT user_id, uploaded, downloaded, raw_uploaded, raw_downloaded, seed_ms, leech_ms, snatches
			FROM user_stats`+in, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var st catalog.UserStats
			var seed, leech int64
			if err := rows.Scan(&st.UserID, &st.Uploaded, &st.Downloaded, &st.RawUploaded,
				&st.RawDownloaded, &seed, &leech, &st.Snatches); err != nil {
				return err
			}
			st.SeedTime, st.LeechTime = time.Duration(seed)*time.Millisecond, time.Duration(leech)*time.Millisecond
			out[st.UserID] = &st
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		// A torrent counts as seeding when the user's active peer with the
		// least left has nothing left.
		since := t.now.Add(-s.opts.PeerTTL).UnixMilli()
		prows, err := t.query(`SELECT user_id, MIN(left_bytes) FROM peers`+in+
			fmt.Sprintf(` AND at_ms >= $%d AND NOT stopped GROUP BY user_id, torrent_id`, len(ids)+1),
			append(args, since)...)
		if err != nil {
			return err
		}
		defer prows.Close()
		for prows.Next() {
			var user, left int64
			if err := prows.Scan(&user, &left); err != nil {
				return err
			}
			st := out[user]
			switch {
			case st == nil:
			case left == 0:
				st.Seeding++
			default:
				st.Leeching++
			}
		}
		return prows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UserTorrents implements catalog.UserService.
func (s *Store) UserTorrents(ctx context.Context, id int64, active bool, p catalog.Page) ([]*catalog.UserTorrent, error) {
	a := catalog.ActorFrom(ctx)
	if err := catalog.RequireActive(a); err != nil {
		return nil, err
	}
	off, lim := p.Bounds()
	since := s.now().Add(-s.opts.PeerTTL).UnixMilli()
	var out []*catalog.UserTorrent
	err := s.read(ctx, func(t *txn) error {
		tab, err := t.rightsTable()
		if err != nil {
			return err
		}
		if !a.Is(id) && !a.IsAdmin() {
			if cats, _ := tab.Categories(a, catalog.RightModerate); len(cats) == 0 {
				return catalog.Forbidden("see another user's torrents")
			}
		}
		rows, err := t.query(`SELECT ut.user_id, u.name, ut.torrent_id, tt.name, tt.category_id, tt.deleted,
			ut.uploaded, ut.downloaded, ut.left_bytes, ut.seed_ms, ut.leech_ms, ut.snatched, ut.completed_at, ut.last_ms,
			(SELECT MIN(p.left_bytes) FROM peers p WHERE p.user_id = ut.user_id AND p.torrent_id = ut.torrent_id
				AND p.at_ms >= $2 AND NOT p.stopped)
			FROM user_torrents ut JOIN users u ON u.id = ut.user_id JOIN torrents tt ON tt.id = ut.torrent_id
			WHERE ut.user_id = $1 ORDER BY ut.last_ms DESC, ut.torrent_id DESC`, id, since)
		if err != nil {
			return err
		}
		defer rows.Close()
		skipped := 0
		for rows.Next() && len(out) < lim {
			var ut catalog.UserTorrent
			var cat int64
			var deleted bool
			var seed, leech, done, last int64
			var minLeft sql.NullInt64
			if err := rows.Scan(&ut.UserID, &ut.UserName, &ut.TorrentID, &ut.TorrentName, &cat, &deleted,
				&ut.Uploaded, &ut.Downloaded, &ut.Left, &seed, &leech, &ut.Snatched, &done, &last, &minLeft); err != nil {
				return err
			}
			r := tab.ActorRights(a, cat)
			if !r.Has(catalog.RightSee) || (deleted && !r.Has(catalog.RightModerate)) {
				continue
			}
			ut.Active, ut.Seeding = minLeft.Valid, minLeft.Valid && minLeft.Int64 == 0
			if active && !ut.Active {
				continue
			}
			if skipped < off {
				skipped++
				continue
			}
			ut.SeedTime, ut.LeechTime = time.Duration(seed)*time.Millisecond, time.Duration(leech)*time.Millisecond
			ut.CompletedAt, ut.LastAnnounce = unixTime(done), unixMilli(last)
			out = append(out, &ut)
		}
		return rows.Err()
	})
	return out, err
}
