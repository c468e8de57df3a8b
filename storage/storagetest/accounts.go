// Package storagetest is the behavioural test-suite every storage backend
// runs, so that SQLite, PostgreSQL and any in-memory fake agree on what the
// interfaces in package storage mean.
//
// A backend's test calls, for example:
//
//	storagetest.TestAccounts(t, func(t *testing.T) storage.Accounts {
//		db := openFresh(t) // an empty store, closed by t.Cleanup
//		return db
//	})
//
// TestRosters, TestSubscriptionRequests, TestOffline and TestPrivacyLists
// work the same way; their stores also implement storage.Accounts, because
// every record belongs to an account and goes with it.
package storagetest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/herald-im/herald/storage"
)

// NewAccounts returns an empty Accounts store for one subtest; it must
// register any cleanup with t.Cleanup.
type NewAccounts func(t *testing.T) storage.Accounts

// TestAccounts runs the storage.Accounts conformance tests against the stores
// that newStore returns, one fresh store per subtest.
func TestAccounts(t *testing.T, newStore NewAccounts) {
	creds := newCreds(t, "pencil")
	other := newCreds(t, "other password")
	ctx := t.Context()

	t.Run("CreateThenAccount", func(t *testing.T) {
		s := newStore(t)
		before := time.Now().Truncate(time.Second)
		if err := s.CreateAccount(ctx, "juliet@example.com", creds); err != nil {
			t.Fatalf("CreateAccount: %v", err)
		}
		after := time.Now()
		acct, err := s.Account(ctx, "juliet@example.com")
		if err != nil {
			t.Fatalf("Account: %v", err)
		}
		if acct.JID != "juliet@example.com" {
			t.Errorf("JID = %q", acct.JID)
		}
		if acct.Disabled {
			t.Error("new account is disabled")
		}
		if acct.Created.Before(before) || acct.Created.After(after) {
			t.Errorf("Created = %v, want within [%v, %v]", acct.Created, before, after)
		}
		assertCredsEqual(t, acct.Credentials, creds)
		if !acct.Credentials.VerifyPassword("pencil") {
			t.Error("stored credentials do not verify the password")
		}
	})

	t.Run("CreateExisting", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, "juliet@example.com", creds)
		err := s.CreateAccount(ctx, "juliet@example.com", other)
		if !errors.Is(err, storage.ErrExists) {
			t.Fatalf("second CreateAccount = %v, want ErrExists", err)
		}
		acct := mustAccount(t, s, "juliet@example.com")
		assertCredsEqual(t, acct.Credentials, creds)
	})

	t.Run("CreatePartialCredentials", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			creds storage.Credentials
		}{
			{"SHA-256 only", storage.Credentials{SHA256: creds.SHA256}},
			{"SHA-1 only", storage.Credentials{SHA1: creds.SHA1}},
			{"none", storage.Credentials{}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s := newStore(t)
				mustCreate(t, s, "romeo@example.net", tc.creds)
				assertCredsEqual(t, mustAccount(t, s, "romeo@example.net").Credentials, tc.creds)
			})
		}
	})

	t.Run("CreateInvalidCredentials", func(t *testing.T) {
		s := newStore(t)
		bad := storage.Credentials{SHA256: creds.SHA1} // 20-byte keys in the SHA-256 slot
		err := s.CreateAccount(ctx, "juliet@example.com", bad)
		if err == nil || errors.Is(err, storage.ErrExists) {
			t.Fatalf("CreateAccount(invalid credentials) = %v, want a validation error", err)
		}
		assertExists(t, s, "juliet@example.com", false)
	})

	t.Run("AccountNotFound", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, "juliet@example.com", creds)
		for _, jid := range []string{"romeo@example.com", "juliet@example.net", "JULIET@example.com", "example.com", ""} {
			if _, err := s.Account(ctx, jid); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("Account(%q) = %v, want ErrNotFound", jid, err)
			}
		}
	})

	t.Run("AccountExists", func(t *testing.T) {
		s := newStore(t)
		assertExists(t, s, "juliet@example.com", false)
		mustCreate(t, s, "juliet@example.com", creds)
		assertExists(t, s, "juliet@example.com", true)
		assertExists(t, s, "romeo@example.com", false)
	})

	t.Run("Delete", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, "juliet@example.com", creds)
		mustCreate(t, s, "romeo@example.com", creds)
		if err := s.DeleteAccount(ctx, "juliet@example.com"); err != nil {
			t.Fatalf("DeleteAccount: %v", err)
		}
		if _, err := s.Account(ctx, "juliet@example.com"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Account after delete = %v, want ErrNotFound", err)
		}
		assertExists(t, s, "juliet@example.com", false)
		assertExists(t, s, "romeo@example.com", true)
		if err := s.DeleteAccount(ctx, "juliet@example.com"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("second DeleteAccount = %v, want ErrNotFound", err)
		}
		// The JID can be registered again, with new credentials.
		mustCreate(t, s, "juliet@example.com", other)
		acct := mustAccount(t, s, "juliet@example.com")
		if acct.Credentials.VerifyPassword("pencil") || !acct.Credentials.VerifyPassword("other password") {
			t.Error("re-created account kept the deleted account's credentials")
		}
	})

	t.Run("DeleteNotFound", func(t *testing.T) {
		s := newStore(t)
		if err := s.DeleteAccount(ctx, "nobody@example.com"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("DeleteAccount = %v, want ErrNotFound", err)
		}
	})

	t.Run("SetCredentials", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, "juliet@example.com", creds)
		created := mustAccount(t, s, "juliet@example.com").Created
		if err := s.SetCredentials(ctx, "juliet@example.com", other); err != nil {
			t.Fatalf("SetCredentials: %v", err)
		}
		acct := mustAccount(t, s, "juliet@example.com")
		assertCredsEqual(t, acct.Credentials, other)
		if acct.Credentials.VerifyPassword("pencil") {
			t.Error("old password still verifies")
		}
		if !acct.Created.Equal(created) {
			t.Errorf("Created changed from %v to %v", created, acct.Created)
		}
		// Dropping a hash removes its keys.
		if err := s.SetCredentials(ctx, "juliet@example.com", storage.Credentials{SHA256: creds.SHA256}); err != nil {
			t.Fatalf("SetCredentials(SHA-256 only): %v", err)
		}
		assertCredsEqual(t, mustAccount(t, s, "juliet@example.com").Credentials, storage.Credentials{SHA256: creds.SHA256})
	})

	t.Run("SetCredentialsErrors", func(t *testing.T) {
		s := newStore(t)
		if err := s.SetCredentials(ctx, "nobody@example.com", creds); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("SetCredentials(unknown) = %v, want ErrNotFound", err)
		}
		assertExists(t, s, "nobody@example.com", false)
		mustCreate(t, s, "juliet@example.com", creds)
		err := s.SetCredentials(ctx, "juliet@example.com", storage.Credentials{SHA1: creds.SHA256})
		if err == nil || errors.Is(err, storage.ErrNotFound) {
			t.Errorf("SetCredentials(invalid) = %v, want a validation error", err)
		}
		assertCredsEqual(t, mustAccount(t, s, "juliet@example.com").Credentials, creds)
	})

	t.Run("SetDisabled", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, "juliet@example.com", creds)
		mustCreate(t, s, "romeo@example.com", creds)
		for _, disabled := range []bool{true, true, false, true} {
			if err := s.SetDisabled(ctx, "juliet@example.com", disabled); err != nil {
				t.Fatalf("SetDisabled(%v): %v", disabled, err)
			}
			if got := mustAccount(t, s, "juliet@example.com").Disabled; got != disabled {
				t.Errorf("after SetDisabled(%v): Disabled = %v", disabled, got)
			}
		}
		if mustAccount(t, s, "romeo@example.com").Disabled {
			t.Error("SetDisabled touched another account")
		}
		assertCredsEqual(t, mustAccount(t, s, "juliet@example.com").Credentials, creds)
		if err := s.SetDisabled(ctx, "nobody@example.com", true); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("SetDisabled(unknown) = %v, want ErrNotFound", err)
		}
	})

	t.Run("ListAccounts", func(t *testing.T) {
		s := newStore(t)
		if got, err := s.ListAccounts(ctx, ""); err != nil || len(got) != 0 {
			t.Fatalf("ListAccounts on empty store = %q, %v", got, err)
		}
		// Inserted out of order; "Zed" sorts before "a" in byte order.
		jids := []string{
			"romeo@example.com", "juliet@example.com", "Zed@example.com", "nurse@sub.example.com",
			"benvolio@notexample.com", "mercutio@example.net", "a@example.com",
		}
		for _, j := range jids {
			mustCreate(t, s, j, creds)
		}
		for _, tc := range []struct {
			domain string
			want   []string
		}{
			{"", []string{"Zed@example.com", "a@example.com", "benvolio@notexample.com", "juliet@example.com", "mercutio@example.net", "nurse@sub.example.com", "romeo@example.com"}},
			{"example.com", []string{"Zed@example.com", "a@example.com", "juliet@example.com", "romeo@example.com"}},
			{"sub.example.com", []string{"nurse@sub.example.com"}},
			{"example.net", []string{"mercutio@example.net"}},
			{"example.org", nil},
			{"com", nil},
		} {
			got, err := s.ListAccounts(ctx, tc.domain)
			if err != nil {
				t.Errorf("ListAccounts(%q): %v", tc.domain, err)
				continue
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("ListAccounts(%q) = %q, want %q", tc.domain, got, tc.want)
			}
		}
	})

	t.Run("TemporaryAccounts", func(t *testing.T) {
		s := newStore(t)
		const anon, anon2, kept = "anon-1@example.com", "anon-2@example.com", "juliet@example.com"
		mustCreate(t, s, kept, creds)
		for _, j := range []string{anon, anon2} {
			if err := s.CreateTemporaryAccount(ctx, j); err != nil {
				t.Fatalf("CreateTemporaryAccount(%s): %v", j, err)
			}
		}
		a := mustAccount(t, s, anon)
		if !a.Temporary || a.Disabled || !credsEmpty(a.Credentials) {
			t.Errorf("temporary account = %+v, want temporary, enabled, without credentials", a)
		}
		if mustAccount(t, s, kept).Temporary {
			t.Errorf("an ordinary account reads back as temporary")
		}
		if err := s.CreateTemporaryAccount(ctx, anon); !errors.Is(err, storage.ErrExists) {
			t.Errorf("CreateTemporaryAccount of an existing temporary account = %v, want ErrExists", err)
		}
		if err := s.CreateTemporaryAccount(ctx, kept); !errors.Is(err, storage.ErrExists) {
			t.Errorf("CreateTemporaryAccount over an ordinary account = %v, want ErrExists", err)
		}
		if err := s.CreateAccount(ctx, anon, creds); !errors.Is(err, storage.ErrExists) {
			t.Errorf("CreateAccount over a temporary account = %v, want ErrExists", err)
		}
		if err := s.CreateTemporaryAccount(ctx, "not a jid"); err == nil {
			t.Errorf("CreateTemporaryAccount accepted a malformed JID")
		}
		for _, domain := range []string{"", "example.com"} {
			if got, err := s.ListAccounts(ctx, domain); err != nil || !slices.Equal(got, []string{kept}) {
				t.Errorf("ListAccounts(%q) = %q, %v; want only %s (temporary accounts are not listed)", domain, got, err, kept)
			}
		}
		if err := s.DeleteAccount(ctx, anon2); err != nil {
			t.Fatalf("DeleteAccount(%s): %v", anon2, err)
		}
		n, err := s.DeleteTemporaryAccounts(ctx)
		if err != nil || n != 1 {
			t.Fatalf("DeleteTemporaryAccounts = %d, %v; want 1 (one was deleted already)", n, err)
		}
		assertExists(t, s, anon, false)
		assertExists(t, s, kept, true)
		if n, err := s.DeleteTemporaryAccounts(ctx); err != nil || n != 0 {
			t.Errorf("DeleteTemporaryAccounts again = %d, %v; want 0", n, err)
		}
	})

	t.Run("CanceledContext", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, "juliet@example.com", creds)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		calls := map[string]func() error{
			"CreateAccount":  func() error { return s.CreateAccount(cctx, "romeo@example.com", creds) },
			"DeleteAccount":  func() error { return s.DeleteAccount(cctx, "juliet@example.com") },
			"SetCredentials": func() error { return s.SetCredentials(cctx, "juliet@example.com", other) },
			"SetDisabled":    func() error { return s.SetDisabled(cctx, "juliet@example.com", true) },
			"Account":        func() error { _, err := s.Account(cctx, "juliet@example.com"); return err },
			"AccountExists":  func() error { _, err := s.AccountExists(cctx, "juliet@example.com"); return err },
			"ListAccounts":   func() error { _, err := s.ListAccounts(cctx, ""); return err },
		}
		for name, call := range calls {
			if err := call(); !errors.Is(err, context.Canceled) {
				t.Errorf("%s with canceled context = %v, want context.Canceled", name, err)
			}
		}
		// Nothing changed.
		acct := mustAccount(t, s, "juliet@example.com")
		if acct.Disabled {
			t.Error("canceled SetDisabled took effect")
		}
		assertCredsEqual(t, acct.Credentials, creds)
		assertExists(t, s, "romeo@example.com", false)
	})
}

func newCreds(t *testing.T, password string) storage.Credentials {
	t.Helper()
	c, err := storage.NewCredentials(password, storage.DefaultIterations)
	if err != nil {
		t.Fatalf("NewCredentials: %v", err)
	}
	return c
}

func mustCreate(t *testing.T, s storage.Accounts, jid string, creds storage.Credentials) {
	t.Helper()
	if err := s.CreateAccount(t.Context(), jid, creds); err != nil {
		t.Fatalf("CreateAccount(%q): %v", jid, err)
	}
}

func mustAccount(t *testing.T, s storage.Accounts, jid string) storage.Account {
	t.Helper()
	a, err := s.Account(t.Context(), jid)
	if err != nil {
		t.Fatalf("Account(%q): %v", jid, err)
	}
	return a
}

func assertExists(t *testing.T, s storage.Accounts, jid string, want bool) {
	t.Helper()
	got, err := s.AccountExists(t.Context(), jid)
	if err != nil {
		t.Fatalf("AccountExists(%q): %v", jid, err)
	}
	if got != want {
		t.Errorf("AccountExists(%q) = %v, want %v", jid, got, want)
	}
}

func assertCredsEqual(t *testing.T, got, want storage.Credentials) {
	t.Helper()
	for _, h := range []struct {
		name      string
		got, want storage.SCRAMKeys
	}{
		{"SHA-1", got.SHA1, want.SHA1},
		{"SHA-256", got.SHA256, want.SHA256},
	} {
		if !keysEqual(h.got, h.want) {
			t.Errorf("%s keys = %+v, want %+v", h.name, h.got, h.want)
		}
	}
}

func keysEqual(a, b storage.SCRAMKeys) bool {
	return bytes.Equal(a.Salt, b.Salt) && a.Iterations == b.Iterations &&
		bytes.Equal(a.StoredKey, b.StoredKey) && bytes.Equal(a.ServerKey, b.ServerKey)
}

// credsEmpty reports whether c holds no keys at all.
func credsEmpty(c storage.Credentials) bool {
	var none storage.SCRAMKeys
	return keysEqual(c.SHA1, none) && keysEqual(c.SHA256, none)
}
