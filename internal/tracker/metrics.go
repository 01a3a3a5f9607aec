package tracker

import (
	"fmt"
	"io"
	"strconv"
	"sync/atomic"
	"time"
)

// Action is the kind of request a frontend served, for metrics.
type Action uint8

// Actions.
const (
	ActionConnect Action = iota
	ActionAnnounce
	ActionScrape
	ActionOther // malformed or unknown requests
	numActions
)

var actionNames = [numActions]string{"connect", "announce", "scrape", "other"}

func (a Action) String() string {
	if a < numActions {
		return actionNames[a]
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// Outcome is how a request ended, for metrics.
type Outcome uint8

// Outcomes.
const (
	OutcomeOK      Outcome = iota
	OutcomeRefused         // a client-visible refusal (*Error)
	OutcomeInvalid         // malformed request
	OutcomeDropped         // ignored without answer (e.g. bad UDP connection ID)
	OutcomeFailed          // internal error
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"ok", "refused", "invalid", "dropped", "failed"}

func (o Outcome) String() string {
	if o < numOutcomes {
		return outcomeNames[o]
	}
	return "outcome(" + strconv.Itoa(int(o)) + ")"
}

// latency histogram bucket upper bounds.
var latencyBounds = [...]time.Duration{
	5 * time.Microsecond, 10 * time.Microsecond, 25 * time.Microsecond,
	50 * time.Microsecond, 100 * time.Microsecond, 250 * time.Microsecond,
	500 * time.Microsecond, time.Millisecond, 2500 * time.Microsecond,
	5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond,
	50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond,
	time.Second,
}

type histogram struct {
	buckets [len(latencyBounds) + 1]atomic.Uint64
	sum     atomic.Int64 // nanoseconds
}

// Metrics are the engine's and frontends' counters: plain atomics updated
// on the hot path and formatted only when scraped.
type Metrics struct {
	requests [numProtocols][numActions][numOutcomes]atomic.Uint64
	latency  [numProtocols]histogram

	snapshotAt     atomic.Int64 // unix nanoseconds of the last saved state
	snapshotDur    atomic.Int64
	snapshotPeers  atomic.Int64
	snapshotErrors atomic.Uint64
	expired        atomic.Uint64
}

// Observe counts one request a frontend served and its processing time.
func (t *Tracker) Observe(p Protocol, a Action, o Outcome, d time.Duration) {
	if p >= numProtocols || a >= numActions || o >= numOutcomes {
		return
	}
	m := &t.metrics
	m.requests[p][a][o].Add(1)
	h := &m.latency[p]
	i := 0
	for i < len(latencyBounds) && d > latencyBounds[i] {
		i++
	}
	h.buckets[i].Add(1)
	h.sum.Add(int64(d))
}

// Requests returns the count of requests observed with the given labels.
func (t *Tracker) Requests(p Protocol, a Action, o Outcome) uint64 {
	if p >= numProtocols || a >= numActions || o >= numOutcomes {
		return 0
	}
	return t.metrics.requests[p][a][o].Load()
}

// WritePrometheus writes the metrics in the Prometheus text exposition
// format (version 0.0.4).
func (t *Tracker) WritePrometheus(w io.Writer) error {
	m := &t.metrics
	tot := t.Totals()
	var b []byte
	b = append(b, "# HELP gale_tracker_requests_total Requests served, by protocol, action and outcome.\n# TYPE gale_tracker_requests_total counter\n"...)
	for p := Protocol(0); p < numProtocols; p++ {
		for a := Action(0); a < numActions; a++ {
			for o := Outcome(0); o < numOutcomes; o++ {
				b = fmt.Appendf(b, "gale_tracker_requests_total{protocol=%q,action=%q,outcome=%q} %d\n",
					p.String(), actionNames[a], outcomeNames[o], m.requests[p][a][o].Load())
			}
		}
	}
	b = append(b, "# HELP gale_tracker_request_duration_seconds Time to process a request, by protocol.\n# TYPE gale_tracker_request_duration_seconds histogram\n"...)
	for p := Protocol(0); p < numProtocols; p++ {
		h := &m.latency[p]
		var cum uint64
		for i, le := range latencyBounds {
			cum += h.buckets[i].Load()
			b = fmt.Appendf(b, "gale_tracker_request_duration_seconds_bucket{protocol=%q,le=%q} %d\n",
				p.String(), strconv.FormatFloat(le.Seconds(), 'g', -1, 64), cum)
		}
		cum += h.buckets[len(latencyBounds)].Load()
		b = fmt.Appendf(b, "gale_tracker_request_duration_seconds_bucket{protocol=%q,le=\"+Inf\"} %d\n", p.String(), cum)
		b = fmt.Appendf(b, "gale_tracker_request_duration_seconds_sum{protocol=%q} %g\n", p.String(), time.Duration(h.sum.Load()).Seconds())
		b = fmt.Appendf(b, "gale_tracker_request_duration_seconds_count{protocol=%q} %d\n", p.String(), cum)
	}
	b = fmt.Appendf(b, "# HELP gale_tracker_swarms Swarms in the store.\n# TYPE gale_tracker_swarms gauge\ngale_tracker_swarms %d\n", tot.Swarms)
	b = append(b, "# HELP gale_tracker_peers Peers in the store, by address family and role.\n# TYPE gale_tracker_peers gauge\n"...)
	b = fmt.Appendf(b, "gale_tracker_peers{family=\"ipv4\",role=\"seeder\"} %d\n", tot.Seeders4)
	b = fmt.Appendf(b, "gale_tracker_peers{family=\"ipv4\",role=\"leecher\"} %d\n", tot.Leechers4)
	b = fmt.Appendf(b, "gale_tracker_peers{family=\"ipv6\",role=\"seeder\"} %d\n", tot.Seeders6)
	b = fmt.Appendf(b, "gale_tracker_peers{family=\"ipv6\",role=\"leecher\"} %d\n", tot.Leechers6)
	b = fmt.Appendf(b, "# HELP gale_tracker_completed Completed events counted over the swarms in the store.\n# TYPE gale_tracker_completed gauge\ngale_tracker_completed %d\n", tot.Completed)
	b = fmt.Appendf(b, "# HELP gale_tracker_peers_expired_total Peers removed for not announcing within the peer TTL.\n# TYPE gale_tracker_peers_expired_total counter\ngale_tracker_peers_expired_total %d\n", m.expired.Load())
	age := -1.0
	if tot.SnapshotAge >= 0 {
		age = tot.SnapshotAge.Seconds()
	}
	b = fmt.Appendf(b, "# HELP gale_tracker_snapshot_age_seconds Seconds since the state was last saved (-1: never).\n# TYPE gale_tracker_snapshot_age_seconds gauge\ngale_tracker_snapshot_age_seconds %g\n", age)
	b = fmt.Appendf(b, "# HELP gale_tracker_snapshot_duration_seconds Time the last state save took.\n# TYPE gale_tracker_snapshot_duration_seconds gauge\ngale_tracker_snapshot_duration_seconds %g\n", tot.SnapshotDuration.Seconds())
	b = fmt.Appendf(b, "# HELP gale_tracker_snapshot_errors_total Failed state saves.\n# TYPE gale_tracker_snapshot_errors_total counter\ngale_tracker_snapshot_errors_total %d\n", tot.SnapshotErrors)
	_, err := w.Write(b)
	return err
}
