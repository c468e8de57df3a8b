package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/herald-im/herald/storage"
)

var _ storage.PresenceRules = (*DB)(nil)

// presRulesQuery reads one owner's document by primary key.
const presRulesQuery = `SELECT document FROM pres_rules WHERE owner = ?`

// PresenceRules implements storage.PresenceRules.
func (db *DB) PresenceRules(ctx context.Context, owner string) ([]byte, error) {
	var doc []byte
	err := db.read.QueryRowContext(ctx, presRulesQuery, owner).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		err = storage.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: reading presence rules of %s: %w", owner, err)
	}
	return doc, nil
}

// PutPresenceRules implements storage.PresenceRules.
func (db *DB) PutPresenceRules(ctx context.Context, owner string, doc []byte) error {
	var err error
	switch {
	case len(doc) == 0:
		err = fmt.Errorf("%w: empty document", storage.ErrInvalid)
	case len(doc) > storage.MaxPresenceRulesBytes:
		err = fmt.Errorf("%w: document of %d bytes, the limit is %d", storage.ErrInvalid, len(doc), storage.MaxPresenceRulesBytes)
	default:
		err = db.inTx(ctx, func(tx *sql.Tx) error {
			if err := requireAccount(ctx, tx, owner); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx,
				`INSERT INTO pres_rules (owner, document) VALUES (?, ?) ON CONFLICT (owner) DO UPDATE SET document = excluded.document`,
				owner, doc)
			return err
		})
	}
	if err != nil {
		return fmt.Errorf("sqlite: storing presence rules of %s: %w", owner, err)
	}
	return nil
}

// DeletePresenceRules implements storage.PresenceRules.
func (db *DB) DeletePresenceRules(ctx context.Context, owner string) error {
	res, err := db.write.ExecContext(ctx, `DELETE FROM pres_rules WHERE owner = ?`, owner)
	if err == nil {
		err = mustAffect(res)
	}
	if err != nil {
		return fmt.Errorf("sqlite: removing presence rules of %s: %w", owner, err)
	}
	return nil
}
