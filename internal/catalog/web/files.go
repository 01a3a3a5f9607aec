package web

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gale-bt/gale/internal/catalog"
	"github.com/gale-bt/gale/internal/tracker"
)

// Multipart bounds: a form has a handful of fields.
const (
	maxParts = 32
)

// readMultipart reads a multipart/form-data body without temporary files:
// the part named fileField (at most maxFile bytes) and the other fields
// (each at most maxFieldLen bytes). The caller limits the whole body.
func readMultipart(r *http.Request, fileField string, maxFile int64) (url.Values, []byte, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, nil, catalog.Errorf(catalog.EINVALID, "the form could not be read: want multipart/form-data")
	}
	fields := url.Values{}
	var file []byte
	for n := 0; ; n++ {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, formError(err)
		}
		if n >= maxParts {
			return nil, nil, catalog.Errorf(catalog.EINVALID, "the form has too many fields")
		}
		name := p.FormName()
		if name == fileField {
			if file != nil {
				return nil, nil, catalog.Errorf(catalog.EINVALID, "the form has more than one file")
			}
			b, err := io.ReadAll(io.LimitReader(p, maxFile+1))
			if err != nil {
				return nil, nil, formError(err)
			}
			if int64(len(b)) > maxFile {
				return nil, nil, &http.MaxBytesError{Limit: maxFile}
			}
			file = b
			if file == nil {
				file = []byte{}
			}
			continue
		}
		b, err := io.ReadAll(io.LimitReader(p, maxFieldLen+1))
		if err != nil {
			return nil, nil, formError(err)
		}
		if len(b) > maxFieldLen {
			return nil, nil, catalog.Errorf(catalog.EINVALID, "the field %q is too long", truncate(name, 40))
		}
		fields.Add(name, string(b))
	}
	return fields, file, nil
}

// formError keeps a body size error (413) and makes anything else 400.
func formError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return err
	}
	return catalog.Errorf(catalog.EINVALID, "the form could not be read")
}

// checkTorrentText refuses a .torrent whose name or file paths are not
// valid UTF-8 (BEP 3 says they are): PostgreSQL cannot store such text,
// which would make the upload an internal error there. Unparseable files
// pass; the catalog refuses them with its own message.
func checkTorrentText(data []byte) error {
	p, err := catalog.PrepareTorrent(data, "")
	if err != nil {
		return nil
	}
	bad := !utf8.ValidString(p.Name) || strings.IndexByte(p.Name, 0) >= 0
	for _, f := range p.Files {
		bad = bad || !utf8.ValidString(f.Path) || strings.IndexByte(f.Path, 0) >= 0
	}
	if bad {
		return catalog.Errorf(catalog.EINVALID, "the torrent's name or file names are not valid UTF-8 text")
	}
	return nil
}

// KeyForm is where a personal announce URL carries the user's key. Both
// forms (and a few more, see tracker.ParsePath) reach the same tracker.
type KeyForm string

// Key forms.
const (
	// KeyInPath is XBT Tracker's BASE/KEY/announce, the default, so that
	// a site that computes XBT's URLs hands out the same ones.
	KeyInPath KeyForm = "path"
	// KeyInQuery is BASE/announce?passkey=KEY: libtorrent 2.x
	// (qBittorrent, Deluge) accepts it for a tracker on a loopback
	// address, where its SSRF mitigation refuses any path that does not
	// start with "/announce". BEP 48 derives BASE/scrape?passkey=KEY.
	KeyInQuery KeyForm = "query"
)

// ParseKeyForm reads a KeyForm: "path", "query", or "" for KeyInPath.
func ParseKeyForm(s string) (KeyForm, error) {
	switch KeyForm(s) {
	case "", KeyInPath:
		return KeyInPath, nil
	case KeyInQuery:
		return KeyInQuery, nil
	}
	return "", fmt.Errorf("announce key form %q: want %q or %q", s, KeyInQuery, KeyInPath)
}

// PersonalAnnounceURL returns the personal announce URL of key on the
// tracker base URL base ("http://host:port", "https://host/prefix",
// "udp://host:port"; a trailing slash is ignored) in form (""
// is KeyInPath). For udp:// the path and query travel in BEP 41 URL
// data. Keys are URL-safe (catalog.Passkey: hex digits), so key is not
// escaped.
func PersonalAnnounceURL(base, key string, form KeyForm) string {
	base = strings.TrimRight(base, "/")
	if form == KeyInQuery {
		return base + "/announce?" + tracker.PasskeyParam + "=" + key
	}
	return base + "/" + key + "/announce"
}

// announceURLs returns the function PersonalTorrent calls with a user's
// key: one personal announce URL per configured base (BEP 41 URL data for
// UDP), or the site's own base URL when none is configured, in the
// configured key form.
func (s *Server) announceURLs(r *http.Request) func(key string) []string {
	return func(key string) []string {
		if len(s.announce) == 0 {
			return []string{PersonalAnnounceURL(s.baseURL(r), key, s.keyForm)}
		}
		out := make([]string, 0, len(s.announce))
		for _, u := range s.announce {
			out = append(out, PersonalAnnounceURL(u.String(), key, s.keyForm))
		}
		return out
	}
}

// serveTorrent writes a personal .torrent as an attachment.
func serveTorrent(w http.ResponseWriter, data []byte, t *catalog.Torrent) {
	h := w.Header()
	h.Set("Content-Type", "application/x-bittorrent")
	h.Set("Content-Disposition", contentDisposition(t))
	h.Set("Content-Length", strconv.Itoa(len(data)))
	h.Set("Cache-Control", "no-store")
	w.Write(data)
}

// contentDisposition names the download after the torrent, with a file
// name that is safe everywhere: no path separators, quotes or control
// characters, at most 100 characters, ending in ".torrent". Non-ASCII
// names go in RFC 6266 filename* with an ASCII fallback.
func contentDisposition(t *catalog.Torrent) string {
	name := safeFileName(t.Name)
	if name == "" {
		name = "torrent-" + strconv.FormatInt(t.ID, 10)
	}
	name += ".torrent"
	ascii := strings.Map(func(r rune) rune {
		if r < 0x80 {
			return r
		}
		return '_'
	}, name)
	v := mime.FormatMediaType("attachment", map[string]string{"filename": ascii})
	if ascii != name {
		v += "; filename*=UTF-8''" + url.PathEscape(name)
	}
	if v == "" {
		return "attachment"
	}
	return v
}

func safeFileName(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '/' || r == '\\' || r == '"' || r == ':' || r == '*' || r == '?' || r == '<' || r == '>' || r == '|' || r == ';' || r == '%':
			return '_'
		case !unicode.IsPrint(r) || r == unicode.ReplacementChar:
			return -1
		}
		return r
	}, s)
	s = strings.Trim(s, " .")
	if r := []rune(s); len(r) > 100 {
		s = string(r[:100])
	}
	return s
}
