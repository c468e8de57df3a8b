package sqlite

import (
	"testing"

	"github.com/herald-im/herald/storage"
	"github.com/herald-im/herald/storage/storagetest"
)

func TestPresenceRulesConformance(t *testing.T) {
	storagetest.TestPresenceRules(t, func(t *testing.T) storagetest.PresenceRulesStore { return openTemp(t) })
}

// TestPresenceRulesDurable checks that a stored document survives closing
// and reopening the database file, and that reading it is a primary-key
// lookup.
func TestPresenceRulesDurable(t *testing.T) {
	path := t.TempDir() + "/herald.db"
	ctx := t.Context()
	doc := []byte(`<ruleset xmlns="urn:ietf:params:xml:ns:common-policy"/>`)
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateAccount(ctx, "juliet@example.com", storage.Credentials{}); err != nil {
		t.Fatal(err)
	}
	if err := db.PutPresenceRules(ctx, "juliet@example.com", doc); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	again := openPath(t, path)
	got, err := again.PresenceRules(ctx, "juliet@example.com")
	if err != nil || string(got) != string(doc) {
		t.Fatalf("after reopening: PresenceRules = %q, %v; want %q", got, err, doc)
	}
	var plan string
	row := again.read.QueryRowContext(ctx, "EXPLAIN QUERY PLAN "+presRulesQuery, "o")
	var id, parent, unused int
	if err := row.Scan(&id, &parent, &unused, &plan); err != nil {
		t.Fatal(err)
	}
	if want := "SEARCH pres_rules USING INDEX sqlite_autoindex_pres_rules_1 (owner=?)"; plan != want {
		t.Errorf("query plan %q, want %q", plan, want)
	}
}
