package presrules

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/herald-im/herald/jid"
	"github.com/herald-im/herald/router"
	"github.com/herald-im/herald/storage"
)

// memStore is an in-memory storage.PresenceRules that counts reads and can
// fail or pause them.
type memStore struct {
	mu       sync.Mutex
	docs     map[string][]byte
	reads    int
	readErr  error
	putErr   error
	onRead   func(owner string) // called before a read answers, without the lock
	accounts map[string]bool    // nil: every owner has an account
}

func newMemStore() *memStore { return &memStore{docs: map[string][]byte{}} }

func (s *memStore) PresenceRules(_ context.Context, owner string) ([]byte, error) {
	s.mu.Lock()
	s.reads++
	doc, ok := s.docs[owner]
	err, hook := s.readErr, s.onRead
	s.mu.Unlock()
	if hook != nil {
		hook(owner)
	}
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("mem: %w", storage.ErrNotFound)
	}
	return bytes.Clone(doc), nil
}

func (s *memStore) PutPresenceRules(_ context.Context, owner string, doc []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.putErr != nil {
		return s.putErr
	}
	if s.accounts != nil && !s.accounts[owner] {
		return fmt.Errorf("mem: %w", storage.ErrNotFound)
	}
	s.docs[owner] = bytes.Clone(doc)
	return nil
}

func (s *memStore) DeletePresenceRules(_ context.Context, owner string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.docs[owner]; !ok {
		return fmt.Errorf("mem: %w", storage.ErrNotFound)
	}
	delete(s.docs, owner)
	return nil
}

func (s *memStore) readCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads
}

// element parses XML for SetRules.
func element(t testing.TB, s string) *etree.Element {
	t.Helper()
	d := etree.NewDocument()
	if err := d.ReadFromString(s); err != nil {
		t.Fatalf("bad test XML: %v", err)
	}
	return d.Root()
}

var (
	juliet = jid.MustParse("juliet@example.com")
	romeo  = jid.MustParse("romeo@example.net")
	tybalt = jid.MustParse("tybalt@example.com")
)

func decide(t testing.TB, e *Engine, user, requester jid.JID) router.SubHandling {
	t.Helper()
	return e.SubscriptionRequest(context.Background(), user, requester)
}

// TestEngineWithoutRulesConfirms checks that a user without a document
// keeps the ordinary flow (RFC 6121 §3.1.3), and that the answer is cached:
// the store is read once.
func TestEngineWithoutRulesConfirms(t *testing.T) {
	s := newMemStore()
	e := New(s, nil)
	for range 3 {
		if got := decide(t, e, juliet, romeo); got != router.SubConfirm {
			t.Fatalf("SubscriptionRequest = %v, want SubConfirm", got)
		}
	}
	if got := decide(t, e, jid.MustParse("juliet@example.com/balcony"), tybalt); got != router.SubConfirm {
		t.Fatalf("SubscriptionRequest = %v, want SubConfirm", got)
	}
	if n := s.readCount(); n != 1 {
		t.Errorf("%d reads for four requests to one user, want 1", n)
	}
	if rules, err := e.Rules(context.Background(), juliet); err != nil || rules != nil {
		t.Errorf("Rules = %v, %v; want none", rules, err)
	}
}

// TestEngineSetDecideDelete stores rules, checks the decisions they make
// (RFC 5025's block default for requesters no rule names), replaces them,
// removes them, and checks that each change is seen at once.
func TestEngineSetDecideDelete(t *testing.T) {
	ctx := context.Background()
	s := newMemStore()
	e := New(s, nil)
	decide(t, e, juliet, romeo) // caches "no document"
	if err := e.SetRules(ctx, juliet, element(t, doc(rule("r", `<identity><one id="xmpp:romeo@example.net"/></identity>`, "allow")))); err != nil {
		t.Fatal(err)
	}
	if got := decide(t, e, juliet, romeo); got != router.SubAllow {
		t.Errorf("romeo: %v, want SubAllow", got)
	}
	if got := decide(t, e, juliet, tybalt); got != router.SubBlock {
		t.Errorf("tybalt (no rule applies): %v, want SubBlock", got)
	}
	reads := s.readCount()
	decide(t, e, juliet, romeo)
	if n := s.readCount(); n != reads {
		t.Errorf("a cached document was read again (%d reads, then %d)", reads, n)
	}
	// The stored bytes are the canonical form, and Rules gives them back.
	rules, err := e.Rules(ctx, juliet)
	if err != nil || rules == nil {
		t.Fatalf("Rules = %v, %v", rules, err)
	}
	d := etree.NewDocument()
	d.SetRoot(rules)
	got, _ := d.WriteToString()
	if want := string(s.docs["juliet@example.com"]); got != want || !strings.HasPrefix(want, `<ruleset xmlns="urn:ietf:params:xml:ns:common-policy"><rule id="r">`) {
		t.Errorf("Rules = %s, stored %s", got, want)
	}

	// Replace: tybalt polite-blocked, romeo now only confirmed.
	if err := e.SetRules(ctx, juliet, element(t, doc(
		rule("t", `<identity><one id="tybalt@example.com"/></identity>`, "polite-block"),
		rule("all", `<identity><many/></identity>`, "confirm")))); err != nil {
		t.Fatal(err)
	}
	for who, want := range map[jid.JID]router.SubHandling{romeo: router.SubConfirm, tybalt: router.SubPoliteBlock} {
		if got := decide(t, e, juliet, who); got != want {
			t.Errorf("%s after the change: %v, want %v", who, got, want)
		}
	}
	// Other users are unaffected.
	if got := decide(t, e, romeo, tybalt); got != router.SubConfirm {
		t.Errorf("romeo's requests: %v, want SubConfirm", got)
	}
	// Delete, twice.
	for range 2 {
		if err := e.DeleteRules(ctx, juliet); err != nil {
			t.Fatal(err)
		}
		if got := decide(t, e, juliet, tybalt); got != router.SubConfirm {
			t.Errorf("after DeleteRules: %v, want SubConfirm", got)
		}
	}
	if _, ok := s.docs["juliet@example.com"]; ok {
		t.Error("the document is still stored")
	}
}

// TestEngineRefusesInvalid checks that an invalid or too large document is
// not stored and leaves the current one in force.
func TestEngineRefusesInvalid(t *testing.T) {
	ctx := context.Background()
	s := newMemStore()
	e := New(s, nil, WithLimits(Limits{MaxRules: 2}))
	valid := doc(rule("a", `<identity><one id="romeo@example.net"/></identity>`, "allow"))
	if err := e.SetRules(ctx, juliet, element(t, valid)); err != nil {
		t.Fatal(err)
	}
	stored := string(s.docs["juliet@example.com"])
	for _, tc := range []struct {
		xml  string
		want error
	}{
		{doc(rule("a", "", "maybe")), ErrInvalid},
		{`<ruleset xmlns="urn:other"/>`, ErrInvalid},
		{doc(rule("a", "", ""), rule("b", "", ""), rule("c", "", "")), ErrLimit},
	} {
		if err := e.SetRules(ctx, juliet, element(t, tc.xml)); !errors.Is(err, tc.want) {
			t.Errorf("SetRules(%s) = %v, want %v", tc.xml, err, tc.want)
		}
	}
	if err := e.SetRules(ctx, juliet, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("SetRules(nil) = %v, want ErrInvalid", err)
	}
	if string(s.docs["juliet@example.com"]) != stored {
		t.Errorf("stored document changed to %s", s.docs["juliet@example.com"])
	}
	if got := decide(t, e, juliet, romeo); got != router.SubAllow {
		t.Errorf("romeo after refused changes: %v, want SubAllow", got)
	}
	// Documents stored under earlier, higher limits stay readable.
	s.docs["juliet@example.com"] = []byte(doc(rule("a", "", "confirm"), rule("b", "", ""), rule("c", "", "")))
	e.Invalidate(juliet)
	if got := decide(t, e, juliet, romeo); got != router.SubConfirm {
		t.Errorf("document beyond the current limits: %v, want SubConfirm from its rules", got)
	}
}

// TestEngineStorageTrouble checks that storage errors and unreadable
// documents fall back to asking the user, are not cached, and are reported
// by the management calls.
func TestEngineStorageTrouble(t *testing.T) {
	ctx := context.Background()
	s := newMemStore()
	e := New(s, nil)
	s.docs["juliet@example.com"] = []byte(doc(rule("a", "", "block")))
	s.readErr = errors.New("disk on fire")
	if got := decide(t, e, juliet, romeo); got != router.SubConfirm {
		t.Errorf("read error: %v, want SubConfirm", got)
	}
	if _, err := e.Rules(ctx, juliet); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("Rules with a read error = %v", err)
	}
	s.readErr = nil
	if got := decide(t, e, juliet, romeo); got != router.SubBlock {
		t.Errorf("after the error cleared: %v, want SubBlock (the error was cached)", got)
	}

	s.docs["romeo@example.net"] = []byte("<ruleset xmlns='urn:ietf:params:xml:ns:common-policy'><rule/></ruleset>")
	if got := decide(t, e, romeo, juliet); got != router.SubConfirm {
		t.Errorf("unreadable document: %v, want SubConfirm", got)
	}
	if _, err := e.Rules(ctx, romeo); err == nil || errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "unreadable") {
		t.Errorf("Rules of an unreadable document = %v, want an internal error (not the user's ErrInvalid)", err)
	}

	s.putErr = errors.New("disk full")
	if err := e.SetRules(ctx, juliet, element(t, doc())); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("SetRules with a write error = %v", err)
	}
	s.putErr = nil
	s.accounts = map[string]bool{}
	if err := e.SetRules(ctx, juliet, element(t, doc())); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("SetRules without an account = %v, want storage.ErrNotFound", err)
	}
}

// TestEngineReadRacingWithChange checks that a document read from storage
// while the owner's rules change is not cached: the next decision sees the
// change.
func TestEngineReadRacingWithChange(t *testing.T) {
	ctx := context.Background()
	s := newMemStore()
	e := New(s, nil)
	reading, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	s.onRead = func(string) {
		once.Do(func() {
			close(reading)
			<-release
		})
	}
	done := make(chan router.SubHandling)
	go func() { done <- e.SubscriptionRequest(ctx, juliet, romeo) }()
	<-reading // the read has seen "no document"
	if err := e.SetRules(ctx, juliet, element(t, doc(rule("a", "", "allow")))); err != nil {
		t.Fatal(err)
	}
	close(release)
	if got := <-done; got != router.SubConfirm {
		t.Errorf("the racing request: %v, want SubConfirm (what it read)", got)
	}
	if got := decide(t, e, juliet, romeo); got != router.SubAllow {
		t.Errorf("the next request: %v, want SubAllow: the stale read was cached", got)
	}
}

// TestEngineCacheBounded checks that the cache holds at most the
// configured number of owners.
func TestEngineCacheBounded(t *testing.T) {
	s := newMemStore()
	e := New(s, nil, WithCacheSize(shardCount*2))
	for i := range 2000 {
		decide(t, e, jid.MustParse(fmt.Sprintf("u%d@example.com", i)), romeo)
	}
	total := 0
	for i := range e.shards {
		sh := &e.shards[i]
		sh.mu.RLock()
		if len(sh.docs) > 2 {
			t.Errorf("shard %d holds %d owners, want at most 2", i, len(sh.docs))
		}
		total += len(sh.docs)
		sh.mu.RUnlock()
	}
	if total == 0 || total > shardCount*2 {
		t.Errorf("%d owners cached, want 1..%d", total, shardCount*2)
	}
}

// TestEngineClock checks that validity conditions use the engine's clock.
func TestEngineClock(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e := New(newMemStore(), nil, WithClock(func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return clock
	}))
	if err := e.SetRules(ctx, juliet, element(t, doc(
		rule("trial", `<validity><from>2026-02-01T00:00:00Z</from><until>2026-03-01T00:00:00Z</until></validity>`, "allow"),
		rule("else", "", "confirm")))); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		at   time.Time
		want router.SubHandling
	}{
		{time.Date(2026, 1, 31, 23, 59, 59, 0, time.UTC), router.SubConfirm},
		{time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), router.SubAllow},
		{time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), router.SubConfirm},
	} {
		mu.Lock()
		clock = tc.at
		mu.Unlock()
		if got := decide(t, e, juliet, romeo); got != tc.want {
			t.Errorf("at %s: %v, want %v", tc.at, got, tc.want)
		}
	}
}

// TestEngineConcurrent decides requests while the rules change, for the
// race detector, and checks the final state.
func TestEngineConcurrent(t *testing.T) {
	ctx := context.Background()
	e := New(newMemStore(), nil)
	allow := element(t, doc(rule("a", "", "allow")))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				user := jid.MustParse(fmt.Sprintf("u%d@example.com", (g+i)%8))
				e.SubscriptionRequest(ctx, user, romeo)
			}
		}()
	}
	for i := range 100 {
		user := jid.MustParse(fmt.Sprintf("u%d@example.com", i%8))
		var err error
		if i%2 == 0 {
			err = e.SetRules(ctx, user, allow)
		} else {
			err = e.DeleteRules(ctx, user)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	// The last change of u0..u3 (i = 96..99) set allow for u0 and u2 and
	// removed the rules of u1 and u3.
	for i, want := range []router.SubHandling{router.SubAllow, router.SubConfirm, router.SubAllow, router.SubConfirm} {
		if got := decide(t, e, jid.MustParse(fmt.Sprintf("u%d@example.com", i)), romeo); got != want {
			t.Errorf("u%d: %v, want %v", i, got, want)
		}
	}
}

// BenchmarkSubscriptionRequestNoRules measures the hot path: a request to
// a user without rules, whose absence is cached.
func BenchmarkSubscriptionRequestNoRules(b *testing.B) {
	e := New(newMemStore(), nil)
	ctx := context.Background()
	e.SubscriptionRequest(ctx, juliet, romeo)
	b.ReportAllocs()
	for b.Loop() {
		if e.SubscriptionRequest(ctx, juliet, romeo) != router.SubConfirm {
			b.Fatal("wrong decision")
		}
	}
}

// BenchmarkSubscriptionRequestWithRules measures a request to a user with
// 50 rules, only the last of which names the requester.
func BenchmarkSubscriptionRequestWithRules(b *testing.B) {
	e := New(newMemStore(), nil)
	ctx := context.Background()
	var rules []string
	for i := range 49 {
		rules = append(rules, rule(fmt.Sprintf("r%d", i), fmt.Sprintf(`<identity><one id="xmpp:c%d@example.org"/><many domain="d%d.example"/></identity>`, i, i), "confirm"))
	}
	rules = append(rules, rule("romeo", `<identity><one id="xmpp:romeo@example.net"/></identity>`, "allow"))
	if err := e.SetRules(ctx, juliet, element(b, doc(rules...))); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if e.SubscriptionRequest(ctx, juliet, romeo) != router.SubAllow {
			b.Fatal("wrong decision")
		}
	}
}

// BenchmarkParse measures validating the RFC 5025 §6 example.
func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseBytes([]byte(rfc5025Example), Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}
