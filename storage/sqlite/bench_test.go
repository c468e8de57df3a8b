package sqlite

import (
	"fmt"
	"testing"
)

const benchAccounts = 256

func benchDB(b *testing.B) (*DB, []string) {
	b.Helper()
	db := openTemp(b)
	creds := testCreds(b, "pencil")
	jids := make([]string, benchAccounts)
	for i := range jids {
		jids[i] = fmt.Sprintf("user%d@example.com", i)
		if err := db.CreateAccount(b.Context(), jids[i], creds); err != nil {
			b.Fatal(err)
		}
	}
	return db, jids
}

// BenchmarkAccountLookup measures the login hot path: one Account call
// through the prepared statement, credentials included.
func BenchmarkAccountLookup(b *testing.B) {
	db, jids := benchDB(b)
	ctx := b.Context()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		acct, err := db.Account(ctx, jids[i%len(jids)])
		if err != nil {
			b.Fatal(err)
		}
		if len(acct.Credentials.SHA256.StoredKey) == 0 {
			b.Fatal("no credentials")
		}
		i++
	}
}

// BenchmarkAccountLookupParallel is BenchmarkAccountLookup from concurrent
// goroutines, which share the reader pool.
func BenchmarkAccountLookupParallel(b *testing.B) {
	db, jids := benchDB(b)
	ctx := b.Context()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := db.Account(ctx, jids[i%len(jids)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}
