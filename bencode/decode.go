package bencode

import (
	"bytes"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"sync"
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
			if d.pos >= len(d.data) {
				return d.eofError(d.pos)
			}
			if d.data[d.pos] == 'e' {
				d.pos++
				d.depth--
				return nil
			}
			kp := d.pos
			key, err := d.readKey()
			if err != nil {
				return err
			}
			if err := d.checkKey(prev, key, first, kp); err != nil {
				return err
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

// decoderFunc decodes the value at d.pos into v, which is settable.
type decoderFunc func(d *decodeState, v reflect.Value) error

var decoderCache sync.Map // reflect.Type -> decoderFunc

func typeDecoder(t reflect.Type) decoderFunc {
	if f, ok := decoderCache.Load(t); ok {
		return f.(decoderFunc)
	}
	// Recursive types: hand out an indirect func until the real one is
	// built (the approach of encoding/json).
	var (
		wg sync.WaitGroup
		f  decoderFunc
	)
	wg.Add(1)
	fi, loaded := decoderCache.LoadOrStore(t, decoderFunc(func(d *decodeState, v reflect.Value) error {
		wg.Wait()
		return f(d, v)
	}))
	if loaded {
		return fi.(decoderFunc)
	}
	f = newTypeDecoder(t)
	wg.Done()
	decoderCache.Store(t, f)
	return f
}

var unmarshalerType = reflect.TypeFor[Unmarshaler]()

func newTypeDecoder(t reflect.Type) decoderFunc {
	if t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(unmarshalerType) {
		return addrUnmarshalerDecoder
	}
	if t.Kind() == reflect.Pointer && t.Implements(unmarshalerType) {
		return ptrDecoder(unmarshalerDecoderOf(t))
	}
	switch t.Kind() {
	case reflect.Bool:
		return boolDecoder
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return intDecoder
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return uintDecoder
	case reflect.String:
		return stringDecoder
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return bytesDecoder
		}
		return sliceDecoder(typeDecoder(t.Elem()))
	case reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return byteArrayDecoder
		}
		return arrayDecoder(typeDecoder(t.Elem()))
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return unsupportedDecoder
		}
		return mapDecoder(typeDecoder(t.Elem()))
	case reflect.Struct:
		return structDecoder(t)
	case reflect.Pointer:
		return ptrDecoder(typeDecoder(t.Elem()))
	case reflect.Interface:
		if t.NumMethod() == 0 {
			return anyDecoder
		}
	}
	return unsupportedDecoder
}

func unsupportedDecoder(d *decodeState, v reflect.Value) error {
	start := d.pos
	if err := d.skip(); err != nil {
		return err
	}
	d.pos = start
	return d.typeError(d.kindAt(start), v.Type(), "unsupported Go type")
}

// rawValue validates the value at pos and returns its bytes.
func (d *decodeState) rawValue() ([]byte, error) {
	start := d.pos
	if err := d.skip(); err != nil {
		return nil, err
	}
	return d.data[start:d.pos:d.pos], nil
}

func addrUnmarshalerDecoder(d *decodeState, v reflect.Value) error {
	raw, err := d.rawValue()
	if err != nil {
		return err
	}
	return v.Addr().Interface().(Unmarshaler).UnmarshalBencode(raw)
}

func unmarshalerDecoderOf(t reflect.Type) decoderFunc {
	return func(d *decodeState, v reflect.Value) error {
		// v is the element of a pointer whose type implements Unmarshaler.
		raw, err := d.rawValue()
		if err != nil {
			return err
		}
		return v.Addr().Interface().(Unmarshaler).UnmarshalBencode(raw)
	}
}

func ptrDecoder(elem decoderFunc) decoderFunc {
	return func(d *decodeState, v reflect.Value) error {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		return elem(d, v.Elem())
	}
}

func boolDecoder(d *decodeState, v reflect.Value) error {
	if d.pos >= len(d.data) || d.data[d.pos] != 'i' {
		return d.mismatch(v.Type())
	}
	start := d.pos
	neg, mag, err := d.readInt()
	if err != nil {
		return err
	}
	if neg || mag > 1 {
		d.pos = start
		return d.typeError("integer", v.Type(), "boolean must be 0 or 1")
	}
	v.SetBool(mag == 1)
	return nil
}

func intDecoder(d *decodeState, v reflect.Value) error {
	if d.pos >= len(d.data) || d.data[d.pos] != 'i' {
		return d.mismatch(v.Type())
	}
	start := d.pos
	neg, mag, err := d.readInt()
	if err != nil {
		return err
	}
	var n int64
	if neg {
		n = -int64(mag) // mag <= 1<<63 was checked; wraps correctly for MinInt64
	} else {
		if mag > math.MaxInt64 {
			d.pos = start
			return d.typeError("integer", v.Type(), "overflows")
		}
		n = int64(mag)
	}
	if v.OverflowInt(n) {
		d.pos = start
		return d.typeError("integer", v.Type(), "overflows")
	}
	v.SetInt(n)
	return nil
}

func uintDecoder(d *decodeState, v reflect.Value) error {
	if d.pos >= len(d.data) || d.data[d.pos] != 'i' {
		return d.mismatch(v.Type())
	}
	start := d.pos
	neg, mag, err := d.readInt()
	if err != nil {
		return err
	}
	if neg || v.OverflowUint(mag) {
		d.pos = start
		return d.typeError("integer", v.Type(), "out of range")
	}
	v.SetUint(mag)
	return nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func stringDecoder(d *decodeState, v reflect.Value) error {
	if d.pos >= len(d.data) || !isDigit(d.data[d.pos]) {
		return d.mismatch(v.Type())
	}
	s, err := d.readString()
	if err != nil {
		return err
	}
	v.SetString(string(s))
	return nil
}

func bytesDecoder(d *decodeState, v reflect.Value) error {
	if d.pos >= len(d.data) || !isDigit(d.data[d.pos]) {
		return d.mismatch(v.Type())
	}
	s, err := d.readString()
	if err != nil {
		return err
	}
	b := make([]byte, len(s))
	copy(b, s)
	v.SetBytes(b)
	return nil
}

func byteArrayDecoder(d *decodeState, v reflect.Value) error {
	if d.pos >= len(d.data) || !isDigit(d.data[d.pos]) {
		return d.mismatch(v.Type())
	}
	start := d.pos
	s, err := d.readString()
	if err != nil {
		return err
	}
	if len(s) != v.Len() {
		d.pos = start
		return d.typeError("string", v.Type(), fmt.Sprintf("length %d, want %d", len(s), v.Len()))
	}
	reflect.Copy(v, reflect.ValueOf(s))
	return nil
}

func sliceDecoder(elem decoderFunc) decoderFunc {
	return func(d *decodeState, v reflect.Value) error {
		if d.pos >= len(d.data) || d.data[d.pos] != 'l' {
			return d.mismatch(v.Type())
		}
		if err := d.enter(); err != nil {
			return err
		}
		d.pos++
		if v.IsNil() {
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		}
		v.SetLen(0)
		for i := 0; ; i++ {
			if d.pos >= len(d.data) {
				return d.eofError(d.pos)
			}
			if d.data[d.pos] == 'e' {
				d.pos++
				d.depth--
				return nil
			}
			if i >= v.Cap() {
				v.Grow(1)
			}
			v.SetLen(i + 1)
			ev := v.Index(i)
			ev.SetZero()
			if err := elem(d, ev); err != nil {
				return err
			}
		}
	}
}

func arrayDecoder(elem decoderFunc) decoderFunc {
	return func(d *decodeState, v reflect.Value) error {
		if d.pos >= len(d.data) || d.data[d.pos] != 'l' {
			return d.mismatch(v.Type())
		}
		start := d.pos
		if err := d.enter(); err != nil {
			return err
		}
		d.pos++
		for i := 0; ; i++ {
			if d.pos >= len(d.data) {
				return d.eofError(d.pos)
			}
			if d.data[d.pos] == 'e' {
				if i != v.Len() {
					d.pos = start
					return d.typeError("list", v.Type(), fmt.Sprintf("%d elements, want %d", i, v.Len()))
				}
				d.pos++
				d.depth--
				return nil
			}
			if i >= v.Len() {
				d.pos = start
				return d.typeError("list", v.Type(), fmt.Sprintf("more than %d elements", v.Len()))
			}
			if err := elem(d, v.Index(i)); err != nil {
				return err
			}
		}
	}
}

func mapDecoder(elem decoderFunc) decoderFunc {
	return func(d *decodeState, v reflect.Value) error {
		if d.pos >= len(d.data) || d.data[d.pos] != 'd' {
			return d.mismatch(v.Type())
		}
		if err := d.enter(); err != nil {
			return err
		}
		d.pos++
		t := v.Type()
		if v.IsNil() {
			v.Set(reflect.MakeMap(t))
		}
		kt, et := t.Key(), t.Elem()
		ev := reflect.New(et).Elem()
		var prev []byte
		for first := true; ; first = false {
			if d.pos >= len(d.data) {
				return d.eofError(d.pos)
			}
			if d.data[d.pos] == 'e' {
				d.pos++
				d.depth--
				return nil
			}
			kp := d.pos
			key, err := d.readKey()
			if err != nil {
				return err
			}
			if err := d.checkKey(prev, key, first, kp); err != nil {
				return err
			}
			prev = key
			ev.SetZero()
			if err := elem(d, ev); err != nil {
				return withField(err, string(truncateKey(key)))
			}
			kv := reflect.ValueOf(string(key))
			if kt != kv.Type() {
				kv = kv.Convert(kt)
			}
			v.SetMapIndex(kv, ev)
		}
	}
}

func structDecoder(t reflect.Type) decoderFunc {
	si := cachedStructInfo(t)
	decs := make([]decoderFunc, len(si.fields))
	for i, f := range si.fields {
		decs[i] = typeDecoder(f.typ)
	}
	return func(d *decodeState, v reflect.Value) error {
		if d.pos >= len(d.data) || d.data[d.pos] != 'd' {
			return d.mismatch(v.Type())
		}
		if err := d.enter(); err != nil {
			return err
		}
		d.pos++
		var prev []byte
		for first := true; ; first = false {
			if d.pos >= len(d.data) {
				return d.eofError(d.pos)
			}
			if d.data[d.pos] == 'e' {
				d.pos++
				d.depth--
				return nil
			}
			kp := d.pos
			key, err := d.readKey()
			if err != nil {
				return err
			}
			if err := d.checkKey(prev, key, first, kp); err != nil {
				return err
			}
			prev = key
			fi := si.lookup(key)
			if fi < 0 {
				if err := d.skip(); err != nil {
					return err
				}
				continue
			}
			f := &si.fields[fi]
			if err := decs[fi](d, v.Field(f.index)); err != nil {
				return withField(err, f.name)
			}
		}
	}
}

// withField prefixes the struct field or map key to a type error's path.
func withField(err error, name string) error {
	if te, ok := err.(*UnmarshalTypeError); ok {
		if te.Field == "" {
			te.Field = name
		} else {
			te.Field = name + "." + te.Field
		}
	}
	return err
}

func anyDecoder(d *decodeState, v reflect.Value) error {
	x, err := d.anyValue()
	if err != nil {
		return err
	}
	v.Set(reflect.ValueOf(x))
	return nil
}

// anyValue decodes into int64, string, []any or map[string]any.
func (d *decodeState) anyValue() (any, error) {
	if d.pos >= len(d.data) {
		return nil, d.eofError(d.pos)
	}
	switch c := d.data[d.pos]; {
	case c == 'i':
		start := d.pos
		neg, mag, err := d.readInt()
		if err != nil {
			return nil, err
		}
		if neg {
			return -int64(mag), nil
		}
		if mag > math.MaxInt64 {
			return nil, d.syntaxError(start, "integer overflows int64")
		}
		return int64(mag), nil
	case isDigit(c):
		s, err := d.readString()
		if err != nil {
			return nil, err
		}
		return string(s), nil
	case c == 'l':
		if err := d.enter(); err != nil {
			return nil, err
		}
		d.pos++
		list := []any{}
		for {
			if d.pos >= len(d.data) {
				return nil, d.eofError(d.pos)
			}
			if d.data[d.pos] == 'e' {
				d.pos++
				d.depth--
				return list, nil
			}
			x, err := d.anyValue()
			if err != nil {
				return nil, err
			}
			list = append(list, x)
		}
	case c == 'd':
		if err := d.enter(); err != nil {
			return nil, err
		}
		d.pos++
		m := map[string]any{}
		var prev []byte
		for first := true; ; first = false {
			if d.pos >= len(d.data) {
				return nil, d.eofError(d.pos)
			}
			if d.data[d.pos] == 'e' {
				d.pos++
				d.depth--
				return m, nil
			}
			kp := d.pos
			key, err := d.readKey()
			if err != nil {
				return nil, err
			}
			if err := d.checkKey(prev, key, first, kp); err != nil {
				return nil, err
			}
			prev = key
			x, err := d.anyValue()
			if err != nil {
				return nil, err
			}
			m[string(key)] = x
		}
	default:
		return nil, d.syntaxError(d.pos, fmt.Sprintf("invalid byte %q at start of value", c))
	}
}

// RawMessage is a raw encoded bencode value. It keeps the exact input
// bytes when decoding (so an info dictionary can be hashed as it was
// read, BEP 3) and is written verbatim when encoding.
type RawMessage []byte

// UnmarshalBencode stores a copy of data.
func (m *RawMessage) UnmarshalBencode(data []byte) error {
	*m = append((*m)[:0:0], data...)
	return nil
}

// MarshalBencode returns m, or an error if m is empty.
func (m RawMessage) MarshalBencode() ([]byte, error) {
	if len(m) == 0 {
		return nil, &UnsupportedValueError{Msg: "empty RawMessage"}
	}
	return m, nil
}
