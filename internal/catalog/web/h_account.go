package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gale-bt/gale/internal/catalog"
)

// Sign-in bounds: longer names and passwords cannot be valid, so they are
// refused before any hashing.
const maxLoginName = 64

type loginView struct {
	Name, Next, Error string
	Bootstrap         bool
}

func (s *Server) loginPage(q *req) error {
	if q.me != nil {
		return q.redirect(safeNext(q.query("next")))
	}
	need, err := s.cat.NeedsBootstrap(q.ctx)
	if err != nil {
		return err
	}
	return q.ok("login", "Sign in", loginView{Next: safeNext(q.query("next")), Bootstrap: need})
}

// login checks the rate limits (per address and per name) before the
// password, counts failures, and starts a session.
func (s *Server) login(q *req) error {
	name := strings.TrimSpace(q.value("name"))
	pw := q.value("password")
	next := safeNext(q.value("next"))
	ip := s.clientAddr(q.r)
	nameKey := strings.ToLower(name)
	if b, d := s.loginByIP.blocked(ip); b {
		return &errLimited{d}
	}
	if b, d := s.loginByName.blocked(nameKey); b {
		return &errLimited{d}
	}
	fail := func(msg string) error {
		s.loginByIP.add(ip)
		s.loginByName.add(nameKey)
		return q.render(http.StatusUnauthorized, "login", "Sign in", loginView{Name: name, Next: next, Error: msg})
	}
	if name == "" || pw == "" || len(name) > maxLoginName || len(pw) > catalog.MaxPasswordLen {
		return fail("wrong name or password")
	}
	var u *catalog.User
	err := s.hashing(q.ctx, func() (err error) {
		u, err = s.cat.Authenticate(q.r.Context(), name, pw)
		return err
	})
	if catalog.ErrorCode(err) == catalog.EUNAUTHORIZED {
		return fail(catalog.ErrorMessage(err))
	}
	if err != nil {
		return err
	}
	s.loginByName.reset(nameKey)
	if err := s.startSession(q, u); err != nil {
		return err
	}
	return q.redirect(next)
}

// startSession replaces the request's session (if any) with a new one for
// u.
func (s *Server) startSession(q *req, u *catalog.User) error {
	if q.session != "" {
		if err := s.cat.DeleteSession(q.r.Context(), q.session); err != nil {
			s.log.Warn("web: ending old session failed", "err", err)
		}
	}
	token, err := s.cat.CreateSession(catalog.WithUser(q.r.Context(), u), u.ID, s.cfg.SessionTTL)
	if err != nil {
		return err
	}
	s.setCookie(q.w, "session", token, int(s.cfg.SessionTTL/time.Second))
	q.session, q.me, q.csrf = token, u, sessionCSRF(token)
	return nil
}

func (s *Server) logout(q *req) error {
	if q.session != "" {
		if err := s.cat.DeleteSession(q.r.Context(), q.session); err != nil {
			return err
		}
	}
	s.clearCookie(q.w, "session")
	return q.redirect("/login")
}

type signupView struct {
	Name, Invite, Error string
	// Bootstrap: this sign-up creates the first administrator.
	Bootstrap bool
	// NeedInvite: the form asks for an invite code; Closed: sign-up is
	// closed and there is no code.
	NeedInvite, Closed bool
}

func (s *Server) signupView(q *req, name, invite, msg string) (signupView, error) {
	need, err := s.cat.NeedsBootstrap(q.ctx)
	if err != nil {
		return signupView{}, err
	}
	v := signupView{Name: name, Invite: invite, Error: msg}
	v.Bootstrap = need && invite != ""
	v.NeedInvite = q.site.Signup != catalog.SignupOpen
	v.Closed = q.site.Signup == catalog.SignupClosed && invite == ""
	return v, nil
}

func (s *Server) signupPage(q *req) error {
	if q.me != nil {
		return q.redirect("/")
	}
	invite := q.query("invite")
	if len(invite) > 200 {
		return catalog.Errorf(catalog.EINVALID, "that is not an invite code")
	}
	v, err := s.signupView(q, "", invite, "")
	if err != nil {
		return err
	}
	title := "Sign up"
	if v.Bootstrap {
		title = "Create the administrator"
	}
	return q.ok("signup", title, v)
}

func (s *Server) signup(q *req) error {
	ip := s.clientAddr(q.r)
	if b, d := s.signupByIP.blocked(ip); b {
		return &errLimited{d}
	}
	s.signupByIP.add(ip)
	name := strings.TrimSpace(q.value("name"))
	pw, pw2 := q.value("password"), q.value("password2")
	invite := strings.TrimSpace(q.value("invite"))
	again := func(status int, msg string) error {
		v, err := s.signupView(q, name, invite, msg)
		if err != nil {
			return err
		}
		return q.render(status, "signup", "Sign up", v)
	}
	if pw != pw2 {
		return again(http.StatusBadRequest, "the passwords do not match")
	}
	if len(invite) > 200 {
		return again(http.StatusForbidden, "the invite code is unknown, used or expired")
	}
	var u *catalog.User
	err := s.hashing(q.ctx, func() (err error) {
		u, err = s.cat.SignUp(q.r.Context(), catalog.SignUp{Name: name, Password: pw, InviteCode: invite})
		return err
	})
	if code := catalog.ErrorCode(err); code != "" && code != catalog.EINTERNAL {
		status, _, msg, _ := errorStatus(err)
		return again(status, msg)
	}
	if err != nil {
		return err
	}
	if err := s.startSession(q, u); err != nil {
		return err
	}
	if u.Admin {
		q.setFlash("Welcome, " + u.Name + ": you are an administrator of this site.")
	} else {
		q.setFlash("Welcome, " + u.Name + ".")
	}
	return q.redirect("/")
}

type accountView struct {
	Error string
}

func (s *Server) accountPage(q *req) error {
	return q.ok("account", "Account", accountView{})
}

// changePassword checks the current password (rate-limited like signing
// in), sets the new one, which ends every session, and signs in anew.
func (s *Server) changePassword(q *req) error {
	cur, pw, pw2 := q.value("current"), q.value("password"), q.value("password2")
	nameKey := strings.ToLower(q.me.Name)
	if b, d := s.loginByName.blocked(nameKey); b {
		return &errLimited{d}
	}
	again := func(status int, msg string) error {
		return q.render(status, "account", "Account", accountView{Error: msg})
	}
	if pw != pw2 {
		return again(http.StatusBadRequest, "the new passwords do not match")
	}
	if len(cur) > catalog.MaxPasswordLen {
		return again(http.StatusForbidden, "the current password is wrong")
	}
	err := s.hashing(q.ctx, func() error {
		_, err := s.cat.Authenticate(q.r.Context(), q.me.Name, cur)
		return err
	})
	if catalog.ErrorCode(err) == catalog.EUNAUTHORIZED {
		s.loginByName.add(nameKey)
		return again(http.StatusForbidden, "the current password is wrong")
	}
	if err != nil {
		return err
	}
	err = s.hashing(q.ctx, func() error {
		_, err := s.cat.UpdateUser(q.ctx, q.me.ID, catalog.UserUpdate{Password: &pw})
		return err
	})
	if code := catalog.ErrorCode(err); code == catalog.EINVALID {
		return again(http.StatusBadRequest, catalog.ErrorMessage(err))
	}
	if err != nil {
		return err
	}
	q.session = "" // ended by the change
	if err := s.startSession(q, q.me); err != nil {
		return err
	}
	q.setFlash("Your password was changed; other sessions were signed out.")
	return q.redirect("/account")
}

// API tokens (own: /account/tokens; administrators: /admin/tokens).

type tokensView struct {
	User    *catalog.User
	Tokens  []*catalog.Token
	Scopes  []string
	Secret  string // a new token's secret, shown once
	Created *catalog.Token
	Action  string // form action
	Admin   bool
}

func (s *Server) tokensView(q *req, u *catalog.User, action string) (*tokensView, error) {
	list, err := s.cat.Tokens(q.ctx, u.ID)
	if err != nil {
		return nil, err
	}
	return &tokensView{User: u, Tokens: list, Scopes: catalog.TokenScopes, Action: action}, nil
}

func (s *Server) tokensPage(q *req) error {
	v, err := s.tokensView(q, q.me, "/account/tokens")
	if err != nil {
		return err
	}
	return q.ok("tokens", "API tokens", v)
}

// newToken creates a token for u from the form and shows its secret.
func (s *Server) newToken(q *req, u *catalog.User, action string) error {
	days, err := intParam(q.value("days"), "days", 0, 0, 3650)
	if err != nil {
		return err
	}
	var scopes []string
	for _, sc := range q.form["scope"] {
		if !slices.Contains(catalog.TokenScopes, sc) {
			return catalog.Errorf(catalog.EINVALID, "unknown scope %q", truncate(sc, 40))
		}
		scopes = append(scopes, sc)
	}
	secret, tk, err := s.cat.CreateToken(q.ctx, catalog.NewTokenSpec{UserID: u.ID, Name: strings.TrimSpace(q.value("name")),
		Scopes: scopes, TTL: time.Duration(days) * 24 * time.Hour})
	if err != nil {
		return err
	}
	v, err := s.tokensView(q, u, action)
	if err != nil {
		return err
	}
	v.Secret, v.Created, v.Admin = secret, tk, action != "/account/tokens"
	return q.render(http.StatusCreated, "tokens", "API tokens", v)
}

func (s *Server) createToken(q *req) error { return s.newToken(q, q.me, "/account/tokens") }

func (s *Server) revokeToken(q *req) error {
	id, err := q.pathID("token")
	if err != nil {
		return err
	}
	if err := s.cat.RevokeToken(q.ctx, id); err != nil {
		return err
	}
	q.setFlash("The token was revoked.")
	return q.redirect("/account/tokens")
}

func (s *Server) adminTokens(q *req) error {
	if err := q.requireAdmin(); err != nil {
		return err
	}
	name := strings.TrimSpace(q.query("user"))
	if name == "" {
		return q.ok("tokens", "API tokens", &tokensView{Admin: true, Action: "/admin/tokens"})
	}
	u, err := s.cat.UserByName(q.ctx, name)
	if err != nil {
		return err
	}
	v, err := s.tokensView(q, u, "/admin/tokens?user="+url.QueryEscape(u.Name))
	if err != nil {
		return err
	}
	v.Admin = true
	return q.ok("tokens", "API tokens of "+u.Name, v)
}

func (s *Server) adminCreateToken(q *req) error {
	if err := q.requireAdmin(); err != nil {
		return err
	}
	u, err := s.cat.UserByName(q.ctx, strings.TrimSpace(q.value("user")))
	if err != nil {
		return err
	}
	return s.newToken(q, u, "/admin/tokens?user="+url.QueryEscape(u.Name))
}

func (s *Server) adminRevokeToken(q *req) error {
	if err := q.requireAdmin(); err != nil {
		return err
	}
	id, err := q.pathID("token")
	if err != nil {
		return err
	}
	if err := s.cat.RevokeToken(q.ctx, id); err != nil {
		return err
	}
	q.setFlash("Token " + strconv.FormatInt(id, 10) + " was revoked.")
	return q.redirect("/admin/tokens?user=" + url.QueryEscape(q.value("user")))
}

// requireAdmin refuses non-administrators before a page does any work
// (the services would refuse them too).
func (q *req) requireAdmin() error {
	if q.me == nil {
		return errSignIn
	}
	if !q.me.Admin {
		return catalog.Forbidden("administer the site")
	}
	return nil
}
