package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/herald-im/herald/storage"
)

var _ storage.Offline = (*DB)(nil)

const (
	offlineQuery      = `SELECT id, stanza, stored_at FROM offline_messages WHERE owner = ? ORDER BY id`
	offlineCountQuery = `SELECT COUNT(*) FROM offline_messages WHERE owner = ?`
	// offlineQuotaQuery counts at most ? messages, so the quota check costs
	// O(quota) even when the queue is longer.
	offlineQuotaQuery = `SELECT COUNT(*) FROM (SELECT 1 FROM offline_messages WHERE owner = ? LIMIT ?)`
)

// StoreOffline implements storage.Offline: the quota check and the insert
// are one transaction.
func (db *DB) StoreOffline(ctx context.Context, owner string, stanza []byte, at time.Time, quota int) (int64, error) {
	if len(stanza) == 0 {
		return 0, fmt.Errorf("sqlite: storing offline message for %s: %w: empty stanza", owner, storage.ErrInvalid)
	}
	var id int64
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if err := requireAccount(ctx, tx, owner); err != nil {
			return err
		}
		if quota <= 0 {
			return fmt.Errorf("%w: the quota is %d", storage.ErrQuotaExceeded, quota)
		}
		var n int
		if err := tx.QueryRowContext(ctx, offlineQuotaQuery, owner, quota).Scan(&n); err != nil {
			return fmt.Errorf("counting stored messages: %w", err)
		}
		if n >= quota {
			return fmt.Errorf("%w: %d messages stored", storage.ErrQuotaExceeded, n)
		}
		return tx.QueryRowContext(ctx,
			`INSERT INTO offline_messages (owner, stanza, stored_at) VALUES (?, ?, ?) RETURNING id`,
			owner, stanza, at.UnixMicro()).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: storing offline message for %s: %w", owner, err)
	}
	return id, nil
}

// OfflineMessages implements storage.Offline.
func (db *DB) OfflineMessages(ctx context.Context, owner string, limit int) ([]storage.OfflineMessage, error) {
	msgs, err := db.offlineMessages(ctx, owner, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: reading offline messages of %s: %w", owner, err)
	}
	return msgs, nil
}

func (db *DB) offlineMessages(ctx context.Context, owner string, limit int) ([]storage.OfflineMessage, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := db.read.QueryContext(ctx, offlineQuery+` LIMIT ?`, owner, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var msgs []storage.OfflineMessage
	for rows.Next() {
		var (
			m      storage.OfflineMessage
			stored int64
		)
		if err := rows.Scan(&m.ID, &m.Stanza, &stored); err != nil {
			return nil, err
		}
		m.Stored = time.UnixMicro(stored).UTC()
		msgs = append(msgs, m)
	}
	return msgs, rows.Err()
}

// DeleteOffline implements storage.Offline.
func (db *DB) DeleteOffline(ctx context.Context, owner string, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `DELETE FROM offline_messages WHERE id = ? AND owner = ?`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, id := range ids {
			if _, err := stmt.ExecContext(ctx, id, owner); err != nil {
				return fmt.Errorf("message %d: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: removing %d offline messages of %s: %w", len(ids), owner, err)
	}
	return nil
}

// CountOffline implements storage.Offline.
func (db *DB) CountOffline(ctx context.Context, owner string) (int, error) {
	var n int
	if err := db.read.QueryRowContext(ctx, offlineCountQuery, owner).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: counting offline messages of %s: %w", owner, err)
	}
	return n, nil
}
