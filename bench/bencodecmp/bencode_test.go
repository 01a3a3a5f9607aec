package bencodecmp

import (
	"bytes"
	"os"
	"strconv"
	"testing"

	anacrolix "github.com/anacrolix/torrent/bencode"
	"github.com/gale-bt/gale/bencode"
)

// The same struct types serve both libraries: both read `bencode` tags.

type fileEntry struct {
	Length int64    `bencode:"length"`
	Path   []string `bencode:"path"`
}

type info struct {
	Files       []fileEntry `bencode:"files"`
	Length      int64       `bencode:"length,omitempty"`
	Name        string      `bencode:"name"`
	PieceLength int64       `bencode:"piece length"`
	Pieces      []byte      `bencode:"pieces"`
	Private     int64       `bencode:"private,omitempty"`
}

type metaInfo struct {
	Announce     string     `bencode:"announce"`
	AnnounceList [][]string `bencode:"announce-list"`
	Comment      string     `bencode:"comment"`
	CreatedBy    string     `bencode:"created by"`
	CreationDate int64      `bencode:"creation date"`
	Info         info       `bencode:"info"`
}

type peerDict struct {
	IP     string `bencode:"ip"`
	PeerID []byte `bencode:"peer id"`
	Port   int64  `bencode:"port"`
}

type announceResponse struct {
	Complete    int64  `bencode:"complete"`
	Incomplete  int64  `bencode:"incomplete"`
	Interval    int64  `bencode:"interval"`
	MinInterval int64  `bencode:"min interval"`
	Peers       []byte `bencode:"peers"`
	Peers6      []byte `bencode:"peers6"`
}

type dictResponse struct {
	Complete   int64      `bencode:"complete"`
	Incomplete int64      `bencode:"incomplete"`
	Interval   int64      `bencode:"interval"`
	Peers      []peerDict `bencode:"peers"`
}

func torrentBytes(b *testing.B) []byte {
	data, err := os.ReadFile("testdata/multi.torrent")
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// compactResponse is a tracker answer with 50 IPv4 and 10 IPv6 peers (BEP 23, 7).
func compactResponse() []byte {
	var peers, peers6 bytes.Buffer
	for i := 0; i < 50; i++ {
		peers.Write([]byte{10, 0, byte(i >> 8), byte(i), 0x1a, 0xe1})
	}
	for i := 0; i < 10; i++ {
		peers6.Write(append(bytes.Repeat([]byte{0x20}, 15), byte(i), 0x1a, 0xe1))
	}
	out, _ := bencode.Marshal(announceResponse{Complete: 40, Incomplete: 20, Interval: 1800, MinInterval: 900, Peers: peers.Bytes(), Peers6: peers6.Bytes()})
	return out
}

// dictPeersResponse is a non-compact tracker answer with 50 peers (BEP 3).
func dictPeersResponse() []byte {
	r := dictResponse{Complete: 30, Incomplete: 20, Interval: 1800}
	for i := 0; i < 50; i++ {
		r.Peers = append(r.Peers, peerDict{IP: "192.168.1." + strconv.Itoa(i), PeerID: bytes.Repeat([]byte{byte('a' + i%26)}, 20), Port: 6881 + int64(i)})
	}
	out, _ := bencode.Marshal(r)
	return out
}

func TestSameResults(t *testing.T) {
	data, err := os.ReadFile("testdata/multi.torrent")
	if err != nil {
		t.Fatal(err)
	}
	var g, a metaInfo
	if err := bencode.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	if err := anacrolix.Unmarshal(data, &a); err != nil {
		t.Fatal(err)
	}
	if len(g.Info.Files) != len(a.Info.Files) || len(g.Info.Files) < 100 || !bytes.Equal(g.Info.Pieces, a.Info.Pieces) || g.Announce != a.Announce {
		t.Fatalf("libraries disagree: %d/%d files", len(g.Info.Files), len(a.Info.Files))
	}
	gb, _ := bencode.Marshal(g)
	ab, _ := anacrolix.Marshal(a)
	if !bytes.Equal(gb, ab) || !bytes.Equal(gb, data) {
		t.Fatalf("encodings differ")
	}
}

func benchDecode[T any](b *testing.B, data []byte, dec func([]byte, any) error) {
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var v T
		if err := dec(data, &v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeTorrent(b *testing.B) {
	data := torrentBytes(b)
	b.Run("lib=gale", func(b *testing.B) { benchDecode[metaInfo](b, data, bencode.Unmarshal) })
	b.Run("lib=anacrolix", func(b *testing.B) { benchDecode[metaInfo](b, data, anacrolix.Unmarshal) })
}

func BenchmarkDecodeTrackerCompact(b *testing.B) {
	data := compactResponse()
	b.Run("lib=gale", func(b *testing.B) { benchDecode[announceResponse](b, data, bencode.Unmarshal) })
	b.Run("lib=anacrolix", func(b *testing.B) { benchDecode[announceResponse](b, data, anacrolix.Unmarshal) })
}

func BenchmarkDecodeTrackerDictPeers(b *testing.B) {
	data := dictPeersResponse()
	b.Run("lib=gale", func(b *testing.B) { benchDecode[dictResponse](b, data, bencode.Unmarshal) })
	b.Run("lib=anacrolix", func(b *testing.B) { benchDecode[dictResponse](b, data, anacrolix.Unmarshal) })
}

func BenchmarkEncodeTorrent(b *testing.B) {
	var v metaInfo
	if err := bencode.Unmarshal(torrentBytes(b), &v); err != nil {
		b.Fatal(err)
	}
	for _, lib := range []struct {
		name string
		enc  func(any) ([]byte, error)
	}{{"gale", bencode.Marshal}, {"anacrolix", anacrolix.Marshal}} {
		b.Run("lib="+lib.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := lib.enc(v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
