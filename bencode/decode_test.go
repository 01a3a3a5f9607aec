package bencode

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestUnmarshalAny(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want any
	}{
		{"zero", "i0e", int64(0)},
		{"positive", "i42e", int64(42)},
		{"negative", "i-42e", int64(-42)},
		{"min int64", "i-9223372036854775808e", int64(-9223372036854775808)},
		{"max int64", "i9223372036854775807e", int64(9223372036854775807)},
		{"empty string", "0:", ""},
		{"string", "4:spam", "spam"},
		{"binary string", "3:\x00\xff\x01", "\x00\xff\x01"},
		{"empty list", "le", []any{}},
		{"list", "l4:spami42ee", []any{"spam", int64(42)}},
		{"empty dict", "de", map[string]any{}},
		{"dict", "d3:bar4:spam3:fooi42ee", map[string]any{"bar": "spam", "foo": int64(42)}},
		{"nested", "d1:ald1:bleeee", map[string]any{"a": []any{map[string]any{"b": []any{}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got any
			if err := Unmarshal([]byte(tt.in), &got); err != nil {
				t.Fatalf("Unmarshal(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Unmarshal(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
			out, err := Marshal(got)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if string(out) != tt.in {
				t.Fatalf("round trip: got %q, want %q", out, tt.in)
			}
		})
	}
}

func TestUnmarshalStrictErrors(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		offset int64
		msg    string
	}{
		{"empty", "", 0, "unexpected end"},
		{"leading zero int", "i03e", 0, "leading zero"},
		{"negative zero", "i-0e", 0, "negative zero"},
		{"no digits", "ie", 0, "no digits"},
		{"minus only", "i-e", 0, "no digits"},
		{"bad int byte", "i1x2e", 2, "invalid byte"},
		{"int overflow", "i99999999999999999999e", 0, "overflows"},
		{"int min overflow", "i-9223372036854775809e", 0, "overflows"},
		{"unterminated int", "i12", 3, "unexpected end"},
		{"string length leading zero", "04:spam", 0, "leading zero"},
		{"string too long", "5:spam", 0, "exceeds remaining input"},
		{"huge length", "99999999999:x", 0, "too large"},
		{"missing colon", "4spam", 1, "invalid byte"},
		{"unsorted keys", "d1:bi1e1:ai2ee", 7, "out of order"},
		{"duplicate keys", "d1:ai1e1:ai2ee", 7, "duplicate"},
		{"non-string key", "di1ei2ee", 1, "must be a string"},
		{"unterminated list", "l4:spam", 7, "unexpected end"},
		{"unterminated dict", "d1:a", 4, "unexpected end"},
		{"trailing data", "i1ei2e", 3, "trailing"},
		{"bad start", "x", 0, "invalid byte"},
		{"deep nesting", strings.Repeat("l", DefaultMaxDepth+1) + strings.Repeat("e", DefaultMaxDepth+1), DefaultMaxDepth, "depth limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v any
			err := Unmarshal([]byte(tt.in), &v)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Unmarshal(%q) error = %v, want *SyntaxError", tt.in, err)
			}
			if se.Offset != tt.offset || !strings.Contains(se.Msg, tt.msg) {
				t.Fatalf("Unmarshal(%q) = %q at %d, want %q at %d", tt.in, se.Msg, se.Offset, tt.msg, tt.offset)
			}
			if !strings.Contains(err.Error(), "offset") {
				t.Fatalf("error text %q does not name the offset", err)
			}
		})
	}
}

func TestTolerant(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  any
		kinds []string
	}{
		{"unsorted", "d1:bi1e1:ai2ee", map[string]any{"a": int64(2), "b": int64(1)}, []string{"out of order"}},
		{"duplicate last wins", "d1:ai1e1:ai2ee", map[string]any{"a": int64(2)}, []string{"duplicate"}},
		{"trailing", "i1eXYZ", int64(1), []string{"3 trailing bytes"}},
		{"leading zero", "i007e", int64(7), []string{"leading zero"}},
		{"negative zero", "i-0e", int64(0), []string{"negative zero"}},
		{"canonical", "i5e", int64(5), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got any
			rep, err := DecodeOptions{Tolerant: true}.Unmarshal([]byte(tt.in), &got)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v, want %#v", got, tt.want)
			}
			if len(rep.Leniencies) != len(tt.kinds) {
				t.Fatalf("report %v, want %d entries", rep.Leniencies, len(tt.kinds))
			}
			for i, k := range tt.kinds {
				if !strings.Contains(rep.Leniencies[i].What, k) {
					t.Errorf("leniency %d = %q, want %q", i, rep.Leniencies[i].What, k)
				}
			}
			if rep.Canonical() != (len(tt.kinds) == 0) {
				t.Errorf("Canonical() = %v", rep.Canonical())
			}
		})
	}
	// Tolerance never extends to lengths beyond the input.
	var v any
	if _, err := (DecodeOptions{Tolerant: true}).Unmarshal([]byte("9:abc"), &v); err == nil {
		t.Fatal("tolerant mode accepted a string longer than the input")
	}
}

func TestReportBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("d")
	for i := 0; i < 1000; i++ {
		b.WriteString("1:ai1e")
	}
	b.WriteString("e")
	var v map[string]int
	rep, err := DecodeOptions{Tolerant: true}.Unmarshal([]byte(b.String()), &v)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Leniencies) != maxReported || rep.Omitted != 999-maxReported {
		t.Fatalf("report has %d entries and %d omitted", len(rep.Leniencies), rep.Omitted)
	}
}

type inner struct {
	X int `bencode:"x"`
}

type sample struct {
	Announce     string              `bencode:"announce"`
	AnnounceList [][]string          `bencode:"announce-list,omitempty"`
	Created      int64               `bencode:"creation date,omitempty"`
	Private      bool                `bencode:"private,omitempty"`
	Hash         [4]byte             `bencode:"hash"`
	Data         []byte              `bencode:"data,omitempty"`
	Info         RawMessage          `bencode:"info"`
	Ptr          *inner              `bencode:"ptr,omitempty"`
	Map          map[string]int      `bencode:"map,omitempty"`
	Skip         string              `bencode:"-"`
	Untagged     uint16              // key "Untagged"
	Any          any                 `bencode:"any,omitempty"`
	Nested       map[string][]inner  `bencode:"nested,omitempty"`
	unexported   int                 //nolint:unused
	Fixed        [2]int              `bencode:"fixed"`
	Small        int8                `bencode:"small,omitempty"`
	Named        map[keyName]float32 `bencode:"-"`
}

type keyName string

func TestStructRoundTrip(t *testing.T) {
	in := sample{
		Announce:     "http://t/a",
		AnnounceList: [][]string{{"http://t/a", "http://u/a"}, {"udp://v:1"}},
		Created:      1700000000,
		Private:      true,
		Hash:         [4]byte{1, 2, 3, 4},
		Data:         []byte{0, 1},
		Info:         RawMessage("d4:name1:xe"),
		Ptr:          &inner{X: -3},
		Map:          map[string]int{"z": 1, "a": 2},
		Untagged:     7,
		Any:          []any{"s", int64(1)},
		Nested:       map[string][]inner{"k": {{1}, {2}}},
		Fixed:        [2]int{5, 6},
		Small:        -8,
	}
	b, err := Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if !Valid(b) {
		t.Fatalf("Marshal produced non-canonical output %q", b)
	}
	var out sample
	if err := Unmarshal(b, &out); err != nil {
		t.Fatalf("Unmarshal(%q): %v", b, err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n in %#v\nout %#v", in, out)
	}
	b2, err := Marshal(&out)
	if err != nil || !bytes.Equal(b, b2) {
		t.Fatalf("second Marshal differs: %q vs %q (%v)", b, b2, err)
	}
}

func TestRawMessageKeepsBytes(t *testing.T) {
	// A non-canonical info dictionary (unsorted keys) must be kept verbatim.
	in := []byte("d4:infod4:name1:x6:lengthi1ee3:zzzi1ee")
	var v struct {
		Info RawMessage `bencode:"info"`
	}
	if _, err := (DecodeOptions{Tolerant: true}).Unmarshal(in, &v); err != nil {
		t.Fatal(err)
	}
	if string(v.Info) != "d4:name1:x6:lengthi1ee" {
		t.Fatalf("Info = %q", v.Info)
	}
	in[10] = 'N' // the RawMessage must not alias the input
	if string(v.Info) != "d4:name1:x6:lengthi1ee" {
		t.Fatal("RawMessage aliases the input")
	}
	out, err := Marshal(v)
	if err != nil || string(out) != "d4:infod4:name1:x6:lengthi1eee" {
		t.Fatalf("Marshal = %q, %v", out, err)
	}
}

func TestTypeErrors(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		into  any
		field string
	}{
		{"string into int", "d1:x3:abce", &inner{}, "x"},
		{"int overflow int8", "i300e", new(int8), ""},
		{"negative into uint", "i-1e", new(uint), ""},
		{"wrong array length", "3:abc", new([4]byte), ""},
		{"list into map", "le", new(map[string]int), ""},
		{"bool out of range", "i2e", new(bool), ""},
		{"nested field", "d3:ptrd1:x2:xxee", &sample{}, "ptr.x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Unmarshal([]byte(tt.in), tt.into)
			var te *UnmarshalTypeError
			if !errors.As(err, &te) {
				t.Fatalf("error = %v, want *UnmarshalTypeError", err)
			}
			if te.Field != tt.field {
				t.Fatalf("Field = %q, want %q (%v)", te.Field, tt.field, err)
			}
		})
	}
	// A syntax error later in the value wins over an earlier type mismatch.
	var x int
	var se *SyntaxError
	if err := Unmarshal([]byte("l01:ae"), &x); !errors.As(err, &se) {
		t.Fatalf("got %v, want a syntax error", err)
	}
}

func TestInvalidUnmarshal(t *testing.T) {
	var ie *InvalidUnmarshalError
	if err := Unmarshal([]byte("i1e"), nil); !errors.As(err, &ie) {
		t.Fatalf("nil: %v", err)
	}
	var x int
	if err := Unmarshal([]byte("i1e"), x); !errors.As(err, &ie) {
		t.Fatalf("non-pointer: %v", err)
	}
}

func TestMarshalErrors(t *testing.T) {
	tests := []struct {
		name string
		v    any
	}{
		{"nil", nil},
		{"float", 1.5},
		{"channel", make(chan int)},
		{"int keys", map[int]int{1: 1}},
		{"nil in list", []*inner{nil}},
		{"empty raw", RawMessage{}},
		{"bad raw", RawMessage("i1")},
		{"raw with trailing", RawMessage("i1ei2e")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if b, err := Marshal(tt.v); err == nil {
				t.Fatalf("Marshal(%#v) = %q, want error", tt.v, b)
			}
		})
	}
}

type upper string

func (u upper) MarshalBencode() ([]byte, error) {
	return AppendString(nil, strings.ToUpper(string(u))), nil
}

func (u *upper) UnmarshalBencode(b []byte) error {
	var s string
	if err := Unmarshal(b, &s); err != nil {
		return err
	}
	*u = upper(strings.ToLower(s))
	return nil
}

func TestMarshalerInterfaces(t *testing.T) {
	v := struct {
		U upper   `bencode:"u"`
		P *upper  `bencode:"p"`
		L []upper `bencode:"l"`
	}{U: "ab", P: new(upper), L: []upper{"x"}}
	*v.P = "cd"
	b, err := Marshal(v)
	if err != nil || string(b) != "d1:ll1:Xe1:p2:CD1:u2:ABe" {
		t.Fatalf("Marshal = %q, %v", b, err)
	}
	v.U, v.P, v.L = "", nil, nil
	if err := Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if v.U != "ab" || v.P == nil || *v.P != "cd" || len(v.L) != 1 || v.L[0] != "x" {
		t.Fatalf("Unmarshal = %+v", v)
	}
}

func TestDecoderStream(t *testing.T) {
	in := "i1e4:spamd1:ai2ee" + "l" + strings.Repeat("3:abc", 5000) + "e"
	dec := NewDecoder(iotestOneByte(strings.NewReader(in)))
	var vals []any
	for {
		var v any
		err := dec.Decode(&v)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		vals = append(vals, v)
	}
	if len(vals) != 4 || vals[0] != int64(1) || vals[1] != "spam" || len(vals[3].([]any)) != 5000 {
		t.Fatalf("decoded %d values", len(vals))
	}
	if dec.InputOffset() != int64(len(in)) {
		t.Fatalf("InputOffset = %d, want %d", dec.InputOffset(), len(in))
	}
}

func TestDecoderErrors(t *testing.T) {
	t.Run("truncated", func(t *testing.T) {
		dec := NewDecoder(strings.NewReader("i1el4:sp"))
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		err := dec.Decode(&v)
		var se *SyntaxError
		if !errors.As(err, &se) || se.Offset != 8 {
			t.Fatalf("got %v, want syntax error at offset 8", err)
		}
	})
	t.Run("huge length prefix", func(t *testing.T) {
		// 2 GB declared, only a few bytes sent: refused without reading or
		// allocating anything near that.
		dec := NewDecoder(io.MultiReader(strings.NewReader("2000000000:"), neverEnding{}))
		dec.SetMaxValueSize(1 << 20)
		var v any
		err := dec.Decode(&v)
		if err == nil || !strings.Contains(err.Error(), "size limit") {
			t.Fatalf("got %v, want size limit error", err)
		}
	})
	t.Run("endless list", func(t *testing.T) {
		dec := NewDecoder(io.MultiReader(strings.NewReader("l"), neverEnding{}))
		dec.SetMaxValueSize(1 << 16)
		var v any
		if err := dec.Decode(&v); err == nil || !strings.Contains(err.Error(), "size limit") {
			t.Fatalf("got %v, want size limit error", err)
		}
	})
	t.Run("bad byte", func(t *testing.T) {
		dec := NewDecoder(strings.NewReader("i1ex"))
		var v any
		_ = dec.Decode(&v)
		var se *SyntaxError
		if err := dec.Decode(&v); !errors.As(err, &se) || se.Offset != 3 {
			t.Fatalf("got %v", err)
		}
	})
}

// neverEnding yields "0:" forever (a list of empty strings).
type neverEnding struct{}

func (neverEnding) Read(p []byte) (int, error) {
	for i := range p {
		if i%2 == 0 {
			p[i] = '0'
		} else {
			p[i] = ':'
		}
	}
	return len(p) &^ 1, nil
}

type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

func iotestOneByte(r io.Reader) io.Reader { return oneByteReader{r} }

func TestEncoderStream(t *testing.T) {
	var buf bytes.Buffer
	enc := NewEncoder(&buf)
	for _, v := range []any{1, "a", []int{1}} {
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
	}
	if buf.String() != "i1e1:ali1ee" {
		t.Fatalf("got %q", buf.String())
	}
}

func TestDecodeReusesAndResets(t *testing.T) {
	v := struct {
		L []int `bencode:"l"`
	}{L: []int{9, 9, 9}}
	if err := Unmarshal([]byte("d1:lli1eee"), &v); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(v.L, []int{1}) {
		t.Fatalf("L = %v", v.L)
	}
}

func TestRecursiveType(t *testing.T) {
	type node struct {
		Name string  `bencode:"n"`
		Kids []*node `bencode:"k,omitempty"`
	}
	in := &node{Name: "a", Kids: []*node{{Name: "b"}, {Name: "c", Kids: []*node{{Name: "d"}}}}}
	b, err := Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out node
	if err := Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, &out) {
		t.Fatalf("got %+v", out)
	}
}
