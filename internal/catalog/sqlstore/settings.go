package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gale-bt/gale/internal/catalog"
)

// Setting names and defaults.
const (
	setSiteName     = "site_name"
	setFreeleech    = "freeleech"
	setDoubleUpload = "double_upload"
	setSignup       = "signup"
	setFlagRate     = "flag_rate"
	setSecret       = "secret"

	// DefaultFlagRate flags deltas above 100 MiB/s.
	DefaultFlagRate = 100 << 20
)

// initSettings inserts missing settings with their defaults, the secret
// random.
func (s *Store) initSettings(ctx context.Context) error {
	defaults := map[string]string{
		setSiteName:     "gale",
		setFreeleech:    "false",
		setDoubleUpload: "false",
		setSignup:       string(catalog.SignupInvite),
		setFlagRate:     strconv.Itoa(DefaultFlagRate),
		setSecret:       catalog.NewSecret(),
	}
	return s.write(ctx, func(t *txn) error {
		for k, v := range defaults {
			if _, err := t.exec(`INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, k, v); err != nil {
				return err
			}
		}
		return nil
	})
}

func (t *txn) settings() (*catalog.Settings, error) {
	rows, err := t.query(`SELECT name, value FROM settings`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	st := &catalog.Settings{Signup: catalog.SignupInvite}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		switch k {
		case setSiteName:
			st.SiteName = v
		case setFreeleech:
			st.Freeleech = v == "true"
		case setDoubleUpload:
			st.DoubleUpload = v == "true"
		case setSignup:
			st.Signup = catalog.SignupMode(v)
		case setFlagRate:
			st.FlagRate, _ = strconv.ParseInt(v, 10, 64)
		case setSecret:
			st.Secret = v
		}
	}
	return st, rows.Err()
}

func (t *txn) setSetting(k, v string) error {
	_, err := t.exec(`INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value`, k, v)
	return err
}

// Settings implements catalog.SettingsService.
func (s *Store) Settings(ctx context.Context) (*catalog.Settings, error) {
	a := catalog.ActorFrom(ctx)
	var st *catalog.Settings
	err := s.read(ctx, func(t *txn) error {
		var err error
		st, err = t.settings()
		return err
	})
	if err != nil {
		return nil, err
	}
	if !a.System {
		st.Secret = ""
	}
	return st, nil
}

// UpdateSettings implements catalog.SettingsService.
func (s *Store) UpdateSettings(ctx context.Context, up catalog.SettingsUpdate) (*catalog.Settings, error) {
	a := catalog.ActorFrom(ctx)
	if err := catalog.RequireAdmin(a, "change the site settings"); err != nil {
		return nil, err
	}
	set := map[string]string{}
	if up.SiteName != nil {
		n := strings.TrimSpace(*up.SiteName)
		if err := catalog.CheckLabel("site", n, catalog.MaxCategoryLen); err != nil {
			return nil, err
		}
		set[setSiteName] = n
	}
	if up.Freeleech != nil {
		set[setFreeleech] = strconv.FormatBool(*up.Freeleech)
	}
	if up.DoubleUpload != nil {
		set[setDoubleUpload] = strconv.FormatBool(*up.DoubleUpload)
	}
	if up.Signup != nil {
		switch *up.Signup {
		case catalog.SignupOpen, catalog.SignupInvite, catalog.SignupClosed:
		default:
			return nil, catalog.Errorf(catalog.EINVALID, "sign-up is open, invite or closed")
		}
		set[setSignup] = string(*up.Signup)
	}
	if up.FlagRate != nil {
		if *up.FlagRate < 0 {
			return nil, catalog.Errorf(catalog.EINVALID, "the flag rate cannot be negative")
		}
		set[setFlagRate] = strconv.FormatInt(*up.FlagRate, 10)
	}
	if up.Secret != nil {
		sec := *up.Secret
		if len(sec) < 8 || len(sec) > 200 || !utf8.ValidString(sec) || strings.ContainsAny(sec, "\x00") {
			return nil, catalog.Errorf(catalog.EINVALID, "the secret has 8 to 200 bytes of text")
		}
		set[setSecret] = sec
	}
	var st *catalog.Settings
	err := s.write(ctx, func(t *txn) error {
		for k, v := range set {
			if err := t.setSetting(k, v); err != nil {
				return err
			}
		}
		if len(set) > 0 {
			t.changed(catalog.ChangeSettings, 0)
		}
		var err error
		st, err = t.settings()
		return err
	})
	if err != nil {
		return nil, err
	}
	if !a.System {
		st.Secret = ""
	}
	return st, nil
}

// rightsTable loads the whole rights table (it is small: groups x
// categories).
func (t *txn) rightsTable() (catalog.RightsTable, error) {
	rows, err := t.query(`SELECT group_id, category_id, rights FROM group_rights`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	tab := catalog.RightsTable{}
	for rows.Next() {
		var k catalog.RightsKey
		var r int64
		if err := rows.Scan(&k.GroupID, &k.CategoryID, &r); err != nil {
			return nil, err
		}
		tab[k] = catalog.Rights(r).Normalize()
	}
	return tab, rows.Err()
}

// actorRights returns the actor's rights in a category, read in t.
func (t *txn) actorRights(a catalog.Actor, cat int64) (catalog.Rights, error) {
	if a.IsAdmin() {
		return catalog.RightsAll, nil
	}
	if !a.Active() {
		return 0, nil
	}
	var r int64
	err := t.row(`SELECT rights FROM group_rights WHERE group_id = $1 AND category_id = $2`, a.User.GroupID, cat).Scan(&r)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	return catalog.Rights(r).Normalize(), err
}

// userRights returns a user's rights in a category, read in t (the user's
// current group and flags, not a possibly stale copy).
func (t *txn) userRights(userID, cat int64) (catalog.Rights, *catalog.User, error) {
	u, err := t.user(userID)
	if err != nil {
		return 0, nil, err
	}
	r, err := t.actorRights(catalog.Actor{User: u}, cat)
	return r, u, err
}

// ClientRules implements catalog.ClientRuleService.
func (s *Store) ClientRules(ctx context.Context) ([]*catalog.ClientRule, error) {
	if err := catalog.RequireAdmin(catalog.ActorFrom(ctx), "see the client rules"); err != nil {
		return nil, err
	}
	var out []*catalog.ClientRule
	err := s.read(ctx, func(t *txn) error {
		rules, err := t.clientRules()
		for i := range rules {
			out = append(out, &rules[i])
		}
		return err
	})
	return out, err
}

func (t *txn) clientRules() ([]catalog.ClientRule, error) {
	rows, err := t.query(`SELECT id, prefix, allow, note, created_at FROM client_rules ORDER BY prefix`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []catalog.ClientRule
	for rows.Next() {
		var r catalog.ClientRule
		var prefix []byte
		var at int64
		if err := rows.Scan(&r.ID, &prefix, &r.Allow, &r.Note, &at); err != nil {
			return nil, err
		}
		r.Prefix, r.CreatedAt = string(prefix), unixTime(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// AddClientRule implements catalog.ClientRuleService.
func (s *Store) AddClientRule(ctx context.Context, r catalog.ClientRule) (*catalog.ClientRule, error) {
	if err := catalog.RequireAdmin(catalog.ActorFrom(ctx), "change the client rules"); err != nil {
		return nil, err
	}
	if len(r.Prefix) == 0 || len(r.Prefix) > 20 {
		return nil, catalog.Errorf(catalog.EINVALID, "a peer ID prefix has 1 to 20 bytes")
	}
	if err := catalog.CheckText("the note", r.Note, catalog.MaxReasonLen); err != nil {
		return nil, err
	}
	err := s.write(ctx, func(t *txn) error {
		r.CreatedAt = unixTime(t.now.Unix())
		err := t.row(`INSERT INTO client_rules (prefix, allow, note, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
			[]byte(r.Prefix), r.Allow, r.Note, t.now.Unix()).Scan(&r.ID)
		if isUnique(err) {
			return catalog.Errorf(catalog.ECONFLICT, "a rule for this prefix exists")
		}
		t.changed(catalog.ChangeRules, 0)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// DeleteClientRule implements catalog.ClientRuleService.
func (s *Store) DeleteClientRule(ctx context.Context, id int64) error {
	if err := catalog.RequireAdmin(catalog.ActorFrom(ctx), "change the client rules"); err != nil {
		return err
	}
	return s.write(ctx, func(t *txn) error {
		res, err := t.exec(`DELETE FROM client_rules WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound("client rule")
		}
		t.changed(catalog.ChangeRules, 0)
		return nil
	})
}
