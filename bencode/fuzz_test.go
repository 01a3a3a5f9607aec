package bencode

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

var fuzzSeeds = []string{
	"i0e", "i-1e", "i9223372036854775807e", "4:spam", "0:", "le", "de",
	"l4:spami42ee", "d3:bar4:spam3:fooi42ee", "d1:bi1e1:ai2ee", "i03e", "i-0e",
	"d8:announce10:http://t/a4:infod6:lengthi1e4:name1:x12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee",
	"d8:completei1e10:incompletei0e8:intervali1800e5:peers6:\x7f\x00\x00\x01\x1a\xe1e",
	"lllllllleeeeeeee", "99999999999:x", "5:abc", "d1:a",
}

// FuzzUnmarshal checks that decoding never panics, that strict input
// round-trips byte for byte, and that tolerant decoding accepts all
// strict input with an empty report.
func FuzzUnmarshal(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v any
		err := Unmarshal(data, &v)
		var tv any
		rep, terr := DecodeOptions{Tolerant: true}.Unmarshal(data, &tv)
		if err != nil {
			var se *SyntaxError
			var te *UnmarshalTypeError
			if !errors.As(err, &se) && !errors.As(err, &te) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		if terr != nil || !rep.Canonical() {
			t.Fatalf("tolerant decode of strict input: %v, %v", terr, rep.Leniencies)
		}
		if !Valid(data) {
			t.Fatalf("Valid rejects input Unmarshal accepted")
		}
		out, err := Marshal(v)
		if err != nil {
			t.Fatalf("Marshal of decoded value: %v", err)
		}
		if !bytes.Equal(out, data) {
			t.Fatalf("round trip differs:\n in %q\nout %q", data, out)
		}
		// Decoding into a typed struct must not panic either.
		var s struct {
			Announce string           `bencode:"announce"`
			List     [][]string       `bencode:"announce-list"`
			Info     RawMessage       `bencode:"info"`
			Peers    []byte           `bencode:"peers"`
			Interval int64            `bencode:"interval"`
			Files    []map[string]any `bencode:"files"`
		}
		_ = Unmarshal(data, &s)
	})
}

// FuzzDecoder checks that the stream decoder agrees with Unmarshal on a
// single value and never panics on a stream.
func FuzzDecoder(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dec := NewDecoder(bytes.NewReader(data))
		dec.SetMaxValueSize(1 << 16)
		for i := 0; i < 1000; i++ {
			var v any
			if err := dec.Decode(&v); err != nil {
				if err == io.EOF && dec.InputOffset() != int64(len(data)) {
					t.Fatalf("EOF at offset %d of %d", dec.InputOffset(), len(data))
				}
				return
			}
		}
	})
}
