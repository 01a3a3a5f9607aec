package httptracker

import (
	"bytes"
	"cmp"
	"encoding/json"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gale-bt/gale/internal/tracker"
)

// Pages returns the handler of the stats pages:
//
//	/            an HTML page: totals, requests and the busiest swarms
//	/stats.json  the same as JSON (?limit=N swarms, default 100, max 10000)
//	/metrics     Prometheus text format
//
// Everything else is 404.
func Pages(tr *tracker.Tracker) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		st := collectStats(tr, 100)
		var b bytes.Buffer
		if err := pageTmpl.Execute(&b, st); err != nil {
			http.Error(w, "template error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(b.Bytes())
	})
	mux.HandleFunc("GET /stats.json", func(w http.ResponseWriter, r *http.Request) {
		limit := 100
		if v := r.URL.Query().Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				http.Error(w, "bad limit", http.StatusBadRequest)
				return
			}
			limit = min(n, 10000)
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(collectStats(tr, limit))
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_ = tr.WritePrometheus(w)
	})
	return mux
}

// Stats is the document of / and /stats.json.
type Stats struct {
	Time        time.Time         `json:"time"`
	Swarms      int               `json:"swarms"`
	Seeders     int               `json:"seeders"`
	Leechers    int               `json:"leechers"`
	Peers       int               `json:"peers"`
	PeersIPv4   int               `json:"peers_ipv4"`
	PeersIPv6   int               `json:"peers_ipv6"`
	Completed   int               `json:"completed"`
	SnapshotAge *float64          `json:"snapshot_age_seconds,omitempty"`
	Requests    []RequestCount    `json:"requests"`
	Top         []SwarmStats      `json:"top_swarms"`
	Lists       map[string]int    `json:"lists,omitempty"`
	Config      map[string]string `json:"config"`
}

// RequestCount is one counter of requests.
type RequestCount struct {
	Protocol string `json:"protocol"`
	Action   string `json:"action"`
	Outcome  string `json:"outcome"`
	Count    uint64 `json:"count"`
}

// SwarmStats is one swarm's line.
type SwarmStats struct {
	InfoHash  string `json:"info_hash"`
	Seeders   int    `json:"seeders"`
	Leechers  int    `json:"leechers"`
	Completed int    `json:"completed"`
}

func collectStats(tr *tracker.Tracker, limit int) *Stats {
	tot := tr.Totals()
	st := &Stats{
		Time:      time.Now().UTC().Truncate(time.Second),
		Swarms:    tot.Swarms,
		Seeders:   tot.Seeders4 + tot.Seeders6,
		Leechers:  tot.Leechers4 + tot.Leechers6,
		PeersIPv4: tot.Seeders4 + tot.Leechers4,
		PeersIPv6: tot.Seeders6 + tot.Leechers6,
		Completed: tot.Completed,
		Top:       []SwarmStats{},
	}
	st.Peers = st.Seeders + st.Leechers
	if tot.SnapshotAge >= 0 {
		a := tot.SnapshotAge.Seconds()
		st.SnapshotAge = &a
	}
	if tot.WhitelistSize >= 0 || tot.BlacklistSize >= 0 {
		st.Lists = map[string]int{}
		if tot.WhitelistSize >= 0 {
			st.Lists["whitelist"] = tot.WhitelistSize
		}
		if tot.BlacklistSize >= 0 {
			st.Lists["blacklist"] = tot.BlacklistSize
		}
	}
	cfg := tr.Config()
	st.Config = map[string]string{
		"interval":        cfg.Interval.String(),
		"min_interval":    cfg.MinInterval.String(),
		"peer_ttl":        cfg.PeerTTL.String(),
		"numwant_default": strconv.Itoa(cfg.NumWantDefault),
		"numwant_max":     strconv.Itoa(cfg.NumWantMax),
	}
	for _, p := range []tracker.Protocol{tracker.HTTP, tracker.UDP} {
		for a := tracker.ActionConnect; a <= tracker.ActionOther; a++ {
			for o := tracker.OutcomeOK; o <= tracker.OutcomeFailed; o++ {
				if n := tr.Requests(p, a, o); n > 0 {
					st.Requests = append(st.Requests, RequestCount{p.String(), a.String(), o.String(), n})
				}
			}
		}
	}
	if limit > 0 {
		// Keep the limit busiest swarms.
		top := make([]SwarmStats, 0, limit+1)
		less := func(a, b SwarmStats) int {
			return cmp.Or(cmp.Compare(b.Seeders+b.Leechers, a.Seeders+a.Leechers), cmp.Compare(b.Completed, a.Completed), cmp.Compare(a.InfoHash, b.InfoHash))
		}
		tr.EachSwarm(func(ih tracker.InfoHash, s tracker.ScrapeStats) bool {
			e := SwarmStats{ih.String(), s.Seeders, s.Leechers, s.Completed}
			if len(top) == limit && less(e, top[len(top)-1]) >= 0 {
				return true
			}
			i, _ := slices.BinarySearchFunc(top, e, less)
			top = slices.Insert(top, i, e)
			if len(top) > limit {
				top = top[:limit]
			}
			return true
		})
		st.Top = top
	}
	return st
}

var pageTmpl = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>gale tracker</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{padding:.2em .8em;text-align:right}td:first-child,th:first-child{text-align:left;font-family:monospace}tr:nth-child(even){background:#f4f4f4}</style>
</head><body>
<h1>gale tracker</h1>
<p>{{.Swarms}} torrents, {{.Peers}} peers ({{.Seeders}} seeders, {{.Leechers}} leechers; {{.PeersIPv4}} IPv4, {{.PeersIPv6}} IPv6), {{.Completed}} completed.
{{with .SnapshotAge}}State saved {{printf "%.0f" .}} s ago.{{end}}</p>
<h2>Busiest torrents</h2>
<table><tr><th>info hash</th><th>seeders</th><th>leechers</th><th>completed</th></tr>
{{range .Top}}<tr><td>{{.InfoHash}}</td><td>{{.Seeders}}</td><td>{{.Leechers}}</td><td>{{.Completed}}</td></tr>
{{else}}<tr><td colspan="4">no torrents yet</td></tr>
{{end}}</table>
<h2>Requests</h2>
<table><tr><th>protocol</th><th>action</th><th>outcome</th><th>count</th></tr>
{{range .Requests}}<tr><td>{{.Protocol}}</td><td>{{.Action}}</td><td>{{.Outcome}}</td><td>{{.Count}}</td></tr>
{{end}}</table>
<p><a href="stats.json">stats.json</a> · <a href="metrics">metrics</a> · generated {{.Time.Format "2006-01-02 15:04:05 UTC"}}</p>
</body></html>
`))
