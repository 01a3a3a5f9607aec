// Package bencode implements the bencoding of BEP 3, the serialization
// format of .torrent files, tracker responses and the DHT.
//
// Its API mirrors encoding/json: Marshal and Unmarshal with struct tags,
// RawMessage to keep exact input bytes, a streaming Decoder, and typed
// errors that carry the byte offset of the problem.
//
// # Strict and tolerant decoding
//
// Decoding is strict by default and accepts only canonical bencoding:
// integers without leading zeros or "-0", string lengths without leading
// zeros, dictionary keys in strictly increasing byte order (so no
// duplicates), and no bytes after the top-level value. Strict input
// therefore round-trips byte for byte through Unmarshal and Marshal.
//
// DecodeOptions{Tolerant: true} accepts what real clients accept as well:
// unsorted and duplicate keys (the last value wins), non-canonical integers
// and lengths, and trailing bytes. Each leniency is recorded in a Report.
//
// Limits hold in both modes: nesting deeper than MaxDepth (DefaultMaxDepth
// when zero) is refused, a string length is checked against the remaining
// input before anything is allocated, and integers must fit the target
// type. The decoder never panics on input and uses memory proportional to
// the input.
//
// # Struct tags
//
// A struct field's key is its tag `bencode:"key"` or else its Go name.
// Options after a comma: "omitempty" leaves out zero values when encoding.
// The tag "-" skips the field. Unexported and embedded fields are ignored
// unless tagged. Fixed-size byte arrays such as [20]byte decode from a
// string of exactly that length. bool encodes as i1e / i0e.
//
// Go values map to bencode as follows: integers (all sizes) and bool to
// integers; string, []byte and [N]byte to strings; slices and arrays to
// lists; maps with string keys and structs to dictionaries (keys sorted
// when encoding). Decoding into an empty interface yields int64, string,
// []any and map[string]any.
package bencode
