package catalog

import (
	"strings"
)

// Rights is what a group may do in a category, a bit set.
type Rights uint8

// The rights, from weakest to strongest; see Normalize for the ones each
// implies. Announcing needs See only, so that revoking See revokes access
// to the swarm while taking Download away only stops new downloads.
const (
	// RightSee: find and view the category's torrents, and announce to
	// them with a key obtained earlier.
	RightSee Rights = 1 << iota
	// RightDownload: fetch the personal .torrent.
	RightDownload
	// RightUpload: add torrents to the category.
	RightUpload
	// RightModerate: edit and delete any torrent of the category, see
	// deleted torrents, peer lists and flagged deltas.
	RightModerate
	// RightAdminister: everything above, plus changing the category
	// itself.
	RightAdminister

	// RightsAll is every right.
	RightsAll = RightSee | RightDownload | RightUpload | RightModerate | RightAdminister
)

var rightNames = [...]struct {
	r    Rights
	name string
}{
	{RightSee, "see"},
	{RightDownload, "download"},
	{RightUpload, "upload"},
	{RightModerate, "moderate"},
	{RightAdminister, "administer"},
}

// Normalize returns r with implied rights added: any right implies See;
// Moderate implies Download; Administer implies every right.
func (r Rights) Normalize() Rights {
	r &= RightsAll
	if r&RightAdminister != 0 {
		return RightsAll
	}
	if r&RightModerate != 0 {
		r |= RightDownload
	}
	if r != 0 {
		r |= RightSee
	}
	return r
}

// Has reports whether r includes every right in x.
func (r Rights) Has(x Rights) bool { return r&x == x }

// String lists the rights comma-separated ("see,download"), "none" if
// empty.
func (r Rights) String() string {
	var parts []string
	for _, n := range rightNames {
		if r&n.r != 0 {
			parts = append(parts, n.name)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ",")
}

// ParseRights parses a comma-separated list of right names ("none" or ""
// for no rights; "all" for all). The result is normalized.
func ParseRights(s string) (Rights, error) {
	var r Rights
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(strings.ToLower(f))
		switch f {
		case "", "none":
			continue
		case "all":
			r |= RightsAll
			continue
		}
		found := false
		for _, n := range rightNames {
			if n.name == f {
				r |= n.r
				found = true
			}
		}
		if !found {
			return 0, Errorf(EINVALID, "unknown right %q (want see, download, upload, moderate, administer)", f)
		}
	}
	return r.Normalize(), nil
}

// MarshalText encodes r as String does.
func (r Rights) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText decodes what MarshalText produced.
func (r *Rights) UnmarshalText(b []byte) error {
	v, err := ParseRights(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// RightsKey identifies one cell of the rights table.
type RightsKey struct{ GroupID, CategoryID int64 }

// RightsTable holds each group's rights per category; missing cells mean
// no rights.
type RightsTable map[RightsKey]Rights

// For returns what user u may do in category cat: nothing when u is nil
// or disabled, everything for site administrators, else its group's
// rights.
func (t RightsTable) For(u *User, cat int64) Rights {
	if u == nil || u.Disabled {
		return 0
	}
	if u.Admin {
		return RightsAll
	}
	return t[RightsKey{u.GroupID, cat}]
}

// ActorRights returns what the actor may do in category cat.
func (t RightsTable) ActorRights(a Actor, cat int64) Rights {
	if a.System {
		return RightsAll
	}
	return t.For(a.User, cat)
}

// Categories returns the categories in which the actor has every right in
// want; all is true when that is every category (system or admin).
func (t RightsTable) Categories(a Actor, want Rights) (ids []int64, all bool) {
	if a.IsAdmin() {
		return nil, true
	}
	if a.User == nil || a.User.Disabled {
		return nil, false
	}
	for k, r := range t {
		if k.GroupID == a.User.GroupID && r.Has(want) {
			ids = append(ids, k.CategoryID)
		}
	}
	return ids, false
}
