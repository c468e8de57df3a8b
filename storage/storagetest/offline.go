package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/herald-im/herald/storage"
)

// OfflineStore is what TestOffline needs: offline messages, and accounts to
// own them.
type OfflineStore interface {
	storage.Accounts
	storage.Offline
}

// NewOfflineStore returns an empty store for one subtest; it must register
// any cleanup with t.Cleanup.
type NewOfflineStore func(t *testing.T) OfflineStore

// TestOffline runs the storage.Offline conformance tests (XEP-0160) against
// the stores that newStore returns, one fresh store per subtest.
func TestOffline(t *testing.T, newStore NewOfflineStore) {
	ctx := t.Context()
	const (
		juliet = "juliet@example.com"
		romeo  = "romeo@example.net"
		quota  = 100
	)
	msg := func(i int) []byte {
		return fmt.Appendf(nil, "<message to='%s' id='m%d'><body>O blessed night ✓ %d</body></message>", juliet, i, i)
	}
	// Not rounded to microseconds, in a zone other than UTC.
	base := time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.FixedZone("CET", 3600))

	t.Run("Empty", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, juliet, storage.Credentials{})
		for _, owner := range []string{juliet, "nobody@example.com"} {
			if msgs := mustOffline(t, s, owner, 0); len(msgs) != 0 {
				t.Errorf("OfflineMessages(%s) = %v, want none", owner, msgs)
			}
			if n := mustCount(t, s, owner); n != 0 {
				t.Errorf("CountOffline(%s) = %d, want 0", owner, n)
			}
		}
	})

	t.Run("StoreThenRead", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, juliet, storage.Credentials{})
		var ids []int64
		for i := range 5 {
			ids = append(ids, mustStore(t, s, juliet, msg(i), base.Add(time.Duration(i)*time.Second), quota))
		}
		if !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != len(ids) {
			t.Errorf("IDs %v are not increasing", ids)
		}
		msgs := mustOffline(t, s, juliet, 0)
		if len(msgs) != 5 {
			t.Fatalf("%d messages, want 5", len(msgs))
		}
		for i, m := range msgs {
			want := base.Add(time.Duration(i) * time.Second).Truncate(time.Microsecond)
			if m.ID != ids[i] || !bytes.Equal(m.Stanza, msg(i)) || !m.Stored.Equal(want) {
				t.Errorf("message %d = {%d %q %v}, want {%d %q %v}", i, m.ID, m.Stanza, m.Stored, ids[i], msg(i), want)
			}
		}
		if n := mustCount(t, s, juliet); n != 5 {
			t.Errorf("CountOffline = %d, want 5", n)
		}
		// Reading does not remove them.
		if again := mustOffline(t, s, juliet, 0); len(again) != 5 {
			t.Errorf("a second read found %d messages, want 5", len(again))
		}
	})

	t.Run("OrderIsArrivalOrder", func(t *testing.T) {
		// Stored times need not increase (clocks step back); the order is
		// the order of arrival.
		s := newStore(t)
		mustCreate(t, s, juliet, storage.Credentials{})
		for i := range 4 {
			mustStore(t, s, juliet, msg(i), base.Add(-time.Duration(i)*time.Hour), quota)
		}
		assertOfflineStanzas(t, mustOffline(t, s, juliet, 0), msg(0), msg(1), msg(2), msg(3))
	})

	t.Run("Limit", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, juliet, storage.Credentials{})
		for i := range 4 {
			mustStore(t, s, juliet, msg(i), base, quota)
		}
		for _, tc := range []struct{ limit, want int }{{1, 1}, {3, 3}, {4, 4}, {10, 4}, {0, 4}, {-1, 4}} {
			got := mustOffline(t, s, juliet, tc.limit)
			if len(got) != tc.want {
				t.Errorf("OfflineMessages(limit %d) returned %d messages, want %d", tc.limit, len(got), tc.want)
				continue
			}
			assertOfflineStanzas(t, got, [][]byte{msg(0), msg(1), msg(2), msg(3)}[:tc.want]...)
		}
	})

	t.Run("StanzaBytesKept", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, juliet, storage.Credentials{})
		raw := []byte{0, '<', 0xff, 0xc3, 0x28, '>', 0}
		mustStore(t, s, juliet, raw, base, quota)
		assertOfflineStanzas(t, mustOffline(t, s, juliet, 0), raw)
	})

	t.Run("Quota", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, juliet, storage.Credentials{})
		mustCreate(t, s, romeo, storage.Credentials{})
		for i := range 3 {
			mustStore(t, s, juliet, msg(i), base, 3)
		}
		if _, err := s.StoreOffline(ctx, juliet, msg(3), base, 3); !errors.Is(err, storage.ErrQuotaExceeded) {
			t.Errorf("fourth StoreOffline with quota 3 = %v, want ErrQuotaExceeded", err)
		}
		// A larger quota admits more; a smaller one refuses.
		mustStore(t, s, juliet, msg(3), base, 4)
		if _, err := s.StoreOffline(ctx, juliet, msg(4), base, 2); !errors.Is(err, storage.ErrQuotaExceeded) {
			t.Errorf("StoreOffline over a smaller quota = %v, want ErrQuotaExceeded", err)
		}
		assertOfflineStanzas(t, mustOffline(t, s, juliet, 0), msg(0), msg(1), msg(2), msg(3))
		// The quota is per owner.
		mustStore(t, s, romeo, msg(9), base, 1)
		// Delivery frees room.
		first := mustOffline(t, s, juliet, 1)
		if err := s.DeleteOffline(ctx, juliet, []int64{first[0].ID}); err != nil {
			t.Fatal(err)
		}
		mustStore(t, s, juliet, msg(5), base, 4)
		assertOfflineStanzas(t, mustOffline(t, s, juliet, 0), msg(1), msg(2), msg(3), msg(5))
		for _, q := range []int{0, -1} {
			if _, err := s.StoreOffline(ctx, "romeo@example.net", msg(10), base, q); !errors.Is(err, storage.ErrQuotaExceeded) {
				t.Errorf("StoreOffline with quota %d = %v, want ErrQuotaExceeded", q, err)
			}
		}
		if n := mustCount(t, s, romeo); n != 1 {
			t.Errorf("romeo has %d messages, want 1", n)
		}
	})

	t.Run("ConcurrentQuota", func(t *testing.T) {
		// The quota check and the append are atomic: concurrent stores
		// never overshoot it.
		s := newStore(t)
		mustCreate(t, s, juliet, storage.Credentials{})
		const tries, limit = 24, 10
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			stored   int
			exceeded int
		)
		for i := range tries {
			wg.Go(func() {
				_, err := s.StoreOffline(ctx, juliet, msg(i), base, limit)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					stored++
				case errors.Is(err, storage.ErrQuotaExceeded):
					exceeded++
				default:
					t.Errorf("StoreOffline: %v", err)
				}
			})
		}
		wg.Wait()
		if stored != limit || exceeded != tries-limit {
			t.Errorf("%d stored, %d over quota; want %d and %d", stored, exceeded, limit, tries-limit)
		}
		if n := mustCount(t, s, juliet); n != limit {
			t.Errorf("CountOffline = %d, want %d", n, limit)
		}
	})

	t.Run("DeleteAfterDelivery", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, juliet, storage.Credentials{})
		mustCreate(t, s, romeo, storage.Credentials{})
		for i := range 5 {
			mustStore(t, s, juliet, msg(i), base, quota)
		}
		romeoID := mustStore(t, s, romeo, msg(100), base, quota)
		// Deliver the first two (as a login would, one batch at a time).
		batch := mustOffline(t, s, juliet, 2)
		if err := s.DeleteOffline(ctx, juliet, []int64{batch[0].ID, batch[1].ID}); err != nil {
			t.Fatalf("DeleteOffline: %v", err)
		}
		assertOfflineStanzas(t, mustOffline(t, s, juliet, 0), msg(2), msg(3), msg(4))
		// Repeating a deletion, deleting nothing, unknown IDs and another
		// owner's ID are harmless and remove nothing else.
		for _, ids := range [][]int64{{batch[0].ID}, nil, {}, {-1, 1 << 60}, {romeoID}} {
			if err := s.DeleteOffline(ctx, juliet, ids); err != nil {
				t.Errorf("DeleteOffline(%v) = %v, want nil", ids, err)
			}
		}
		assertOfflineStanzas(t, mustOffline(t, s, juliet, 0), msg(2), msg(3), msg(4))
		assertOfflineStanzas(t, mustOffline(t, s, romeo, 0), msg(100))
		if n := mustCount(t, s, juliet); n != 3 {
			t.Errorf("CountOffline = %d, want 3", n)
		}
	})

	t.Run("IDsNotReused", func(t *testing.T) {
		// A second session deleting an ID it delivered after the first one
		// already did must not remove a message stored since.
		s := newStore(t)
		mustCreate(t, s, juliet, storage.Credentials{})
		mustStore(t, s, juliet, msg(0), base, quota)
		last := mustStore(t, s, juliet, msg(1), base, quota)
		all := mustOffline(t, s, juliet, 0)
		var ids []int64
		for _, m := range all {
			ids = append(ids, m.ID)
		}
		if err := s.DeleteOffline(ctx, juliet, ids); err != nil {
			t.Fatal(err)
		}
		fresh := mustStore(t, s, juliet, msg(2), base, quota)
		if fresh <= last {
			t.Errorf("new message got ID %d, not above the deleted %d", fresh, last)
		}
		if err := s.DeleteOffline(ctx, juliet, ids); err != nil { // the stale deletion
			t.Fatal(err)
		}
		assertOfflineStanzas(t, mustOffline(t, s, juliet, 0), msg(2))
	})

	t.Run("Invalid", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, juliet, storage.Credentials{})
		if _, err := s.StoreOffline(ctx, juliet, nil, base, quota); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("StoreOffline(empty stanza) = %v, want ErrInvalid", err)
		}
		if n := mustCount(t, s, juliet); n != 0 {
			t.Errorf("CountOffline = %d, want 0", n)
		}
	})

	t.Run("UnknownOwner", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.StoreOffline(ctx, juliet, msg(0), base, quota); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("StoreOffline for a missing account = %v, want ErrNotFound", err)
		}
		if err := s.DeleteOffline(ctx, juliet, []int64{1}); err != nil {
			t.Errorf("DeleteOffline for a missing account = %v, want nil", err)
		}
	})

	t.Run("DeletedWithAccount", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, juliet, storage.Credentials{})
		mustCreate(t, s, romeo, storage.Credentials{})
		for i := range 3 {
			mustStore(t, s, juliet, msg(i), base, quota)
		}
		mustStore(t, s, romeo, msg(100), base, quota)
		if err := s.DeleteAccount(ctx, juliet); err != nil {
			t.Fatal(err)
		}
		mustCreate(t, s, juliet, storage.Credentials{})
		if n := mustCount(t, s, juliet); n != 0 {
			t.Errorf("re-created account has %d offline messages", n)
		}
		// The quota starts afresh.
		mustStore(t, s, juliet, msg(7), base, 1)
		assertOfflineStanzas(t, mustOffline(t, s, romeo, 0), msg(100))
	})

	t.Run("CanceledContext", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, juliet, storage.Credentials{})
		id := mustStore(t, s, juliet, msg(0), base, quota)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		calls := map[string]func() error{
			"StoreOffline":    func() error { _, err := s.StoreOffline(cctx, juliet, msg(1), base, quota); return err },
			"OfflineMessages": func() error { _, err := s.OfflineMessages(cctx, juliet, 0); return err },
			"DeleteOffline":   func() error { return s.DeleteOffline(cctx, juliet, []int64{id}) },
			"CountOffline":    func() error { _, err := s.CountOffline(cctx, juliet); return err },
		}
		for name, call := range calls {
			if err := call(); !errors.Is(err, context.Canceled) {
				t.Errorf("%s with canceled context = %v, want context.Canceled", name, err)
			}
		}
		assertOfflineStanzas(t, mustOffline(t, s, juliet, 0), msg(0))
	})
}

func mustStore(t *testing.T, s storage.Offline, owner string, stanza []byte, at time.Time, quota int) int64 {
	t.Helper()
	id, err := s.StoreOffline(t.Context(), owner, stanza, at, quota)
	if err != nil {
		t.Fatalf("StoreOffline(%s): %v", owner, err)
	}
	return id
}

func mustOffline(t *testing.T, s storage.Offline, owner string, limit int) []storage.OfflineMessage {
	t.Helper()
	msgs, err := s.OfflineMessages(t.Context(), owner, limit)
	if err != nil {
		t.Fatalf("OfflineMessages(%s, %d): %v", owner, limit, err)
	}
	return msgs
}

func mustCount(t *testing.T, s storage.Offline, owner string) int {
	t.Helper()
	n, err := s.CountOffline(t.Context(), owner)
	if err != nil {
		t.Fatalf("CountOffline(%s): %v", owner, err)
	}
	return n
}

// assertOfflineStanzas checks that msgs hold exactly the stanzas want, in
// order.
func assertOfflineStanzas(t *testing.T, msgs []storage.OfflineMessage, want ...[]byte) {
	t.Helper()
	got := make([][]byte, len(msgs))
	for i, m := range msgs {
		got[i] = m.Stanza
	}
	if !slices.EqualFunc(got, want, bytes.Equal) {
		t.Errorf("offline stanzas =\n\t%q\nwant\n\t%q", got, want)
	}
}
