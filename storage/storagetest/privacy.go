package storagetest

import (
	"cmp"
	"context"
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/herald-im/herald/storage"
)

// PrivacyListStore is what TestPrivacyLists needs: privacy lists, and
// accounts to own them.
type PrivacyListStore interface {
	storage.Accounts
	storage.PrivacyLists
}

// NewPrivacyListStore returns an empty store for one subtest; it must
// register any cleanup with t.Cleanup.
type NewPrivacyListStore func(t *testing.T) PrivacyListStore

// TestPrivacyLists runs the storage.PrivacyLists conformance tests (XEP-0016
// §2) against the stores that newStore returns, one fresh store per subtest.
func TestPrivacyLists(t *testing.T, newStore NewPrivacyListStore) {
	ctx := t.Context()
	const (
		romeo  = "romeo@example.net"
		juliet = "juliet@example.com"
	)
	// The lists of XEP-0016 §2.3, Examples 4, 6 and 8, plus edge cases.
	public := storage.PrivacyList{Name: "public", Rules: []storage.PrivacyRule{
		{Type: storage.PrivacyJID, Value: "tybalt@example.com", Allow: false, Order: 1},
		{Allow: true, Order: 2},
	}}
	private := storage.PrivacyList{Name: "private", Rules: []storage.PrivacyRule{
		{Type: storage.PrivacySubscription, Value: "both", Allow: true, Order: 10},
		{Allow: false, Order: 15},
	}}
	special := storage.PrivacyList{Name: "special", Rules: []storage.PrivacyRule{
		{Type: storage.PrivacyJID, Value: "juliet@example.com", Allow: true, Order: 6},
		{Type: storage.PrivacyJID, Value: "benvolio@example.org", Allow: true, Order: 7},
		{Type: storage.PrivacyJID, Value: "mercutio@example.org", Allow: true, Order: 42},
		{Allow: false, Order: 666},
	}}

	t.Run("Empty", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, romeo, storage.Credentials{})
		for _, owner := range []string{romeo, "nobody@example.net"} {
			names, def := mustListNames(t, s, owner)
			if len(names) != 0 || def != "" {
				t.Errorf("PrivacyListNames(%s) = %q, %q; want none", owner, names, def)
			}
			if _, err := s.PrivacyList(ctx, owner, "public"); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("PrivacyList(%s) = %v, want ErrNotFound", owner, err)
			}
		}
	})

	t.Run("PutThenRead", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, romeo, storage.Credentials{})
		for _, l := range []storage.PrivacyList{public, private, special} {
			mustPutList(t, s, romeo, l)
		}
		for _, l := range []storage.PrivacyList{public, private, special} {
			assertList(t, mustList(t, s, romeo, l.Name), l)
		}
		names, def := mustListNames(t, s, romeo)
		if want := []string{"private", "public", "special"}; !slices.Equal(names, want) || def != "" {
			t.Errorf("PrivacyListNames = %q, %q; want %q, no default", names, def, want)
		}
	})

	t.Run("RulesRoundTrip", func(t *testing.T) {
		// Every field of every kind of rule survives, and the rules come
		// back sorted by order whatever order they were given in.
		s := newStore(t)
		mustCreate(t, s, romeo, storage.Credentials{})
		rules := []storage.PrivacyRule{
			{Type: storage.PrivacyGroup, Value: "Enemies", Allow: false, Order: 5, Message: true},
			{Type: storage.PrivacyJID, Value: "example.org", Allow: false, Order: 0, PresenceIn: true},
			{Allow: true, Order: math.MaxUint32},
			{Type: storage.PrivacyJID, Value: "tybalt@example.com/balcony", Allow: true, Order: 3, IQ: true, PresenceOut: true},
			{Type: storage.PrivacySubscription, Value: "none", Allow: false, Order: 4, Message: true, IQ: true, PresenceIn: true, PresenceOut: true},
			{Type: storage.PrivacySubscription, Value: "from", Order: 1 << 31},
			{Type: storage.PrivacySubscription, Value: "to", Order: 8},
			{Type: storage.PrivacyGroup, Value: "家族 Ünïcødé 🎭", Allow: true, Order: 2},
		}
		l := storage.PrivacyList{Name: "Ünïcødé list ✓", Rules: rules}
		mustPutList(t, s, romeo, l)
		want := l
		want.Rules = slices.SortedFunc(slices.Values(rules), func(a, b storage.PrivacyRule) int {
			return cmp.Compare(a.Order, b.Order)
		})
		assertList(t, mustList(t, s, romeo, l.Name), want)
		if rules[0].Order != 5 {
			t.Error("PutPrivacyList reordered the caller's rules")
		}
	})

	t.Run("ListWithoutRules", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, romeo, storage.Credentials{})
		mustPutList(t, s, romeo, storage.PrivacyList{Name: "empty"})
		got := mustList(t, s, romeo, "empty")
		if got.Name != "empty" || len(got.Rules) != 0 {
			t.Errorf("PrivacyList = %+v, want an empty list", got)
		}
	})

	t.Run("Replace", func(t *testing.T) {
		// Editing a list sends all of its items, not a delta (XEP-0016
		// §2.6).
		s := newStore(t)
		mustCreate(t, s, romeo, storage.Credentials{})
		mustPutList(t, s, romeo, special)
		edited := storage.PrivacyList{Name: special.Name, Rules: []storage.PrivacyRule{
			{Type: storage.PrivacyJID, Value: "juliet@example.com", Allow: true, Order: 6},
			{Type: storage.PrivacyJID, Value: "mercutio@example.org", Allow: false, Order: 7},
			{Allow: false, Order: 666},
		}}
		mustPutList(t, s, romeo, edited)
		assertList(t, mustList(t, s, romeo, special.Name), edited)
		if names, _ := mustListNames(t, s, romeo); !slices.Equal(names, []string{special.Name}) {
			t.Errorf("PrivacyListNames = %q", names)
		}
	})

	t.Run("PutInvalid", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, romeo, storage.Credentials{})
		mustPutList(t, s, romeo, public)
		for _, tc := range []struct {
			name string
			list storage.PrivacyList
		}{
			{"duplicate order (XEP-0016 §2.1)", storage.PrivacyList{Name: "public", Rules: []storage.PrivacyRule{
				{Type: storage.PrivacyJID, Value: "a@example.com", Order: 3},
				{Type: storage.PrivacyJID, Value: "b@example.com", Order: 3, Allow: true},
			}}},
			{"empty name", storage.PrivacyList{Rules: []storage.PrivacyRule{{Allow: true, Order: 1}}}},
			{"unknown type", storage.PrivacyList{Name: "public", Rules: []storage.PrivacyRule{{Type: "resource", Value: "x", Order: 1}}}},
			{"subscription remove", storage.PrivacyList{Name: "public", Rules: []storage.PrivacyRule{{Type: storage.PrivacySubscription, Value: "remove", Order: 1}}}},
			{"subscription in capitals", storage.PrivacyList{Name: "public", Rules: []storage.PrivacyRule{{Type: storage.PrivacySubscription, Value: "Both", Order: 1}}}},
			{"jid without value", storage.PrivacyList{Name: "public", Rules: []storage.PrivacyRule{{Type: storage.PrivacyJID, Order: 1}}}},
			{"group without value", storage.PrivacyList{Name: "public", Rules: []storage.PrivacyRule{{Type: storage.PrivacyGroup, Order: 1}}}},
			{"fall-through with value", storage.PrivacyList{Name: "public", Rules: []storage.PrivacyRule{{Value: "x", Order: 1}}}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if err := s.PutPrivacyList(ctx, romeo, tc.list); !errors.Is(err, storage.ErrInvalid) {
					t.Errorf("PutPrivacyList = %v, want ErrInvalid", err)
				}
			})
		}
		// The existing list is untouched and nothing was added.
		assertList(t, mustList(t, s, romeo, "public"), public)
		if names, _ := mustListNames(t, s, romeo); !slices.Equal(names, []string{"public"}) {
			t.Errorf("PrivacyListNames = %q, want only public", names)
		}
	})

	t.Run("UnknownOwner", func(t *testing.T) {
		s := newStore(t)
		if err := s.PutPrivacyList(ctx, romeo, public); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("PutPrivacyList for a missing account = %v, want ErrNotFound", err)
		}
		if err := s.SetDefaultPrivacyList(ctx, romeo, "public"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("SetDefaultPrivacyList for a missing account = %v, want ErrNotFound", err)
		}
		if err := s.DeletePrivacyList(ctx, romeo, "public"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("DeletePrivacyList for a missing account = %v, want ErrNotFound", err)
		}
	})

	t.Run("DefaultList", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, romeo, storage.Credentials{})
		for _, l := range []storage.PrivacyList{public, private, special} {
			mustPutList(t, s, romeo, l)
		}
		assertDefault := func(want string) {
			t.Helper()
			if _, def := mustListNames(t, s, romeo); def != want {
				t.Errorf("default list = %q, want %q", def, want)
			}
		}
		// XEP-0016 §2.5, Example 19: no such list.
		if err := s.SetDefaultPrivacyList(ctx, romeo, "The Empty Set"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("SetDefaultPrivacyList(missing) = %v, want ErrNotFound", err)
		}
		assertDefault("")
		mustSetDefault(t, s, romeo, "special")
		assertDefault("special")
		// One default at a time.
		mustSetDefault(t, s, romeo, "public")
		assertDefault("public")
		mustSetDefault(t, s, romeo, "public")
		assertDefault("public")
		if err := s.SetDefaultPrivacyList(ctx, romeo, "The Empty Set"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("SetDefaultPrivacyList(missing) = %v, want ErrNotFound", err)
		}
		assertDefault("public")
		// Replacing the default list keeps it the default.
		edited := storage.PrivacyList{Name: "public", Rules: []storage.PrivacyRule{{Allow: false, Order: 1}}}
		mustPutList(t, s, romeo, edited)
		assertDefault("public")
		assertList(t, mustList(t, s, romeo, "public"), edited)
		// The default list cannot be removed (XEP-0016 §2.8) ...
		if err := s.DeletePrivacyList(ctx, romeo, "public"); !errors.Is(err, storage.ErrConflict) {
			t.Errorf("DeletePrivacyList(default) = %v, want ErrConflict", err)
		}
		assertList(t, mustList(t, s, romeo, "public"), edited)
		// ... until the user declines a default list (Example 20).
		mustSetDefault(t, s, romeo, "")
		assertDefault("")
		mustSetDefault(t, s, romeo, "") // declining twice is fine
		if err := s.DeletePrivacyList(ctx, romeo, "public"); err != nil {
			t.Errorf("DeletePrivacyList after declining the default = %v", err)
		}
		assertDefault("")
	})

	t.Run("Delete", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, romeo, storage.Credentials{})
		mustCreate(t, s, juliet, storage.Credentials{})
		mustPutList(t, s, romeo, public)
		mustPutList(t, s, romeo, private)
		mustPutList(t, s, juliet, public)
		mustSetDefault(t, s, romeo, "private")
		if err := s.DeletePrivacyList(ctx, romeo, "public"); err != nil {
			t.Fatalf("DeletePrivacyList: %v", err)
		}
		if _, err := s.PrivacyList(ctx, romeo, "public"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("PrivacyList after delete = %v, want ErrNotFound", err)
		}
		if err := s.DeletePrivacyList(ctx, romeo, "public"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("second DeletePrivacyList = %v, want ErrNotFound", err)
		}
		names, def := mustListNames(t, s, romeo)
		if !slices.Equal(names, []string{"private"}) || def != "private" {
			t.Errorf("PrivacyListNames = %q, %q; want [private], private", names, def)
		}
		// Juliet's list of the same name is hers.
		assertList(t, mustList(t, s, juliet, "public"), public)
		// A list created again under the deleted name has only its new rules.
		again := storage.PrivacyList{Name: "public", Rules: []storage.PrivacyRule{{Allow: true, Order: 9}}}
		mustPutList(t, s, romeo, again)
		assertList(t, mustList(t, s, romeo, "public"), again)
	})

	t.Run("NamesAreExact", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, romeo, storage.Credentials{})
		names := []string{"Public", "public", "pub", "Caf\u00e9", "Cafe\u0301", "私のリスト", " spaced "}
		for i, n := range names {
			mustPutList(t, s, romeo, storage.PrivacyList{Name: n, Rules: []storage.PrivacyRule{{Allow: i%2 == 0, Order: uint32(i)}}})
		}
		got, _ := mustListNames(t, s, romeo)
		if want := slices.Sorted(slices.Values(names)); !slices.Equal(got, want) {
			t.Errorf("PrivacyListNames = %q, want %q", got, want)
		}
		for i, n := range names {
			if l := mustList(t, s, romeo, n); len(l.Rules) != 1 || l.Rules[0].Order != uint32(i) {
				t.Errorf("PrivacyList(%q) = %+v, want the list with order %d", n, l, i)
			}
		}
		mustSetDefault(t, s, romeo, "public")
		if _, def := mustListNames(t, s, romeo); def != "public" {
			t.Errorf("default = %q, want public (not Public)", def)
		}
	})

	t.Run("DeletedWithAccount", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, romeo, storage.Credentials{})
		mustCreate(t, s, juliet, storage.Credentials{})
		mustPutList(t, s, romeo, public)
		mustPutList(t, s, romeo, special)
		mustSetDefault(t, s, romeo, "special")
		mustPutList(t, s, juliet, private)
		if err := s.DeleteAccount(ctx, romeo); err != nil {
			t.Fatal(err)
		}
		mustCreate(t, s, romeo, storage.Credentials{})
		if names, def := mustListNames(t, s, romeo); len(names) != 0 || def != "" {
			t.Errorf("re-created account has lists %q, default %q", names, def)
		}
		if _, err := s.PrivacyList(ctx, romeo, "special"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("PrivacyList of the re-created account = %v, want ErrNotFound", err)
		}
		assertList(t, mustList(t, s, juliet, "private"), private)
	})

	t.Run("CanceledContext", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, romeo, storage.Credentials{})
		mustPutList(t, s, romeo, public)
		mustPutList(t, s, romeo, private)
		mustSetDefault(t, s, romeo, "public")
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		calls := map[string]func() error{
			"PrivacyListNames":      func() error { _, _, err := s.PrivacyListNames(cctx, romeo); return err },
			"PrivacyList":           func() error { _, err := s.PrivacyList(cctx, romeo, "public"); return err },
			"PutPrivacyList":        func() error { return s.PutPrivacyList(cctx, romeo, special) },
			"DeletePrivacyList":     func() error { return s.DeletePrivacyList(cctx, romeo, "private") },
			"SetDefaultPrivacyList": func() error { return s.SetDefaultPrivacyList(cctx, romeo, "private") },
		}
		for name, call := range calls {
			if err := call(); !errors.Is(err, context.Canceled) {
				t.Errorf("%s with canceled context = %v, want context.Canceled", name, err)
			}
		}
		names, def := mustListNames(t, s, romeo)
		if !slices.Equal(names, []string{"private", "public"}) || def != "public" {
			t.Errorf("after canceled calls: %q, default %q", names, def)
		}
	})
}

func mustPutList(t *testing.T, s storage.PrivacyLists, owner string, l storage.PrivacyList) {
	t.Helper()
	if err := s.PutPrivacyList(t.Context(), owner, l); err != nil {
		t.Fatalf("PutPrivacyList(%s, %q): %v", owner, l.Name, err)
	}
}

func mustList(t *testing.T, s storage.PrivacyLists, owner, name string) storage.PrivacyList {
	t.Helper()
	l, err := s.PrivacyList(t.Context(), owner, name)
	if err != nil {
		t.Fatalf("PrivacyList(%s, %q): %v", owner, name, err)
	}
	return l
}

func mustListNames(t *testing.T, s storage.PrivacyLists, owner string) ([]string, string) {
	t.Helper()
	names, def, err := s.PrivacyListNames(t.Context(), owner)
	if err != nil {
		t.Fatalf("PrivacyListNames(%s): %v", owner, err)
	}
	return names, def
}

func mustSetDefault(t *testing.T, s storage.PrivacyLists, owner, name string) {
	t.Helper()
	if err := s.SetDefaultPrivacyList(t.Context(), owner, name); err != nil {
		t.Fatalf("SetDefaultPrivacyList(%s, %q): %v", owner, name, err)
	}
}

func assertList(t *testing.T, got, want storage.PrivacyList) {
	t.Helper()
	if got.Name != want.Name || !slices.Equal(got.Rules, want.Rules) {
		t.Errorf("privacy list =\n\t%+v\nwant\n\t%+v", got, want)
	}
}
