package web

import (
	"context"
	"encoding/xml"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gale-bt/gale/internal/catalog"
)

type profileView struct {
	U        *catalog.User
	Stats    *catalog.UserStats
	Ratio    float64
	Seeding  []*catalog.UserTorrent
	Leeching []*catalog.UserTorrent
	History  []*catalog.UserTorrent
	Uploads  []torrentRow
	// Lists: the viewer may see the user's activity (self, moderators,
	// administrators); Own: the viewer is the user or an administrator.
	Lists   bool
	Own     bool
	FeedURL string
}

func (s *Server) profile(q *req) error {
	u, err := s.cat.UserByName(q.ctx, q.r.PathValue("name"))
	if err != nil {
		return err
	}
	st, err := s.cat.UserStats(q.ctx, u.ID)
	if err != nil {
		return err
	}
	v := profileView{U: u, Stats: st, Ratio: st.Ratio(), Own: q.me.ID == u.ID || q.me.Admin}
	// Activity lists: the user, administrators and moderators (the
	// catalog leaves out rows of torrents the viewer may not see).
	v.Lists = v.Own
	if !v.Lists {
		rights, err := s.cat.MyRights(q.ctx)
		if err != nil {
			return err
		}
		for _, r := range rights {
			v.Lists = v.Lists || r.Has(catalog.RightModerate)
		}
	}
	if v.Lists {
		active, err := s.cat.UserTorrents(q.ctx, u.ID, true, catalog.Page{Limit: 200})
		if err != nil {
			return err
		}
		for _, ut := range active {
			if ut.Seeding {
				v.Seeding = append(v.Seeding, ut)
			} else {
				v.Leeching = append(v.Leeching, ut)
			}
		}
		if v.History, err = s.cat.UserTorrents(q.ctx, u.ID, false, catalog.Page{Limit: 50}); err != nil {
			return err
		}
	}
	ups, _, err := s.cat.Torrents(q.ctx, catalog.TorrentFilter{OwnerID: u.ID, Page: catalog.Page{Limit: 20}})
	if err != nil {
		return err
	}
	v.Uploads = s.rows(ups)
	if v.Own {
		key, err := s.cat.FeedKey(q.ctx, u.ID)
		if err != nil {
			return err
		}
		v.FeedURL = s.baseURL(q.r) + "/feed/" + key
	}
	return q.ok("profile", u.Name, v)
}

func (s *Server) resetKey(q *req) error {
	u, err := s.cat.UserByName(q.ctx, q.r.PathValue("name"))
	if err != nil {
		return err
	}
	if _, err := s.cat.ResetKey(q.ctx, u.ID); err != nil {
		return err
	}
	q.setFlash("The announce key was reset: every .torrent downloaded before stops working; download them again.")
	return q.redirect("/user/" + url.PathEscape(u.Name))
}

func (s *Server) resetFeedKey(q *req) error {
	u, err := s.cat.UserByName(q.ctx, q.r.PathValue("name"))
	if err != nil {
		return err
	}
	if _, err := s.cat.ResetFeedKey(q.ctx, u.ID); err != nil {
		return err
	}
	q.setFlash("The feed key was reset: the old feed URL no longer works.")
	return q.redirect("/user/" + url.PathEscape(u.Name))
}

// RSS 2.0 feed of the torrents the feed key's user may see.

type rss struct {
	XMLName xml.Name   `xml:"rss"`
	Version string     `xml:"version,attr"`
	Channel rssChannel `xml:"channel"`
}

type rssChannel struct {
	Title       string    `xml:"title"`
	Link        string    `xml:"link"`
	Description string    `xml:"description"`
	Items       []rssItem `xml:"item"`
}

type rssItem struct {
	Title     string       `xml:"title"`
	Link      string       `xml:"link"`
	GUID      rssGUID      `xml:"guid"`
	PubDate   string       `xml:"pubDate"`
	Category  string       `xml:"category,omitempty"`
	Enclosure rssEnclosure `xml:"enclosure"`
}

type rssGUID struct {
	IsPermaLink bool   `xml:"isPermaLink,attr"`
	Value       string `xml:",chardata"`
}

type rssEnclosure struct {
	URL    string `xml:"url,attr"`
	Length int64  `xml:"length,attr"`
	Type   string `xml:"type,attr"`
}

// feedUser resolves a feed key from the path; bad keys are ENOTFOUND.
func (s *Server) feedUser(r *http.Request) (context.Context, *catalog.User, string, error) {
	key := r.PathValue("key")
	if _, ok := catalog.FeedKeyUser(key); !ok {
		return nil, nil, "", notFound("feed")
	}
	u, err := s.cat.FeedUser(r.Context(), key)
	if catalog.ErrorCode(err) == catalog.EUNAUTHORIZED {
		return nil, nil, "", notFound("feed")
	}
	if err != nil {
		return nil, nil, "", err
	}
	return catalog.WithUser(r.Context(), u), u, key, nil
}

func (s *Server) failPlain(w http.ResponseWriter, r *http.Request, err error) {
	status, _, msg, internal := errorStatus(err)
	if internal {
		s.log.Error("web: request failed", "path", RedactPath(r.URL.Path), "err", err)
	}
	http.Error(w, msg, status)
}

// feed serves a user's RSS feed; its items' enclosures are the user's
// personal .torrent files, authorised by the same feed key.
func (s *Server) feed(w http.ResponseWriter, r *http.Request) {
	ctx, u, key, err := s.feedUser(r)
	if err == nil {
		err = checkValues(r.URL.Query())
	}
	var cat int64
	if err == nil {
		cat, err = intParam(r.URL.Query().Get("cat"), "cat", 0, 0, 1<<62)
	}
	var list []*catalog.Torrent
	var st *catalog.Settings
	if err == nil {
		list, _, err = s.cat.Torrents(ctx, catalog.TorrentFilter{CategoryID: cat, Query: r.URL.Query().Get("q"),
			Page: catalog.Page{Limit: 50}})
	}
	if err == nil {
		st, err = s.cat.Settings(ctx)
	}
	if err != nil {
		s.failPlain(w, r, err)
		return
	}
	base := s.baseURL(r)
	feed := rss{Version: "2.0", Channel: rssChannel{Title: st.SiteName + " — " + u.Name, Link: base + "/",
		Description: "New torrents on " + st.SiteName}}
	for _, t := range list {
		page := base + "/torrent/" + strconv.FormatInt(t.ID, 10)
		feed.Channel.Items = append(feed.Channel.Items, rssItem{
			Title: t.Name, Link: page, GUID: rssGUID{true, page},
			PubDate:  t.CreatedAt.UTC().Format(time.RFC1123Z),
			Category: t.CategoryName,
			Enclosure: rssEnclosure{URL: base + "/feed/" + key + "/torrent/" + strconv.FormatInt(t.ID, 10),
				Length: t.Size, Type: "application/x-bittorrent"},
		})
	}
	out, err := xml.MarshalIndent(feed, "", "  ")
	if err != nil {
		s.failPlain(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/rss+xml; charset=utf-8")
	w.Header().Set("Cache-Control", "private, max-age=60")
	w.Write([]byte(xml.Header))
	w.Write(out)
}

// feedDownload serves the feed user's personal .torrent.
func (s *Server) feedDownload(w http.ResponseWriter, r *http.Request) {
	ctx, u, _, err := s.feedUser(r)
	var id int64
	if err == nil {
		id, err = parseID(r.PathValue("id"), "torrent")
	}
	var data []byte
	var t *catalog.Torrent
	if err == nil {
		data, t, err = s.cat.PersonalTorrent(ctx, id, u.ID, s.announceURLs(r))
	}
	if err != nil {
		s.failPlain(w, r, err)
		return
	}
	serveTorrent(w, data, t)
}

type statsView struct {
	Site        *catalog.SiteStats
	Tracker     TrackerTotals
	Transferred int64
}

func (s *Server) statsPage(q *req) error {
	st, err := s.cat.SiteStats(q.ctx)
	if err != nil {
		return err
	}
	return q.ok("stats", "Statistics", statsView{Site: st, Tracker: s.stats.Totals(),
		Transferred: st.RawUploaded + st.RawDownloaded})
}
