package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/herald-im/herald/storage"
)

var (
	_ storage.Rosters              = (*DB)(nil)
	_ storage.SubscriptionRequests = (*DB)(nil)
)

// RosterTombstones is how many tombstones of removed roster items a DB keeps
// per owner, for RosterChangesSince. When a removal would exceed it, the
// oldest tombstones are discarded and versions from before them can no
// longer be answered incrementally (ok=false: the client gets the full
// roster, RFC 6121 §2.6.3). A tombstone is a few dozen bytes.
const RosterTombstones = 1000

const (
	// rosterSelect reads items, with one row per group (or one row with a
	// NULL group), for scanRoster. Callers append the rest of the WHERE
	// clause and an ORDER BY that keeps each item's rows together.
	rosterSelect = `SELECT i.contact, i.name, i.subscription, i.pending_out, i.pending_in, i.pre_approved, i.deleted, i.version, g.name
FROM roster_items AS i LEFT JOIN roster_groups AS g ON g.owner = i.owner AND g.contact = i.contact
WHERE i.owner = ?`
	rosterQuery      = rosterSelect + ` AND i.deleted = 0 ORDER BY i.contact, g.name`
	rosterItemQuery  = rosterSelect + ` AND i.contact = ? AND i.deleted = 0 ORDER BY g.name`
	rosterSinceQuery = rosterSelect + ` AND i.version > ? ORDER BY i.version, g.name`
	subscribersQuery = `SELECT contact FROM roster_items
WHERE owner = ? AND deleted = 0 AND subscription IN ('from', 'both') ORDER BY contact`
	rosterStateQuery = `SELECT version, first_version, pruned_version FROM rosters WHERE owner = ?`
)

// rosterState is an owner's row of the rosters table; the zero value stands
// for a roster that has never changed.
type rosterState struct {
	version, first, pruned int64
}

func readRosterState(ctx context.Context, tx *sql.Tx, owner string) (rosterState, error) {
	var st rosterState
	err := tx.QueryRowContext(ctx, rosterStateQuery, owner).Scan(&st.version, &st.first, &st.pruned)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return rosterState{}, fmt.Errorf("reading roster version: %w", err)
	}
	return st, nil
}

// answerable reports whether the changes after version since can be
// computed: since must be a version of this roster (0, the empty roster,
// or one from first to version) and not older than a discarded tombstone.
func (st rosterState) answerable(since int64) bool {
	switch {
	case since < 0 || since > st.version:
		return false
	case since == 0:
		return st.pruned == 0
	default:
		return since >= st.first && since >= st.pruned
	}
}

// scanRoster reads rows of rosterSelect, merging the rows of each item (one
// per group) into one change.
func scanRoster(rows *sql.Rows) ([]storage.RosterChange, error) {
	defer rows.Close()
	var changes []storage.RosterChange
	for rows.Next() {
		var (
			c     storage.RosterChange
			sub   string
			group sql.NullString
		)
		it := &c.Item
		if err := rows.Scan(&it.Contact, &it.Name, &sub, &it.PendingOut, &it.PendingIn, &it.PreApproved, &c.Deleted, &it.Version, &group); err != nil {
			return nil, err
		}
		if n := len(changes); n > 0 && changes[n-1].Item.Contact == it.Contact {
			if group.Valid {
				changes[n-1].Item.Groups = append(changes[n-1].Item.Groups, group.String)
			}
			continue
		}
		var err error
		if it.Subscription, err = storage.ParseSubscription(sub); err != nil {
			return nil, fmt.Errorf("roster item %q: %w", it.Contact, err)
		}
		if group.Valid {
			it.Groups = []string{group.String}
		}
		changes = append(changes, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return changes, nil
}

func itemsOf(changes []storage.RosterChange) []storage.RosterItem {
	if len(changes) == 0 {
		return nil
	}
	items := make([]storage.RosterItem, len(changes))
	for i, c := range changes {
		items[i] = c.Item
	}
	return items
}

// Roster implements storage.Rosters. The items and the version are read
// from one snapshot.
func (db *DB) Roster(ctx context.Context, owner string) ([]storage.RosterItem, int64, error) {
	var (
		items []storage.RosterItem
		st    rosterState
	)
	err := db.inReadTx(ctx, func(tx *sql.Tx) error {
		var err error
		if st, err = readRosterState(ctx, tx, owner); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, rosterQuery, owner)
		if err != nil {
			return err
		}
		changes, err := scanRoster(rows)
		items = itemsOf(changes)
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: reading roster of %s: %w", owner, err)
	}
	return items, st.version, nil
}

// RosterItem implements storage.Rosters.
func (db *DB) RosterItem(ctx context.Context, owner, contact string) (storage.RosterItem, error) {
	rows, err := db.read.QueryContext(ctx, rosterItemQuery, owner, contact)
	var changes []storage.RosterChange
	if err == nil {
		changes, err = scanRoster(rows)
	}
	if err == nil && len(changes) == 0 {
		err = storage.ErrNotFound
	}
	if err != nil {
		return storage.RosterItem{}, fmt.Errorf("sqlite: reading roster item %s of %s: %w", contact, owner, err)
	}
	return changes[0].Item, nil
}

// PutRosterItem implements storage.Rosters.
func (db *DB) PutRosterItem(ctx context.Context, owner string, item storage.RosterItem) (int64, error) {
	var version int64
	err := item.Validate()
	if err == nil {
		err = db.inTx(ctx, func(tx *sql.Tx) error {
			var err error
			version, err = putRosterItem(ctx, tx, owner, item)
			return err
		})
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: storing roster item %s of %s: %w", item.Contact, owner, err)
	}
	return version, nil
}

// putRosterItem is PutRosterItem inside tx, for an item that passed
// Validate.
func putRosterItem(ctx context.Context, tx *sql.Tx, owner string, item storage.RosterItem) (int64, error) {
	if err := requireAccount(ctx, tx, owner); err != nil {
		return 0, err
	}
	version, err := bumpRosterVersion(ctx, tx, owner)
	if err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO roster_items (owner, contact, name, subscription, pending_out, pending_in, pre_approved, deleted, version)
VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)
ON CONFLICT (owner, contact) DO UPDATE SET
    name = excluded.name, subscription = excluded.subscription, pending_out = excluded.pending_out,
    pending_in = excluded.pending_in, pre_approved = excluded.pre_approved, deleted = 0, version = excluded.version`,
		owner, item.Contact, item.Name, item.Subscription.String(), item.PendingOut, item.PendingIn, item.PreApproved, version); err != nil {
		return 0, fmt.Errorf("writing item: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM roster_groups WHERE owner = ? AND contact = ?`, owner, item.Contact); err != nil {
		return 0, fmt.Errorf("removing old groups: %w", err)
	}
	for _, g := range storage.NormalizeGroups(item.Groups) {
		if _, err := tx.ExecContext(ctx, `INSERT INTO roster_groups (owner, contact, name) VALUES (?, ?, ?)`, owner, item.Contact, g); err != nil {
			return 0, fmt.Errorf("writing group %q: %w", g, err)
		}
	}
	return version, nil
}

// bumpRosterVersion draws the next roster version from the shared counter
// and makes it owner's current version, inside the transaction of the change
// it versions.
func bumpRosterVersion(ctx context.Context, tx *sql.Tx, owner string) (int64, error) {
	var version int64
	if err := tx.QueryRowContext(ctx,
		`UPDATE roster_version_counter SET value = value + 1 WHERE id = 1 RETURNING value`).Scan(&version); err != nil {
		return 0, fmt.Errorf("drawing roster version: %w", err)
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO rosters (owner, version, first_version, pruned_version) VALUES (?, ?, ?, 0)
ON CONFLICT (owner) DO UPDATE SET version = excluded.version`,
		owner, version, version); err != nil {
		return 0, fmt.Errorf("setting roster version: %w", err)
	}
	return version, nil
}

// DeleteRosterItem implements storage.Rosters. The item becomes a tombstone
// carrying the new version; beyond the newest RosterTombstones tombstones of
// the owner, older ones are discarded.
func (db *DB) DeleteRosterItem(ctx context.Context, owner, contact string) (int64, error) {
	var version int64
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var deleted bool
		err := tx.QueryRowContext(ctx, `SELECT deleted FROM roster_items WHERE owner = ? AND contact = ?`, owner, contact).Scan(&deleted)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && deleted) {
			return storage.ErrNotFound
		}
		if err != nil {
			return err
		}
		if version, err = bumpRosterVersion(ctx, tx, owner); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx,
			`UPDATE roster_items SET name = '', subscription = 'none', pending_out = 0, pending_in = 0, pre_approved = 0, deleted = 1, version = ?
WHERE owner = ? AND contact = ?`, version, owner, contact); err != nil {
			return fmt.Errorf("writing tombstone: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM roster_groups WHERE owner = ? AND contact = ?`, owner, contact); err != nil {
			return fmt.Errorf("removing groups: %w", err)
		}
		return pruneTombstones(ctx, tx, owner, db.rosterTombstones)
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: removing roster item %s of %s: %w", contact, owner, err)
	}
	return version, nil
}

// pruneTombstones discards owner's tombstones beyond the newest keep and
// records the newest discarded version, before which RosterChangesSince can
// no longer answer.
func pruneTombstones(ctx context.Context, tx *sql.Tx, owner string, keep int) error {
	var cut int64
	err := tx.QueryRowContext(ctx,
		`SELECT version FROM roster_items WHERE owner = ? AND deleted = 1 ORDER BY version DESC LIMIT 1 OFFSET ?`,
		owner, keep).Scan(&cut)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // at most keep tombstones
	}
	if err != nil {
		return fmt.Errorf("finding tombstones to discard: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM roster_items WHERE owner = ? AND deleted = 1 AND version <= ?`, owner, cut); err != nil {
		return fmt.Errorf("discarding tombstones: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE rosters SET pruned_version = ? WHERE owner = ? AND pruned_version < ?`, cut, owner, cut); err != nil {
		return fmt.Errorf("recording discarded tombstones: %w", err)
	}
	return nil
}

// RosterChangesSince implements storage.Rosters. The version check and the
// changes are read from one snapshot.
func (db *DB) RosterChangesSince(ctx context.Context, owner string, since int64) ([]storage.RosterChange, int64, bool, error) {
	var (
		changes []storage.RosterChange
		st      rosterState
		ok      bool
	)
	err := db.inReadTx(ctx, func(tx *sql.Tx) error {
		var err error
		if st, err = readRosterState(ctx, tx, owner); err != nil {
			return err
		}
		if ok = st.answerable(since); !ok || since == st.version {
			return nil
		}
		rows, err := tx.QueryContext(ctx, rosterSinceQuery, owner, since)
		if err != nil {
			return err
		}
		changes, err = scanRoster(rows)
		return err
	})
	if err != nil {
		return nil, 0, false, fmt.Errorf("sqlite: reading roster changes of %s since version %d: %w", owner, since, err)
	}
	return changes, st.version, ok, nil
}

// Subscribers implements storage.Rosters, from a partial index of the
// subscribers alone.
func (db *DB) Subscribers(ctx context.Context, owner string) ([]string, error) {
	jids, err := queryStrings(ctx, db.read, subscribersQuery, owner)
	if err != nil {
		return nil, fmt.Errorf("sqlite: reading subscribers of %s: %w", owner, err)
	}
	return jids, nil
}

// queryStrings runs a query with one string column and returns its values.
func queryStrings(ctx context.Context, q *sql.DB, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
