package jid

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks, for arbitrary input, that Parse never panics, that the
// ASCII fast path and the full PRECIS/IDNA path agree, and that the
// canonical form is a fixed point (Parse(j.String()) == j). Seeds live in
// testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		j, err := Parse(s)

		full, fullErr := parse(s, false)
		if (err == nil) != (fullErr == nil) {
			t.Fatalf("fast/full disagree on %q: fast=(%q, %v) full=(%q, %v)", s, j, err, full, fullErr)
		}
		if err != nil {
			if err.Error() != fullErr.Error() {
				t.Fatalf("fast/full errors differ on %q: %v vs %v", s, err, fullErr)
			}
			if !j.IsZero() {
				t.Fatalf("Parse(%q) returned %q with error %v", s, j, err)
			}
			return
		}
		if j != full {
			t.Fatalf("fast/full disagree on %q: %#v vs %#v", s, j, full)
		}

		// Idempotence: the canonical form parses to itself.
		c := j.String()
		j2, err := Parse(c)
		if err != nil {
			t.Fatalf("Parse(%q) ok but Parse(canonical %q) failed: %v", s, c, err)
		}
		if j2 != j {
			t.Fatalf("not idempotent: %q -> %#v -> %#v", s, j, j2)
		}
		if j3, _ := parse(c, false); j3 != j {
			t.Fatalf("full path not idempotent: %q -> %#v -> %#v", s, j, j3)
		}

		// Structural invariants.
		l, d, r := j.Local(), j.Domain(), j.Resource()
		if d == "" || len(l) > maxPart || len(d) > maxPart || len(r) > maxPart {
			t.Fatalf("bad part lengths for %q: %d/%d/%d", s, len(l), len(d), len(r))
		}
		if !utf8.ValidString(c) {
			t.Fatalf("canonical %q is not UTF-8", c)
		}
		if strings.ContainsAny(l, "\"&'/:<>@") || strings.ContainsAny(d, "@/") {
			t.Fatalf("separator or forbidden char in parts of %q: %q %q", s, l, d)
		}
		want := d
		if l != "" {
			want = l + "@" + want
		}
		if r != "" {
			want += "/" + r
		}
		if want != c {
			t.Fatalf("parts %q %q %q do not rebuild %q", l, d, r, c)
		}
		if n, err := New(l, d, r); err != nil || n != j {
			t.Fatalf("New(%q, %q, %q) = %#v, %v; want %#v", l, d, r, n, err, j)
		}
		if b := j.Bare(); b.Resource() != "" || b.Local() != l || b.Domain() != d || b != MustParse(b.String()) {
			t.Fatalf("Bare of %q = %#v", c, b)
		}
		if dp := j.Domainpart(); dp.String() != d || dp != MustParse(d) {
			t.Fatalf("Domainpart of %q = %#v", c, dp)
		}
	})
}
