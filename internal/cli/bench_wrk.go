package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
)

// wrk(1) is an event-driven HTTP load generator written in C. On a small
// machine the load generator's own core is the limit for one connection
// per request (connect and close cost the client as much as the tracker),
// and wrk spends less per connection than gale bench does; --wrk-lua
// writes a script that makes wrk send exactly the requests gale bench's
// HTTP mode sends and print the result in gale bench's JSON schema.

// benchWrkMaxQueries bounds the generated script (about 200 bytes per
// request).
const benchWrkMaxQueries = 200_000

// writeWrkScript writes the Lua script for the HTTP requests of c and pop
// (announces: one per simulated peer, "started" the first time; scrapes:
// --scrape-hashes info hashes starting at each torrent in turn). With
// --keepalive the requests ask for keep-alive, otherwise for
// "Connection: close", which makes wrk reconnect after each answer.
func writeWrkScript(w io.Writer, c *benchConfig, u *url.URL, pop *benchPopulation) error {
	if u.Scheme != "http" {
		return usagef("--wrk-lua needs an http:// URL")
	}
	if pop.keyed != nil {
		return usagef("--wrk-lua does not write personal announce URLs (--announce-urls)")
	}
	n := pop.peers
	if c.mode == "scrape" {
		n = len(pop.hashes)
	}
	if n > benchWrkMaxQueries {
		return usagef("--wrk-lua writes at most %d requests; lower --peers or --torrents", benchWrkMaxQueries)
	}
	prefix, suffix, escaped, err := httpRequestParts(c, u, pop)
	if err != nil {
		return err
	}
	// Everything interpolated below is URL-safe ASCII or a JSON text
	// without "]==]", so Lua long brackets quote it without escapes.
	head, err := json.Marshal(struct {
		Load     string `json:"load"`
		URL      string `json:"url"`
		Mode     string `json:"mode"`
		Torrents int    `json:"torrents"`
		Peers    int    `json:"peers"`
	}{"wrk", c.url, c.mode, len(pop.hashes), pop.peers})
	if err != nil {
		return err
	}
	for _, s := range []string{string(prefix), string(suffix), string(head)} {
		if strings.Contains(s, "]==]") {
			return usagef("URL %q cannot be quoted in Lua", c.url)
		}
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, `-- wrk(1) script written by gale bench --wrk-lua: %d %s requests to
-- %s (%d torrents, %d peers, numwant %d), one connection per request
-- unless written with --keepalive. At the end it prints a JSON object
-- with gale bench --json's keys (latencies exclude the TCP handshake:
-- wrk starts the clock once connected).
-- Run: wrk -t1 -c64 -d10s -s THIS_FILE %s [-- THREADS]
-- (with -tN, pass N after "--" so that the threads share the peers out).
local prefix = [==[%s]==]
local suffix = [==[%s]==]
local event = [==[%s]==]
local head = [==[%s]==]
local queries = [==[
`, n, c.mode, c.url, len(pop.hashes), pop.peers, c.numWant, c.url,
		luaEscapeCRLF(prefix), luaEscapeCRLF(suffix), eventParam(c), strings.TrimSuffix(string(head), "}"))
	var b []byte
	T := len(escaped)
	for i := range n {
		b = b[:0]
		if c.mode == "scrape" {
			for k := range c.scrapeHashes {
				if k > 0 {
					b = append(b, '&')
				}
				b = append(b, "info_hash="...)
				b = append(b, escaped[(i+k)%T]...)
			}
		} else {
			b = appendAnnounceQuery(b, pop, escaped, i, c.numWant)
		}
		b = append(b, '\n')
		bw.Write(b)
	}
	bw.WriteString(wrkLuaBody)
	return bw.Flush()
}

func writeWrkFile(c *benchConfig, u *url.URL, pop *benchPopulation) error {
	f, err := os.Create(c.wrkLua)
	if err != nil {
		return err
	}
	if err := writeWrkScript(f, c, u, pop); err != nil {
		f.Close()
		os.Remove(c.wrkLua)
		return err
	}
	return f.Close()
}

// luaEscapeCRLF marks the CRLFs of b for the Lua code to restore (long
// brackets cannot hold a bare CR reliably).
func luaEscapeCRLF(b []byte) string { return strings.ReplaceAll(string(b), "\r\n", "<CRLF>") }

func eventParam(c *benchConfig) string {
	if c.mode == "scrape" {
		return ""
	}
	return "&event=started"
}

// wrkLuaBody is the script's code: it builds this thread's requests in
// init and cycles through them; done prints the JSON result.
const wrkLuaBody = `]==]
prefix = prefix:gsub("<CRLF>", "\r\n")
suffix = suffix:gsub("<CRLF>", "\r\n")

local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

local reqs, first, nxt = {}, {}, 1
function init(args)
  local n = tonumber(args[1]) or 1
  local me = (id or 0) % n
  local i = 0
  for q in queries:gmatch("[^\n]+") do
    if i % n == me then
      reqs[#reqs + 1] = prefix .. q .. suffix
      if event ~= "" then first[#reqs] = prefix .. q .. event .. suffix end
    end
    i = i + 1
  end
  queries = nil
  if #reqs == 0 then error("no requests for thread " .. me) end
end

function request()
  local j = nxt
  nxt = nxt % #reqs + 1
  local f = first[j]
  if f then
    first[j] = nil
    return f
  end
  return reqs[j]
end

function done(summary, latency, requests)
  -- Read errors are counted apart: wrk records one whenever a tracker
  -- closes a connection after an HTTP/1.1 answer without "Connection:
  -- close" (opentracker does), as it tries to reuse the connection; the
  -- answer itself was counted.
  local e = summary.errors
  local secs = summary.duration / 1e6
  local ok = summary.requests - e.status
  local rate = 0
  if secs > 0 then rate = ok / secs end
  io.write(head, string.format(
    ',\n "seconds": %.3f,\n "responses": %d,\n "responses_per_second": %.1f,\n' ..
    ' "errors": %d,\n "timeouts": %d,\n "errors_connect": %d,\n "errors_write": %d,\n' ..
    ' "errors_status": %d,\n "errors_read": %d,\n "p50_us": %d,\n "p90_us": %d,\n "p99_us": %d,\n "max_us": %d\n}\n',
    secs, ok, rate, e.connect + e.write + e.status, e.timeout, e.connect, e.write, e.status, e.read,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
`
