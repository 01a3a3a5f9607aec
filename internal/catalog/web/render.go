package web

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/gale-bt/gale/internal/catalog"
)

// pageTemplate is the layout plus one page's "content".
type pageTemplate struct{ t *template.Template }

// parsePages parses templates/layout.html with each other template.
func parsePages() (map[string]*pageTemplate, error) {
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("web: templates: %w", err)
	}
	names, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		return nil, err
	}
	out := map[string]*pageTemplate{}
	for _, n := range names {
		base := strings.TrimSuffix(path.Base(n), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(assets, n)
		if err != nil {
			return nil, fmt.Errorf("web: templates: %w", err)
		}
		out[base] = &pageTemplate{t}
	}
	return out, nil
}

// view is what every page template receives.
type view struct {
	Title string
	Site  *catalog.Settings
	Me    *catalog.User
	CSRF  string
	Flash string
	Query string // the search box
	Data  any
}

// render executes page into a buffer and writes it with status.
func (q *req) render(status int, page, title string, data any) error {
	pt := q.s.pages[page]
	if pt == nil {
		return fmt.Errorf("web: no template %q", page)
	}
	v := view{Title: title, Site: q.site, Me: q.me, CSRF: q.csrf, Flash: q.flash, Data: data}
	if q.r.URL.Path == "/torrents" || q.r.URL.Path == "/" {
		v.Query = q.r.URL.Query().Get("q")
	}
	var buf bytes.Buffer
	if err := pt.t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		q.s.log.Error("web: rendering failed", "page", page, "err", err)
		http.Error(q.w, "internal error", http.StatusInternalServerError)
		return nil
	}
	q.w.Header().Set("Content-Type", "text/html; charset=utf-8")
	q.w.WriteHeader(status)
	q.w.Write(buf.Bytes())
	return nil
}

// ok renders a page with status 200.
func (q *req) ok(page, title string, data any) error {
	return q.render(http.StatusOK, page, title, data)
}

var funcs = template.FuncMap{
	"bytes":    formatBytes,
	"ratio":    formatRatio,
	"date":     formatDate,
	"datetime": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"duration": formatDuration,
	"markdown": renderMarkdown,
	"has":      func(r catalog.Rights, name string) bool { x, _ := catalog.ParseRights(name); return x != 0 && r.Has(x) },
	"pct":      func(a, b int64) int64 { return a * 100 / max(b, 1) },
	"add":      func(a, b int) int { return a + b },
	"hex":      func(b [20]byte) string { return fmt.Sprintf("%x", b[:]) },
	"client":   func(id [20]byte) string { return catalog.PrintableClient(id[:]) },
	"rightNames": func() []string {
		return []string{"see", "download", "upload", "moderate", "administer"}
	},
}

// formatBytes prints a size with binary units ("1.5 GiB").
func formatBytes(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	v := float64(n) / 1024
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if v >= 100 {
		return fmt.Sprintf("%.0f %s", v, units[i])
	}
	return fmt.Sprintf("%.2f %s", v, units[i])
}

func formatRatio(r float64) string {
	switch {
	case math.IsInf(r, 1):
		return "∞"
	case r == 0:
		return "0"
	}
	return fmt.Sprintf("%.3f", r)
}

func formatDate(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04")
}

func formatDuration(d time.Duration) string {
	d = d.Round(time.Minute)
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	h := d / time.Hour
	m := (d - h*time.Hour) / time.Minute
	switch {
	case days > 0:
		return fmt.Sprintf("%dd %dh", days, h)
	case h > 0:
		return fmt.Sprintf("%dh %dm", h, m)
	}
	return fmt.Sprintf("%dm", m)
}

// pager is the pagination of a list.
type pager struct {
	Page, Pages, Total int
	Prev, Next         string // URLs, "" when none
}

const pageSize = 50

// newPager builds the pagination for total items at page (1-based), with
// URLs made by link.
func newPager(page, total int, link func(page int) string) pager {
	pages := max(1, (total+pageSize-1)/pageSize)
	p := pager{Page: page, Pages: pages, Total: total}
	if page > 1 {
		p.Prev = link(min(page-1, pages))
	}
	if page < pages {
		p.Next = link(page + 1)
	}
	return p
}
