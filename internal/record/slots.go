package record

import "sync/atomic"

// maxSlots bounds the reporters that keep per-request state on a record
// (telemetry's spans, audit's captures); raise it for another.
const maxSlots = 2

var nextSlot atomic.Int32

// Key is one package's typed slot for its per-request state on every
// record, as a context key is for a context value: the package that owns
// the state makes one key (NewKey, at init) and no other package can read
// or write the slot without it. It keeps record below the reporters in the
// import graph without an untyped field each of them casts.
type Key[T any] struct{ i int32 }

// NewKey returns a new slot; it panics past maxSlots (a programming
// error, found at init).
func NewKey[T any]() Key[T] {
	i := nextSlot.Add(1) - 1
	if i >= maxSlots {
		panic("record: more than maxSlots keys")
	}
	return Key[T]{i}
}

// Get returns the state set on r, or nil (r nil, or nothing set).
func (k Key[T]) Get(r *Record) *T {
	if r == nil {
		return nil
	}
	v, _ := r.slots[k.i].(*T)
	return v
}

// Set stores v on r (nil clears the slot).
func (k Key[T]) Set(r *Record, v *T) {
	if v == nil {
		r.slots[k.i] = nil
		return
	}
	r.slots[k.i] = v
}
