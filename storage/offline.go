package storage

import (
	"context"
	"errors"
	"time"
)

// ErrQuotaExceeded reports that a user's offline message store is full, so
// the message was not stored; the server then returns <service-unavailable/>
// to the sender (XEP-0160 §2, step 3). Backends wrap it; test with
// errors.Is.
var ErrQuotaExceeded = errors.New("storage: offline message quota exceeded")

// OfflineMessage is a message stored for a user who had no available
// resource (XEP-0160).
type OfflineMessage struct {
	// ID identifies the message within the store. IDs increase in the order
	// messages were stored and are never reused, so deleting an ID that was
	// already deleted never removes a newer message.
	ID int64
	// Stanza is the serialised <message/> stanza as it was stored.
	Stanza []byte
	// Stored is the time passed to StoreOffline, to microsecond precision.
	// It is what a Delayed Delivery stamp (XEP-0203) reports.
	Stored time.Time
}

// Offline stores messages for later delivery (XEP-0160): in the order they
// arrive, until the user comes online and they have been delivered. The
// caller deletes messages only after delivering them, so a crash between
// the two delivers a message twice rather than losing it.
//
// StoreOffline fails with ErrNotFound if the owner has no account; reads of
// an owner without an account return nothing. Errors are wrapped; test them with
// errors.Is.
type Offline interface {
	// StoreOffline appends a message to the owner's queue, stamped with at,
	// and returns its ID, unless the owner already has quota (the maximum)
	// messages stored, in which case it fails with ErrQuotaExceeded (so a
	// quota of 0 or less stores nothing). The check and the append are
	// atomic. An empty stanza is rejected with ErrInvalid.
	StoreOffline(ctx context.Context, owner string, stanza []byte, at time.Time, quota int) (int64, error)
	// OfflineMessages returns up to limit (all if limit <= 0) of the
	// owner's messages, oldest first. It does not remove them.
	OfflineMessages(ctx context.Context, owner string, limit int) ([]OfflineMessage, error)
	// DeleteOffline removes the owner's messages with the given IDs, in one
	// transaction, typically after delivering them. IDs that do not exist
	// or belong to another owner are ignored, so repeating a deletion is
	// harmless.
	DeleteOffline(ctx context.Context, owner string, ids []int64) error
	// CountOffline returns how many messages the owner has stored.
	CountOffline(ctx context.Context, owner string) (int, error)
}
