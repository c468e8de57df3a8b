package sqlite

import (
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/herald-im/herald/storage"
)

const benchContacts = 1000

// benchRoster returns a DB whose account owner has benchContacts contacts,
// cycling through the subscriptions both, from, to and none (so half of them
// are subscribers), each in two groups.
func benchRoster(b *testing.B) (*DB, string) {
	b.Helper()
	db := openTemp(b)
	ctx := b.Context()
	const owner = "romeo@example.net"
	if err := db.CreateAccount(ctx, owner, storage.Credentials{}); err != nil {
		b.Fatal(err)
	}
	subs := []storage.Subscription{storage.SubBoth, storage.SubFrom, storage.SubTo, storage.SubNone}
	// One transaction: a thousand fsyncs would dominate the setup.
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		for i := range benchContacts {
			item := storage.RosterItem{
				Contact:      fmt.Sprintf("contact%04d@example.com", i),
				Name:         fmt.Sprintf("Contact %d", i),
				Groups:       []string{"Friends", fmt.Sprintf("Group %d", i%10)},
				Subscription: subs[i%len(subs)],
			}
			if _, err := putRosterItem(ctx, tx, owner, item); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return db, owner
}

// BenchmarkSubscribers measures the read behind every presence broadcast
// (RFC 6121 §4.2.2) for a roster of 1,000 contacts, 500 of them subscribers.
func BenchmarkSubscribers(b *testing.B) {
	db, owner := benchRoster(b)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		subs, err := db.Subscribers(ctx, owner)
		if err != nil {
			b.Fatal(err)
		}
		if len(subs) != benchContacts/2 {
			b.Fatalf("%d subscribers, want %d", len(subs), benchContacts/2)
		}
	}
}

// BenchmarkRoster measures a full roster fetch (RFC 6121 §2.1.3) of 1,000
// contacts with two groups each.
func BenchmarkRoster(b *testing.B) {
	db, owner := benchRoster(b)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		items, _, err := db.Roster(ctx, owner)
		if err != nil {
			b.Fatal(err)
		}
		if len(items) != benchContacts || len(items[0].Groups) != 2 {
			b.Fatalf("%d items", len(items))
		}
	}
}

// BenchmarkStoreOffline measures storing one offline message (XEP-0160): a
// durable (fsynced) transaction with the quota check. The queue is emptied,
// off the clock, every 500 messages, so it holds 0 to 499 messages against a
// quota of 1,000.
func BenchmarkStoreOffline(b *testing.B) {
	db := openTemp(b)
	ctx := b.Context()
	const owner = "juliet@example.com"
	if err := db.CreateAccount(ctx, owner, storage.Credentials{}); err != nil {
		b.Fatal(err)
	}
	stanza := []byte(`<message from='romeo@example.net/orchard' to='juliet@example.com' type='chat' id='m1'><body>O blessed, blessed night! I am afeard, being in night, all this is but a dream.</body></message>`)
	now := time.Now()
	var ids []int64
	b.ReportAllocs()
	for b.Loop() {
		id, err := db.StoreOffline(ctx, owner, stanza, now, 1000)
		if err != nil {
			b.Fatal(err)
		}
		if ids = append(ids, id); len(ids) == 500 {
			b.StopTimer()
			if err := db.DeleteOffline(ctx, owner, ids); err != nil {
				b.Fatal(err)
			}
			ids = ids[:0]
			b.StartTimer()
		}
	}
}
