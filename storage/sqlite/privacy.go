package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/herald-im/herald/storage"
)

var _ storage.PrivacyLists = (*DB)(nil)

const (
	privacyNamesQuery = `SELECT name, is_default FROM privacy_lists WHERE owner = ? ORDER BY name`
	// privacyListQuery returns one row with NULL rule columns for a list
	// without rules, and no row for a missing list.
	privacyListQuery = `SELECT r.position, r.type, r.value, r.allow, r.message, r.iq, r.presence_in, r.presence_out
FROM privacy_lists AS l LEFT JOIN privacy_rules AS r ON r.owner = l.owner AND r.list = l.name
WHERE l.owner = ? AND l.name = ? ORDER BY r.position`
)

// PrivacyListNames implements storage.PrivacyLists.
func (db *DB) PrivacyListNames(ctx context.Context, owner string) ([]string, string, error) {
	names, def, err := db.privacyListNames(ctx, owner)
	if err != nil {
		return nil, "", fmt.Errorf("sqlite: listing privacy lists of %s: %w", owner, err)
	}
	return names, def, nil
}

func (db *DB) privacyListNames(ctx context.Context, owner string) ([]string, string, error) {
	rows, err := db.read.QueryContext(ctx, privacyNamesQuery, owner)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var (
		names []string
		def   string
	)
	for rows.Next() {
		var (
			name      string
			isDefault bool
		)
		if err := rows.Scan(&name, &isDefault); err != nil {
			return nil, "", err
		}
		names = append(names, name)
		if isDefault {
			def = name
		}
	}
	return names, def, rows.Err()
}

// PrivacyList implements storage.PrivacyLists.
func (db *DB) PrivacyList(ctx context.Context, owner, name string) (storage.PrivacyList, error) {
	list, err := db.privacyList(ctx, owner, name)
	if err != nil {
		return storage.PrivacyList{}, fmt.Errorf("sqlite: reading privacy list %q of %s: %w", name, owner, err)
	}
	return list, nil
}

func (db *DB) privacyList(ctx context.Context, owner, name string) (storage.PrivacyList, error) {
	rows, err := db.read.QueryContext(ctx, privacyListQuery, owner, name)
	if err != nil {
		return storage.PrivacyList{}, err
	}
	defer rows.Close()
	list := storage.PrivacyList{Name: name}
	found := false
	for rows.Next() {
		found = true
		var (
			order      sql.NullInt64
			typ, value sql.NullString
			allow      sql.NullBool
			msg, iq    sql.NullBool
			pIn, pOut  sql.NullBool
		)
		if err := rows.Scan(&order, &typ, &value, &allow, &msg, &iq, &pIn, &pOut); err != nil {
			return storage.PrivacyList{}, err
		}
		if !order.Valid {
			continue // the list has no rules (LEFT JOIN miss)
		}
		list.Rules = append(list.Rules, storage.PrivacyRule{
			Type:        typ.String,
			Value:       value.String,
			Allow:       allow.Bool,
			Order:       uint32(order.Int64), // CHECKed to fit
			Message:     msg.Bool,
			IQ:          iq.Bool,
			PresenceIn:  pIn.Bool,
			PresenceOut: pOut.Bool,
		})
	}
	if err := rows.Err(); err != nil {
		return storage.PrivacyList{}, err
	}
	if !found {
		return storage.PrivacyList{}, storage.ErrNotFound
	}
	return list, nil
}

// PutPrivacyList implements storage.PrivacyLists. The list row, and with it
// the default flag, stays; the rules are replaced.
func (db *DB) PutPrivacyList(ctx context.Context, owner string, list storage.PrivacyList) error {
	err := list.Validate()
	if err == nil {
		err = db.inTx(ctx, func(tx *sql.Tx) error {
			if err := requireAccount(ctx, tx, owner); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO privacy_lists (owner, name, is_default) VALUES (?, ?, 0) ON CONFLICT (owner, name) DO NOTHING`,
				owner, list.Name); err != nil {
				return fmt.Errorf("writing list: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM privacy_rules WHERE owner = ? AND list = ?`, owner, list.Name); err != nil {
				return fmt.Errorf("removing old rules: %w", err)
			}
			for _, r := range list.Rules {
				if _, err := tx.ExecContext(ctx,
					`INSERT INTO privacy_rules (owner, list, position, type, value, allow, message, iq, presence_in, presence_out)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
					owner, list.Name, int64(r.Order), r.Type, r.Value, r.Allow, r.Message, r.IQ, r.PresenceIn, r.PresenceOut); err != nil {
					return fmt.Errorf("writing rule %d: %w", r.Order, err)
				}
			}
			return nil
		})
	}
	if err != nil {
		return fmt.Errorf("sqlite: storing privacy list %q of %s: %w", list.Name, owner, err)
	}
	return nil
}

// DeletePrivacyList implements storage.PrivacyLists.
func (db *DB) DeletePrivacyList(ctx context.Context, owner, name string) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var isDefault bool
		err := tx.QueryRowContext(ctx, `SELECT is_default FROM privacy_lists WHERE owner = ? AND name = ?`, owner, name).Scan(&isDefault)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return storage.ErrNotFound
		case err != nil:
			return err
		case isDefault:
			return fmt.Errorf("%w: it is the default list (XEP-0016 §2.8)", storage.ErrConflict)
		}
		// The rules go with the list (ON DELETE CASCADE).
		_, err = tx.ExecContext(ctx, `DELETE FROM privacy_lists WHERE owner = ? AND name = ?`, owner, name)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: removing privacy list %q of %s: %w", name, owner, err)
	}
	return nil
}

// SetDefaultPrivacyList implements storage.PrivacyLists.
func (db *DB) SetDefaultPrivacyList(ctx context.Context, owner, name string) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if name != "" {
			var exists bool
			if err := tx.QueryRowContext(ctx,
				`SELECT EXISTS (SELECT 1 FROM privacy_lists WHERE owner = ? AND name = ?)`, owner, name).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				return storage.ErrNotFound
			}
		}
		// Clear first: the unique index allows one default per owner.
		if _, err := tx.ExecContext(ctx, `UPDATE privacy_lists SET is_default = 0 WHERE owner = ? AND is_default = 1`, owner); err != nil {
			return fmt.Errorf("clearing the default: %w", err)
		}
		if name == "" {
			return nil
		}
		_, err := tx.ExecContext(ctx, `UPDATE privacy_lists SET is_default = 1 WHERE owner = ? AND name = ?`, owner, name)
		return err
	})
	if err != nil {
		if name == "" {
			return fmt.Errorf("sqlite: declining the default privacy list of %s: %w", owner, err)
		}
		return fmt.Errorf("sqlite: making %q the default privacy list of %s: %w", name, owner, err)
	}
	return nil
}
