package web

import (
	"context"
	"fmt"
	"strings"

	"github.com/gale-bt/gale/internal/catalog"
)

// Groups.

type adminGroupsView struct {
	Groups []*catalog.Group
}

func (s *Server) adminGroups(q *req) error {
	if err := q.requireAdmin(); err != nil {
		return err
	}
	gs, err := s.cat.Groups(q.ctx)
	if err != nil {
		return err
	}
	return q.ok("admin_groups", "Groups", adminGroupsView{gs})
}

func (s *Server) adminCreateGroup(q *req) error {
	if err := q.requireAdmin(); err != nil {
		return err
	}
	g, err := s.cat.CreateGroup(q.ctx, strings.TrimSpace(q.value("name")))
	if err != nil {
		return err
	}
	q.setFlash("The group " + g.Name + " was created; give it rights on the rights page.")
	return q.redirect("/admin/groups")
}

func (s *Server) adminRenameGroup(q *req) error {
	if err := q.requireAdmin(); err != nil {
		return err
	}
	id, err := q.pathID("group")
	if err != nil {
		return err
	}
	if _, err := s.cat.RenameGroup(q.ctx, id, strings.TrimSpace(q.value("name"))); err != nil {
		return err
	}
	q.setFlash("The group was renamed.")
	return q.redirect("/admin/groups")
}

// Categories.

type adminCategoriesView struct {
	Categories []*catalog.Category
}

func (s *Server) adminCategories(q *req) error {
	if err := q.requireAdmin(); err != nil {
		return err
	}
	cs, err := s.cat.Categories(q.ctx)
	if err != nil {
		return err
	}
	return q.ok("admin_categories", "Categories", adminCategoriesView{cs})
}

func (s *Server) adminCreateCategory(q *req) error {
	if err := q.requireAdmin(); err != nil {
		return err
	}
	pos, err := intParam(q.value("position"), "position", 0, -1_000_000, 1_000_000)
	if err != nil {
		return err
	}
	c, err := s.cat.CreateCategory(q.ctx, strings.TrimSpace(q.value("name")), int(pos))
	if err != nil {
		return err
	}
	q.setFlash("The category " + c.Name + " was created; give groups rights in it on the rights page.")
	return q.redirect("/admin/categories")
}

// adminUpdateCategory: administrators of the site, or of the category
// (the catalog checks).
func (s *Server) adminUpdateCategory(q *req) error {
	id, err := q.pathID("category")
	if err != nil {
		return err
	}
	var up catalog.CategoryUpdate
	if _, ok := q.form["name"]; ok {
		name := strings.TrimSpace(q.value("name"))
		up.Name = &name
	}
	if _, ok := q.form["position"]; ok {
		pos, err := intParam(q.value("position"), "position", 0, -1_000_000, 1_000_000)
		if err != nil {
			return err
		}
		p := int(pos)
		up.Position = &p
	}
	if _, err := s.cat.UpdateCategory(q.ctx, id, up); err != nil {
		return err
	}
	q.setFlash("The category was saved.")
	return q.redirect("/admin/categories")
}

// Rights: a matrix of groups × categories with one checkbox per right.
// Checkbox names are "r-<group>-<category>" with the right's name as
// value; the hidden "cells" field lists the cells the form showed, so
// cells added meanwhile are left alone.

type rightsCell struct {
	Group, Category int64
	Rights          catalog.Rights
}

type adminRightsView struct {
	Groups     []*catalog.Group
	Categories []*catalog.Category
	Cells      map[int64][]rightsCell // by group, in category order
	CellList   string
}

func (s *Server) adminRights(q *req) error {
	if err := q.requireAdmin(); err != nil {
		return err
	}
	groups, err := s.cat.Groups(q.ctx)
	if err != nil {
		return err
	}
	cats, err := s.cat.Categories(q.ctx)
	if err != nil {
		return err
	}
	table, err := s.cat.Rights(q.ctx)
	if err != nil {
		return err
	}
	have := map[catalog.RightsKey]catalog.Rights{}
	for _, gr := range table {
		have[catalog.RightsKey{GroupID: gr.GroupID, CategoryID: gr.CategoryID}] = gr.Rights
	}
	v := adminRightsView{Groups: groups, Categories: cats, Cells: map[int64][]rightsCell{}}
	var list []string
	for _, g := range groups {
		for _, c := range cats {
			v.Cells[g.ID] = append(v.Cells[g.ID], rightsCell{g.ID, c.ID, have[catalog.RightsKey{GroupID: g.ID, CategoryID: c.ID}]})
			list = append(list, fmt.Sprintf("%d-%d", g.ID, c.ID))
		}
	}
	v.CellList = strings.Join(list, " ")
	return q.ok("admin_rights", "Rights", v)
}

func (s *Server) adminSetRights(q *req) error {
	if err := q.requireAdmin(); err != nil {
		return err
	}
	table, err := s.cat.Rights(q.ctx)
	if err != nil {
		return err
	}
	have := map[catalog.RightsKey]catalog.Rights{}
	for _, gr := range table {
		have[catalog.RightsKey{GroupID: gr.GroupID, CategoryID: gr.CategoryID}] = gr.Rights
	}
	cells := strings.Fields(q.value("cells"))
	if len(cells) > 100_000 {
		return catalog.Errorf(catalog.EINVALID, "too many cells")
	}
	changed := 0
	for _, cell := range cells {
		gs, cs, ok := strings.Cut(cell, "-")
		g, err1 := parseID(gs, "group")
		c, err2 := parseID(cs, "category")
		if !ok || err1 != nil || err2 != nil {
			return catalog.Errorf(catalog.EINVALID, "bad cell %q", truncate(cell, 40))
		}
		r, err := catalog.ParseRights(strings.Join(q.form["r-"+cell], ","))
		if err != nil {
			return err
		}
		if r == have[catalog.RightsKey{GroupID: g, CategoryID: c}] {
			continue
		}
		if err := s.cat.SetRights(q.ctx, g, c, r); err != nil {
			return err
		}
		changed++
	}
	q.setFlash(fmt.Sprintf("Rights saved (%d changed).", changed))
	return q.redirect("/admin/rights")
}

// Torrents.

func (s *Server) adminTorrents(q *req) error {
	if err := q.requireAdmin(); err != nil {
		return err
	}
	return s.browse(q)
}

// Client rules.

type adminClientsView struct {
	Rules []*catalog.ClientRule
}

func (s *Server) adminClients(q *req) error {
	if err := q.requireAdmin(); err != nil {
		return err
	}
	rules, err := s.cat.ClientRules(q.ctx)
	if err != nil {
		return err
	}
	return q.ok("admin_clients", "Client rules", adminClientsView{rules})
}

func (s *Server) adminAddClient(q *req) error {
	if err := q.requireAdmin(); err != nil {
		return err
	}
	note := strings.TrimSpace(q.value("note"))
	if err := catalog.CheckText("the note", note, catalog.MaxReasonLen); err != nil {
		return err
	}
	var allow bool
	switch q.value("action") {
	case "allow":
		allow = true
	case "deny":
	default:
		return catalog.Errorf(catalog.EINVALID, "choose allow or deny")
	}
	if _, err := s.cat.AddClientRule(q.ctx, catalog.ClientRule{Prefix: q.value("prefix"), Allow: allow, Note: note}); err != nil {
		return err
	}
	q.setFlash("The rule was added; the tracker applies it within a second.")
	return q.redirect("/admin/clients")
}

// Settings.

type adminSettingsView struct {
	Modes       []catalog.SignupMode
	FlagRateMiB int64
}

func (s *Server) adminSettings(q *req) error {
	if err := q.requireAdmin(); err != nil {
		return err
	}
	return q.ok("admin_settings", "Settings", adminSettingsView{
		Modes:       []catalog.SignupMode{catalog.SignupOpen, catalog.SignupInvite, catalog.SignupClosed},
		FlagRateMiB: q.site.FlagRate >> 20,
	})
}

func (s *Server) adminUpdateSettings(q *req) error {
	if err := q.requireAdmin(); err != nil {
		return err
	}
	name := strings.TrimSpace(q.value("site_name"))
	free, double := q.checked("freeleech"), q.checked("double_upload")
	mode := catalog.SignupMode(q.value("signup"))
	switch mode {
	case catalog.SignupOpen, catalog.SignupInvite, catalog.SignupClosed:
	default:
		return catalog.Errorf(catalog.EINVALID, "unknown sign-up mode %q", truncate(string(mode), 40))
	}
	mib, err := intParam(q.value("flag_rate"), "flag rate", q.site.FlagRate>>20, 0, 1<<30)
	if err != nil {
		return err
	}
	rate := mib << 20
	up := catalog.SettingsUpdate{SiteName: &name, Freeleech: &free, DoubleUpload: &double, Signup: &mode, FlagRate: &rate}
	if mib == q.site.FlagRate>>20 {
		up.FlagRate = nil // keep a rate that is not a whole number of MiB/s
	}
	if _, err := s.cat.UpdateSettings(q.ctx, up); err != nil {
		return err
	}
	q.setFlash("The settings were saved.")
	return q.redirect("/admin/settings")
}

// adminDelete returns the handler of an administrator's form that deletes
// (or revokes) the object whose ID is in the path: del removes it, then the
// browser goes back to the list at back with the message done. what names
// the object in the error for a bad ID.
func (s *Server) adminDelete(what, done, back string, del func(ctx context.Context, id int64) error) func(q *req) error {
	return func(q *req) error {
		if err := q.requireAdmin(); err != nil {
			return err
		}
		id, err := q.pathID(what)
		if err != nil {
			return err
		}
		if err := del(q.ctx, id); err != nil {
			return err
		}
		q.setFlash(done)
		return q.redirect(back)
	}
}
