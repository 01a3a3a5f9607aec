package bencode

import (
	"fmt"
	"reflect"
)

// SyntaxError reports malformed or (in strict mode) non-canonical input.
type SyntaxError struct {
	Offset int64  // byte offset of the problem in the input
	Msg    string // what is wrong

	// truncated marks input that ended too early; need is then the
	// smallest input size (as a stream offset) that could complete it.
	truncated bool
	need      int64
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("bencode: %s at offset %d", e.Msg, e.Offset)
}

// UnmarshalTypeError reports a well-formed value that does not fit the Go
// value it is decoded into.
type UnmarshalTypeError struct {
	Value  string       // bencode kind: "integer", "string", "list", "dictionary"
	Type   reflect.Type // Go type it could not be assigned to
	Offset int64        // byte offset of the value
	Field  string       // dotted path of the struct field, if any
	Msg    string       // optional detail, e.g. "overflows int8"
}

func (e *UnmarshalTypeError) Error() string {
	s := "bencode: cannot decode " + e.Value + " into Go value of type " + e.Type.String()
	if e.Field != "" {
		s += " (field " + e.Field + ")"
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return fmt.Sprintf("%s at offset %d", s, e.Offset)
}

// InvalidUnmarshalError reports a nil or non-pointer argument to Unmarshal.
type InvalidUnmarshalError struct {
	Type reflect.Type
}

func (e *InvalidUnmarshalError) Error() string {
	if e.Type == nil {
		return "bencode: Unmarshal(nil)"
	}
	if e.Type.Kind() != reflect.Pointer {
		return "bencode: Unmarshal(non-pointer " + e.Type.String() + ")"
	}
	return "bencode: Unmarshal(nil " + e.Type.String() + ")"
}

// UnsupportedTypeError reports a Go value Marshal cannot encode.
type UnsupportedTypeError struct {
	Type reflect.Type
}

func (e *UnsupportedTypeError) Error() string {
	return "bencode: unsupported type: " + e.Type.String()
}

// UnsupportedValueError reports a Go value Marshal cannot encode, such as
// a nil pointer in a list.
type UnsupportedValueError struct {
	Msg string
}

func (e *UnsupportedValueError) Error() string { return "bencode: unsupported value: " + e.Msg }

// MarshalerError wraps an error returned by a Marshaler.
type MarshalerError struct {
	Type reflect.Type
	Err  error
}

func (e *MarshalerError) Error() string {
	return "bencode: error calling MarshalBencode for type " + e.Type.String() + ": " + e.Err.Error()
}

func (e *MarshalerError) Unwrap() error { return e.Err }
