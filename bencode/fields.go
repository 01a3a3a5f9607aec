package bencode

import (
	"reflect"
	"sort"
	"strings"
	"sync"
)

// field is one struct field that takes part in encoding and decoding.
type field struct {
	name      string // dictionary key
	index     int    // struct field index
	typ       reflect.Type
	omitEmpty bool
}

// structInfo lists a struct type's fields sorted by key, the order in
// which they are encoded and in which canonical input presents them.
type structInfo struct {
	fields []field
	byName map[string]int // used when there are many fields
}

var structCache sync.Map // reflect.Type -> *structInfo

func cachedStructInfo(t reflect.Type) *structInfo {
	if si, ok := structCache.Load(t); ok {
		return si.(*structInfo)
	}
	si, _ := structCache.LoadOrStore(t, buildStructInfo(t))
	return si.(*structInfo)
}

func buildStructInfo(t reflect.Type) *structInfo {
	si := &structInfo{}
	seen := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag, tagged := sf.Tag.Lookup("bencode")
		if tag == "-" {
			continue
		}
		if !sf.IsExported() || (sf.Anonymous && !tagged) {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = sf.Name
		}
		if seen[name] {
			continue // the first field with a key wins
		}
		seen[name] = true
		f := field{name: name, index: i, typ: sf.Type}
		for opts != "" {
			var o string
			o, opts, _ = strings.Cut(opts, ",")
			if o == "omitempty" {
				f.omitEmpty = true
			}
		}
		si.fields = append(si.fields, f)
	}
	sort.Slice(si.fields, func(a, b int) bool { return si.fields[a].name < si.fields[b].name })
	if len(si.fields) > 8 {
		si.byName = make(map[string]int, len(si.fields))
		for i, f := range si.fields {
			si.byName[f.name] = i
		}
	}
	return si
}

// lookup returns the index in fields for key, or -1. It does not
// allocate.
func (si *structInfo) lookup(key []byte) int {
	if si.byName != nil {
		if i, ok := si.byName[string(key)]; ok {
			return i
		}
		return -1
	}
	for i := range si.fields {
		if si.fields[i].name == string(key) {
			return i
		}
	}
	return -1
}
