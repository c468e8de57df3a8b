package storagetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/herald-im/herald/storage"
)

// RosterStore is what TestRosters needs: rosters, and accounts to own them.
type RosterStore interface {
	storage.Accounts
	storage.Rosters
}

// NewRosterStore returns an empty store for one subtest; it must register
// any cleanup with t.Cleanup.
type NewRosterStore func(t *testing.T) RosterStore

// MinRosterTombstones is the number of tombstones per owner a Rosters
// backend must at least keep: TestRosters expects RosterChangesSince to
// answer incrementally (ok=true) across that many removals.
const MinRosterTombstones = 64

// TestRosters runs the storage.Rosters conformance tests (RFC 6121 §2, §2.6,
// Appendix A) against the stores that newStore returns, one fresh store per
// subtest.
func TestRosters(t *testing.T, newStore NewRosterStore) {
	ctx := t.Context()
	const (
		romeo  = "romeo@example.net"
		juliet = "juliet@example.com"
		nurse  = "nurse@example.com"
	)

	t.Run("EmptyRoster", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, romeo, storage.Credentials{})
		for _, owner := range []string{romeo, "nobody@example.net"} {
			items, ver := mustRoster(t, s, owner)
			if len(items) != 0 || ver != 0 {
				t.Errorf("Roster(%s) = %v, version %d; want empty, version 0", owner, items, ver)
			}
			if _, err := s.RosterItem(ctx, owner, juliet); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("RosterItem(%s) = %v, want ErrNotFound", owner, err)
			}
			if subs := mustSubscribers(t, s, owner); len(subs) != 0 {
				t.Errorf("Subscribers(%s) = %q, want none", owner, subs)
			}
			changes, cur, ok := mustChangesSince(t, s, owner, 0)
			if !ok || cur != 0 || len(changes) != 0 {
				t.Errorf("RosterChangesSince(%s, 0) = %v, %d, %v; want nothing, 0, true", owner, changes, cur, ok)
			}
		}
	})

	t.Run("TemporaryOwnerTakesRosterAlong", func(t *testing.T) {
		s := newStore(t)
		const anon = "anon-7@example.net"
		if err := s.CreateTemporaryAccount(ctx, anon); err != nil {
			t.Fatalf("CreateTemporaryAccount: %v", err)
		}
		if _, err := s.PutRosterItem(ctx, anon, storage.RosterItem{Contact: juliet, Subscription: storage.SubFrom}); err != nil {
			t.Fatalf("PutRosterItem for a temporary account: %v", err)
		}
		if n, err := s.DeleteTemporaryAccounts(ctx); err != nil || n != 1 {
			t.Fatalf("DeleteTemporaryAccounts = %d, %v", n, err)
		}
		if items, _ := mustRoster(t, s, anon); len(items) != 0 {
			t.Errorf("the deleted temporary account's roster is still there: %v", items)
		}
		if subs := mustSubscribers(t, s, anon); len(subs) != 0 {
			t.Errorf("the deleted temporary account still has subscribers %q", subs)
		}
	})

	t.Run("PutThenRead", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, romeo, storage.Credentials{})
		put := storage.RosterItem{
			Contact:      juliet,
			Name:         "Juliet",
			Groups:       []string{"Lovers", "Capulets", "Lovers"},
			Subscription: storage.SubBoth,
		}
		ver := mustPut(t, s, romeo, put)
		if ver <= 0 {
			t.Fatalf("PutRosterItem returned version %d, want > 0", ver)
		}
		want := put
		want.Groups = []string{"Capulets", "Lovers"} // sorted, unique
		want.Version = ver
		assertItem(t, mustItem(t, s, romeo, juliet), want)
		items, cur := mustRoster(t, s, romeo)
		if cur != ver {
			t.Errorf("roster version %d, want %d (that of the put)", cur, ver)
		}
		assertItems(t, items, []storage.RosterItem{want})
		if put.Groups[0] != "Lovers" || len(put.Groups) != 3 {
			t.Errorf("PutRosterItem modified the caller's Groups: %q", put.Groups)
		}
		// The Version passed in is ignored.
		put.Version = 1 << 40
		ver2 := mustPut(t, s, romeo, put)
		if got := mustItem(t, s, romeo, juliet).Version; got != ver2 || ver2 <= ver {
			t.Errorf("after a second put: item version %d, returned %d; want the returned one, > %d", got, ver2, ver)
		}
	})

	t.Run("ReplaceItem", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, romeo, storage.Credentials{})
		mustPut(t, s, romeo, storage.RosterItem{Contact: juliet, Name: "Juliet", Groups: []string{"Friends", "Capulets"}, Subscription: storage.SubTo, PendingIn: true})
		repl := storage.RosterItem{Contact: juliet, Groups: []string{"Lovers"}, Subscription: storage.SubBoth}
		ver := mustPut(t, s, romeo, repl)
		repl.Version = ver
		assertItem(t, mustItem(t, s, romeo, juliet), repl)
		// Removing all groups.
		repl.Groups = nil
		repl.Version = mustPut(t, s, romeo, repl)
		assertItem(t, mustItem(t, s, romeo, juliet), repl)
	})

	t.Run("RosterSortedByContact", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, romeo, storage.Credentials{})
		// Inserted out of order; byte order puts "Zed" before "a" and the
		// Cyrillic and CJK localparts after all ASCII ones.
		contacts := []string{"nurse@example.com", "Zed@example.com", "джульетта@example.com", "a@example.com", "例え@example.jp", "juliet@example.com"}
		for _, c := range contacts {
			mustPut(t, s, romeo, storage.RosterItem{Contact: c})
		}
		items, _ := mustRoster(t, s, romeo)
		var got []string
		for _, it := range items {
			got = append(got, it.Contact)
		}
		want := slices.Sorted(slices.Values(contacts))
		if !slices.Equal(got, want) {
			t.Errorf("Roster order = %q, want %q", got, want)
		}
	})

	t.Run("UnicodeGroupsAndNames", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, romeo, storage.Credentials{})
		// Group names are compared octet for octet: "Friends" and
		// "friends" differ, as do precomposed and decomposed "é".
		groups := []string{"家族", "Friends", "friends", "Caf\u00e9", "Cafe\u0301", "Ünïcødé 🎭", "a/b@c", "  spaced  "}
		it := storage.RosterItem{Contact: "джульетта@example.com", Name: "Джульетта 🌹", Groups: groups, Subscription: storage.SubFrom}
		it.Version = mustPut(t, s, romeo, it)
		it.Groups = slices.Sorted(slices.Values(groups))
		assertItem(t, mustItem(t, s, romeo, it.Contact), it)
		changes, _, ok := mustChangesSince(t, s, romeo, 0)
		if !ok || len(changes) != 1 {
			t.Fatalf("RosterChangesSince(0) = %v, %v", changes, ok)
		}
		assertItem(t, changes[0].Item, it)
	})

	t.Run("SubscriptionStates", func(t *testing.T) {
		// The nine states of RFC 6121 Appendix A.1, each with and (where
		// RFC 6121 §3.4.2 allows it) without a pre-approval, round-trip.
		s := newStore(t)
		mustCreate(t, s, romeo, storage.Credentials{})
		var want []storage.RosterItem
		for i, st := range nineStates() {
			for _, pre := range []bool{false, true} {
				it := st.item
				it.Contact = fmt.Sprintf("c%02d-%v@example.com", i, pre)
				it.PreApproved = pre
				if pre && (it.Subscription.From() || it.PendingIn) {
					continue
				}
				it.Version = mustPut(t, s, romeo, it)
				assertItem(t, mustItem(t, s, romeo, it.Contact), it)
				want = append(want, it)
			}
		}
		items, _ := mustRoster(t, s, romeo)
		assertItems(t, items, want)
	})

	t.Run("PutInvalid", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, romeo, storage.Credentials{})
		orig := storage.RosterItem{Contact: juliet, Subscription: storage.SubTo}
		orig.Version = mustPut(t, s, romeo, orig)
		for _, tc := range []struct {
			name string
			item storage.RosterItem
		}{
			{"empty contact", storage.RosterItem{}},
			{"unknown subscription", storage.RosterItem{Contact: juliet, Subscription: storage.SubBoth + 1}},
			{"empty group (RFC 6121 §2.3.3)", storage.RosterItem{Contact: juliet, Groups: []string{"Friends", ""}}},
			{"pending out with to", storage.RosterItem{Contact: juliet, Subscription: storage.SubTo, PendingOut: true}},
			{"pending out with both", storage.RosterItem{Contact: juliet, Subscription: storage.SubBoth, PendingOut: true}},
			{"pending in with from", storage.RosterItem{Contact: juliet, Subscription: storage.SubFrom, PendingIn: true}},
			{"pending in with both", storage.RosterItem{Contact: juliet, Subscription: storage.SubBoth, PendingIn: true}},
			{"pre-approved with from", storage.RosterItem{Contact: juliet, Subscription: storage.SubFrom, PreApproved: true}},
			{"pre-approved with both", storage.RosterItem{Contact: juliet, Subscription: storage.SubBoth, PreApproved: true}},
			{"pre-approved with pending in", storage.RosterItem{Contact: juliet, PendingIn: true, PreApproved: true}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if _, err := s.PutRosterItem(ctx, romeo, tc.item); !errors.Is(err, storage.ErrInvalid) {
					t.Errorf("PutRosterItem = %v, want ErrInvalid", err)
				}
			})
		}
		items, ver := mustRoster(t, s, romeo)
		if ver != orig.Version {
			t.Errorf("rejected puts moved the version from %d to %d", orig.Version, ver)
		}
		assertItems(t, items, []storage.RosterItem{orig})
	})

	t.Run("PutUnknownOwner", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.PutRosterItem(ctx, romeo, storage.RosterItem{Contact: juliet}); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("PutRosterItem for a missing account = %v, want ErrNotFound", err)
		}
		if items, ver := mustRoster(t, s, romeo); len(items) != 0 || ver != 0 {
			t.Errorf("Roster = %v, %d; want nothing stored", items, ver)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, romeo, storage.Credentials{})
		mustPut(t, s, romeo, storage.RosterItem{Contact: juliet, Groups: []string{"Lovers"}, Subscription: storage.SubBoth})
		kept := storage.RosterItem{Contact: nurse, Subscription: storage.SubFrom}
		kept.Version = mustPut(t, s, romeo, kept)
		_, before := mustRoster(t, s, romeo)
		ver, err := s.DeleteRosterItem(ctx, romeo, juliet)
		if err != nil {
			t.Fatalf("DeleteRosterItem: %v", err)
		}
		if ver <= before {
			t.Errorf("DeleteRosterItem returned version %d, want > %d", ver, before)
		}
		if _, err := s.RosterItem(ctx, romeo, juliet); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("RosterItem after delete = %v, want ErrNotFound", err)
		}
		items, cur := mustRoster(t, s, romeo)
		if cur != ver {
			t.Errorf("roster version %d, want %d", cur, ver)
		}
		assertItems(t, items, []storage.RosterItem{kept})
		if subs := mustSubscribers(t, s, romeo); !slices.Equal(subs, []string{nurse}) {
			t.Errorf("Subscribers = %q, want only %s", subs, nurse)
		}
		for _, c := range []string{juliet, "tybalt@example.com"} {
			if _, err := s.DeleteRosterItem(ctx, romeo, c); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("DeleteRosterItem(%s) = %v, want ErrNotFound", c, err)
			}
		}
		if _, err := s.DeleteRosterItem(ctx, "nobody@example.net", juliet); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("DeleteRosterItem for a missing account = %v, want ErrNotFound", err)
		}
		if _, cur := mustRoster(t, s, romeo); cur != ver {
			t.Errorf("failed deletes moved the version from %d to %d", ver, cur)
		}
		// Added again, the item starts afresh: no groups left over.
		again := storage.RosterItem{Contact: juliet}
		again.Version = mustPut(t, s, romeo, again)
		assertItem(t, mustItem(t, s, romeo, juliet), again)
	})

	t.Run("VersionsPerOwner", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, romeo, storage.Credentials{})
		mustCreate(t, s, juliet, storage.Credentials{})
		last := map[string]int64{}
		step := func(owner string, ver int64, err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			if ver <= last[owner] {
				t.Errorf("%s: version %d after %d, want increasing", owner, ver, last[owner])
			}
			last[owner] = ver
			for o, v := range last {
				if _, cur := mustRoster(t, s, o); cur != v {
					t.Errorf("%s: roster version %d, want %d", o, cur, v)
				}
			}
		}
		for i := range 4 {
			c := fmt.Sprintf("c%d@example.com", i)
			ver, err := s.PutRosterItem(ctx, romeo, storage.RosterItem{Contact: c})
			step(romeo, ver, err)
			ver, err = s.PutRosterItem(ctx, juliet, storage.RosterItem{Contact: c, Subscription: storage.SubBoth})
			step(juliet, ver, err)
			if i%2 == 1 {
				ver, err = s.DeleteRosterItem(ctx, romeo, c)
				step(romeo, ver, err)
			}
		}
		// The same contact in two rosters is two items.
		if got := mustItem(t, s, juliet, "c1@example.com"); got.Subscription != storage.SubBoth {
			t.Errorf("juliet's item lost to romeo's delete: %+v", got)
		}
	})

	t.Run("ChangesSince", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, romeo, storage.Credentials{})
		a := storage.RosterItem{Contact: "a@example.com", Subscription: storage.SubBoth}
		b := storage.RosterItem{Contact: "b@example.com", Name: "B"}
		c := storage.RosterItem{Contact: "c@example.com", Groups: []string{"G"}}
		d := storage.RosterItem{Contact: "d@example.com"}
		a.Version = mustPut(t, s, romeo, a)
		b.Version = mustPut(t, s, romeo, b)
		c.Version = mustPut(t, s, romeo, c)
		v1 := c.Version // the client caches the roster here
		b.Subscription, b.PendingOut = storage.SubNone, true
		b.Version = mustPut(t, s, romeo, b)
		delC := mustDelete(t, s, romeo, c.Contact)
		d.Version = mustPut(t, s, romeo, d)
		b.Subscription, b.PendingOut = storage.SubTo, false // the intermediate state is not sent
		b.Version = mustPut(t, s, romeo, b)
		delA := mustDelete(t, s, romeo, a.Contact)
		cur := delA

		changes, got, ok := mustChangesSince(t, s, romeo, v1)
		if !ok || got != cur {
			t.Fatalf("RosterChangesSince(%d) = ok %v, current %d; want true, %d", v1, ok, got, cur)
		}
		// In the order of modification (RFC 6121 §2.6.3), one per item.
		assertChanges(t, changes, []storage.RosterChange{
			{Item: storage.RosterItem{Contact: c.Contact, Version: delC}, Deleted: true},
			{Item: d},
			{Item: b},
			{Item: storage.RosterItem{Contact: a.Contact, Version: delA}, Deleted: true},
		})

		if changes, got, ok := mustChangesSince(t, s, romeo, cur); !ok || got != cur || len(changes) != 0 {
			t.Errorf("RosterChangesSince(current) = %v, %d, %v; want no changes", changes, got, ok)
		}
		// From the empty roster: every item and every tombstone.
		changes, _, ok = mustChangesSince(t, s, romeo, 0)
		if !ok {
			t.Fatal("RosterChangesSince(0) not answerable")
		}
		assertChanges(t, changes, []storage.RosterChange{
			{Item: storage.RosterItem{Contact: c.Contact, Version: delC}, Deleted: true},
			{Item: d},
			{Item: b},
			{Item: storage.RosterItem{Contact: a.Contact, Version: delA}, Deleted: true},
		})
		// An item deleted and added again is an item, not a tombstone.
		a.Version = mustPut(t, s, romeo, a)
		changes, _, ok = mustChangesSince(t, s, romeo, b.Version)
		if !ok {
			t.Fatalf("RosterChangesSince(%d) not answerable", b.Version)
		}
		assertChanges(t, changes, []storage.RosterChange{{Item: a}})
	})

	t.Run("ChangesSinceReplay", func(t *testing.T) {
		// A random history of puts and deletes. At every version the
		// client might have cached, the changes since then, applied to the
		// roster as it was, give the current roster.
		s := newStore(t)
		mustCreate(t, s, romeo, storage.Credentials{})
		rng := rand.New(rand.NewPCG(6121, 26))
		model := map[string]storage.RosterItem{}
		snapshots := map[int64]map[string]storage.RosterItem{0: {}}
		deletes := 0
		for range 120 {
			contact := fmt.Sprintf("c%d@example.com", rng.IntN(12))
			var ver int64
			if _, present := model[contact]; present && rng.IntN(3) == 0 && deletes < MinRosterTombstones {
				ver = mustDelete(t, s, romeo, contact)
				delete(model, contact)
				deletes++
			} else {
				states := nineStates()
				st := states[rng.IntN(len(states))].item
				st.Contact = contact
				st.Name = fmt.Sprintf("n%d", rng.IntN(3))
				for range rng.IntN(3) {
					st.Groups = append(st.Groups, fmt.Sprintf("g%d", rng.IntN(4)))
				}
				ver = mustPut(t, s, romeo, st)
				st.Groups = storage.NormalizeGroups(st.Groups)
				st.Version = ver
				model[contact] = st
			}
			snapshots[ver] = maps.Clone(model)
		}
		items, cur := mustRoster(t, s, romeo)
		assertItems(t, items, sortedItems(model))
		for since, snap := range snapshots {
			changes, got, ok := mustChangesSince(t, s, romeo, since)
			if !ok || got != cur {
				t.Errorf("RosterChangesSince(%d) = ok %v, current %d; want true, %d", since, ok, got, cur)
				continue
			}
			replayed := maps.Clone(snap)
			seen := map[string]bool{}
			prev := since
			for _, ch := range changes {
				if ch.Item.Version <= prev || ch.Item.Version > cur {
					t.Errorf("since %d: change version %d out of order or range (previous %d, current %d)", since, ch.Item.Version, prev, cur)
				}
				prev = ch.Item.Version
				if seen[ch.Item.Contact] {
					t.Errorf("since %d: %s changed twice", since, ch.Item.Contact)
				}
				seen[ch.Item.Contact] = true
				if ch.Deleted {
					delete(replayed, ch.Item.Contact)
				} else {
					replayed[ch.Item.Contact] = ch.Item
				}
			}
			assertItems(t, sortedItems(replayed), items)
		}
	})

	t.Run("UnknownVersions", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, romeo, storage.Credentials{})
		mustPut(t, s, romeo, storage.RosterItem{Contact: juliet})
		cur := mustPut(t, s, romeo, storage.RosterItem{Contact: nurse})
		for _, since := range []int64{-1, -cur, cur + 1, cur + 1000, 1<<63 - 1} {
			changes, got, ok := mustChangesSince(t, s, romeo, since)
			if ok || changes != nil || got != cur {
				t.Errorf("RosterChangesSince(%d) = %v, %d, %v; want nil, %d, false", since, changes, got, ok, cur)
			}
		}
		// A never-changed roster knows only version 0.
		mustCreate(t, s, juliet, storage.Credentials{})
		if _, got, ok := mustChangesSince(t, s, juliet, 1); ok || got != 0 {
			t.Errorf("RosterChangesSince(1) of an empty roster = %d, %v; want 0, false", got, ok)
		}
	})

	t.Run("VersionsOfDeletedAccount", func(t *testing.T) {
		// A client's cached version of a deleted account must not be
		// answered from the roster of the account created again under the
		// same JID: the new roster never reaches the old versions.
		s := newStore(t)
		mustCreate(t, s, romeo, storage.Credentials{})
		var oldVersions []int64
		for i := range 5 {
			oldVersions = append(oldVersions, mustPut(t, s, romeo, storage.RosterItem{Contact: fmt.Sprintf("old%d@example.com", i)}))
		}
		if err := s.DeleteAccount(ctx, romeo); err != nil {
			t.Fatal(err)
		}
		mustCreate(t, s, romeo, storage.Credentials{})
		check := func(stage string) {
			t.Helper()
			_, cur := mustRoster(t, s, romeo)
			for _, v := range oldVersions {
				if changes, _, ok := mustChangesSince(t, s, romeo, v); ok {
					t.Errorf("%s: RosterChangesSince(%d) of the deleted account = %v, ok; want false (current %d)", stage, v, changes, cur)
				}
			}
		}
		check("new account")
		for i := range 12 {
			mustPut(t, s, romeo, storage.RosterItem{Contact: fmt.Sprintf("new%d@example.com", i)})
			check(fmt.Sprintf("after %d puts", i+1))
		}
		// From the empty roster, the new account's items alone.
		changes, _, ok := mustChangesSince(t, s, romeo, 0)
		if !ok || len(changes) != 12 {
			t.Errorf("RosterChangesSince(0) = %d changes, %v; want 12, true", len(changes), ok)
		}
		for _, c := range changes {
			if !strings.HasPrefix(c.Item.Contact, "new") {
				t.Errorf("change from the deleted account: %+v", c)
			}
		}
	})

	t.Run("Subscribers", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, romeo, storage.Credentials{})
		mustCreate(t, s, juliet, storage.Credentials{})
		var want []string
		for i, st := range nineStates() {
			it := st.item
			it.Contact = fmt.Sprintf("%s%d@example.com", st.name, i)
			mustPut(t, s, romeo, it)
			if it.Subscription == storage.SubFrom || it.Subscription == storage.SubBoth {
				want = append(want, it.Contact)
			}
		}
		slices.Sort(want)
		// Another owner's subscribers and a removed subscriber do not count.
		mustPut(t, s, juliet, storage.RosterItem{Contact: "other@example.com", Subscription: storage.SubBoth})
		mustPut(t, s, romeo, storage.RosterItem{Contact: "gone@example.com", Subscription: storage.SubBoth})
		mustDelete(t, s, romeo, "gone@example.com")
		if got := mustSubscribers(t, s, romeo); !slices.Equal(got, want) {
			t.Errorf("Subscribers = %q, want %q", got, want)
		}
		// Dropping from "both" to "to" ends the broadcast.
		mustPut(t, s, romeo, storage.RosterItem{Contact: want[0], Subscription: storage.SubTo})
		if got := mustSubscribers(t, s, romeo); !slices.Equal(got, want[1:]) {
			t.Errorf("after unsubscribing %s: Subscribers = %q, want %q", want[0], got, want[1:])
		}
		if got := mustSubscribers(t, s, juliet); !slices.Equal(got, []string{"other@example.com"}) {
			t.Errorf("juliet's Subscribers = %q", got)
		}
	})

	t.Run("DeletedWithAccount", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, romeo, storage.Credentials{})
		mustCreate(t, s, juliet, storage.Credentials{})
		mustPut(t, s, romeo, storage.RosterItem{Contact: juliet, Groups: []string{"Lovers"}, Subscription: storage.SubBoth})
		mustPut(t, s, romeo, storage.RosterItem{Contact: nurse})
		mustDelete(t, s, romeo, nurse)
		kept := storage.RosterItem{Contact: romeo, Subscription: storage.SubBoth}
		kept.Version = mustPut(t, s, juliet, kept)
		if err := s.DeleteAccount(ctx, romeo); err != nil {
			t.Fatal(err)
		}
		mustCreate(t, s, romeo, storage.Credentials{})
		if items, ver := mustRoster(t, s, romeo); len(items) != 0 || ver != 0 {
			t.Errorf("re-created account's roster = %v, version %d; want empty, 0", items, ver)
		}
		if changes, _, _ := mustChangesSince(t, s, romeo, 0); len(changes) != 0 {
			t.Errorf("re-created account has changes (tombstones?) %v", changes)
		}
		if subs := mustSubscribers(t, s, romeo); len(subs) != 0 {
			t.Errorf("re-created account has subscribers %q", subs)
		}
		items, _ := mustRoster(t, s, juliet)
		assertItems(t, items, []storage.RosterItem{kept})
	})

	t.Run("ConcurrentWrites", func(t *testing.T) {
		// Versions are drawn atomically with the change: concurrent writers
		// never share a version, and the roster ends at the highest one.
		s := newStore(t)
		mustCreate(t, s, romeo, storage.Credentials{})
		const writers, perWriter = 6, 5
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			vers = map[int64]string{}
		)
		for w := range writers {
			wg.Go(func() {
				for i := range perWriter {
					c := fmt.Sprintf("w%d@example.com", w)
					var (
						v   int64
						err error
					)
					if i == perWriter-1 && w%2 == 0 {
						v, err = s.DeleteRosterItem(ctx, romeo, c)
					} else {
						v, err = s.PutRosterItem(ctx, romeo, storage.RosterItem{Contact: c, Name: fmt.Sprint(i)})
					}
					mu.Lock()
					if err != nil {
						t.Errorf("writer %d: %v", w, err)
					} else if prev, dup := vers[v]; dup {
						t.Errorf("version %d returned to %s and %s", v, prev, c)
					} else {
						vers[v] = c
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		items, cur := mustRoster(t, s, romeo)
		if want := slices.Max(slices.Collect(maps.Keys(vers))); cur != want {
			t.Errorf("roster version %d, want the highest returned, %d", cur, want)
		}
		if len(items) != writers/2 {
			t.Errorf("%d items, want %d", len(items), writers/2)
		}
		for _, it := range items {
			if it.Name != fmt.Sprint(perWriter-1) || vers[it.Version] != it.Contact {
				t.Errorf("item %+v is not the last write for its contact", it)
			}
		}
	})

	t.Run("CanceledContext", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, romeo, storage.Credentials{})
		orig := storage.RosterItem{Contact: juliet, Subscription: storage.SubBoth}
		orig.Version = mustPut(t, s, romeo, orig)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		calls := map[string]func() error{
			"Roster":     func() error { _, _, err := s.Roster(cctx, romeo); return err },
			"RosterItem": func() error { _, err := s.RosterItem(cctx, romeo, juliet); return err },
			"PutRosterItem": func() error {
				_, err := s.PutRosterItem(cctx, romeo, storage.RosterItem{Contact: nurse})
				return err
			},
			"DeleteRosterItem":   func() error { _, err := s.DeleteRosterItem(cctx, romeo, juliet); return err },
			"RosterChangesSince": func() error { _, _, _, err := s.RosterChangesSince(cctx, romeo, 0); return err },
			"Subscribers":        func() error { _, err := s.Subscribers(cctx, romeo); return err },
		}
		for name, call := range calls {
			if err := call(); !errors.Is(err, context.Canceled) {
				t.Errorf("%s with canceled context = %v, want context.Canceled", name, err)
			}
		}
		items, ver := mustRoster(t, s, romeo)
		if ver != orig.Version {
			t.Errorf("version moved from %d to %d", orig.Version, ver)
		}
		assertItems(t, items, []storage.RosterItem{orig})
	})
}

// subscriptionState is one of the nine states of RFC 6121 Appendix A.1.
type subscriptionState struct {
	name string
	item storage.RosterItem
}

// nineStates returns the subscription states of RFC 6121 Appendix A.1.
func nineStates() []subscriptionState {
	return []subscriptionState{
		{"none", storage.RosterItem{Subscription: storage.SubNone}},
		{"none-pending-out", storage.RosterItem{Subscription: storage.SubNone, PendingOut: true}},
		{"none-pending-in", storage.RosterItem{Subscription: storage.SubNone, PendingIn: true}},
		{"none-pending-out-in", storage.RosterItem{Subscription: storage.SubNone, PendingOut: true, PendingIn: true}},
		{"to", storage.RosterItem{Subscription: storage.SubTo}},
		{"to-pending-in", storage.RosterItem{Subscription: storage.SubTo, PendingIn: true}},
		{"from", storage.RosterItem{Subscription: storage.SubFrom}},
		{"from-pending-out", storage.RosterItem{Subscription: storage.SubFrom, PendingOut: true}},
		{"both", storage.RosterItem{Subscription: storage.SubBoth}},
	}
}

func mustPut(t *testing.T, s storage.Rosters, owner string, it storage.RosterItem) int64 {
	t.Helper()
	v, err := s.PutRosterItem(t.Context(), owner, it)
	if err != nil {
		t.Fatalf("PutRosterItem(%s, %s): %v", owner, it.Contact, err)
	}
	return v
}

func mustDelete(t *testing.T, s storage.Rosters, owner, contact string) int64 {
	t.Helper()
	v, err := s.DeleteRosterItem(t.Context(), owner, contact)
	if err != nil {
		t.Fatalf("DeleteRosterItem(%s, %s): %v", owner, contact, err)
	}
	return v
}

func mustRoster(t *testing.T, s storage.Rosters, owner string) ([]storage.RosterItem, int64) {
	t.Helper()
	items, v, err := s.Roster(t.Context(), owner)
	if err != nil {
		t.Fatalf("Roster(%s): %v", owner, err)
	}
	return items, v
}

func mustItem(t *testing.T, s storage.Rosters, owner, contact string) storage.RosterItem {
	t.Helper()
	it, err := s.RosterItem(t.Context(), owner, contact)
	if err != nil {
		t.Fatalf("RosterItem(%s, %s): %v", owner, contact, err)
	}
	return it
}

func mustSubscribers(t *testing.T, s storage.Rosters, owner string) []string {
	t.Helper()
	subs, err := s.Subscribers(t.Context(), owner)
	if err != nil {
		t.Fatalf("Subscribers(%s): %v", owner, err)
	}
	return subs
}

func mustChangesSince(t *testing.T, s storage.Rosters, owner string, since int64) ([]storage.RosterChange, int64, bool) {
	t.Helper()
	changes, cur, ok, err := s.RosterChangesSince(t.Context(), owner, since)
	if err != nil {
		t.Fatalf("RosterChangesSince(%s, %d): %v", owner, since, err)
	}
	return changes, cur, ok
}

// itemsEqual compares two items field by field; nil and empty Groups are
// equal.
func itemsEqual(a, b storage.RosterItem) bool {
	return a.Contact == b.Contact && a.Name == b.Name && slices.Equal(a.Groups, b.Groups) &&
		a.Subscription == b.Subscription && a.PendingOut == b.PendingOut && a.PendingIn == b.PendingIn &&
		a.PreApproved == b.PreApproved && a.Version == b.Version
}

func assertItem(t *testing.T, got, want storage.RosterItem) {
	t.Helper()
	if !itemsEqual(got, want) {
		t.Errorf("roster item = %+v, want %+v", got, want)
	}
}

func assertItems(t *testing.T, got, want []storage.RosterItem) {
	t.Helper()
	if !slices.EqualFunc(got, want, itemsEqual) {
		t.Errorf("roster items =\n\t%+v\nwant\n\t%+v", got, want)
	}
}

func assertChanges(t *testing.T, got, want []storage.RosterChange) {
	t.Helper()
	eq := func(a, b storage.RosterChange) bool {
		if a.Deleted != b.Deleted {
			return false
		}
		if a.Deleted { // only the key and the version matter
			return a.Item.Contact == b.Item.Contact && a.Item.Version == b.Item.Version
		}
		return itemsEqual(a.Item, b.Item)
	}
	if !slices.EqualFunc(got, want, eq) {
		t.Errorf("roster changes =\n\t%+v\nwant\n\t%+v", got, want)
	}
}

// sortedItems returns the items of m sorted by Contact, as Roster returns
// them.
func sortedItems(m map[string]storage.RosterItem) []storage.RosterItem {
	var items []storage.RosterItem
	for _, c := range slices.Sorted(maps.Keys(m)) {
		items = append(items, m[c])
	}
	return items
}
