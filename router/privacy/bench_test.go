package privacy

import (
	"fmt"
	"testing"

	"github.com/herald-im/herald/jid"
	"github.com/herald-im/herald/router"
	"github.com/herald-im/herald/storage"
)

// BenchmarkInboundNoLists is the delivery hot path for the common case: a
// user without privacy lists, cached after the first stanza.
func BenchmarkInboundNoLists(b *testing.B) {
	en := newEnv(b, romeo)
	ctx := b.Context()
	to, from := jid.MustParse(orchard), jid.MustParse(tybalt)
	if !en.e.Inbound(ctx, to, from, router.KindMessage) {
		b.Fatal("refused")
	}
	b.ReportAllocs()
	for b.Loop() {
		if !en.e.Inbound(ctx, to, from, router.KindMessage) {
			b.Fatal("refused")
		}
	}
}

// BenchmarkInboundTenRules evaluates a default list of ten jid rules, none
// of which matches, so every rule is tried before the fall-through allow.
func BenchmarkInboundTenRules(b *testing.B) {
	en := newEnv(b, romeo)
	ctx := b.Context()
	var rules []storage.PrivacyRule
	for i := range 10 {
		rules = append(rules, jidRule(uint32(i), fmt.Sprintf("enemy%d@example.com", i), false))
	}
	en.put(b, orchard, "ten", rules...)
	if err := en.e.SetDefault(ctx, jid.MustParse(orchard), "ten"); err != nil {
		b.Fatal(err)
	}
	to, from := jid.MustParse(orchard), jid.MustParse(juliet)
	if !en.e.Inbound(ctx, to, from, router.KindMessage) {
		b.Fatal("refused")
	}
	b.ReportAllocs()
	for b.Loop() {
		if !en.e.Inbound(ctx, to, from, router.KindMessage) {
			b.Fatal("refused")
		}
	}
}

// BenchmarkInboundNoListsParallel is BenchmarkInboundNoLists from all
// cores, for lock contention on the cache.
func BenchmarkInboundNoListsParallel(b *testing.B) {
	en := newEnv(b, romeo)
	ctx := b.Context()
	to, from := jid.MustParse(orchard), jid.MustParse(tybalt)
	en.e.Inbound(ctx, to, from, router.KindMessage)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			en.e.Inbound(ctx, to, from, router.KindMessage)
		}
	})
}
