package bencode

import (
	"fmt"
	"math"
	"reflect"
	"sync"
)

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
			key, done, err := d.dictKey(prev, first)
			if err != nil {
				return err
			}
			if done {
				return nil
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
			key, done, err := d.dictKey(prev, first)
			if err != nil {
				return err
			}
			if done {
				return nil
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
			key, done, err := d.dictKey(prev, first)
			if err != nil {
				return nil, err
			}
			if done {
				return m, nil
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
