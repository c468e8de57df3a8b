package sqlite

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/herald-im/herald/storage"
	"github.com/herald-im/herald/storage/storagetest"
)

func TestRostersConformance(t *testing.T) {
	storagetest.TestRosters(t, func(t *testing.T) storagetest.RosterStore { return openTemp(t) })
}

func TestSubscriptionRequestsConformance(t *testing.T) {
	storagetest.TestSubscriptionRequests(t, func(t *testing.T) storagetest.SubscriptionRequestStore { return openTemp(t) })
}

func TestOfflineConformance(t *testing.T) {
	storagetest.TestOffline(t, func(t *testing.T) storagetest.OfflineStore { return openTemp(t) })
}

func TestPrivacyListsConformance(t *testing.T) {
	storagetest.TestPrivacyLists(t, func(t *testing.T) storagetest.PrivacyListStore { return openTemp(t) })
}

// TestRosterTombstonePruning checks that beyond rosterTombstones removals the
// oldest tombstones are discarded, and that versions from before a discarded
// tombstone are then refused (RFC 6121 §2.6.3: the client gets the full
// roster) while later ones are still answered completely.
func TestRosterTombstonePruning(t *testing.T) {
	db := openTemp(t)
	db.rosterTombstones = 3
	ctx := t.Context()
	const owner = "romeo@example.net"
	if err := db.CreateAccount(ctx, owner, storage.Credentials{}); err != nil {
		t.Fatal(err)
	}
	put := func(contact string) int64 {
		t.Helper()
		v, err := db.PutRosterItem(ctx, owner, storage.RosterItem{Contact: contact})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	var puts, dels []int64
	for i := range 6 {
		puts = append(puts, put(fmt.Sprintf("c%d@example.com", i)))
	}
	for i := range 5 {
		v, err := db.DeleteRosterItem(ctx, owner, fmt.Sprintf("c%d@example.com", i))
		if err != nil {
			t.Fatal(err)
		}
		dels = append(dels, v)
	}
	if n := queryInt(t, db.read, `SELECT COUNT(*) FROM roster_items WHERE owner = ? AND deleted = 1`, owner); n != 3 {
		t.Errorf("%d tombstones kept, want 3", n)
	}
	// Tombstones of c0 and c1 are gone: only versions from dels[1] on can
	// be answered.
	for _, tc := range []struct {
		name  string
		since int64
		ok    bool
		want  []string // changed contacts, in order
	}{
		{"empty roster", 0, false, nil},
		{"first put", puts[0], false, nil},
		{"last put", puts[5], false, nil},
		{"first removal", dels[0], false, nil},
		{"newest discarded removal", dels[1], true, []string{"c2@example.com", "c3@example.com", "c4@example.com"}},
		{"kept removal", dels[3], true, []string{"c4@example.com"}},
		{"current", dels[4], true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			changes, cur, ok, err := db.RosterChangesSince(ctx, owner, tc.since)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tc.ok || cur != dels[4] {
				t.Fatalf("RosterChangesSince(%d) = ok %v, current %d; want %v, %d", tc.since, ok, cur, tc.ok, dels[4])
			}
			var got []string
			for _, c := range changes {
				if !c.Deleted {
					t.Errorf("unexpected item %+v", c.Item)
				}
				got = append(got, c.Item.Contact)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("changed contacts %q, want %q", got, tc.want)
			}
		})
	}
	// Adding a removed contact again consumes its tombstone; the limit
	// still holds after more removals.
	put("c4@example.com")
	for _, c := range []string{"c4@example.com", "c5@example.com"} {
		if _, err := db.DeleteRosterItem(ctx, owner, c); err != nil {
			t.Fatal(err)
		}
	}
	if n := queryInt(t, db.read, `SELECT COUNT(*) FROM roster_items WHERE owner = ? AND deleted = 1`, owner); n != 3 {
		t.Errorf("%d tombstones kept, want 3", n)
	}
}

// TestHotReadsUseIndexes checks the query plans of the reads done at every
// login or presence change: each searches an index by owner instead of
// scanning a table, and needs no temporary B-tree to sort.
func TestHotReadsUseIndexes(t *testing.T) {
	db := openTemp(t)
	for _, tc := range []struct {
		name, query, index string
		args               []any
	}{
		{"Subscribers", subscribersQuery, "COVERING INDEX roster_subscribers", []any{"o"}},
		{"Roster", rosterQuery, "INDEX sqlite_autoindex_roster_items_1", []any{"o"}},
		{"RosterItem", rosterItemQuery, "INDEX sqlite_autoindex_roster_items_1", []any{"o", "c"}},
		{"RosterChangesSince", rosterSinceQuery, "INDEX roster_items_by_version", []any{"o", 1}},
		{"OfflineMessages", offlineQuery, "INDEX offline_messages_by_owner", []any{"o"}},
		{"CountOffline", offlineCountQuery, "COVERING INDEX offline_messages_by_owner", []any{"o"}},
		{"quota check", offlineQuotaQuery, "COVERING INDEX offline_messages_by_owner", []any{"o", 100}},
		{"SubscriptionRequests", subscriptionRequestsQuery, "INDEX subscription_requests_by_owner", []any{"o"}},
		{"PrivacyList", privacyListQuery, "COVERING INDEX sqlite_autoindex_privacy_lists_1", []any{"o", "n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := db.read.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+tc.query, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var (
					id, parent, unused int
					detail             string
				)
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			all := strings.Join(plan, "\n")
			if !strings.Contains(all, " USING "+tc.index+" (owner=?") {
				t.Errorf("plan does not search %s by owner:\n%s", tc.index, all)
			}
			for _, step := range plan {
				// Scanning a subquery's few rows is fine, and so is
				// sorting the groups of one item (LAST TERM); scanning a
				// table or sorting all rows is not.
				if strings.HasPrefix(step, "SCAN ") && !strings.HasPrefix(step, "SCAN (subquery") ||
					strings.Contains(step, "TEMP B-TREE FOR ORDER BY") {
					t.Errorf("plan step %q:\n%s", step, all)
				}
			}
			t.Logf("plan:\n%s", all) // shown with -v
		})
	}
}

// TestDeleteAccountRemovesEverything checks at the row level that deleting
// an account leaves nothing of it in any table (ON DELETE CASCADE, also
// through roster_groups and privacy_rules), and nothing of anyone else is
// touched.
func TestDeleteAccountRemovesEverything(t *testing.T) {
	db := openTemp(t)
	ctx := t.Context()
	at := time.Now()
	for _, owner := range []string{"juliet@example.com", "romeo@example.net"} {
		if err := db.CreateAccount(ctx, owner, testCreds(t, "pencil")); err != nil {
			t.Fatal(err)
		}
		for _, c := range []string{"a@example.com", "b@example.com"} {
			if _, err := db.PutRosterItem(ctx, owner, storage.RosterItem{Contact: c, Groups: []string{"G1", "G2"}, Subscription: storage.SubBoth}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.DeleteRosterItem(ctx, owner, "b@example.com"); err != nil {
			t.Fatal(err)
		}
		if err := db.PutSubscriptionRequest(ctx, owner, "c@example.com", []byte("<presence/>")); err != nil {
			t.Fatal(err)
		}
		if _, err := db.StoreOffline(ctx, owner, []byte("<message/>"), at, 10); err != nil {
			t.Fatal(err)
		}
		if err := db.PutPrivacyList(ctx, owner, storage.PrivacyList{Name: "l", Rules: []storage.PrivacyRule{{Allow: true, Order: 1}}}); err != nil {
			t.Fatal(err)
		}
		if err := db.SetDefaultPrivacyList(ctx, owner, "l"); err != nil {
			t.Fatal(err)
		}
		if err := db.PutPresenceRules(ctx, owner, []byte(`<ruleset xmlns="urn:ietf:params:xml:ns:common-policy"/>`)); err != nil {
			t.Fatal(err)
		}
	}
	tables := map[string]int{ // rows per owner
		"account_scram":         2,
		"rosters":               1,
		"roster_items":          2, // an item and a tombstone
		"roster_groups":         2,
		"subscription_requests": 1,
		"offline_messages":      1,
		"privacy_lists":         1,
		"privacy_rules":         1,
		"pres_rules":            1,
	}
	ownerColumn := func(table string) string {
		if table == "account_scram" {
			return "jid"
		}
		return "owner"
	}
	if err := db.DeleteAccount(ctx, "juliet@example.com"); err != nil {
		t.Fatal(err)
	}
	for table, want := range tables {
		q := fmt.Sprintf(`SELECT COUNT(*) FROM %s WHERE %s = ?`, table, ownerColumn(table))
		if n := queryInt(t, db.read, q, "juliet@example.com"); n != 0 {
			t.Errorf("%s: %d rows left for the deleted account", table, n)
		}
		if n := queryInt(t, db.read, q, "romeo@example.net"); n != want {
			t.Errorf("%s: %d rows for the other account, want %d", table, n, want)
		}
	}
	if n := queryInt(t, db.read, `SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name NOT IN ('accounts', 'schema_migrations', 'roster_version_counter', 'sqlite_sequence')`); n != len(tables) {
		t.Errorf("%d per-owner tables, the test knows %d: cover the new one", n, len(tables))
	}
}
