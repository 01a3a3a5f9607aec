package sqlstore

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"

	"github.com/gale-bt/gale/internal/catalog"
)

// MaxSessionTTL bounds CreateSession's ttl.
const MaxSessionTTL = 90 * 24 * time.Hour

var errBadSession = catalog.Errorf(catalog.EUNAUTHORIZED, "your session has ended; sign in again")

// CreateSession implements catalog.SessionService.
func (s *Store) CreateSession(ctx context.Context, userID int64, ttl time.Duration) (string, error) {
	a := catalog.ActorFrom(ctx)
	if !a.System && !a.Is(userID) {
		return "", catalog.Forbidden("create a session for another user")
	}
	if ttl <= 0 || ttl > MaxSessionTTL {
		return "", catalog.Errorf(catalog.EINVALID, "a session lasts up to %v", MaxSessionTTL)
	}
	secret, hash := catalog.NewToken("")
	err := s.write(ctx, func(t *txn) error {
		u, err := t.user(userID)
		if err != nil {
			return err
		}
		if u.Disabled {
			return catalog.Errorf(catalog.EUNAUTHORIZED, "your account is disabled")
		}
		now := t.now.Unix()
		if _, err := t.exec(`INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
			hash, userID, now, t.now.Add(ttl).Unix()); err != nil {
			return err
		}
		// Expired sessions go now and then.
		if hash[0] == '0' {
			_, err = t.exec(`DELETE FROM sessions WHERE expires_at < $1`, now)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

// SessionUser implements catalog.SessionService.
func (s *Store) SessionUser(ctx context.Context, token string) (*catalog.User, error) {
	if token == "" || len(token) > 200 {
		return nil, errBadSession
	}
	var u *catalog.User
	err := s.read(ctx, func(t *txn) error {
		var uid, expires int64
		err := t.row(`SELECT user_id, expires_at FROM sessions WHERE token_hash = $1`, catalog.HashToken(token)).Scan(&uid, &expires)
		if err == sql.ErrNoRows || (err == nil && expires <= t.now.Unix()) {
			return errBadSession
		}
		if err != nil {
			return err
		}
		if u, err = t.user(uid); err != nil {
			return err
		}
		if u.Disabled {
			return errBadSession
		}
		return nil
	})
	return u, err
}

// DeleteSession implements catalog.SessionService.
func (s *Store) DeleteSession(ctx context.Context, token string) error {
	return s.write(ctx, func(t *txn) error {
		_, err := t.exec(`DELETE FROM sessions WHERE token_hash = $1`, catalog.HashToken(token))
		return err
	})
}

const inviteColumns = `id, COALESCE(created_by, 0), group_id, admin, note, created_at, expires_at, COALESCE(used_by, 0), used_at`

func scanInvite(r scanner) (*catalog.Invite, error) {
	var in catalog.Invite
	var created, expires, used int64
	if err := r.Scan(&in.ID, &in.CreatedBy, &in.GroupID, &in.Admin, &in.Note, &created, &expires, &in.UsedBy, &used); err != nil {
		return nil, err
	}
	in.CreatedAt, in.ExpiresAt, in.UsedAt = unixTime(created), unixTime(expires), unixTime(used)
	return &in, nil
}

// CreateInvite implements catalog.InviteService.
func (s *Store) CreateInvite(ctx context.Context, ni catalog.NewInvite) (string, *catalog.Invite, error) {
	a := catalog.ActorFrom(ctx)
	if err := catalog.RequireAdmin(a, "invite users"); err != nil {
		return "", nil, err
	}
	if err := catalog.CheckText("the note", ni.Note, catalog.MaxReasonLen); err != nil {
		return "", nil, err
	}
	ttl := ni.TTL
	if ttl <= 0 {
		ttl = 7 * 24 * time.Hour
	}
	ttl = min(ttl, 365*24*time.Hour)
	if ni.GroupID == 0 {
		ni.GroupID = 1
	}
	code, hash := catalog.NewToken("")
	var in *catalog.Invite
	err := s.write(ctx, func(t *txn) error {
		var by any
		if id := a.UserID(); id != 0 {
			by = id
		}
		if n, err := t.countGroup(ni.GroupID); err != nil || n == 0 {
			if err == nil {
				err = notFound("group")
			}
			return err
		}
		var id int64
		err := t.row(`INSERT INTO invites (code_hash, created_by, group_id, admin, note, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
			hash, by, ni.GroupID, ni.Admin, ni.Note, t.now.Unix(), t.now.Add(ttl).Unix()).Scan(&id)
		if err != nil {
			return err
		}
		in, err = scanInvite(t.row(`SELECT `+inviteColumns+` FROM invites WHERE id = $1`, id))
		return err
	})
	if err != nil {
		return "", nil, err
	}
	return code, in, nil
}

func (t *txn) countGroup(id int64) (int, error) {
	var n int
	err := t.row(`SELECT COUNT(*) FROM user_groups WHERE id = $1`, id).Scan(&n)
	return n, err
}

// Invites implements catalog.InviteService.
func (s *Store) Invites(ctx context.Context) ([]*catalog.Invite, error) {
	if err := catalog.RequireAdmin(catalog.ActorFrom(ctx), "see invites"); err != nil {
		return nil, err
	}
	var out []*catalog.Invite
	err := s.read(ctx, func(t *txn) error {
		rows, err := t.query(`SELECT `+inviteColumns+` FROM invites WHERE used_by IS NULL AND used_at = 0
			AND expires_at > $1 ORDER BY id DESC`, t.now.Unix())
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			in, err := scanInvite(rows)
			if err != nil {
				return err
			}
			out = append(out, in)
		}
		return rows.Err()
	})
	return out, err
}

// DeleteInvite implements catalog.InviteService.
func (s *Store) DeleteInvite(ctx context.Context, id int64) error {
	if err := catalog.RequireAdmin(catalog.ActorFrom(ctx), "revoke invites"); err != nil {
		return err
	}
	return s.write(ctx, func(t *txn) error {
		res, err := t.exec(`DELETE FROM invites WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound("invite")
		}
		return nil
	})
}

var errBadInvite = catalog.Errorf(catalog.EFORBIDDEN, "the invite code is unknown, used or expired")

// SignUp implements catalog.InviteService.
func (s *Store) SignUp(ctx context.Context, su catalog.SignUp) (*catalog.User, error) {
	if err := catalog.CheckUserName(su.Name); err != nil {
		return nil, err
	}
	if err := catalog.CheckPassword(su.Password); err != nil {
		return nil, err
	}
	var u *catalog.User
	err := s.write(ctx, func(t *txn) error {
		st, err := t.settings()
		if err != nil {
			return err
		}
		group, admin := int64(1), false
		var inviteID int64
		if su.InviteCode != "" {
			var expires, used int64
			var usedBy sql.NullInt64
			err := t.row(`SELECT id, group_id, admin, expires_at, used_by, used_at FROM invites WHERE code_hash = $1`,
				catalog.HashToken(su.InviteCode)).Scan(&inviteID, &group, &admin, &expires, &usedBy, &used)
			if err == sql.ErrNoRows || (err == nil && (usedBy.Valid || used != 0 || expires <= t.now.Unix())) {
				return errBadInvite
			}
			if err != nil {
				return err
			}
		} else if st.Signup != catalog.SignupOpen {
			return catalog.Errorf(catalog.EFORBIDDEN, "sign-up needs an invite")
		}
		if u, err = t.insertUser(su.Name, su.Password, admin, group); err != nil {
			return err
		}
		if inviteID != 0 {
			res, err := t.exec(`UPDATE invites SET used_by = $1, used_at = $2 WHERE id = $3 AND used_at = 0`, u.ID, t.now.Unix(), inviteID)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return errBadInvite
			}
		}
		return nil
	})
	return u, err
}

// NeedsBootstrap implements catalog.InviteService.
func (s *Store) NeedsBootstrap(ctx context.Context) (bool, error) {
	var n int
	err := s.read(ctx, func(t *txn) error {
		return t.row(`SELECT COUNT(*) FROM users WHERE admin AND NOT disabled`).Scan(&n)
	})
	return n == 0, err
}

const tokenColumns = `id, user_id, name, scopes, created_at, expires_at, last_used_at, revoked`

func scanToken(r scanner) (*catalog.Token, error) {
	var tk catalog.Token
	var scopes string
	var created, expires, used int64
	if err := r.Scan(&tk.ID, &tk.UserID, &tk.Name, &scopes, &created, &expires, &used, &tk.Revoked); err != nil {
		return nil, err
	}
	if scopes != "" {
		tk.Scopes = strings.Split(scopes, " ")
	}
	tk.CreatedAt, tk.ExpiresAt, tk.LastUsedAt = unixTime(created), unixTime(expires), unixTime(used)
	return &tk, nil
}

// CreateToken implements catalog.TokenService.
func (s *Store) CreateToken(ctx context.Context, spec catalog.NewTokenSpec) (string, *catalog.Token, error) {
	a := catalog.ActorFrom(ctx)
	if err := catalog.RequireActive(a); err != nil {
		return "", nil, err
	}
	if spec.UserID == 0 {
		spec.UserID = a.UserID()
	}
	if !a.IsAdmin() && !a.Is(spec.UserID) {
		return "", nil, catalog.Forbidden("create tokens for another user")
	}
	if a.Scopes != nil {
		return "", nil, catalog.Forbidden("create tokens with a token")
	}
	if err := catalog.CheckLabel("token", spec.Name, catalog.MaxCategoryLen); err != nil {
		return "", nil, err
	}
	if len(spec.Scopes) == 0 {
		return "", nil, catalog.Errorf(catalog.EINVALID, "a token needs at least one scope")
	}
	var scopes []string
	for _, sc := range spec.Scopes {
		if !slices.Contains(catalog.TokenScopes, sc) {
			return "", nil, catalog.Errorf(catalog.EINVALID, "unknown scope %q", sc)
		}
		if !slices.Contains(scopes, sc) {
			scopes = append(scopes, sc)
		}
	}
	secret, hash := catalog.NewToken("gale_")
	var tk *catalog.Token
	err := s.write(ctx, func(t *txn) error {
		if _, err := t.user(spec.UserID); err != nil {
			return err
		}
		var expires int64
		if spec.TTL > 0 {
			expires = t.now.Add(spec.TTL).Unix()
		}
		var id int64
		err := t.row(`INSERT INTO api_tokens (token_hash, user_id, name, scopes, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, hash, spec.UserID, spec.Name, strings.Join(scopes, " "),
			t.now.Unix(), expires).Scan(&id)
		if err != nil {
			return err
		}
		tk, err = scanToken(t.row(`SELECT `+tokenColumns+` FROM api_tokens WHERE id = $1`, id))
		return err
	})
	if err != nil {
		return "", nil, err
	}
	return secret, tk, nil
}

// Tokens implements catalog.TokenService.
func (s *Store) Tokens(ctx context.Context, userID int64) ([]*catalog.Token, error) {
	a := catalog.ActorFrom(ctx)
	if !a.IsAdmin() && !a.Is(userID) {
		if err := catalog.RequireActive(a); err != nil {
			return nil, err
		}
		return nil, catalog.Forbidden("see another user's tokens")
	}
	var out []*catalog.Token
	err := s.read(ctx, func(t *txn) error {
		rows, err := t.query(`SELECT `+tokenColumns+` FROM api_tokens WHERE user_id = $1 ORDER BY id`, userID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			tk, err := scanToken(rows)
			if err != nil {
				return err
			}
			out = append(out, tk)
		}
		return rows.Err()
	})
	return out, err
}

// RevokeToken implements catalog.TokenService.
func (s *Store) RevokeToken(ctx context.Context, id int64) error {
	a := catalog.ActorFrom(ctx)
	if err := catalog.RequireActive(a); err != nil {
		return err
	}
	return s.write(ctx, func(t *txn) error {
		var owner int64
		err := t.row(`SELECT user_id FROM api_tokens WHERE id = $1`, id).Scan(&owner)
		if err == sql.ErrNoRows {
			return notFound("token")
		}
		if err != nil {
			return err
		}
		if !a.IsAdmin() && !a.Is(owner) {
			return catalog.Forbidden("revoke another user's token")
		}
		_, err = t.exec(`UPDATE api_tokens SET revoked = TRUE WHERE id = $1`, id)
		return err
	})
}

var errBadToken = catalog.Errorf(catalog.EUNAUTHORIZED, "invalid API token")

// TokenActor implements catalog.TokenService. It records the token's last
// use at most once a minute.
func (s *Store) TokenActor(ctx context.Context, secret string) (catalog.Actor, *catalog.Token, error) {
	if !strings.HasPrefix(secret, "gale_") || len(secret) > 200 {
		return catalog.Actor{}, nil, errBadToken
	}
	var tk *catalog.Token
	var u *catalog.User
	err := s.read(ctx, func(t *txn) error {
		var err error
		tk, err = scanToken(t.row(`SELECT `+tokenColumns+` FROM api_tokens WHERE token_hash = $1`, catalog.HashToken(secret)))
		if err == sql.ErrNoRows {
			return errBadToken
		}
		if err != nil {
			return err
		}
		if tk.Revoked || (!tk.ExpiresAt.IsZero() && !tk.ExpiresAt.After(t.now)) {
			return errBadToken
		}
		if u, err = t.user(tk.UserID); err != nil {
			return err
		}
		if u.Disabled {
			return errBadToken
		}
		return nil
	})
	if err != nil {
		return catalog.Actor{}, nil, err
	}
	if now := s.now(); now.Sub(tk.LastUsedAt) > time.Minute {
		err := s.write(ctx, func(t *txn) error {
			_, err := t.exec(`UPDATE api_tokens SET last_used_at = $1 WHERE id = $2`, now.Unix(), tk.ID)
			return err
		})
		if err != nil {
			s.log.Warn("recording token use failed", "token", tk.ID, "err", err)
		}
	}
	scopes := tk.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	return catalog.Actor{User: u, Scopes: scopes}, tk, nil
}
