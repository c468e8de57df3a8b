package storagetest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/herald-im/herald/storage"
)

// SubscriptionRequestStore is what TestSubscriptionRequests needs: pending
// subscription requests, and accounts to own them.
type SubscriptionRequestStore interface {
	storage.Accounts
	storage.SubscriptionRequests
}

// NewSubscriptionRequestStore returns an empty store for one subtest; it must
// register any cleanup with t.Cleanup.
type NewSubscriptionRequestStore func(t *testing.T) SubscriptionRequestStore

// TestSubscriptionRequests runs the storage.SubscriptionRequests conformance
// tests (RFC 6121 §3.1.3) against the stores that newStore returns, one fresh
// store per subtest.
func TestSubscriptionRequests(t *testing.T, newStore NewSubscriptionRequestStore) {
	ctx := t.Context()
	const (
		juliet = "juliet@example.com"
		romeo  = "romeo@example.net"
		nurse  = "nurse@example.com"
		tybalt = "tybalt@example.com"
	)
	stanza := func(from string) []byte {
		return []byte("<presence from='" + from + "' to='" + juliet + "' type='subscribe' id='s1'><status>Hi ✓</status></presence>")
	}

	t.Run("Empty", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, juliet, storage.Credentials{})
		for _, owner := range []string{juliet, "nobody@example.com"} {
			if reqs := mustRequests(t, s, owner); len(reqs) != 0 {
				t.Errorf("SubscriptionRequests(%s) = %v, want none", owner, reqs)
			}
		}
	})

	t.Run("PutThenList", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, juliet, storage.Credentials{})
		before := time.Now().Truncate(time.Microsecond)
		for _, from := range []string{romeo, nurse, tybalt} {
			mustPutRequest(t, s, juliet, from, stanza(from))
		}
		after := time.Now()
		reqs := mustRequests(t, s, juliet)
		assertRequests(t, reqs, []string{romeo, nurse, tybalt}, stanza)
		for _, r := range reqs {
			if r.Received.Before(before) || r.Received.After(after) {
				t.Errorf("%s: Received = %v, want within [%v, %v]", r.Contact, r.Received, before, after)
			}
		}
	})

	t.Run("StanzaBytesKept", func(t *testing.T) {
		// The stanza is opaque: any bytes, returned as stored.
		s := newStore(t)
		mustCreate(t, s, juliet, storage.Credentials{})
		raw := []byte{'<', 0, 0xff, 0xfe, '\n', '>', 0}
		mustPutRequest(t, s, juliet, romeo, raw)
		reqs := mustRequests(t, s, juliet)
		if len(reqs) != 1 || !bytes.Equal(reqs[0].Stanza, raw) {
			t.Errorf("SubscriptionRequests = %v, want the stanza %q", reqs, raw)
		}
	})

	t.Run("Replace", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, juliet, storage.Credentials{})
		for _, from := range []string{romeo, nurse, tybalt} {
			mustPutRequest(t, s, juliet, from, []byte("old"))
		}
		// A repeated request replaces the first and is now the newest.
		mustPutRequest(t, s, juliet, romeo, stanza(romeo))
		reqs := mustRequests(t, s, juliet)
		if len(reqs) != 3 {
			t.Fatalf("%d requests after a replacement, want 3", len(reqs))
		}
		if last := reqs[2]; last.Contact != romeo || !bytes.Equal(last.Stanza, stanza(romeo)) {
			t.Errorf("newest request = %s %q, want the replacement from %s", last.Contact, last.Stanza, romeo)
		}
		if reqs[0].Contact != nurse || reqs[1].Contact != tybalt {
			t.Errorf("order = %s, %s, %s; want %s, %s, %s", reqs[0].Contact, reqs[1].Contact, reqs[2].Contact, nurse, tybalt, romeo)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, juliet, storage.Credentials{})
		mustCreate(t, s, romeo, storage.Credentials{})
		for _, from := range []string{romeo, nurse, tybalt} {
			mustPutRequest(t, s, juliet, from, stanza(from))
		}
		mustPutRequest(t, s, romeo, nurse, stanza(nurse))
		for _, tc := range []struct{ owner, contact string }{
			{juliet, nurse},
			{juliet, nurse},                  // again: not an error
			{juliet, "benvolio@example.com"}, // never asked
			{"nobody@example.com", nurse},    // no such account
		} {
			if err := s.DeleteSubscriptionRequest(ctx, tc.owner, tc.contact); err != nil {
				t.Errorf("DeleteSubscriptionRequest(%s, %s) = %v, want nil", tc.owner, tc.contact, err)
			}
		}
		assertRequests(t, mustRequests(t, s, juliet), []string{romeo, tybalt}, stanza)
		// Another owner's request from the same contact stays.
		assertRequests(t, mustRequests(t, s, romeo), []string{nurse}, stanza)
	})

	t.Run("Invalid", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, juliet, storage.Credentials{})
		for name, call := range map[string]func() error{
			"empty stanza":  func() error { return s.PutSubscriptionRequest(ctx, juliet, romeo, nil) },
			"empty contact": func() error { return s.PutSubscriptionRequest(ctx, juliet, "", stanza(romeo)) },
		} {
			if err := call(); !errors.Is(err, storage.ErrInvalid) {
				t.Errorf("%s: PutSubscriptionRequest = %v, want ErrInvalid", name, err)
			}
		}
		if reqs := mustRequests(t, s, juliet); len(reqs) != 0 {
			t.Errorf("rejected requests were stored: %v", reqs)
		}
	})

	t.Run("UnknownOwner", func(t *testing.T) {
		s := newStore(t)
		if err := s.PutSubscriptionRequest(ctx, juliet, romeo, stanza(romeo)); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("PutSubscriptionRequest for a missing account = %v, want ErrNotFound", err)
		}
	})

	t.Run("DeletedWithAccount", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, juliet, storage.Credentials{})
		mustCreate(t, s, romeo, storage.Credentials{})
		mustPutRequest(t, s, juliet, romeo, stanza(romeo))
		mustPutRequest(t, s, romeo, nurse, stanza(nurse))
		if err := s.DeleteAccount(ctx, juliet); err != nil {
			t.Fatal(err)
		}
		mustCreate(t, s, juliet, storage.Credentials{})
		if reqs := mustRequests(t, s, juliet); len(reqs) != 0 {
			t.Errorf("re-created account has requests %v", reqs)
		}
		assertRequests(t, mustRequests(t, s, romeo), []string{nurse}, stanza)
	})

	t.Run("CanceledContext", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, juliet, storage.Credentials{})
		mustPutRequest(t, s, juliet, romeo, stanza(romeo))
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		calls := map[string]func() error{
			"PutSubscriptionRequest":    func() error { return s.PutSubscriptionRequest(cctx, juliet, nurse, stanza(nurse)) },
			"DeleteSubscriptionRequest": func() error { return s.DeleteSubscriptionRequest(cctx, juliet, romeo) },
			"SubscriptionRequests":      func() error { _, err := s.SubscriptionRequests(cctx, juliet); return err },
		}
		for name, call := range calls {
			if err := call(); !errors.Is(err, context.Canceled) {
				t.Errorf("%s with canceled context = %v, want context.Canceled", name, err)
			}
		}
		assertRequests(t, mustRequests(t, s, juliet), []string{romeo}, stanza)
	})
}

func mustPutRequest(t *testing.T, s storage.SubscriptionRequests, owner, contact string, stanza []byte) {
	t.Helper()
	if err := s.PutSubscriptionRequest(t.Context(), owner, contact, stanza); err != nil {
		t.Fatalf("PutSubscriptionRequest(%s, %s): %v", owner, contact, err)
	}
}

func mustRequests(t *testing.T, s storage.SubscriptionRequests, owner string) []storage.SubscriptionRequest {
	t.Helper()
	reqs, err := s.SubscriptionRequests(t.Context(), owner)
	if err != nil {
		t.Fatalf("SubscriptionRequests(%s): %v", owner, err)
	}
	return reqs
}

// assertRequests checks that reqs come from contacts, in that order, each
// with the stanza stanzaOf(contact).
func assertRequests(t *testing.T, reqs []storage.SubscriptionRequest, contacts []string, stanzaOf func(string) []byte) {
	t.Helper()
	if len(reqs) != len(contacts) {
		t.Errorf("%d requests, want %d (from %q)", len(reqs), len(contacts), contacts)
		return
	}
	for i, r := range reqs {
		if r.Contact != contacts[i] || !bytes.Equal(r.Stanza, stanzaOf(contacts[i])) {
			t.Errorf("request %d = %s %q, want %s %q", i, r.Contact, r.Stanza, contacts[i], stanzaOf(contacts[i]))
		}
	}
}
