package stream

import (
	"strings"
	"testing"
)

func BenchmarkBuildScratch(b *testing.B) {
	in := benchHeader + benchStanzas[0]
	d := NewDecoder(strings.NewReader(in), Limits{})
	d.ReadHeader()
	// scan the stanza but keep the work state
	for {
		_, err := d.next()
		if err == nil {
			break
		}
		if err != errMore {
			b.Fatal(err)
		}
		if err := d.fill(); err != nil {
			b.Fatal(err)
		}
	}
	w := d.w
	st := w.stEnd
	_ = st
	b.ReportAllocs()
	for b.Loop() {
		w.st = w.stEnd - len(benchStanzas[0])
		d.build()
	}
}
