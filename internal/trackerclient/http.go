package trackerclient

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gale-bt/gale/bencode"
)

// maxInterval caps intervals taken from responses so that absurd values
// cannot overflow time.Duration arithmetic in callers.
const maxInterval = 7 * 24 * time.Hour

func (c *Client) httpClient() *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	c.httpOnce.Do(func() {
		network := "tcp"
		switch c.IPVersion {
		case 4:
			network = "tcp4"
		case 6:
			network = "tcp6"
		}
		d := &net.Dialer{Timeout: 30 * time.Second}
		c.httpDef = &http.Client{
			Transport: &http.Transport{
				Proxy: http.ProxyFromEnvironment,
				DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
					return d.DialContext(ctx, network, addr)
				},
				DisableKeepAlives:      true,
				TLSHandshakeTimeout:    30 * time.Second,
				ResponseHeaderTimeout:  60 * time.Second,
				MaxResponseHeaderBytes: 64 << 10,
			},
			Timeout: 2 * time.Minute,
		}
	})
	return c.httpDef
}

// AnnounceURL returns the HTTP announce URL for req: base with the BEP 3
// parameters appended to any query it already has (such as a passkey).
// Binary values are percent-encoded byte by byte; compact=1 (BEP 23) is
// always asked for.
func AnnounceURL(base *url.URL, req *AnnounceRequest) string {
	var b strings.Builder
	b.Grow(len(base.String()) + 256)
	u := *base
	u.RawQuery, u.Fragment = "", ""
	b.WriteString(u.String())
	sep := byte('?')
	if base.RawQuery != "" {
		b.WriteByte('?')
		b.WriteString(base.RawQuery)
		sep = '&'
	}
	param := func(k, v string) {
		b.WriteByte(sep)
		sep = '&'
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
	}
	param("info_hash", EscapeBinary(req.InfoHash[:]))
	param("peer_id", EscapeBinary(req.PeerID[:]))
	param("port", strconv.FormatUint(uint64(req.Port), 10))
	param("uploaded", strconv.FormatInt(max(req.Uploaded, 0), 10))
	param("downloaded", strconv.FormatInt(max(req.Downloaded, 0), 10))
	param("left", strconv.FormatInt(max(req.Left, 0), 10))
	param("compact", "1")
	if ev := req.Event.String(); ev != "" {
		param("event", ev)
	}
	switch {
	case req.NumWant < 0:
		param("numwant", "0")
	case req.NumWant > 0:
		param("numwant", strconv.Itoa(req.NumWant))
	}
	if req.Key != 0 {
		param("key", fmt.Sprintf("%08x", req.Key))
	}
	if req.IP.IsValid() {
		param("ip", req.IP.Unmap().String())
	}
	if req.TrackerID != "" {
		param("trackerid", url.QueryEscape(req.TrackerID))
	}
	return b.String()
}

// EscapeBinary percent-encodes every byte of b except the RFC 3986
// unreserved characters, as trackers expect for info_hash and peer_id.
func EscapeBinary(b []byte) string {
	const hex = "0123456789ABCDEF"
	out := make([]byte, 0, len(b)*3)
	for _, c := range b {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' {
			out = append(out, c)
			continue
		}
		out = append(out, '%', hex[c>>4], hex[c&15])
	}
	return string(out)
}

// ScrapeURL derives the scrape URL from an HTTP announce URL (BEP 48): the
// last path segment must begin with "announce", which is replaced by
// "scrape". Otherwise it returns ErrScrapeUnsupported.
func ScrapeURL(announce *url.URL) (*url.URL, error) {
	p := announce.Path
	i := strings.LastIndexByte(p, '/')
	if !strings.HasPrefix(p[i+1:], "announce") {
		return nil, fmt.Errorf("%w: announce URL path %q does not end in announce", ErrScrapeUnsupported, p)
	}
	u := *announce
	u.Path = p[:i+1] + "scrape" + p[i+1+len("announce"):]
	u.RawPath = ""
	return &u, nil
}

func (c *Client) announceHTTP(ctx context.Context, u *url.URL, req *AnnounceRequest) (*AnnounceResponse, error) {
	body, err := c.httpGet(ctx, AnnounceURL(u, req))
	if err != nil {
		return nil, err
	}
	return ParseHTTPAnnounce(body)
}

func (c *Client) scrapeHTTP(ctx context.Context, u *url.URL, hashes [][20]byte) (ScrapeResponse, error) {
	su, err := ScrapeURL(u)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString(su.RawQuery)
	for _, h := range hashes {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString("info_hash=")
		b.WriteString(EscapeBinary(h[:]))
	}
	su.RawQuery = b.String()
	body, err := c.httpGet(ctx, su.String())
	if err != nil {
		return nil, err
	}
	return ParseHTTPScrape(body)
}

// httpGet fetches rawURL and returns the body, bounded by MaxResponseSize.
// A non-200 status is an error unless the body is a bencoded failure.
func (c *Client) httpGet(ctx context.Context, rawURL string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	limit := c.MaxResponseSize
	if limit <= 0 {
		limit = DefaultMaxResponseSize
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("http tracker: reading response: %w", err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrResponseTooLarge, limit)
	}
	if resp.StatusCode != http.StatusOK {
		var f struct {
			Failure *string `bencode:"failure reason"`
		}
		if _, err := tolerant.Unmarshal(body, &f); err == nil && f.Failure != nil {
			return nil, &TrackerError{Reason: *f.Failure}
		}
		return nil, fmt.Errorf("http tracker: status %s", resp.Status)
	}
	return body, nil
}

// tolerant accepts the non-canonical bencoding some trackers produce.
var tolerant = bencode.DecodeOptions{Tolerant: true}

type httpAnnounce struct {
	Failure     *string            `bencode:"failure reason"`
	Warning     string             `bencode:"warning message"`
	Interval    int64              `bencode:"interval"`
	MinInterval int64              `bencode:"min interval"`
	TrackerID   string             `bencode:"tracker id"`
	Complete    *int64             `bencode:"complete"`
	Incomplete  *int64             `bencode:"incomplete"`
	Peers       bencode.RawMessage `bencode:"peers"`
	Peers6      bencode.RawMessage `bencode:"peers6"`
	ExternalIP  string             `bencode:"external ip"`
}

type httpDictPeer struct {
	ID   string `bencode:"peer id"`
	IP   string `bencode:"ip"`
	Port int64  `bencode:"port"`
}

// ParseHTTPAnnounce decodes a bencoded HTTP announce response (BEP 3,
// BEP 23, BEP 7, BEP 24). A "failure reason" yields a *TrackerError.
// "peers" may be compact (a string of 6-byte entries) or a list of
// dictionaries; "peers6" is compact with 18-byte entries. Compact strings
// whose length is not a multiple of the entry size are malformed.
func ParseHTTPAnnounce(body []byte) (*AnnounceResponse, error) {
	var m httpAnnounce
	if _, err := tolerant.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if m.Failure != nil {
		return nil, &TrackerError{Reason: *m.Failure}
	}
	r := &AnnounceResponse{
		Interval:    seconds(m.Interval),
		MinInterval: seconds(m.MinInterval),
		Seeders:     -1,
		Leechers:    -1,
		Warning:     m.Warning,
		TrackerID:   m.TrackerID,
	}
	if m.Complete != nil {
		r.Seeders = max(*m.Complete, 0)
	}
	if m.Incomplete != nil {
		r.Leechers = max(*m.Incomplete, 0)
	}
	switch len(m.ExternalIP) {
	case 4:
		r.ExternalIP = netip.AddrFrom4([4]byte([]byte(m.ExternalIP)))
	case 16:
		r.ExternalIP = netip.AddrFrom16([16]byte([]byte(m.ExternalIP))).Unmap()
	}
	if len(m.Peers) > 0 {
		if m.Peers[0] == 'l' {
			var list []httpDictPeer
			if _, err := tolerant.Unmarshal(m.Peers, &list); err != nil {
				return nil, fmt.Errorf("%w: peers: %v", ErrMalformed, err)
			}
			r.Peers = make([]Peer, 0, len(list))
			for _, p := range list {
				ip, err := netip.ParseAddr(p.IP)
				if err != nil || p.Port < 0 || p.Port > 65535 || ip.Zone() != "" {
					continue
				}
				peer := Peer{Addr: netip.AddrPortFrom(ip.Unmap(), uint16(p.Port))}
				if len(p.ID) == 20 {
					peer.ID = [20]byte([]byte(p.ID))
				}
				r.Peers = append(r.Peers, peer)
			}
		} else {
			compact, err := compactString(m.Peers, "peers", 6)
			if err != nil {
				return nil, err
			}
			r.Peers = appendCompact4(r.Peers, compact)
		}
	}
	if len(m.Peers6) > 0 {
		compact, err := compactString(m.Peers6, "peers6", 18)
		if err != nil {
			return nil, err
		}
		r.Peers = appendCompact6(r.Peers, compact)
	}
	return r, nil
}

func compactString(raw bencode.RawMessage, key string, stride int) ([]byte, error) {
	var s []byte
	if _, err := tolerant.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, key, err)
	}
	if len(s)%stride != 0 {
		return nil, fmt.Errorf("%w: %s: length %d is not a multiple of %d", ErrMalformed, key, len(s), stride)
	}
	return s, nil
}

func seconds(n int64) time.Duration {
	if n <= 0 {
		return 0
	}
	return time.Duration(min(n, int64(maxInterval/time.Second))) * time.Second
}

type httpScrapeStats struct {
	Complete   int64 `bencode:"complete"`
	Incomplete int64 `bencode:"incomplete"`
	Downloaded int64 `bencode:"downloaded"`
}

// ParseHTTPScrape decodes a bencoded HTTP scrape response (BEP 48). Keys
// of "files" that are not 20 bytes long are skipped. A "failure reason"
// yields a *TrackerError.
func ParseHTTPScrape(body []byte) (ScrapeResponse, error) {
	var m struct {
		Failure *string                    `bencode:"failure reason"`
		Files   map[string]httpScrapeStats `bencode:"files"`
	}
	if _, err := tolerant.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if m.Failure != nil {
		return nil, &TrackerError{Reason: *m.Failure}
	}
	if m.Files == nil {
		return nil, fmt.Errorf("%w: scrape response without files", ErrMalformed)
	}
	out := make(ScrapeResponse, len(m.Files))
	for k, v := range m.Files {
		if len(k) != 20 {
			continue
		}
		out[[20]byte([]byte(k))] = ScrapeStats{
			Complete:   max(v.Complete, 0),
			Incomplete: max(v.Incomplete, 0),
			Downloaded: max(v.Downloaded, 0),
		}
	}
	return out, nil
}
