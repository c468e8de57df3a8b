package jid

import "testing"

// BenchmarkParseASCII measures the fast path: a canonical ASCII full JID, as
// found in the 'to' of most routed stanzas.
func BenchmarkParseASCII(b *testing.B) {
	const s = "juliet@im.example.com/balcony-4f2a"
	b.ReportAllocs()
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		if _, err := Parse(s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseASCIIUpper measures ASCII input that needs case mapping and
// therefore takes the full path for the localpart and domainpart.
func BenchmarkParseASCIIUpper(b *testing.B) {
	const s = "Juliet@IM.Example.com/balcony-4f2a"
	b.ReportAllocs()
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		if _, err := Parse(s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseUnicode measures the full PRECIS/IDNA path on every part.
func BenchmarkParseUnicode(b *testing.B) {
	const s = "J\u00fcLIET@b\u00fccher.example/\u265a balcony"
	b.ReportAllocs()
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		if _, err := Parse(s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkString checks that String is free.
func BenchmarkString(b *testing.B) {
	j := MustParse("juliet@example.com/balcony")
	b.ReportAllocs()
	for b.Loop() {
		_ = j.String()
	}
}
