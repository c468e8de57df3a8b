package presrules

import (
	"errors"
	"testing"

	"github.com/herald-im/herald/jid"
)

// FuzzParseBytes checks, for arbitrary input, that the parser never panics
// and refuses only with ErrInvalid or ErrLimit; and that an accepted
// document's canonical form is a fixed point that decides as the document
// does. Seeds live in testdata/fuzz/FuzzParseBytes.
func FuzzParseBytes(f *testing.F) {
	requesters := []jid.JID{
		jid.MustParse("juliet@example.com"),
		jid.MustParse("romeo@example.net"),
		jid.MustParse("example.org"),
		jid.MustParse("nurse@bücher.example"),
	}
	lim := Limits{MaxRules: 64, MaxBytes: 16 << 10, MaxEntries: 512}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseBytes(data, lim)
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrLimit) {
				t.Fatalf("error %v wraps neither ErrInvalid nor ErrLimit", err)
			}
			if d != nil {
				t.Fatalf("a document with the error %v", err)
			}
			return
		}
		c := d.Canonical()
		if len(c) > lim.MaxBytes || len(d.Rules) > lim.MaxRules {
			t.Fatalf("accepted beyond the limits: %d bytes, %d rules", len(c), len(d.Rules))
		}
		again, err := ParseBytes(c, lim)
		if err != nil {
			t.Fatalf("the canonical form of %q does not parse: %v\n%s", data, err, c)
		}
		if string(again.Canonical()) != string(c) {
			t.Fatalf("canonical form not a fixed point:\n%s\n%s", c, again.Canonical())
		}
		if len(again.Rules) != len(d.Rules) {
			t.Fatalf("%d rules, then %d", len(d.Rules), len(again.Rules))
		}
		for i := range d.Rules {
			a, b := &d.Rules[i], &again.Rules[i]
			if a.ID != b.ID || a.SubHandling != b.SubHandling || a.HasSubHandling != b.HasSubHandling {
				t.Fatalf("rule %d: %s %v, then %s %v", i, a.ID, a.SubHandling, b.ID, b.SubHandling)
			}
		}
		for _, r := range requesters {
			sh1, m1 := d.Decide(r, testNow)
			sh2, m2 := again.Decide(r, testNow)
			if sh1 != sh2 || m1 != m2 {
				t.Fatalf("%s: %v %v, then %v %v", r, sh1, m1, sh2, m2)
			}
			if sh1 != Block && sh1 != Confirm && sh1 != PoliteBlock && sh1 != Allow {
				t.Fatalf("%s: undefined sub-handling %d", r, sh1)
			}
		}
		if _, err := Element(c); err != nil {
			t.Fatalf("Element(canonical) = %v", err)
		}
	})
}
