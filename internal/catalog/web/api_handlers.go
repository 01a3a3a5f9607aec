package web

import (
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gale-bt/gale/internal/catalog"
)

// JSON shapes of the API (documented in openapi.json).

type apiTorrentJSON struct {
	ID           int64          `json:"id"`
	InfoHash     string         `json:"info_hash,omitempty"`
	InfoHashV2   string         `json:"info_hash_v2,omitempty"`
	Name         string         `json:"name"`
	Size         int64          `json:"size"`
	FileCount    int            `json:"file_count"`
	Files        []catalog.File `json:"files,omitempty"`
	CategoryID   int64          `json:"category_id"`
	Category     string         `json:"category"`
	OwnerID      int64          `json:"owner_id"`
	Owner        string         `json:"owner"`
	Description  string         `json:"description"`
	Freeleech    bool           `json:"freeleech"`
	CreatedAt    time.Time      `json:"created_at"`
	Deleted      bool           `json:"deleted"`
	DeleteReason string         `json:"delete_reason,omitempty"`
	Snatches     int64          `json:"snatches"`
	SwarmStats
	URL string `json:"url"`
}

func (a *apiReq) torrentJSON(t *catalog.Torrent) apiTorrentJSON {
	v1, v2 := t.InfoHashes()
	return apiTorrentJSON{ID: t.ID, InfoHash: v1, InfoHashV2: v2, Name: t.Name, Size: t.Size, FileCount: t.FileCount,
		Files: t.Files, CategoryID: t.CategoryID, Category: t.CategoryName, OwnerID: t.OwnerID, Owner: t.OwnerName,
		Description: t.Description, Freeleech: t.Freeleech, CreatedAt: t.CreatedAt, Deleted: t.Deleted,
		DeleteReason: t.DeleteReason, Snatches: t.Snatches, SwarmStats: a.s.stats.Swarm(t.SwarmHash()),
		URL: a.s.baseURL(a.r) + "/torrent/" + strconv.FormatInt(t.ID, 10)}
}

type apiUserStats struct {
	Uploaded      int64 `json:"uploaded"`
	Downloaded    int64 `json:"downloaded"`
	RawUploaded   int64 `json:"raw_uploaded"`
	RawDownloaded int64 `json:"raw_downloaded"`
	// Ratio is null when something was uploaded and nothing downloaded.
	Ratio     *float64 `json:"ratio"`
	SeedTime  int64    `json:"seed_time_seconds"`
	LeechTime int64    `json:"leech_time_seconds"`
	Snatches  int64    `json:"snatches"`
	Seeding   int      `json:"seeding"`
	Leeching  int      `json:"leeching"`
}

type apiUserJSON struct {
	*catalog.User
	Stats *apiUserStats `json:"stats,omitempty"`
}

func userStatsJSON(st *catalog.UserStats) *apiUserStats {
	out := &apiUserStats{Uploaded: st.Uploaded, Downloaded: st.Downloaded, RawUploaded: st.RawUploaded,
		RawDownloaded: st.RawDownloaded, SeedTime: int64(st.SeedTime / time.Second),
		LeechTime: int64(st.LeechTime / time.Second), Snatches: st.Snatches, Seeding: st.Seeding, Leeching: st.Leeching}
	if r := st.Ratio(); !math.IsInf(r, 0) && !math.IsNaN(r) {
		out.Ratio = &r
	}
	return out
}

// Handlers.

func (s *Server) apiMe(a *apiReq) error {
	return a.json(http.StatusOK, map[string]any{"user": a.actor.User, "token": a.token})
}

func (s *Server) apiStats(a *apiReq) error {
	st, err := s.cat.SiteStats(a.ctx)
	if err != nil {
		return err
	}
	return a.json(http.StatusOK, map[string]any{"site": st, "tracker": s.stats.Totals()})
}

func (s *Server) apiCategories(a *apiReq) error {
	cs, err := s.cat.Categories(a.ctx)
	if err != nil {
		return err
	}
	if cs == nil {
		cs = []*catalog.Category{}
	}
	return a.json(http.StatusOK, map[string]any{"categories": cs})
}

func (s *Server) apiTorrents(a *apiReq) error {
	q := a.r.URL.Query()
	f := catalog.TorrentFilter{Query: q.Get("q"), Sort: q.Get("sort")}
	if len(f.Query) > 256 {
		return catalog.Errorf(catalog.EINVALID, "q: at most 256 bytes")
	}
	if f.Sort != "" && !contains(sorts, f.Sort) {
		return catalog.Errorf(catalog.EINVALID, "sort: want one of %s", strings.Join(sorts, ", "))
	}
	var err error
	if f.CategoryID, err = intParam(q.Get("category_id"), "category_id", 0, 0, 1<<62); err != nil {
		return err
	}
	off, err := intParam(q.Get("offset"), "offset", 0, 0, 1<<31)
	if err != nil {
		return err
	}
	lim, err := intParam(q.Get("limit"), "limit", 50, 1, 500)
	if err != nil {
		return err
	}
	f.Page = catalog.Page{Offset: int(off), Limit: int(lim)}
	if name := q.Get("owner"); name != "" {
		u, err := s.cat.UserByName(a.ctx, name)
		if err != nil {
			return err
		}
		f.OwnerID = u.ID
	}
	f.Deleted = q.Get("deleted") == "true"
	list, total, err := s.cat.Torrents(a.ctx, f)
	if err != nil {
		return err
	}
	out := make([]apiTorrentJSON, 0, len(list))
	for _, t := range list {
		out = append(out, a.torrentJSON(t))
	}
	return a.json(http.StatusOK, map[string]any{"torrents": out, "total": total})
}

// ref resolves the {ref} path value: an info hash (40 or 64 hex digits:
// v1, v2 or truncated v2) or a numeric ID.
func (a *apiReq) ref() (*catalog.Torrent, error) {
	ref := a.r.PathValue("ref")
	if len(ref) == 40 || len(ref) == 64 {
		return a.s.cat.TorrentByHash(a.ctx, ref)
	}
	id, err := parseID(ref, "torrent")
	if err != nil {
		return nil, err
	}
	return a.s.cat.Torrent(a.ctx, id)
}

func (s *Server) apiTorrent(a *apiReq) error {
	t, err := a.ref()
	if err != nil {
		return err
	}
	return a.json(http.StatusOK, a.torrentJSON(t))
}

func (s *Server) apiTorrentStats(a *apiReq) error {
	t, err := a.ref()
	if err != nil {
		return err
	}
	v1, v2 := t.InfoHashes()
	return a.json(http.StatusOK, apiTorrentStats{ID: t.ID, InfoHash: v1, InfoHashV2: v2,
		SwarmStats: s.stats.Swarm(t.SwarmHash()), Snatches: t.Snatches})
}

type apiTorrentStats struct {
	ID         int64  `json:"id"`
	InfoHash   string `json:"info_hash,omitempty"`
	InfoHashV2 string `json:"info_hash_v2,omitempty"`
	SwarmStats
	Snatches int64 `json:"snatches"`
}

// targetUser is the ?user= of a call, the token's user by default.
func (a *apiReq) targetUser() (*catalog.User, error) {
	name := a.r.URL.Query().Get("user")
	if name == "" {
		return a.actor.User, nil
	}
	return a.s.cat.UserByName(a.ctx, name)
}

// apiDownload serves a user's personal .torrent.
func (s *Server) apiDownload(a *apiReq) error {
	t, err := a.ref()
	if err != nil {
		return err
	}
	u, err := a.targetUser()
	if err != nil {
		return err
	}
	data, t, err := s.cat.PersonalTorrent(a.ctx, t.ID, u.ID, s.announceURLs(a.r))
	if err != nil {
		return err
	}
	serveTorrent(a.w, data, t)
	return nil
}

// apiAnnounce returns a user's announce key and URLs, for sites that
// write their own .torrent files.
func (s *Server) apiAnnounce(a *apiReq) error {
	t, err := a.ref()
	if err != nil {
		return err
	}
	u, err := a.targetUser()
	if err != nil {
		return err
	}
	key, err := s.cat.AnnounceKey(a.ctx, t.ID, u.ID)
	if err != nil {
		return err
	}
	return a.json(http.StatusOK, map[string]any{"user": u.Name, "torrent_id": t.ID, "key": key,
		"announce": s.announceURLs(a.r)(key)})
}

// apiAddTorrent registers a torrent: multipart/form-data with the file in
// "torrent", or the raw file as the body (application/x-bittorrent) with
// the other fields in the query.
func (s *Server) apiAddTorrent(a *apiReq) error {
	var fields map[string][]string
	var data []byte
	ct := a.r.Header.Get("Content-Type")
	if strings.HasPrefix(ct, "multipart/form-data") {
		a.r.Body = http.MaxBytesReader(a.w, a.r.Body, s.cfg.MaxUploadSize+maxFormSize)
		var err error
		if fields, data, err = readMultipart(a.r, "torrent", s.cfg.MaxUploadSize); err != nil {
			return err
		}
		if err := checkValues(fields); err != nil {
			return err
		}
	} else {
		fields = a.r.URL.Query()
		b, err := readBody(a.w, a.r, s.cfg.MaxUploadSize)
		if err != nil {
			return err
		}
		data = b
	}
	get := func(k string) string {
		if v := fields[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if len(data) == 0 {
		return catalog.Errorf(catalog.EINVALID, "send the .torrent file as the body or in the multipart field \"torrent\"")
	}
	if err := checkTorrentText(data); err != nil {
		return err
	}
	nt := catalog.NewTorrent{Metainfo: data, Description: get("description"), Freeleech: get("freeleech") == "true"}
	var err error
	if nt.CategoryID, err = s.apiCategory(a, get("category_id"), get("category")); err != nil {
		return err
	}
	if name := get("owner"); name != "" {
		u, err := s.cat.UserByName(a.ctx, name)
		if err != nil {
			return err
		}
		nt.OwnerID = u.ID
	}
	t, err := s.cat.AddTorrent(a.ctx, nt)
	if err != nil {
		return err
	}
	return a.json(http.StatusCreated, a.torrentJSON(t))
}

// apiCategory resolves a category by ID or name (default: 1, General).
func (s *Server) apiCategory(a *apiReq, id, name string) (int64, error) {
	if id != "" {
		return intParam(id, "category_id", 0, 1, 1<<62)
	}
	if name == "" {
		return 1, nil
	}
	cs, err := s.cat.Categories(a.ctx)
	if err != nil {
		return 0, err
	}
	for _, c := range cs {
		if strings.EqualFold(c.Name, name) {
			return c.ID, nil
		}
	}
	return 0, notFound("category")
}

func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return nil, formError(err)
	}
	return b, nil
}

type reasonBody struct {
	Reason string `json:"reason"`
}

func (s *Server) apiDeleteTorrent(a *apiReq) error {
	t, err := a.ref()
	if err != nil {
		return err
	}
	body := reasonBody{Reason: a.r.URL.Query().Get("reason")}
	if err := a.decode(&body); err != nil {
		return err
	}
	if strings.TrimSpace(body.Reason) == "" {
		body.Reason = "deleted"
	}
	if err := s.cat.DeleteTorrent(a.ctx, t.ID, body.Reason); err != nil {
		return err
	}
	return a.json(http.StatusOK, map[string]any{"id": t.ID, "deleted": true, "reason": strings.TrimSpace(body.Reason)})
}

type newUserBody struct {
	Name     string `json:"name"`
	Password string `json:"password"`
	Admin    bool   `json:"admin"`
	GroupID  int64  `json:"group_id"`
	Group    string `json:"group"`
}

func (s *Server) apiCreateUser(a *apiReq) error {
	var b newUserBody
	if err := a.decode(&b); err != nil {
		return err
	}
	if b.Group != "" && b.GroupID == 0 {
		gs, err := s.cat.Groups(a.ctx)
		if err != nil {
			return err
		}
		for _, g := range gs {
			if strings.EqualFold(g.Name, b.Group) {
				b.GroupID = g.ID
			}
		}
		if b.GroupID == 0 {
			return notFound("group")
		}
	}
	var u *catalog.User
	err := s.hashing(a.ctx, func() (err error) {
		u, err = s.cat.CreateUser(a.ctx, catalog.NewUser{Name: b.Name, Password: b.Password, Admin: b.Admin, GroupID: b.GroupID})
		return err
	})
	if err != nil {
		return err
	}
	return a.json(http.StatusCreated, apiUserJSON{User: u})
}

func (s *Server) apiUser(a *apiReq) error {
	u, err := s.cat.UserByName(a.ctx, a.r.PathValue("name"))
	if err != nil {
		return err
	}
	st, err := s.cat.UserStats(a.ctx, u.ID)
	if err != nil {
		return err
	}
	return a.json(http.StatusOK, apiUserJSON{User: u, Stats: userStatsJSON(st)})
}

func (s *Server) apiSetDisabled(a *apiReq, disabled bool) error {
	u, err := s.cat.UserByName(a.ctx, a.r.PathValue("name"))
	if err != nil {
		return err
	}
	var b reasonBody
	if err := a.decode(&b); err != nil {
		return err
	}
	reason := strings.TrimSpace(b.Reason)
	if !disabled {
		reason = ""
	}
	u, err = s.cat.UpdateUser(a.ctx, u.ID, catalog.UserUpdate{Disabled: &disabled, DisabledReason: &reason})
	if err != nil {
		return err
	}
	return a.json(http.StatusOK, apiUserJSON{User: u})
}

func (s *Server) apiDisableUser(a *apiReq) error { return s.apiSetDisabled(a, true) }
func (s *Server) apiEnableUser(a *apiReq) error  { return s.apiSetDisabled(a, false) }

func (s *Server) apiResetKey(a *apiReq) error {
	u, err := s.cat.UserByName(a.ctx, a.r.PathValue("name"))
	if err != nil {
		return err
	}
	if u, err = s.cat.ResetKey(a.ctx, u.ID); err != nil {
		return err
	}
	return a.json(http.StatusOK, apiUserJSON{User: u})
}
