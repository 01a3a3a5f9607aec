package sqlstore

import (
	"context"
	"database/sql"
	"strings"

	"github.com/gale-bt/gale/internal/catalog"
)

// defaultGroup is the group of new users; it cannot be deleted.
const defaultGroup = 1

// Groups implements catalog.GroupService.
func (s *Store) Groups(ctx context.Context) ([]*catalog.Group, error) {
	if err := catalog.RequireAdmin(catalog.ActorFrom(ctx), "see groups"); err != nil {
		return nil, err
	}
	var out []*catalog.Group
	err := s.read(ctx, func(t *txn) error {
		rows, err := t.query(`SELECT g.id, g.name, g.created_at, (SELECT COUNT(*) FROM users u WHERE u.group_id = g.id)
			FROM user_groups g ORDER BY g.name_key`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var g catalog.Group
			var at int64
			if err := rows.Scan(&g.ID, &g.Name, &at, &g.Users); err != nil {
				return err
			}
			g.CreatedAt = unixTime(at)
			out = append(out, &g)
		}
		return rows.Err()
	})
	return out, err
}

func (t *txn) group(id int64) (*catalog.Group, error) {
	var g catalog.Group
	var at int64
	err := t.row(`SELECT g.id, g.name, g.created_at, (SELECT COUNT(*) FROM users u WHERE u.group_id = g.id)
		FROM user_groups g WHERE g.id = $1`, id).Scan(&g.ID, &g.Name, &at, &g.Users)
	if err == sql.ErrNoRows {
		return nil, notFound("group")
	}
	g.CreatedAt = unixTime(at)
	return &g, err
}

// CreateGroup implements catalog.GroupService.
func (s *Store) CreateGroup(ctx context.Context, name string) (*catalog.Group, error) {
	if err := catalog.RequireAdmin(catalog.ActorFrom(ctx), "create groups"); err != nil {
		return nil, err
	}
	if err := catalog.CheckLabel("group", name, catalog.MaxNameLen); err != nil {
		return nil, err
	}
	var g *catalog.Group
	err := s.write(ctx, func(t *txn) error {
		var id int64
		err := t.row(`INSERT INTO user_groups (name, name_key, created_at) VALUES ($1, $2, $3) RETURNING id`,
			name, strings.ToLower(name), t.now.Unix()).Scan(&id)
		if isUnique(err) {
			return catalog.Errorf(catalog.ECONFLICT, "a group named %q exists", name)
		}
		if err != nil {
			return err
		}
		g, err = t.group(id)
		return err
	})
	return g, err
}

// RenameGroup implements catalog.GroupService.
func (s *Store) RenameGroup(ctx context.Context, id int64, name string) (*catalog.Group, error) {
	if err := catalog.RequireAdmin(catalog.ActorFrom(ctx), "rename groups"); err != nil {
		return nil, err
	}
	if err := catalog.CheckLabel("group", name, catalog.MaxNameLen); err != nil {
		return nil, err
	}
	var g *catalog.Group
	err := s.write(ctx, func(t *txn) error {
		res, err := t.exec(`UPDATE user_groups SET name = $1, name_key = $2 WHERE id = $3`, name, strings.ToLower(name), id)
		if isUnique(err) {
			return catalog.Errorf(catalog.ECONFLICT, "a group named %q exists", name)
		}
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound("group")
		}
		g, err = t.group(id)
		return err
	})
	return g, err
}

// DeleteGroup implements catalog.GroupService.
func (s *Store) DeleteGroup(ctx context.Context, id int64) error {
	if err := catalog.RequireAdmin(catalog.ActorFrom(ctx), "delete groups"); err != nil {
		return err
	}
	if id == defaultGroup {
		return catalog.Errorf(catalog.ECONFLICT, "the default group cannot be deleted")
	}
	return s.write(ctx, func(t *txn) error {
		g, err := t.group(id)
		if err != nil {
			return err
		}
		if g.Users > 0 {
			return catalog.Errorf(catalog.ECONFLICT, "the group has %d users; move them first", g.Users)
		}
		if _, err := t.exec(`DELETE FROM invites WHERE group_id = $1`, id); err != nil {
			return err
		}
		if _, err := t.exec(`DELETE FROM user_groups WHERE id = $1`, id); err != nil {
			return err
		}
		t.changed(catalog.ChangeRights, 0)
		return nil
	})
}

func scanCategory(r scanner) (*catalog.Category, error) {
	var c catalog.Category
	var at int64
	if err := r.Scan(&c.ID, &c.Name, &c.Position, &at, &c.Torrents); err != nil {
		return nil, err
	}
	c.CreatedAt = unixTime(at)
	return &c, nil
}

const categoryColumns = `c.id, c.name, c.position, c.created_at,
	(SELECT COUNT(*) FROM torrents t WHERE t.category_id = c.id AND NOT t.deleted)`

// Categories implements catalog.GroupService.
func (s *Store) Categories(ctx context.Context) ([]*catalog.Category, error) {
	a := catalog.ActorFrom(ctx)
	var out []*catalog.Category
	err := s.read(ctx, func(t *txn) error {
		tab, err := t.rightsTable()
		if err != nil {
			return err
		}
		rows, err := t.query(`SELECT ` + categoryColumns + ` FROM categories c ORDER BY c.position, c.name_key`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			c, err := scanCategory(rows)
			if err != nil {
				return err
			}
			if tab.ActorRights(a, c.ID).Has(catalog.RightSee) {
				out = append(out, c)
			}
		}
		return rows.Err()
	})
	return out, err
}

func (t *txn) category(id int64) (*catalog.Category, error) {
	c, err := scanCategory(t.row(`SELECT `+categoryColumns+` FROM categories c WHERE c.id = $1`, id))
	if err == sql.ErrNoRows {
		return nil, notFound("category")
	}
	return c, err
}

// CreateCategory implements catalog.GroupService.
func (s *Store) CreateCategory(ctx context.Context, name string, position int) (*catalog.Category, error) {
	if err := catalog.RequireAdmin(catalog.ActorFrom(ctx), "create categories"); err != nil {
		return nil, err
	}
	if err := catalog.CheckLabel("category", name, catalog.MaxCategoryLen); err != nil {
		return nil, err
	}
	var c *catalog.Category
	err := s.write(ctx, func(t *txn) error {
		var id int64
		err := t.row(`INSERT INTO categories (name, name_key, position, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
			name, strings.ToLower(name), position, t.now.Unix()).Scan(&id)
		if isUnique(err) {
			return catalog.Errorf(catalog.ECONFLICT, "a category named %q exists", name)
		}
		if err != nil {
			return err
		}
		c, err = t.category(id)
		return err
	})
	return c, err
}

// UpdateCategory implements catalog.GroupService.
func (s *Store) UpdateCategory(ctx context.Context, id int64, up catalog.CategoryUpdate) (*catalog.Category, error) {
	a := catalog.ActorFrom(ctx)
	if err := catalog.RequireActive(a); err != nil {
		return nil, err
	}
	if up.Name != nil {
		if err := catalog.CheckLabel("category", *up.Name, catalog.MaxCategoryLen); err != nil {
			return nil, err
		}
	}
	var c *catalog.Category
	err := s.write(ctx, func(t *txn) error {
		if _, err := t.category(id); err != nil {
			return err
		}
		r, err := t.actorRights(a, id)
		if err != nil {
			return err
		}
		if !r.Has(catalog.RightAdminister) {
			return catalog.Forbidden("change this category")
		}
		if up.Name != nil {
			_, err := t.exec(`UPDATE categories SET name = $1, name_key = $2 WHERE id = $3`, *up.Name, strings.ToLower(*up.Name), id)
			if isUnique(err) {
				return catalog.Errorf(catalog.ECONFLICT, "a category named %q exists", *up.Name)
			}
			if err != nil {
				return err
			}
		}
		if up.Position != nil {
			if _, err := t.exec(`UPDATE categories SET position = $1 WHERE id = $2`, *up.Position, id); err != nil {
				return err
			}
		}
		c, err = t.category(id)
		return err
	})
	return c, err
}

// DeleteCategory implements catalog.GroupService.
func (s *Store) DeleteCategory(ctx context.Context, id int64) error {
	if err := catalog.RequireAdmin(catalog.ActorFrom(ctx), "delete categories"); err != nil {
		return err
	}
	return s.write(ctx, func(t *txn) error {
		if _, err := t.category(id); err != nil {
			return err
		}
		var n int
		if err := t.row(`SELECT COUNT(*) FROM torrents WHERE category_id = $1`, id).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return catalog.Errorf(catalog.ECONFLICT, "the category holds %d torrents (deleted ones included); move them first", n)
		}
		if _, err := t.exec(`DELETE FROM categories WHERE id = $1`, id); err != nil {
			return err
		}
		t.changed(catalog.ChangeRights, 0)
		return nil
	})
}

// Rights implements catalog.GroupService.
func (s *Store) Rights(ctx context.Context) ([]catalog.GroupRights, error) {
	if err := catalog.RequireAdmin(catalog.ActorFrom(ctx), "see the rights table"); err != nil {
		return nil, err
	}
	var out []catalog.GroupRights
	err := s.read(ctx, func(t *txn) error {
		var err error
		out, err = t.rightsList()
		return err
	})
	return out, err
}

func (t *txn) rightsList() ([]catalog.GroupRights, error) {
	rows, err := t.query(`SELECT group_id, category_id, rights FROM group_rights ORDER BY group_id, category_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []catalog.GroupRights
	for rows.Next() {
		var g catalog.GroupRights
		var r int64
		if err := rows.Scan(&g.GroupID, &g.CategoryID, &r); err != nil {
			return nil, err
		}
		g.Rights = catalog.Rights(r).Normalize()
		out = append(out, g)
	}
	return out, rows.Err()
}

// MyRights implements catalog.GroupService.
func (s *Store) MyRights(ctx context.Context) (map[int64]catalog.Rights, error) {
	a := catalog.ActorFrom(ctx)
	out := map[int64]catalog.Rights{}
	err := s.read(ctx, func(t *txn) error {
		tab, err := t.rightsTable()
		if err != nil {
			return err
		}
		rows, err := t.query(`SELECT id FROM categories`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return err
			}
			if r := tab.ActorRights(a, id); r != 0 {
				out[id] = r
			}
		}
		return rows.Err()
	})
	return out, err
}

// SetRights implements catalog.GroupService.
func (s *Store) SetRights(ctx context.Context, groupID, categoryID int64, r catalog.Rights) error {
	a := catalog.ActorFrom(ctx)
	if err := catalog.RequireActive(a); err != nil {
		return err
	}
	r = r.Normalize()
	return s.write(ctx, func(t *txn) error {
		if _, err := t.group(groupID); err != nil {
			return err
		}
		if _, err := t.category(categoryID); err != nil {
			return err
		}
		mine, err := t.actorRights(a, categoryID)
		if err != nil {
			return err
		}
		if !mine.Has(catalog.RightAdminister) {
			return catalog.Forbidden("change rights in this category")
		}
		if r == 0 {
			_, err = t.exec(`DELETE FROM group_rights WHERE group_id = $1 AND category_id = $2`, groupID, categoryID)
		} else {
			_, err = t.exec(`INSERT INTO group_rights (group_id, category_id, rights) VALUES ($1, $2, $3)
				ON CONFLICT (group_id, category_id) DO UPDATE SET rights = excluded.rights`, groupID, categoryID, int64(r))
		}
		if err != nil {
			return err
		}
		t.changed(catalog.ChangeRights, 0)
		return nil
	})
}
