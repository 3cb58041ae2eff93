package sessionseal

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"
)

const (
	fixedFull  = "1.k1.GtT8G-de1fWqMukh5Qu9D1I92WL3Pa8R2awrOiGmfpirT_L2DzJ6x37WwZEaZinW33O7P8-ys9OwR80itfknDiUifZlLOHAzDyfuyFkqICaRC2BlecZLAZ8gdN9sAvTV1pmn1ueYWDLp5a-nFUxJ2JKlsBroNVUvPdqJGdckn45GGVdY6v_rw4LWLK_aBy4Ndh0rV7YOCa5bCXiVM6OU3agJUvBboor5JOyqPGPYWb-MCuAZQbkwtpUUeYKMnf1j_ERaRNuXxYXQDj0Px-XjwTab7wkbLA"
	fixedRelay = "1.k1.KX-w_FVFi0_eTuzzyjYJGnlJ6M_qxDR9y7hMKZCp2As6l-4BKesaEvFObNHumlcOyC5UiWibgEfHPlUX0RmR2FP8B8yG"
)

// FuzzOpen: Open never panics, every refusal is ErrInvalid with a
// Reason, and it accepts only the tokens the ring sealed, unchanged —
// mutations of real tokens (header, nonce, ciphertext, tag) never open.
func FuzzOpen(f *testing.F) {
	now := t0
	r := newRing(f, &now, Key{ID: "k1", Secret: secret(1)}, Key{ID: "k2", Secret: secret(2)})
	// Fixed tokens (sealed once under secret(1) at t0 for "i", "s"): the
	// fuzz workers are other processes, and random nonces would make
	// tokens sealed here unknown to them.
	sealed := map[string]Session{
		fixedFull:  full(),
		fixedRelay: {BackendID: "x", Created: t0, Expires: t0.Add(time.Hour)},
	}
	for tok := range sealed {
		if _, err := r.Open(tok, "i", "s"); err != nil {
			f.Fatalf("fixed token does not open: %v", err)
		}
		f.Add(tok)
		f.Add(tok[:len(tok)-1])
		f.Add("1.k2." + tok[len("1.k1."):])
	}
	f.Add("")
	f.Add("1..")
	f.Add("1.k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, token string) {
		got, err := r.Open(token, "i", "s")
		if err != nil {
			if !errors.Is(err, ErrInvalid) || Reason(err) == "" {
				t.Fatalf("Open(%q) error %v is not ErrInvalid with a reason", token, err)
			}
			return
		}
		want, ok := sealed[token]
		if !ok {
			t.Fatalf("Open accepted a token it did not seal: %q", token)
		}
		want.KeyID = "k1"
		want.Created, want.Expires = want.Created.Local(), want.Expires.Local()
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Open(%q) = %+v, want %+v", token, got, want)
		}
	})
}

// FuzzDecodePlaintext: the decoder never panics, and what it accepts is
// canonical — encoding the result again gives the same bytes.
func FuzzDecodePlaintext(f *testing.F) {
	var d [digestLen]byte
	for _, s := range []Session{full(), {}, {Backends: []Backend{{"a", ""}}}} {
		f.Add(appendPlaintext(nil, &s, &d))
	}
	f.Add([]byte{formatV1})
	f.Add([]byte{2})
	f.Fuzz(func(t *testing.T, p []byte) {
		s, digest, err := decodePlaintext(string(p))
		if err != nil {
			if !errors.Is(err, errLayout) && !errors.Is(err, errVersionPlain) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if again := appendPlaintext(nil, &s, &digest); !bytes.Equal(again, p) {
			t.Fatalf("decode/encode changed the plaintext:\n in  %x\n out %x", p, again)
		}
		if plainLen(&s) != len(p) {
			t.Fatalf("plainLen = %d, want %d", plainLen(&s), len(p))
		}
	})
}

// TestDecodeRefusesHugeCount: a backend count that could not fit is
// refused before it sizes an allocation.
func TestDecodeRefusesHugeCount(t *testing.T) {
	var d [digestLen]byte
	s := Session{}
	p := appendPlaintext(nil, &s, &d)
	p = p[:len(p)-1]                                              // drop the count
	p = append(p, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f) // 2^56-1
	if _, _, err := decodePlaintext(string(p)); !errors.Is(err, errLayout) {
		t.Fatalf("err = %v, want errLayout", err)
	}
}
