package metainfo

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gale-bt/gale/bencode"
)

// knownKeys are the top-level keys Marshal writes from Torrent fields.
var knownKeys = map[string]bool{
	"announce": true, "announce-list": true, "comment": true, "created by": true,
	"creation date": true, "encoding": true, "httpseeds": true, "info": true,
	"nodes": true, "piece layers": true, "url-list": true,
}

// Marshal encodes t as a .torrent file: the top-level keys from t's
// fields (empty ones left out) and Extra, in sorted order, with
// InfoBytes written verbatim, so editing anything outside info keeps the
// info hashes. Extra entries named like a field above are ignored.
// "url-list" is always written as a list; "piece layers" is written for
// v2 and hybrid torrents (PieceLayers not nil), even when empty.
func (t *Torrent) Marshal() ([]byte, error) {
	if len(t.InfoBytes) == 0 {
		return nil, errors.New("metainfo: torrent has no info dictionary")
	}
	type entry struct {
		key string
		val []byte
	}
	var es []entry
	add := func(k string, v any) error {
		b, err := bencode.Marshal(v)
		if err != nil {
			return fmt.Errorf("metainfo: encoding %q: %w", k, err)
		}
		es = append(es, entry{k, b})
		return nil
	}
	for k, v := range t.Extra {
		if !knownKeys[k] && len(v) > 0 {
			es = append(es, entry{k, v})
		}
	}
	var err error
	str := func(k, v string) {
		if v != "" && err == nil {
			err = add(k, v)
		}
	}
	str("announce", t.Announce)
	str("comment", t.Comment)
	str("created by", t.CreatedBy)
	str("encoding", t.Encoding)
	if len(t.AnnounceList) > 0 && err == nil {
		err = add("announce-list", t.AnnounceList)
	}
	if !t.CreationDate.IsZero() && err == nil {
		err = add("creation date", t.CreationDate.Unix())
	}
	if len(t.HTTPSeeds) > 0 && err == nil {
		err = add("httpseeds", t.HTTPSeeds)
	}
	if len(t.WebSeeds) > 0 && err == nil {
		err = add("url-list", t.WebSeeds)
	}
	if len(t.Nodes) > 0 && err == nil {
		nodes := make([][]any, len(t.Nodes))
		for i, n := range t.Nodes {
			nodes[i] = []any{n.Host, int64(n.Port)}
		}
		err = add("nodes", nodes)
	}
	if err != nil {
		return nil, err
	}
	es = append(es, entry{"info", t.InfoBytes})
	if t.PieceLayers != nil {
		es = append(es, entry{"piece layers", encodeLayers(t.PieceLayers)})
	}
	slices.SortFunc(es, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	n := 2
	for _, e := range es {
		n += len(e.key) + len(e.val) + 12
	}
	b := make([]byte, 0, n)
	b = append(b, 'd')
	for _, e := range es {
		b = bencode.AppendString(b, e.key)
		b = append(b, e.val...)
	}
	return append(b, 'e'), nil
}

func encodeLayers(m map[[32]byte][]byte) []byte {
	keys := make([][32]byte, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
	b := []byte{'d'}
	for _, k := range keys {
		b = bencode.AppendBytes(b, k[:])
		b = bencode.AppendBytes(b, m[k])
	}
	return append(b, 'e')
}

// InfoEdit lists changes to fields inside the info dictionary; a nil
// field is left alone.
type InfoEdit struct {
	// Name renames the torrent. For a single-file torrent with a v2 file
	// tree, the tree's one key is renamed too.
	Name *string
	// Private sets (true) or removes (false) the private flag (BEP 27).
	Private *bool
	// Source sets "source", or removes it when empty.
	Source *string
}

// EditInfo changes fields inside the info dictionary. Every such change
// changes the info hashes: EditInfo re-encodes the dictionary in
// canonical bencoding (keeping the keys it does not know), validates the
// result and updates Info, InfoBytes, InfoHash and InfoHashV2. Piece
// hashes and piece layers stay valid. On error t is unchanged.
func (t *Torrent) EditInfo(e InfoEdit) error {
	var m map[string]any
	if _, err := (bencode.DecodeOptions{Tolerant: true}).Unmarshal(t.InfoBytes, &m); err != nil {
		return bencodeErr(err)
	}
	if e.Name != nil {
		if err := checkComponent(*e.Name, false); err != nil {
			return fmt.Errorf("metainfo: new name: %w", err)
		}
		old, _ := m["name"].(string)
		m["name"] = *e.Name
		if tree, ok := m["file tree"].(map[string]any); ok && !t.Info.MultiFile && len(tree) == 1 {
			if node, ok := tree[old]; ok {
				delete(tree, old)
				tree[*e.Name] = node
			}
		}
	}
	if e.Private != nil {
		if *e.Private {
			m["private"] = int64(1)
		} else {
			delete(m, "private")
		}
	}
	if e.Source != nil {
		if *e.Source != "" {
			m["source"] = *e.Source
		} else {
			delete(m, "source")
		}
	}
	info, err := bencode.Marshal(m)
	if err != nil {
		return fmt.Errorf("metainfo: encoding info: %w", err)
	}
	nt, err := ParseInfo(info)
	if err != nil {
		return err
	}
	t.Info = nt.Info
	t.InfoBytes = nt.InfoBytes
	t.hashInfo()
	return nil
}
