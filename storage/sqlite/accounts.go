package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/herald-im/herald/storage"
)

// Names of the hash functions in account_scram.hash, as in the SCRAM
// mechanism names (RFC 5802 §4, RFC 7677 §3).
const (
	hashSHA1   = "SHA-1"
	hashSHA256 = "SHA-256"
)

const (
	accountQuery = `SELECT a.disabled, a.temporary, a.created_at, s.hash, s.salt, s.iterations, s.stored_key, s.server_key
FROM accounts AS a LEFT JOIN account_scram AS s ON s.jid = a.jid
WHERE a.jid = ?`
	existsQuery = `SELECT EXISTS (SELECT 1 FROM accounts WHERE jid = ?)`
)

// domainOf returns the domainpart of a bare JID "local@domain", or false if
// jid does not have that shape. Neither part may contain '@' or '/' (RFC 7622
// §3.3.1 forbids them in localparts; they are not valid in domainparts), so
// this is only a structural check: canonicalisation is the caller's job.
func domainOf(jid string) (string, bool) {
	local, domain, ok := strings.Cut(jid, "@")
	if !ok || local == "" || domain == "" || strings.ContainsAny(domain, "@/") || strings.Contains(local, "/") {
		return "", false
	}
	return domain, true
}

// CreateAccount implements storage.Accounts. The JID must have the form
// "local@domain".
func (db *DB) CreateAccount(ctx context.Context, jid string, creds storage.Credentials) error {
	domain, ok := domainOf(jid)
	if !ok {
		return fmt.Errorf("sqlite: creating account: %q is not a bare JID of the form local@domain", jid)
	}
	if err := creds.Validate(); err != nil {
		return fmt.Errorf("sqlite: creating account %s: %w", jid, err)
	}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`INSERT INTO accounts (jid, domain, disabled, created_at) VALUES (?, ?, 0, ?)
ON CONFLICT (jid) DO NOTHING`,
			jid, domain, time.Now().UnixMicro())
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return storage.ErrExists
		}
		return insertCredentials(ctx, tx, jid, creds)
	})
	if err != nil {
		return fmt.Errorf("sqlite: creating account %s: %w", jid, err)
	}
	return nil
}

// CreateTemporaryAccount implements storage.Accounts.
func (db *DB) CreateTemporaryAccount(ctx context.Context, jid string) error {
	domain, ok := domainOf(jid)
	if !ok {
		return fmt.Errorf("sqlite: creating temporary account: %q is not a bare JID of the form local@domain", jid)
	}
	res, err := db.write.ExecContext(ctx,
		`INSERT INTO accounts (jid, domain, disabled, temporary, created_at) VALUES (?, ?, 0, 1, ?)
ON CONFLICT (jid) DO NOTHING`,
		jid, domain, time.Now().UnixMicro())
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			err = storage.ErrExists
		}
	}
	if err != nil {
		return fmt.Errorf("sqlite: creating temporary account %s: %w", jid, err)
	}
	return nil
}

// DeleteTemporaryAccounts implements storage.Accounts.
func (db *DB) DeleteTemporaryAccounts(ctx context.Context) (int, error) {
	res, err := db.write.ExecContext(ctx, `DELETE FROM accounts WHERE temporary = 1`)
	var n int64
	if err == nil {
		n, err = res.RowsAffected()
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: deleting temporary accounts: %w", err)
	}
	return int(n), nil
}

// insertCredentials stores the non-zero key sets of creds for jid.
func insertCredentials(ctx context.Context, tx *sql.Tx, jid string, creds storage.Credentials) error {
	for _, k := range []struct {
		hash string
		keys storage.SCRAMKeys
	}{
		{hashSHA1, creds.SHA1},
		{hashSHA256, creds.SHA256},
	} {
		if k.keys.IsZero() {
			continue
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO account_scram (jid, hash, salt, iterations, stored_key, server_key) VALUES (?, ?, ?, ?, ?, ?)`,
			jid, k.hash, k.keys.Salt, k.keys.Iterations, k.keys.StoredKey, k.keys.ServerKey); err != nil {
			return fmt.Errorf("storing %s credentials: %w", k.hash, err)
		}
	}
	return nil
}

// DeleteAccount implements storage.Accounts. Rows of other tables that
// reference the account go with it (ON DELETE CASCADE).
func (db *DB) DeleteAccount(ctx context.Context, jid string) error {
	res, err := db.write.ExecContext(ctx, `DELETE FROM accounts WHERE jid = ?`, jid)
	if err == nil {
		err = mustAffect(res)
	}
	if err != nil {
		return fmt.Errorf("sqlite: deleting account %s: %w", jid, err)
	}
	return nil
}

// SetCredentials implements storage.Accounts.
func (db *DB) SetCredentials(ctx context.Context, jid string, creds storage.Credentials) error {
	if err := creds.Validate(); err != nil {
		return fmt.Errorf("sqlite: setting credentials of %s: %w", jid, err)
	}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var exists bool
		if err := tx.QueryRowContext(ctx, existsQuery, jid).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return storage.ErrNotFound
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM account_scram WHERE jid = ?`, jid); err != nil {
			return fmt.Errorf("removing old credentials: %w", err)
		}
		return insertCredentials(ctx, tx, jid, creds)
	})
	if err != nil {
		return fmt.Errorf("sqlite: setting credentials of %s: %w", jid, err)
	}
	return nil
}

// SetDisabled implements storage.Accounts.
func (db *DB) SetDisabled(ctx context.Context, jid string, disabled bool) error {
	// SQLite (like PostgreSQL) counts matched rows, even when the flag
	// already had the requested value, so 0 rows means no such account.
	res, err := db.write.ExecContext(ctx, `UPDATE accounts SET disabled = ? WHERE jid = ?`, disabled, jid)
	if err == nil {
		err = mustAffect(res)
	}
	if err != nil {
		return fmt.Errorf("sqlite: setting disabled=%v on %s: %w", disabled, jid, err)
	}
	return nil
}

// Account implements storage.Accounts with a prepared statement: this is the
// lookup every login makes.
func (db *DB) Account(ctx context.Context, jid string) (storage.Account, error) {
	acct, err := db.account(ctx, jid)
	if err != nil {
		return storage.Account{}, fmt.Errorf("sqlite: looking up account %s: %w", jid, err)
	}
	return acct, nil
}

func (db *DB) account(ctx context.Context, jid string) (storage.Account, error) {
	rows, err := db.accountStmt.QueryContext(ctx, jid)
	if err != nil {
		return storage.Account{}, err
	}
	defer rows.Close()
	acct := storage.Account{JID: jid}
	found := false
	for rows.Next() {
		var (
			disabled   bool
			temporary  bool
			created    int64
			hash       sql.NullString
			iterations sql.NullInt64
			keys       storage.SCRAMKeys
		)
		if err := rows.Scan(&disabled, &temporary, &created, &hash, &keys.Salt, &iterations, &keys.StoredKey, &keys.ServerKey); err != nil {
			return storage.Account{}, err
		}
		found = true
		acct.Disabled = disabled
		acct.Temporary = temporary
		acct.Created = time.UnixMicro(created).UTC()
		keys.Iterations = int(iterations.Int64)
		switch {
		case !hash.Valid: // account without credentials (LEFT JOIN miss)
		case hash.String == hashSHA1:
			acct.Credentials.SHA1 = keys
		case hash.String == hashSHA256:
			acct.Credentials.SHA256 = keys
		default:
			// Written by a newer binary with the same schema version;
			// ignoring it is safe, the hashes known here still work.
		}
	}
	if err := rows.Err(); err != nil {
		return storage.Account{}, err
	}
	if !found {
		return storage.Account{}, storage.ErrNotFound
	}
	return acct, nil
}

// AccountExists implements storage.Accounts.
func (db *DB) AccountExists(ctx context.Context, jid string) (bool, error) {
	var exists bool
	if err := db.existsStmt.QueryRowContext(ctx, jid).Scan(&exists); err != nil {
		return false, fmt.Errorf("sqlite: checking account %s: %w", jid, err)
	}
	return exists, nil
}

// ListAccounts implements storage.Accounts. SQLite's default BINARY
// collation makes ORDER BY sort in byte order.
func (db *DB) ListAccounts(ctx context.Context, domain string) ([]string, error) {
	var (
		rows *sql.Rows
		err  error
	)
	if domain == "" {
		rows, err = db.read.QueryContext(ctx, `SELECT jid FROM accounts WHERE temporary = 0 ORDER BY jid`)
	} else {
		rows, err = db.read.QueryContext(ctx, `SELECT jid FROM accounts WHERE domain = ? AND temporary = 0 ORDER BY jid`, domain)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: listing accounts of %q: %w", domain, err)
	}
	defer rows.Close()
	var jids []string
	for rows.Next() {
		var jid string
		if err := rows.Scan(&jid); err != nil {
			return nil, fmt.Errorf("sqlite: listing accounts of %q: %w", domain, err)
		}
		jids = append(jids, jid)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: listing accounts of %q: %w", domain, err)
	}
	return jids, nil
}

// inTx runs fn in a write transaction (BEGIN IMMEDIATE) and commits it, or
// rolls it back if fn or the commit fails.
func (db *DB) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback() // fn's error is the one worth reporting
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

// mustAffect turns a statement that changed no row into storage.ErrNotFound.
func mustAffect(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return storage.ErrNotFound
	}
	return nil
}
