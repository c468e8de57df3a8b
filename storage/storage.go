// Package storage defines Herald's persistence contracts and the types that
// cross them.
//
// Each concern gets its own small interface (Accounts, Rosters,
// SubscriptionRequests, Offline and PrivacyLists today; archives later), so a
// feature depends only on the records it uses and a backend implements as
// many of the interfaces as it supports. Backends live in sub-packages
// (storage/sqlite; PostgreSQL later) and share the behavioural test-suite in
// storage/storagetest.
//
// Passwords are never stored. An account holds SCRAM credentials (RFC 5802
// §3, RFC 7677), derived from the password prepared with the PRECIS
// OpaqueString profile (RFC 8265 §4.2); see NewCredentials.
package storage

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound reports that the requested record (for example an account)
// does not exist. Backends wrap it; test with errors.Is.
var ErrNotFound = errors.New("storage: not found")

// ErrExists reports that a record (for example an account) cannot be created
// because one with the same key already exists. Backends wrap it; test with
// errors.Is.
var ErrExists = errors.New("storage: already exists")

// Account is one stored account.
type Account struct {
	// JID is the canonical bare JID ("local@domain", RFC 7622 §3) that keys
	// the account.
	JID string
	// Credentials are the account's SCRAM credentials.
	Credentials Credentials
	// Disabled accounts exist but must not be allowed to authenticate.
	Disabled bool
	// Temporary accounts belong to an anonymous session (see
	// Accounts.CreateTemporaryAccount); they have no credentials.
	Temporary bool
	// Created is when the account was created, as recorded by the backend.
	Created time.Time
}

// Accounts stores accounts keyed by canonical bare JID ("local@domain").
//
// Callers normalise JIDs first (RFC 7622 §3: the localpart with the
// UsernameCaseMapped profile, the domainpart per IDNA): backends compare the
// keys octet for octet. Errors are wrapped; test them with errors.Is.
type Accounts interface {
	// CreateAccount stores a new, enabled account. It fails with ErrExists
	// if an account with that JID already exists.
	CreateAccount(ctx context.Context, jid string, creds Credentials) error
	// CreateTemporaryAccount stores an enabled account without
	// credentials for a session that authenticated anonymously (RFC
	// 4505), so that it can hold a roster, lists and subscriptions while
	// it lasts; nobody can log in to it. It fails with ErrExists if an
	// account with that JID already exists.
	CreateTemporaryAccount(ctx context.Context, jid string) error
	// DeleteTemporaryAccounts removes every temporary account and
	// everything stored for them (left over when the server stopped
	// without ending their sessions) and returns how many there were.
	DeleteTemporaryAccounts(ctx context.Context) (int, error)
	// DeleteAccount removes an account and everything stored for it. It
	// fails with ErrNotFound if there is no such account.
	DeleteAccount(ctx context.Context, jid string) error
	// SetCredentials replaces an account's credentials (a password change).
	// It fails with ErrNotFound if there is no such account.
	SetCredentials(ctx context.Context, jid string, creds Credentials) error
	// SetDisabled disables or re-enables an account. It fails with
	// ErrNotFound if there is no such account.
	SetDisabled(ctx context.Context, jid string, disabled bool) error
	// Account returns one account. It fails with ErrNotFound if there is no
	// such account. This is the login hot path.
	Account(ctx context.Context, jid string) (Account, error)
	// AccountExists reports whether an account exists.
	AccountExists(ctx context.Context, jid string) (bool, error)
	// ListAccounts returns the bare JIDs of the accounts of one domain (all
	// accounts if domain is ""), sorted in ascending byte order. Temporary
	// accounts are not listed.
	ListAccounts(ctx context.Context, domain string) ([]string, error)
}
