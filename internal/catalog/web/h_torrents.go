package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gale-bt/gale/internal/catalog"
)

// torrentRow is a torrent in a list with its live counts.
type torrentRow struct {
	*catalog.Torrent
	Swarm SwarmStats
}

func (s *Server) rows(list []*catalog.Torrent) []torrentRow {
	out := make([]torrentRow, len(list))
	for i, t := range list {
		out[i] = torrentRow{t, s.stats.Swarm(t.SwarmHash())}
	}
	return out
}

type browseView struct {
	Query      string
	Category   int64
	Sort       string
	Deleted    bool
	Categories []*catalog.Category
	Torrents   []torrentRow
	Pager      pager
	Sorts      []string
	Welcome    bool // anonymous visitor of a site without an administrator
	CanUpload  bool
	Moderator  bool
}

var sorts = []string{catalog.SortCreated, catalog.SortName, catalog.SortSize, catalog.SortSnatches, catalog.SortRelevance}

// home is the torrent list for users and a welcome page for visitors.
func (s *Server) home(q *req) error {
	if q.me == nil {
		need, err := s.cat.NeedsBootstrap(q.ctx)
		if err != nil {
			return err
		}
		if !need {
			return q.redirect("/login")
		}
		return q.ok("welcome", "Welcome", nil)
	}
	return s.browse(q)
}

// browse lists and searches torrents.
func (s *Server) browse(q *req) error {
	v := browseView{Query: q.query("q"), Sort: q.query("sort"), Sorts: sorts}
	if len(v.Query) > 256 {
		return catalog.Errorf(catalog.EINVALID, "the search is too long (at most 256 bytes)")
	}
	if v.Sort != "" && !contains(sorts, v.Sort) {
		return catalog.Errorf(catalog.EINVALID, "unknown sort order %q", truncate(v.Sort, 40))
	}
	var err error
	if v.Category, err = intParam(q.query("cat"), "cat", 0, 0, 1<<62); err != nil {
		return err
	}
	page, err := intParam(q.query("page"), "page", 1, 1, 1_000_000)
	if err != nil {
		return err
	}
	v.Deleted = q.query("deleted") == "1"
	rights, err := s.cat.MyRights(q.ctx)
	if err != nil {
		return err
	}
	for _, r := range rights {
		v.CanUpload = v.CanUpload || r.Has(catalog.RightUpload)
		v.Moderator = v.Moderator || r.Has(catalog.RightModerate)
	}
	if v.Categories, err = s.cat.Categories(q.ctx); err != nil {
		return err
	}
	list, total, err := s.cat.Torrents(q.ctx, catalog.TorrentFilter{Query: v.Query, CategoryID: v.Category,
		Deleted: v.Deleted, Sort: v.Sort, Page: catalog.Page{Offset: int(page-1) * pageSize, Limit: pageSize}})
	if err != nil {
		return err
	}
	v.Torrents = s.rows(list)
	v.Pager = newPager(int(page), total, func(p int) string {
		u := url.Values{}
		for k, val := range map[string]string{"q": v.Query, "sort": v.Sort} {
			if val != "" {
				u.Set(k, val)
			}
		}
		if v.Category != 0 {
			u.Set("cat", strconv.FormatInt(v.Category, 10))
		}
		if v.Deleted {
			u.Set("deleted", "1")
		}
		u.Set("page", strconv.Itoa(p))
		return "/torrents?" + u.Encode()
	})
	title := "Torrents"
	if v.Query != "" {
		title = "Search: " + v.Query
	}
	return q.ok("browse", title, v)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// maxShownFiles bounds the file list of a torrent page.
const maxShownFiles = 1000

type torrentView struct {
	T          *catalog.Torrent
	V1, V2     string
	Files      []catalog.File
	MoreFiles  int
	Swarm      SwarmStats
	Rights     catalog.Rights
	CanEdit    bool
	CanDelete  bool
	Peers      []*catalog.Peer
	LivePeers  []SwarmPeer
	SiteFree   bool
	ShowPeers  bool
	DoubleUp   bool
	Categories []*catalog.Category
}

func (s *Server) torrentView(q *req) (*torrentView, error) {
	id, err := q.pathID("torrent")
	if err != nil {
		return nil, err
	}
	t, err := s.cat.Torrent(q.ctx, id)
	if err != nil {
		return nil, err
	}
	rights, err := s.cat.MyRights(q.ctx)
	if err != nil {
		return nil, err
	}
	v := &torrentView{T: t, Files: t.Files, Rights: rights[t.CategoryID], Swarm: s.stats.Swarm(t.SwarmHash()),
		SiteFree: q.site.Freeleech, DoubleUp: q.site.DoubleUpload}
	v.V1, v.V2 = t.InfoHashes()
	if len(v.Files) > maxShownFiles {
		v.MoreFiles = len(v.Files) - maxShownFiles
		v.Files = v.Files[:maxShownFiles]
	}
	mod := v.Rights.Has(catalog.RightModerate)
	v.CanEdit = mod || t.OwnerID == q.me.ID
	v.CanDelete = v.CanEdit && !t.Deleted
	return v, nil
}

func (s *Server) torrentPage(q *req) error {
	v, err := s.torrentView(q)
	if err != nil {
		return err
	}
	if v.Rights.Has(catalog.RightModerate) {
		v.ShowPeers = true
		if v.Peers, err = s.cat.TorrentPeers(q.ctx, v.T.ID); err != nil {
			return err
		}
		v.LivePeers = s.stats.Peers(v.T.SwarmHash(), 200)
	}
	return q.ok("torrent", v.T.Name, v)
}

// download serves the user's personal .torrent.
func (s *Server) download(q *req) error {
	id, err := q.pathID("torrent")
	if err != nil {
		return err
	}
	data, t, err := s.cat.PersonalTorrent(q.ctx, id, q.me.ID, s.announceURLs(q.r))
	if err != nil {
		return err
	}
	serveTorrent(q.w, data, t)
	return nil
}

func (s *Server) editPage(q *req) error {
	v, err := s.torrentView(q)
	if err != nil {
		return err
	}
	if !v.CanEdit {
		return catalog.Forbidden("edit this torrent")
	}
	if v.Categories, err = s.moderatedCategories(q); err != nil {
		return err
	}
	return q.ok("edit", "Edit "+v.T.Name, v)
}

// moderatedCategories lists the categories the user moderates.
func (s *Server) moderatedCategories(q *req) ([]*catalog.Category, error) {
	return s.categoriesWith(q, catalog.RightModerate)
}

func (s *Server) categoriesWith(q *req, want catalog.Rights) ([]*catalog.Category, error) {
	cats, err := s.cat.Categories(q.ctx)
	if err != nil {
		return nil, err
	}
	rights, err := s.cat.MyRights(q.ctx)
	if err != nil {
		return nil, err
	}
	var out []*catalog.Category
	for _, c := range cats {
		if rights[c.ID].Has(want) {
			out = append(out, c)
		}
	}
	return out, nil
}

func (s *Server) editTorrent(q *req) error {
	id, err := q.pathID("torrent")
	if err != nil {
		return err
	}
	cur, err := s.cat.Torrent(q.ctx, id)
	if err != nil {
		return err
	}
	var up catalog.TorrentUpdate
	if _, ok := q.form["description"]; ok {
		d := strings.ReplaceAll(q.value("description"), "\r\n", "\n")
		if d != cur.Description {
			up.Description = &d
		}
	}
	if q.value("category") != "" {
		cat, err := intParam(q.value("category"), "category", 0, 1, 1<<62)
		if err != nil {
			return err
		}
		if cat != cur.CategoryID {
			up.CategoryID = &cat
		}
	}
	if q.value("freeleech_shown") != "" {
		fl := q.checked("freeleech")
		if fl != cur.Freeleech {
			up.Freeleech = &fl
		}
	}
	if up != (catalog.TorrentUpdate{}) {
		if _, err := s.cat.UpdateTorrent(q.ctx, id, up); err != nil {
			return err
		}
	}
	q.setFlash("The torrent was saved.")
	return q.redirect("/torrent/" + strconv.FormatInt(id, 10))
}

func (s *Server) deleteTorrent(q *req) error {
	id, err := q.pathID("torrent")
	if err != nil {
		return err
	}
	reason := strings.TrimSpace(q.value("reason"))
	if reason == "" {
		return catalog.Errorf(catalog.EINVALID, "give a reason for deleting the torrent")
	}
	if err := s.cat.DeleteTorrent(q.ctx, id, reason); err != nil {
		return err
	}
	q.setFlash("The torrent was deleted. Its peers are served until the last leecher finishes.")
	return q.redirect("/torrents")
}

type uploadView struct {
	Categories []*catalog.Category
	Moderator  map[int64]bool
	MaxSize    int64
	Category   int64
	Error      string
	Existing   *catalog.Torrent
	Desc       string
	AnyMod     bool
}

func (s *Server) uploadView(q *req) (*uploadView, error) {
	cats, err := s.categoriesWith(q, catalog.RightUpload)
	if err != nil {
		return nil, err
	}
	rights, err := s.cat.MyRights(q.ctx)
	if err != nil {
		return nil, err
	}
	v := &uploadView{Categories: cats, Moderator: map[int64]bool{}, MaxSize: s.cfg.MaxUploadSize}
	for _, c := range cats {
		if rights[c.ID].Has(catalog.RightModerate) {
			v.Moderator[c.ID], v.AnyMod = true, true
		}
	}
	return v, nil
}

func (s *Server) uploadPage(q *req) error {
	v, err := s.uploadView(q)
	if err != nil {
		return err
	}
	return q.ok("upload", "Upload", v)
}

// upload registers a .torrent: the catalog makes it private, sets the
// source and refuses duplicates; a duplicate's page is linked.
func (s *Server) upload(q *req) error {
	v, err := s.uploadView(q)
	if err != nil {
		return err
	}
	v.Desc = strings.ReplaceAll(q.value("description"), "\r\n", "\n")
	again := func(status int, msg string) error {
		v.Error = msg
		return q.render(status, "upload", "Upload", v)
	}
	if v.Category, err = intParam(q.value("category"), "category", 0, 1, 1<<62); err != nil {
		return again(http.StatusBadRequest, catalog.ErrorMessage(err))
	}
	if len(q.file) == 0 {
		return again(http.StatusBadRequest, "choose a .torrent file to upload")
	}
	if err := checkTorrentText(q.file); err != nil {
		return again(http.StatusBadRequest, catalog.ErrorMessage(err))
	}
	t, err := s.cat.AddTorrent(q.ctx, catalog.NewTorrent{Metainfo: q.file, CategoryID: v.Category,
		Description: v.Desc, Freeleech: q.checked("freeleech")})
	switch catalog.ErrorCode(err) {
	case "":
	case catalog.ECONFLICT:
		v.Existing = s.existing(q, q.file)
		return again(http.StatusConflict, catalog.ErrorMessage(err))
	case catalog.EINVALID, catalog.EFORBIDDEN, catalog.ENOTFOUND:
		status, _, msg, _ := errorStatus(err)
		return again(status, msg)
	default:
		return err
	}
	q.setFlash("Uploaded. Download your personal .torrent below to seed it: the site's copy is private and has a new info hash.")
	return q.redirect("/torrent/" + strconv.FormatInt(t.ID, 10))
}

// existing finds the registered torrent a duplicate upload collides with,
// if the user may see it.
func (s *Server) existing(q *req, data []byte) *catalog.Torrent {
	p, err := catalog.PrepareTorrent(data, q.site.SiteName)
	if err != nil {
		return nil
	}
	pt := &catalog.Torrent{V1: p.V1, V2: p.V2, HasV1: p.HasV1, HasV2: p.HasV2}
	v1, v2 := pt.InfoHashes()
	for _, h := range []string{v1, v2} {
		if h == "" {
			continue
		}
		if t, err := s.cat.TorrentByHash(q.ctx, h); err == nil {
			return t
		}
	}
	return nil
}
