package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/herald-im/herald/storage"
)

const subscriptionRequestsQuery = `SELECT contact, stanza, received_at FROM subscription_requests WHERE owner = ? ORDER BY seq`

// PutSubscriptionRequest implements storage.SubscriptionRequests. A
// replaced request is removed and the new one appended, so it sorts as the
// newest.
func (db *DB) PutSubscriptionRequest(ctx context.Context, owner, contact string, stanza []byte) error {
	var err error
	switch {
	case contact == "":
		err = fmt.Errorf("%w: empty contact JID", storage.ErrInvalid)
	case len(stanza) == 0:
		err = fmt.Errorf("%w: empty stanza", storage.ErrInvalid)
	default:
		err = db.inTx(ctx, func(tx *sql.Tx) error {
			if err := requireAccount(ctx, tx, owner); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM subscription_requests WHERE owner = ? AND contact = ?`, owner, contact); err != nil {
				return fmt.Errorf("removing the earlier request: %w", err)
			}
			_, err := tx.ExecContext(ctx,
				`INSERT INTO subscription_requests (owner, contact, stanza, received_at) VALUES (?, ?, ?, ?)`,
				owner, contact, stanza, time.Now().UnixMicro())
			return err
		})
	}
	if err != nil {
		return fmt.Errorf("sqlite: storing subscription request from %s to %s: %w", contact, owner, err)
	}
	return nil
}

// DeleteSubscriptionRequest implements storage.SubscriptionRequests.
func (db *DB) DeleteSubscriptionRequest(ctx context.Context, owner, contact string) error {
	if _, err := db.write.ExecContext(ctx, `DELETE FROM subscription_requests WHERE owner = ? AND contact = ?`, owner, contact); err != nil {
		return fmt.Errorf("sqlite: removing subscription request from %s to %s: %w", contact, owner, err)
	}
	return nil
}

// SubscriptionRequests implements storage.SubscriptionRequests.
func (db *DB) SubscriptionRequests(ctx context.Context, owner string) ([]storage.SubscriptionRequest, error) {
	reqs, err := db.subscriptionRequests(ctx, owner)
	if err != nil {
		return nil, fmt.Errorf("sqlite: reading subscription requests to %s: %w", owner, err)
	}
	return reqs, nil
}

func (db *DB) subscriptionRequests(ctx context.Context, owner string) ([]storage.SubscriptionRequest, error) {
	rows, err := db.read.QueryContext(ctx, subscriptionRequestsQuery, owner)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var reqs []storage.SubscriptionRequest
	for rows.Next() {
		var (
			r        storage.SubscriptionRequest
			received int64
		)
		if err := rows.Scan(&r.Contact, &r.Stanza, &received); err != nil {
			return nil, err
		}
		r.Received = time.UnixMicro(received).UTC()
		reqs = append(reqs, r)
	}
	return reqs, rows.Err()
}
