package bencode

import (
	"io"
	"reflect"
	"slices"
	"strconv"
	"sync"
)

// Marshaler is implemented by types that encode themselves. The result
// must be exactly one well-formed bencoded value.
type Marshaler interface {
	MarshalBencode() ([]byte, error)
}

// Marshal returns the bencoding of v. Dictionary keys are written in
// sorted order, so the output is canonical unless a RawMessage or a
// Marshaler inside v supplies non-canonical bytes.
func Marshal(v any) ([]byte, error) {
	return Append(make([]byte, 0, 128), v)
}

// Append appends the bencoding of v to dst and returns the result.
func Append(dst []byte, v any) ([]byte, error) {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() {
		return dst, &UnsupportedValueError{Msg: "nil"}
	}
	return typeEncoder(rv.Type())(dst, rv)
}

// An Encoder writes bencoded values to a stream.
type Encoder struct {
	w   io.Writer
	buf []byte
}

// NewEncoder returns an Encoder writing to w.
func NewEncoder(w io.Writer) *Encoder { return &Encoder{w: w} }

// Encode writes the bencoding of v.
func (e *Encoder) Encode(v any) error {
	b, err := Append(e.buf[:0], v)
	if err != nil {
		return err
	}
	e.buf = b
	_, err = e.w.Write(b)
	return err
}

type encoderFunc func(dst []byte, v reflect.Value) ([]byte, error)

var encoderCache sync.Map // reflect.Type -> encoderFunc

func typeEncoder(t reflect.Type) encoderFunc {
	if f, ok := encoderCache.Load(t); ok {
		return f.(encoderFunc)
	}
	var (
		wg sync.WaitGroup
		f  encoderFunc
	)
	wg.Add(1)
	fi, loaded := encoderCache.LoadOrStore(t, encoderFunc(func(dst []byte, v reflect.Value) ([]byte, error) {
		wg.Wait()
		return f(dst, v)
	}))
	if loaded {
		return fi.(encoderFunc)
	}
	f = newTypeEncoder(t, true)
	wg.Done()
	encoderCache.Store(t, f)
	return f
}

var (
	marshalerType  = reflect.TypeFor[Marshaler]()
	rawMessageType = reflect.TypeFor[RawMessage]()
)

func newTypeEncoder(t reflect.Type, allowAddr bool) encoderFunc {
	if t == rawMessageType {
		return rawEncoder
	}
	if t.Implements(marshalerType) {
		return marshalerEncoder
	}
	if t.Kind() != reflect.Pointer && allowAddr && reflect.PointerTo(t).Implements(marshalerType) {
		return condAddrEncoder(addrMarshalerEncoder, newTypeEncoder(t, false))
	}
	switch t.Kind() {
	case reflect.Bool:
		return boolEncoder
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return intEncoder
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return uintEncoder
	case reflect.String:
		return stringEncoder
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return bytesEncoder
		}
		return listEncoder(typeEncoder(t.Elem()))
	case reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return byteArrayEncoder
		}
		return listEncoder(typeEncoder(t.Elem()))
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return unsupportedEncoder
		}
		return mapEncoder(typeEncoder(t.Elem()))
	case reflect.Struct:
		return structEncoder(t)
	case reflect.Pointer:
		return ptrEncoder(typeEncoder(t.Elem()))
	case reflect.Interface:
		return interfaceEncoder
	}
	return unsupportedEncoder
}

func unsupportedEncoder(dst []byte, v reflect.Value) ([]byte, error) {
	return dst, &UnsupportedTypeError{Type: v.Type()}
}

// appendChecked appends b after checking it is one well-formed value.
// Non-canonical but well-formed bytes are accepted so that values read
// tolerantly can be written back unchanged.
func appendChecked(dst, b []byte, t reflect.Type) ([]byte, error) {
	d := decodeState{data: b, tolerant: true, maxDepth: hardMaxDepth}
	if err := d.skip(); err != nil || d.pos != len(b) {
		if err == nil {
			err = d.syntaxError(d.pos, "trailing data")
		}
		return dst, &MarshalerError{Type: t, Err: err}
	}
	return append(dst, b...), nil
}

func rawEncoder(dst []byte, v reflect.Value) ([]byte, error) {
	b := v.Bytes()
	if len(b) == 0 {
		return dst, &UnsupportedValueError{Msg: "empty RawMessage"}
	}
	return appendChecked(dst, b, v.Type())
}

func marshalerEncoder(dst []byte, v reflect.Value) ([]byte, error) {
	if v.Kind() == reflect.Pointer && v.IsNil() {
		return dst, &UnsupportedValueError{Msg: "nil " + v.Type().String()}
	}
	b, err := v.Interface().(Marshaler).MarshalBencode()
	if err != nil {
		return dst, &MarshalerError{Type: v.Type(), Err: err}
	}
	return appendChecked(dst, b, v.Type())
}

func addrMarshalerEncoder(dst []byte, v reflect.Value) ([]byte, error) {
	return marshalerEncoder(dst, v.Addr())
}

func condAddrEncoder(canAddr, elseEnc encoderFunc) encoderFunc {
	return func(dst []byte, v reflect.Value) ([]byte, error) {
		if v.CanAddr() {
			return canAddr(dst, v)
		}
		return elseEnc(dst, v)
	}
}

func boolEncoder(dst []byte, v reflect.Value) ([]byte, error) {
	if v.Bool() {
		return append(dst, "i1e"...), nil
	}
	return append(dst, "i0e"...), nil
}

func intEncoder(dst []byte, v reflect.Value) ([]byte, error) {
	dst = append(dst, 'i')
	dst = strconv.AppendInt(dst, v.Int(), 10)
	return append(dst, 'e'), nil
}

func uintEncoder(dst []byte, v reflect.Value) ([]byte, error) {
	dst = append(dst, 'i')
	dst = strconv.AppendUint(dst, v.Uint(), 10)
	return append(dst, 'e'), nil
}

// AppendString appends the bencoding of s.
func AppendString(dst []byte, s string) []byte {
	dst = strconv.AppendInt(dst, int64(len(s)), 10)
	dst = append(dst, ':')
	return append(dst, s...)
}

// AppendBytes appends the bencoding of b as a string.
func AppendBytes(dst []byte, b []byte) []byte {
	dst = strconv.AppendInt(dst, int64(len(b)), 10)
	dst = append(dst, ':')
	return append(dst, b...)
}

// AppendInt appends the bencoding of the integer n.
func AppendInt(dst []byte, n int64) []byte {
	dst = append(dst, 'i')
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, 'e')
}

func stringEncoder(dst []byte, v reflect.Value) ([]byte, error) {
	return AppendString(dst, v.String()), nil
}

func bytesEncoder(dst []byte, v reflect.Value) ([]byte, error) {
	return AppendBytes(dst, v.Bytes()), nil
}

func byteArrayEncoder(dst []byte, v reflect.Value) ([]byte, error) {
	n := v.Len()
	dst = strconv.AppendInt(dst, int64(n), 10)
	dst = append(dst, ':')
	if v.CanAddr() {
		return append(dst, v.Bytes()...), nil
	}
	for i := 0; i < n; i++ {
		dst = append(dst, byte(v.Index(i).Uint()))
	}
	return dst, nil
}

func listEncoder(elem encoderFunc) encoderFunc {
	return func(dst []byte, v reflect.Value) ([]byte, error) {
		dst = append(dst, 'l')
		n := v.Len()
		for i := 0; i < n; i++ {
			ev := v.Index(i)
			if isNilValue(ev) {
				return dst, &UnsupportedValueError{Msg: "nil element in list of " + v.Type().String()}
			}
			var err error
			if dst, err = elem(dst, ev); err != nil {
				return dst, err
			}
		}
		return append(dst, 'e'), nil
	}
}

func isNilValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		return v.IsNil()
	}
	return false
}

func mapEncoder(elem encoderFunc) encoderFunc {
	return func(dst []byte, v reflect.Value) ([]byte, error) {
		dst = append(dst, 'd')
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int {
			as, bs := a.String(), b.String()
			switch {
			case as < bs:
				return -1
			case as > bs:
				return 1
			}
			return 0
		})
		for _, k := range keys {
			ev := v.MapIndex(k)
			if isNilValue(ev) {
				continue // bencode has no null: leave the key out
			}
			dst = AppendString(dst, k.String())
			var err error
			if dst, err = elem(dst, ev); err != nil {
				return dst, err
			}
		}
		return append(dst, 'e'), nil
	}
}

func structEncoder(t reflect.Type) encoderFunc {
	si := cachedStructInfo(t)
	encs := make([]encoderFunc, len(si.fields))
	for i, f := range si.fields {
		encs[i] = typeEncoder(f.typ)
	}
	return func(dst []byte, v reflect.Value) ([]byte, error) {
		dst = append(dst, 'd')
		for i := range si.fields {
			f := &si.fields[i]
			fv := v.Field(f.index)
			if isNilValue(fv) || (f.omitEmpty && isEmptyValue(fv)) {
				continue
			}
			if fv.Kind() == reflect.Slice && fv.IsNil() && f.typ == rawMessageType {
				continue
			}
			dst = AppendString(dst, f.name)
			var err error
			if dst, err = encs[i](dst, fv); err != nil {
				return dst, err
			}
		}
		return append(dst, 'e'), nil
	}
}

func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() == 0
	case reflect.Interface, reflect.Pointer:
		return v.IsNil()
	}
	return false
}

func ptrEncoder(elem encoderFunc) encoderFunc {
	return func(dst []byte, v reflect.Value) ([]byte, error) {
		if v.IsNil() {
			return dst, &UnsupportedValueError{Msg: "nil " + v.Type().String()}
		}
		return elem(dst, v.Elem())
	}
}

func interfaceEncoder(dst []byte, v reflect.Value) ([]byte, error) {
	if v.IsNil() {
		return dst, &UnsupportedValueError{Msg: "nil interface"}
	}
	e := v.Elem()
	return typeEncoder(e.Type())(dst, e)
}
