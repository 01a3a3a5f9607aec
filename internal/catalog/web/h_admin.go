package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gale-bt/gale/internal/catalog"
)

type adminHomeView struct {
	Stats *catalog.SiteStats
}

func (s *Server) adminHome(q *req) error {
	if err := q.requireAdmin(); err != nil {
		return err
	}
	st, err := s.cat.SiteStats(q.ctx)
	if err != nil {
		return err
	}
	return q.ok("admin", "Administration", adminHomeView{Stats: st})
}

type adminUsersView struct {
	Query  string
	Group  int64
	Users  []*catalog.User
	Groups []*catalog.Group
	Pager  pager
}

func (s *Server) adminUsers(q *req) error {
	if err := q.requireAdmin(); err != nil {
		return err
	}
	v := adminUsersView{Query: strings.TrimSpace(q.query("q"))}
	if len(v.Query) > catalog.MaxNameLen {
		return catalog.Errorf(catalog.EINVALID, "a user name has at most %d characters", catalog.MaxNameLen)
	}
	var err error
	if v.Group, err = intParam(q.query("group"), "group", 0, 0, 1<<62); err != nil {
		return err
	}
	page, err := intParam(q.query("page"), "page", 1, 1, 1_000_000)
	if err != nil {
		return err
	}
	var total int
	v.Users, total, err = s.cat.Users(q.ctx, catalog.UserFilter{Query: v.Query, GroupID: v.Group,
		Page: catalog.Page{Offset: int(page-1) * pageSize, Limit: pageSize}})
	if err != nil {
		return err
	}
	if v.Groups, err = s.cat.Groups(q.ctx); err != nil {
		return err
	}
	v.Pager = newPager(int(page), total, func(p int) string {
		u := url.Values{"page": {strconv.Itoa(p)}}
		if v.Query != "" {
			u.Set("q", v.Query)
		}
		if v.Group != 0 {
			u.Set("group", strconv.FormatInt(v.Group, 10))
		}
		return "/admin/users?" + u.Encode()
	})
	return q.ok("admin_users", "Users", v)
}

func (s *Server) adminCreateUser(q *req) error {
	if err := q.requireAdmin(); err != nil {
		return err
	}
	group, err := intParam(q.value("group"), "group", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	var u *catalog.User
	err = s.hashing(q.ctx, func() (err error) {
		u, err = s.cat.CreateUser(q.ctx, catalog.NewUser{Name: strings.TrimSpace(q.value("name")),
			Password: q.value("password"), Admin: q.checked("admin"), GroupID: group})
		return err
	})
	if err != nil {
		return err
	}
	q.setFlash("The user " + u.Name + " was created.")
	return q.redirect("/admin/users/" + strconv.FormatInt(u.ID, 10))
}

type adminUserView struct {
	U      *catalog.User
	Stats  *catalog.UserStats
	Groups []*catalog.Group
	Tokens []*catalog.Token
	Self   bool
}

func (s *Server) adminUserPage(q *req) error {
	if err := q.requireAdmin(); err != nil {
		return err
	}
	id, err := q.pathID("user")
	if err != nil {
		return err
	}
	v := adminUserView{Self: id == q.me.ID}
	if v.U, err = s.cat.User(q.ctx, id); err != nil {
		return err
	}
	if v.Stats, err = s.cat.UserStats(q.ctx, id); err != nil {
		return err
	}
	if v.Groups, err = s.cat.Groups(q.ctx); err != nil {
		return err
	}
	if v.Tokens, err = s.cat.Tokens(q.ctx, id); err != nil {
		return err
	}
	return q.ok("admin_user", "User "+v.U.Name, v)
}

// adminUpdateUser applies the fields that changed, so an administrator
// can save their own page (the catalog refuses changing one's own admin
// and disabled flags).
func (s *Server) adminUpdateUser(q *req) error {
	if err := q.requireAdmin(); err != nil {
		return err
	}
	id, err := q.pathID("user")
	if err != nil {
		return err
	}
	cur, err := s.cat.User(q.ctx, id)
	if err != nil {
		return err
	}
	var up catalog.UserUpdate
	if g := q.value("group"); g != "" {
		gid, err := intParam(g, "group", 0, 1, 1<<62)
		if err != nil {
			return err
		}
		if gid != cur.GroupID {
			up.GroupID = &gid
		}
	}
	if q.value("flags") != "" { // the form shows the checkboxes (not on one's own page)
		if admin := q.checked("admin"); admin != cur.Admin {
			up.Admin = &admin
		}
		if dis := q.checked("disabled"); dis != cur.Disabled {
			up.Disabled = &dis
		}
	}
	if reason := strings.TrimSpace(q.value("reason")); reason != cur.DisabledReason {
		up.DisabledReason = &reason
	}
	if pw := q.value("password"); pw != "" {
		up.Password = &pw
	}
	if up != (catalog.UserUpdate{}) {
		err := s.hashing(q.ctx, func() error {
			_, err := s.cat.UpdateUser(q.ctx, id, up)
			return err
		})
		if err != nil {
			return err
		}
	}
	q.setFlash("The user " + cur.Name + " was saved.")
	return q.redirect("/admin/users/" + strconv.FormatInt(id, 10))
}

type adminInvitesView struct {
	Invites []*catalog.Invite
	Groups  []*catalog.Group
	Code    string // a new invite's code, shown once
	Link    string
}

func (s *Server) invitesView(q *req) (*adminInvitesView, error) {
	v := &adminInvitesView{}
	var err error
	if v.Invites, err = s.cat.Invites(q.ctx); err != nil {
		return nil, err
	}
	if v.Groups, err = s.cat.Groups(q.ctx); err != nil {
		return nil, err
	}
	return v, nil
}

func (s *Server) adminInvites(q *req) error {
	if err := q.requireAdmin(); err != nil {
		return err
	}
	v, err := s.invitesView(q)
	if err != nil {
		return err
	}
	return q.ok("admin_invites", "Invites", v)
}

func (s *Server) adminCreateInvite(q *req) error {
	if err := q.requireAdmin(); err != nil {
		return err
	}
	group, err := intParam(q.value("group"), "group", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	days, err := intParam(q.value("days"), "days", 7, 1, 365)
	if err != nil {
		return err
	}
	note := strings.TrimSpace(q.value("note"))
	if err := catalog.CheckText("the note", note, catalog.MaxReasonLen); err != nil {
		return err
	}
	code, _, err := s.cat.CreateInvite(q.ctx, catalog.NewInvite{GroupID: group, Admin: q.checked("admin"), Note: note,
		TTL: time.Duration(days) * 24 * time.Hour})
	if err != nil {
		return err
	}
	v, err := s.invitesView(q)
	if err != nil {
		return err
	}
	v.Code = code
	v.Link = s.baseURL(q.r) + "/signup?invite=" + url.QueryEscape(code)
	return q.render(http.StatusCreated, "admin_invites", "Invites", v)
}

type adminFlagsView struct {
	Flags []*catalog.Flag
	All   bool
}

// adminFlags lists flagged deltas (moderators see their categories').
func (s *Server) adminFlags(q *req) error {
	v := adminFlagsView{All: q.query("all") == "1"}
	var err error
	if v.Flags, err = s.cat.Flags(q.ctx, catalog.FlagFilter{Open: !v.All, Page: catalog.Page{Limit: 200}}); err != nil {
		return err
	}
	return q.ok("admin_flags", "Flagged transfers", v)
}

func (s *Server) adminResolveFlag(q *req) error {
	id, err := q.pathID("flag")
	if err != nil {
		return err
	}
	note := strings.TrimSpace(q.value("note"))
	if err := s.cat.ResolveFlag(q.ctx, id, note); err != nil {
		return err
	}
	q.setFlash("The flag was resolved.")
	return q.redirect("/admin/flags")
}
