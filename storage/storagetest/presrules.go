package storagetest

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/herald-im/herald/storage"
)

// PresenceRulesStore is what TestPresenceRules needs: presence
// authorization documents, and accounts to own them.
type PresenceRulesStore interface {
	storage.Accounts
	storage.PresenceRules
}

// NewPresenceRulesStore returns an empty store for one subtest; it must
// register any cleanup with t.Cleanup.
type NewPresenceRulesStore func(t *testing.T) PresenceRulesStore

// TestPresenceRules runs the storage.PresenceRules conformance tests (one
// RFC 5025 document per account) against the stores that newStore returns,
// one fresh store per subtest.
func TestPresenceRules(t *testing.T, newStore NewPresenceRulesStore) {
	ctx := t.Context()
	const (
		juliet = "juliet@example.com"
		romeo  = "romeo@example.net"
	)
	// Documents as router/presrules stores them: canonical XML, one of
	// them with an extension element the server does not evaluate.
	allowRomeo := []byte(`<ruleset xmlns="urn:ietf:params:xml:ns:common-policy"><rule id="a"><conditions><identity><one id="xmpp:romeo@example.net"/></identity></conditions><actions><sub-handling xmlns="urn:ietf:params:xml:ns:pres-rules">allow</sub-handling></actions></rule></ruleset>`)
	blockAll := []byte(`<ruleset xmlns="urn:ietf:params:xml:ns:common-policy"><rule id="b"><conditions><identity><many/></identity></conditions><actions><sub-handling xmlns="urn:ietf:params:xml:ns:pres-rules">block</sub-handling></actions><transformations><x xmlns="urn:example:future" note="家族 ✓">déjà vu</x></transformations></rule></ruleset>`)
	empty := []byte(`<ruleset xmlns="urn:ietf:params:xml:ns:common-policy"/>`)

	t.Run("Empty", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, juliet, storage.Credentials{})
		for _, owner := range []string{juliet, "nobody@example.com"} {
			if doc, err := s.PresenceRules(ctx, owner); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("PresenceRules(%s) = %q, %v; want ErrNotFound", owner, doc, err)
			}
		}
	})

	t.Run("PutThenRead", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, juliet, storage.Credentials{})
		for _, doc := range [][]byte{allowRomeo, blockAll, empty} {
			mustPutRules(t, s, juliet, doc)
			assertRules(t, s, juliet, doc)
		}
	})

	t.Run("BytesAreCopied", func(t *testing.T) {
		// The store keeps its own copy, and callers get theirs.
		s := newStore(t)
		mustCreate(t, s, juliet, storage.Credentials{})
		doc := bytes.Clone(allowRomeo)
		mustPutRules(t, s, juliet, doc)
		doc[1] = 'X'
		got := mustRules(t, s, juliet)
		if !bytes.Equal(got, allowRomeo) {
			t.Fatalf("changing the caller's slice after PutPresenceRules changed the stored document: %q", got)
		}
		got[1] = 'Y'
		assertRules(t, s, juliet, allowRomeo)
	})

	t.Run("PerOwner", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, juliet, storage.Credentials{})
		mustCreate(t, s, romeo, storage.Credentials{})
		mustPutRules(t, s, juliet, allowRomeo)
		mustPutRules(t, s, romeo, blockAll)
		assertRules(t, s, juliet, allowRomeo)
		assertRules(t, s, romeo, blockAll)
		// Keys are exact: no case folding by the store (callers pass
		// canonical JIDs).
		if _, err := s.PresenceRules(ctx, strings.ToUpper(juliet)); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("PresenceRules(%s) = %v, want ErrNotFound", strings.ToUpper(juliet), err)
		}
	})

	t.Run("Replace", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, juliet, storage.Credentials{})
		mustPutRules(t, s, juliet, blockAll)
		mustPutRules(t, s, juliet, allowRomeo)
		assertRules(t, s, juliet, allowRomeo)
		mustPutRules(t, s, juliet, allowRomeo) // the same again is fine
		assertRules(t, s, juliet, allowRomeo)
	})

	t.Run("LargestDocument", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, juliet, storage.Credentials{})
		big := bytes.Repeat([]byte("ü"), storage.MaxPresenceRulesBytes/2)
		mustPutRules(t, s, juliet, big)
		assertRules(t, s, juliet, big)
	})

	t.Run("PutInvalid", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, juliet, storage.Credentials{})
		mustPutRules(t, s, juliet, allowRomeo)
		for name, doc := range map[string][]byte{
			"nil":       nil,
			"empty":     {},
			"too large": bytes.Repeat([]byte("a"), storage.MaxPresenceRulesBytes+1),
		} {
			if err := s.PutPresenceRules(ctx, juliet, doc); !errors.Is(err, storage.ErrInvalid) {
				t.Errorf("PutPresenceRules(%s) = %v, want ErrInvalid", name, err)
			}
		}
		assertRules(t, s, juliet, allowRomeo)
	})

	t.Run("UnknownOwner", func(t *testing.T) {
		s := newStore(t)
		if err := s.PutPresenceRules(ctx, juliet, allowRomeo); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("PutPresenceRules for a missing account = %v, want ErrNotFound", err)
		}
		if err := s.DeletePresenceRules(ctx, juliet); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("DeletePresenceRules for a missing account = %v, want ErrNotFound", err)
		}
		if _, err := s.PresenceRules(ctx, juliet); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("PresenceRules for a missing account = %v, want ErrNotFound", err)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, juliet, storage.Credentials{})
		mustCreate(t, s, romeo, storage.Credentials{})
		mustPutRules(t, s, juliet, allowRomeo)
		mustPutRules(t, s, romeo, allowRomeo)
		if err := s.DeletePresenceRules(ctx, juliet); err != nil {
			t.Fatalf("DeletePresenceRules: %v", err)
		}
		if _, err := s.PresenceRules(ctx, juliet); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("PresenceRules after delete = %v, want ErrNotFound", err)
		}
		if err := s.DeletePresenceRules(ctx, juliet); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("second DeletePresenceRules = %v, want ErrNotFound", err)
		}
		assertRules(t, s, romeo, allowRomeo)
		mustPutRules(t, s, juliet, blockAll)
		assertRules(t, s, juliet, blockAll)
	})

	t.Run("DeletedWithAccount", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, juliet, storage.Credentials{})
		mustCreate(t, s, romeo, storage.Credentials{})
		mustPutRules(t, s, juliet, allowRomeo)
		mustPutRules(t, s, romeo, blockAll)
		if err := s.DeleteAccount(ctx, juliet); err != nil {
			t.Fatal(err)
		}
		if _, err := s.PresenceRules(ctx, juliet); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("PresenceRules of a deleted account = %v, want ErrNotFound", err)
		}
		mustCreate(t, s, juliet, storage.Credentials{})
		if _, err := s.PresenceRules(ctx, juliet); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("PresenceRules of the re-created account = %v, want ErrNotFound", err)
		}
		assertRules(t, s, romeo, blockAll)
	})

	t.Run("CanceledContext", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, juliet, storage.Credentials{})
		mustPutRules(t, s, juliet, allowRomeo)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		calls := map[string]func() error{
			"PresenceRules":       func() error { _, err := s.PresenceRules(cctx, juliet); return err },
			"PutPresenceRules":    func() error { return s.PutPresenceRules(cctx, juliet, blockAll) },
			"DeletePresenceRules": func() error { return s.DeletePresenceRules(cctx, juliet) },
		}
		for name, call := range calls {
			if err := call(); !errors.Is(err, context.Canceled) {
				t.Errorf("%s with canceled context = %v, want context.Canceled", name, err)
			}
		}
		assertRules(t, s, juliet, allowRomeo)
	})
}

func mustPutRules(t *testing.T, s storage.PresenceRules, owner string, doc []byte) {
	t.Helper()
	if err := s.PutPresenceRules(t.Context(), owner, doc); err != nil {
		t.Fatalf("PutPresenceRules(%s): %v", owner, err)
	}
}

func mustRules(t *testing.T, s storage.PresenceRules, owner string) []byte {
	t.Helper()
	doc, err := s.PresenceRules(t.Context(), owner)
	if err != nil {
		t.Fatalf("PresenceRules(%s): %v", owner, err)
	}
	return doc
}

func assertRules(t *testing.T, s storage.PresenceRules, owner string, want []byte) {
	t.Helper()
	if got := mustRules(t, s, owner); !bytes.Equal(got, want) {
		if len(got) > 200 || len(want) > 200 {
			t.Errorf("PresenceRules(%s): %d bytes, want %d bytes (contents differ)", owner, len(got), len(want))
			return
		}
		t.Errorf("PresenceRules(%s) =\n\t%s\nwant\n\t%s", owner, got, want)
	}
}
