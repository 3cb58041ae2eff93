package jsonrpc

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// Edit replaces body[At.Start:At.End] with Data. A zero-length span
// (Start==End) inserts.
type Edit struct {
	At   Span
	Data []byte
}

// MetaKV is one string member of params._meta to set.
type MetaKV struct{ Key, Value string }

// Splice appends to dst the result of applying edits to src. Edits must be
// sorted by At.Start and must not overlap (an insertion may sit where the
// previous edit ends; several insertions at one offset apply in order);
// otherwise Splice returns dst unchanged and an error. Bytes of src outside
// the edits are copied as they are, which is what keeps a rewrite from
// changing anything it did not mean to.
func Splice(dst, src []byte, edits []Edit) ([]byte, error) {
	prev, grow := 0, len(src)
	for i, e := range edits {
		if e.At.Start < prev || e.At.End < e.At.Start || e.At.End > len(src) {
			return dst, fmt.Errorf("jsonrpc: edit %d [%d,%d) is out of order, overlapping or out of range (source %d bytes)",
				i, e.At.Start, e.At.End, len(src))
		}
		prev = e.At.End
		grow += len(e.Data) - (e.At.End - e.At.Start)
	}
	dst = slices.Grow(dst, grow)
	at := 0
	for _, e := range edits {
		dst = append(dst, src[at:e.At.Start]...)
		dst = append(dst, e.Data...)
		at = e.At.End
	}
	return append(dst, src[at:]...), nil
}

// SortEdits sorts edits by At.Start for Splice, keeping the order of edits
// that start at the same offset (so insertions stay in the order they were
// added). Use it after combining the edits of several helpers.
func SortEdits(edits []Edit) {
	slices.SortStableFunc(edits, func(a, b Edit) int { return a.At.Start - b.At.Start })
}

// AppendSetMetaEdits appends to edits the edits that make m's params._meta
// hold the given string members (e.g. traceparent, tracestate), replacing
// members already there and adding the others; it creates "_meta" (and
// "params") when absent. body must be the body m was parsed from.
//
// A member already present whose name equals a key ignoring case is replaced
// whole, name included, so the result never has two names a case-insensitive
// reader could confuse; the same holds for "_meta" inside params and for
// "params" in the message (a non-object "_meta" is replaced by an object).
// Keys should be distinct ignoring case; when they are not, the last wins.
//
// It works for requests and notifications and returns edits unchanged for
// responses (whose metadata lives in result._meta). The edits it appends are
// sorted among themselves; combine with other helpers' edits via SortEdits.
func (m *Message) AppendSetMetaEdits(edits []Edit, body []byte, kv ...MetaKV) []Edit {
	if (m.Kind != KindRequest && m.Kind != KindNotification) || len(kv) == 0 || m.Object.End > len(body) {
		return edits
	}
	// Drop keys a later key overrides.
	keys := kv
	for i := 0; i < len(keys); i++ {
		for j := i + 1; j < len(keys); j++ {
			if strings.EqualFold(keys[i].Key, keys[j].Key) {
				if &keys[0] == &kv[0] {
					keys = slices.Clone(kv)
				}
				keys = slices.Delete(keys, i, i+1)
				i--
				break
			}
		}
	}

	switch {
	case m.Meta.Present():
		return appendMetaMembers(edits, body, m.Meta, keys)
	case m.Params.Present():
		buf := make([]byte, 0, metaSize(keys)+12)
		buf = append(buf, `"_meta":`...)
		buf = appendMetaObject(buf, keys)
		return appendSetMember(edits, body, m.Params, "_meta", buf)
	default:
		buf := make([]byte, 0, metaSize(keys)+24)
		buf = append(buf, `"params":{"_meta":`...)
		buf = appendMetaObject(buf, keys)
		buf = append(buf, '}')
		return appendSetMember(edits, body, m.Object, "params", buf)
	}
}

func metaSize(kv []MetaKV) int {
	n := 2
	for _, p := range kv {
		n += len(p.Key) + len(p.Value) + 6
	}
	return n
}

func appendMetaObject(buf []byte, kv []MetaKV) []byte {
	buf = append(buf, '{')
	for i, p := range kv {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendMember(buf, p)
	}
	return append(buf, '}')
}

func appendMember(buf []byte, p MetaKV) []byte {
	buf = AppendQuote(buf, p.Key)
	buf = append(buf, ':')
	return AppendQuote(buf, p.Value)
}

// appendSetMember appends the edit that puts member (a complete `"key":value`)
// into the object obj of body: replacing the member whose name equals key
// ignoring case, or inserting it right after the '{'.
func appendSetMember(edits []Edit, body []byte, obj Span, key string, member []byte) []Edit {
	at, found, nonEmpty, ok := findMember(body, obj, key)
	if !ok {
		return edits
	}
	if found {
		return append(edits, Edit{At: at, Data: member})
	}
	if nonEmpty {
		member = append(member, ',')
	}
	return append(edits, Edit{At: Span{obj.Start + 1, obj.Start + 1}, Data: member})
}

// findMember looks in the object obj of body for the member whose name equals
// key ignoring case, and returns its span from the name's opening quote to
// the value's end. ok is false when obj is not a well-formed object of body.
func findMember(body []byte, obj Span, key string) (at Span, found, nonEmpty, ok bool) {
	s := scanners.Get().(*scanner)
	defer func() { s.release(); scanners.Put(s) }()
	s.init(body[:obj.End], 1<<30)
	s.pos = obj.Start
	if obj.Start >= obj.End || body[obj.Start] != '{' || !s.openObject() {
		return Span{}, false, false, false
	}
	for {
		name, more := s.member()
		if !more {
			break
		}
		nonEmpty = true
		ns := s.nameAt
		isKey := bytes.EqualFold(name, []byte(key))
		if s.value() == vErr {
			break
		}
		if isKey {
			at, found = Span{ns, s.pos}, true
		}
	}
	return at, found, nonEmpty, s.err == nil
}

// appendMetaMembers sets kv in the existing _meta object meta.
func appendMetaMembers(edits []Edit, body []byte, meta Span, kv []MetaKV) []Edit {
	s := scanners.Get().(*scanner)
	defer func() { s.release(); scanners.Put(s) }()
	s.init(body[:meta.End], 1<<30)
	s.pos = meta.Start
	if meta.Start >= meta.End || body[meta.Start] != '{' || !s.openObject() {
		return edits
	}
	// Find the members to replace, in body order. matched[i] is the index in
	// kv that member i is replaced with.
	type match struct {
		kv int
		at Span
	}
	var small [4]match
	matches := small[:0]
	nonEmpty := false
	for {
		name, more := s.member()
		if !more {
			break
		}
		nonEmpty = true
		ns := s.nameAt
		k := -1
		for i := range kv {
			if bytes.EqualFold(name, []byte(kv[i].Key)) {
				k = i
				break
			}
		}
		if s.value() == vErr {
			break
		}
		if k >= 0 {
			matches = append(matches, match{k, Span{ns, s.pos}})
		}
	}
	if s.err != nil {
		return edits
	}

	// One buffer holds all the new bytes; edits slice it once it is final.
	buf := make([]byte, 0, metaSize(kv)+1)
	insert := 0
	for i, p := range kv {
		if slices.ContainsFunc(matches, func(x match) bool { return x.kv == i }) {
			continue
		}
		if insert > 0 {
			buf = append(buf, ',')
		}
		buf = appendMember(buf, p)
		insert++
	}
	if insert > 0 && nonEmpty {
		buf = append(buf, ',')
	}
	insEnd := len(buf)
	var ends [4]int
	ends2 := ends[:0]
	for _, x := range matches {
		buf = appendMember(buf, kv[x.kv])
		ends2 = append(ends2, len(buf))
	}
	if insert > 0 {
		edits = append(edits, Edit{At: Span{meta.Start + 1, meta.Start + 1}, Data: buf[:insEnd:insEnd]})
	}
	from := insEnd
	for i, x := range matches {
		edits = append(edits, Edit{At: x.at, Data: buf[from:ends2[i]:ends2[i]]})
		from = ends2[i]
	}
	return edits
}

// AppendReplaceIDEdits appends the edit that replaces m's id value with newID
// (raw JSON, e.g. `17` or `"g-17"`; the caller vouches that it is a valid
// string or integer token). Messages without an id (notifications) and null
// ids are left alone: adding an id would change what the message is.
func (m *Message) AppendReplaceIDEdits(edits []Edit, newID []byte) []Edit {
	if !m.ID.Present() {
		return edits
	}
	return append(edits, Edit{At: m.ID, Data: newID})
}

// AppendReplaceNameEdits appends the edit that replaces the params.name
// string with name, quoted and escaped. Without a params.name string it
// appends nothing.
func (m *Message) AppendReplaceNameEdits(edits []Edit, name string) []Edit {
	if !m.NameValue.Present() {
		return edits
	}
	return append(edits, Edit{At: m.NameValue, Data: AppendQuote(make([]byte, 0, len(name)+2), name)})
}

// SetMeta returns raw (the body b was parsed from) with the _meta members
// kv(i) returns set in message i, spliced in place; raw itself when kv
// returns nothing for every message. Relays use it to hand each message's
// trace context on.
func (b *Body) SetMeta(raw []byte, kv func(i int) []MetaKV) ([]byte, error) {
	// A message's edits are one or two (a member replaced, the others
	// added): a single message's fit here without an allocation.
	var arr [4]Edit
	edits := arr[:0]
	for i := range b.Messages {
		if kvs := kv(i); len(kvs) > 0 {
			edits = b.Messages[i].AppendSetMetaEdits(edits, raw, kvs...)
		}
	}
	if len(edits) == 0 {
		return raw, nil
	}
	SortEdits(edits)
	// Splice sizes the new body exactly: no guess that a new _meta (some
	// 90 bytes with a traceparent) could outgrow, to copy it all again.
	return Splice(nil, raw, edits)
}
