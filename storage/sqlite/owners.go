package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/herald-im/herald/storage"
)

// requireAccount fails with storage.ErrNotFound unless owner has an account.
// Writes that add rows for an owner call it first, inside their
// transaction, so that a missing account is reported as such instead of as
// a foreign-key violation.
func requireAccount(ctx context.Context, tx *sql.Tx, owner string) error {
	var exists bool
	if err := tx.QueryRowContext(ctx, existsQuery, owner).Scan(&exists); err != nil {
		return fmt.Errorf("checking account: %w", err)
	}
	if !exists {
		return fmt.Errorf("no such account: %w", storage.ErrNotFound)
	}
	return nil
}

// inReadTx runs fn in a transaction on the reader pool, so that the queries
// fn makes see one snapshot of the database (WAL mode), and ends the
// transaction.
func (db *DB) inReadTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.read.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning read transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback() // fn's error is the one worth reporting
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("ending read transaction: %w", err)
	}
	return nil
}
