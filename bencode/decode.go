package bencode

import (
	"bytes"
	"fmt"
	"math"
	"reflect"
	"strconv"
)

// DefaultMaxDepth is the nesting limit used when DecodeOptions.MaxDepth is
// zero. Real metainfo files nest fewer than ten levels (BEP 52 file trees
// nest one level per path component).
const DefaultMaxDepth = 256

// hardMaxDepth bounds MaxDepth so that recursion stays cheap.
const hardMaxDepth = 10000

// maxReported bounds how many leniencies a Report keeps.
const maxReported = 64

// DecodeOptions configures decoding. The zero value is strict decoding
// with DefaultMaxDepth.
type DecodeOptions struct {
	// Tolerant accepts unsorted and duplicate dictionary keys (the last
	// value wins), non-canonical integers ("-0", leading zeros), string
	// lengths with leading zeros and bytes after the top-level value,
	// recording each in the Report.
	Tolerant bool
	// MaxDepth bounds the nesting of lists and dictionaries; zero means
	// DefaultMaxDepth.
	MaxDepth int
}

// Leniency is one deviation from canonical bencoding that tolerant
// decoding accepted.
type Leniency struct {
	Offset int64
	What   string
}

func (l Leniency) String() string { return fmt.Sprintf("%s at offset %d", l.What, l.Offset) }

// Report lists what tolerant decoding accepted. It keeps the first
// leniencies and counts the rest in Omitted.
type Report struct {
	Leniencies []Leniency
	Omitted    int
}

// Canonical reports whether nothing non-canonical was seen.
func (r *Report) Canonical() bool { return len(r.Leniencies) == 0 && r.Omitted == 0 }

func (r *Report) add(off int64, what string) {
	if len(r.Leniencies) < maxReported {
		r.Leniencies = append(r.Leniencies, Leniency{Offset: off, What: what})
	} else {
		r.Omitted++
	}
}

// Unmarshaler is implemented by types that decode themselves. The data
// passed is one complete, well-formed bencoded value.
type Unmarshaler interface {
	UnmarshalBencode(data []byte) error
}

// Unmarshal decodes the single bencoded value in data, strictly, into the
// value pointed to by v.
func Unmarshal(data []byte, v any) error {
	_, err := DecodeOptions{}.Unmarshal(data, v)
	return err
}

// Valid reports whether data is exactly one canonical bencoded value.
func Valid(data []byte) bool {
	d := decodeState{data: data, maxDepth: DefaultMaxDepth}
	return d.skip() == nil && d.pos == len(data)
}

// Unmarshal decodes data into v with the options o and returns what
// tolerant decoding accepted.
func (o DecodeOptions) Unmarshal(data []byte, v any) (Report, error) {
	var rep Report
	d := decodeState{data: data, tolerant: o.Tolerant, maxDepth: o.maxDepth(), report: &rep}
	err := d.unmarshal(v)
	if err == nil && d.pos < len(data) {
		if o.Tolerant {
			rep.add(int64(d.pos), fmt.Sprintf("%d trailing bytes", len(data)-d.pos))
		} else {
			err = d.syntaxError(d.pos, "trailing data after top-level value")
		}
	}
	return rep, err
}

func (o DecodeOptions) maxDepth() int {
	switch {
	case o.MaxDepth <= 0:
		return DefaultMaxDepth
	case o.MaxDepth > hardMaxDepth:
		return hardMaxDepth
	}
	return o.MaxDepth
}

// decodeState walks data once; every value decoder advances pos past the
// value it consumed.
type decodeState struct {
	data     []byte
	pos      int
	base     int64 // offset of data[0] in the whole input (streams)
	tolerant bool
	maxDepth int
	depth    int
	report   *Report
}

func (d *decodeState) unmarshal(v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return &InvalidUnmarshalError{Type: reflect.TypeOf(v)}
	}
	if len(d.data) == 0 {
		return d.eofError(0)
	}
	return typeDecoder(rv.Type().Elem())(d, rv.Elem())
}

const msgEOF = "unexpected end of input"

func (d *decodeState) syntaxError(pos int, msg string) error {
	return &SyntaxError{Offset: d.base + int64(pos), Msg: msg}
}

func (d *decodeState) eofError(pos int) error {
	return &SyntaxError{Offset: d.base + int64(pos), Msg: msgEOF, truncated: true, need: d.base + int64(pos) + 1}
}

func (d *decodeState) lenient(pos int, what string) error {
	if !d.tolerant {
		return d.syntaxError(pos, what)
	}
	if d.report != nil {
		d.report.add(d.base+int64(pos), what)
	}
	return nil
}

func (d *decodeState) typeError(kind string, t reflect.Type, msg string) error {
	return &UnmarshalTypeError{Value: kind, Type: t, Offset: d.base + int64(d.pos), Msg: msg}
}

// kindAt names the bencode kind starting at pos, for error messages.
func (d *decodeState) kindAt(pos int) string {
	if pos >= len(d.data) {
		return "end of input"
	}
	switch c := d.data[pos]; {
	case c == 'i':
		return "integer"
	case c == 'l':
		return "list"
	case c == 'd':
		return "dictionary"
	case c >= '0' && c <= '9':
		return "string"
	}
	return "invalid byte"
}

// mismatch returns the error for a value of the wrong kind at pos: a
// syntax error if the byte starts no value, else a type error.
func (d *decodeState) mismatch(t reflect.Type) error {
	k := d.kindAt(d.pos)
	switch k {
	case "end of input":
		return d.eofError(d.pos)
	case "invalid byte":
		return d.syntaxError(d.pos, fmt.Sprintf("invalid byte %q at start of value", d.data[d.pos]))
	}
	// Check that the value is at least well formed so that syntax errors
	// take precedence over type errors.
	start := d.pos
	if err := d.skip(); err != nil {
		return err
	}
	d.pos = start
	return d.typeError(k, t, "")
}

// readInt parses "i<digits>e" at pos and returns the sign and magnitude.
func (d *decodeState) readInt() (neg bool, mag uint64, err error) {
	data := d.data
	start := d.pos
	p := start + 1
	if p < len(data) && data[p] == '-' {
		neg = true
		p++
	}
	ds := p
	for ; p < len(data); p++ {
		c := data[p]
		if c < '0' || c > '9' {
			break
		}
		if mag > (math.MaxUint64-9)/10 {
			return false, 0, d.syntaxError(start, "integer overflows 64 bits")
		}
		mag = mag*10 + uint64(c-'0')
	}
	if p >= len(data) {
		return false, 0, d.eofError(p)
	}
	if data[p] != 'e' {
		return false, 0, d.syntaxError(p, fmt.Sprintf("invalid byte %q in integer", data[p]))
	}
	if p == ds {
		return false, 0, d.syntaxError(start, "integer has no digits")
	}
	if p-ds > 1 && data[ds] == '0' {
		if err := d.lenient(start, "integer with leading zero"); err != nil {
			return false, 0, err
		}
	}
	if neg && mag == 0 {
		if err := d.lenient(start, "negative zero"); err != nil {
			return false, 0, err
		}
		neg = false
	}
	if neg && mag > 1<<63 {
		return false, 0, d.syntaxError(start, "integer overflows 64 bits")
	}
	d.pos = p + 1
	return neg, mag, nil
}

// readString parses "<len>:<bytes>" at pos and returns the bytes, a
// sub-slice of the input.
func (d *decodeState) readString() ([]byte, error) {
	data := d.data
	start := d.pos
	p := start
	n := 0
	for ; p < len(data); p++ {
		c := data[p]
		if c < '0' || c > '9' {
			break
		}
		if n > (math.MaxInt32-9)/10 {
			return nil, d.syntaxError(start, "string length too large")
		}
		n = n*10 + int(c-'0')
	}
	if p >= len(data) {
		return nil, d.eofError(p)
	}
	if data[p] != ':' {
		return nil, d.syntaxError(p, fmt.Sprintf("invalid byte %q in string length", data[p]))
	}
	if p == start {
		return nil, d.syntaxError(start, "string length has no digits")
	}
	if p-start > 1 && data[start] == '0' {
		if err := d.lenient(start, "string length with leading zero"); err != nil {
			return nil, err
		}
	}
	p++
	if n > len(data)-p {
		return nil, &SyntaxError{Offset: d.base + int64(start),
			Msg:       "string length " + strconv.Itoa(n) + " exceeds remaining input of " + strconv.Itoa(len(data)-p) + " bytes",
			truncated: true, need: d.base + int64(p) + int64(n)}
	}
	d.pos = p + n
	return data[p : p+n : p+n], nil
}

func (d *decodeState) enter() error {
	d.depth++
	if d.depth > d.maxDepth {
		return d.syntaxError(d.pos, "nesting exceeds depth limit of "+strconv.Itoa(d.maxDepth))
	}
	return nil
}

// checkKey enforces key order after a key was read; prev is nil for the
// first key of a dictionary.
func (d *decodeState) checkKey(prev, key []byte, first bool, keyPos int) error {
	if first {
		return nil
	}
	switch c := bytes.Compare(prev, key); {
	case c == 0:
		return d.lenient(keyPos, fmt.Sprintf("duplicate dictionary key %q", truncateKey(key)))
	case c > 0:
		return d.lenient(keyPos, fmt.Sprintf("dictionary key %q out of order", truncateKey(key)))
	}
	return nil
}

func truncateKey(k []byte) []byte {
	if len(k) > 64 {
		return k[:64]
	}
	return k
}

// readKey reads a dictionary key at pos.
func (d *decodeState) readKey() ([]byte, error) {
	if d.pos >= len(d.data) {
		return nil, d.eofError(d.pos)
	}
	if c := d.data[d.pos]; c < '0' || c > '9' {
		return nil, d.syntaxError(d.pos, fmt.Sprintf("dictionary key must be a string, found %s", d.kindAt(d.pos)))
	}
	return d.readString()
}

// skip validates and steps over one value.
func (d *decodeState) skip() error {
	if d.pos >= len(d.data) {
		return d.eofError(d.pos)
	}
	switch c := d.data[d.pos]; {
	case c == 'i':
		_, _, err := d.readInt()
		return err
	case c >= '0' && c <= '9':
		_, err := d.readString()
		return err
	case c == 'l':
		if err := d.enter(); err != nil {
			return err
		}
		d.pos++
		for {
			if d.pos >= len(d.data) {
				return d.eofError(d.pos)
			}
			if d.data[d.pos] == 'e' {
				d.pos++
				d.depth--
				return nil
			}
			if err := d.skip(); err != nil {
				return err
			}
		}
	case c == 'd':
		if err := d.enter(); err != nil {
			return err
		}
		d.pos++
		var prev []byte
		for first := true; ; first = false {
			key, done, err := d.dictKey(prev, first)
			if err != nil {
				return err
			}
			if done {
				return nil
			}
			prev = key
			if err := d.skip(); err != nil {
				return err
			}
		}
	default:
		return d.syntaxError(d.pos, fmt.Sprintf("invalid byte %q at start of value", c))
	}
}

// dictKey reads the next key of a dictionary whose 'd' was consumed and
// checks its order against prev. At the closing 'e' it consumes it, leaves
// the nesting level and returns done.
func (d *decodeState) dictKey(prev []byte, first bool) (key []byte, done bool, err error) {
	if d.pos >= len(d.data) {
		return nil, false, d.eofError(d.pos)
	}
	if d.data[d.pos] == 'e' {
		d.pos++
		d.depth--
		return nil, true, nil
	}
	kp := d.pos
	if key, err = d.readKey(); err != nil {
		return nil, false, err
	}
	if err := d.checkKey(prev, key, first, kp); err != nil {
		return nil, false, err
	}
	return key, false, nil
}
