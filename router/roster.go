package router

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/beevik/etree"

	"github.com/herald-im/herald/jid"
	"github.com/herald-im/herald/router/subscription"
	"github.com/herald-im/herald/storage"
	"github.com/herald-im/herald/stream"
)

// NSRoster is the roster namespace (RFC 6121 §2).
const NSRoster = "jabber:iq:roster"

// Limits on roster item fields (RFC 6121 §2.3.3 leaves them to the server).
const (
	MaxRosterNameBytes  = 1023
	MaxRosterGroupBytes = 1023
	MaxRosterGroups     = 64
)

const rosterStripes = 256

// rosterStripe serialises every roster read-modify-write of the owners
// hashed to it, and holds the cached rosters of those owners that are
// online. Lock order: a stripe lock may be held while taking a shard lock
// (to see whether the owner is online), never the reverse, and never while
// calling a Session.
type rosterStripe struct {
	mu     sync.Mutex
	caches map[jid.JID]*rosterCache
}

// rosterCache is the in-memory roster of an online account.
type rosterCache struct {
	items   map[jid.JID]storage.RosterItem
	version int64
}

type rosters struct {
	seed    maphash.Seed
	stripes [rosterStripes]rosterStripe
}

func newRosters() *rosters {
	rs := &rosters{seed: maphash.MakeSeed()}
	for i := range rs.stripes {
		rs.stripes[i].caches = make(map[jid.JID]*rosterCache)
	}
	return rs
}

func (rs *rosters) stripe(owner jid.JID) *rosterStripe {
	return &rs.stripes[maphash.String(rs.seed, owner.String())%rosterStripes]
}

// rosterTx is a roster being read or changed under its stripe lock.
type rosterTx struct {
	r     *Router
	owner jid.JID
	st    *rosterStripe
	cache *rosterCache // nil when the owner is offline: storage is used directly
}

// lockRoster locks owner's roster. With the owner online, its roster is
// loaded into the cache on first use.
func (r *Router) lockRoster(ctx context.Context, owner jid.JID) (*rosterTx, error) {
	st := r.rosters.stripe(owner)
	st.mu.Lock()
	tx := &rosterTx{r: r, owner: owner, st: st}
	if c, ok := st.caches[owner]; ok {
		tx.cache = c
		return tx, nil
	}
	var buf [1]target
	if len(r.table.resources(buf[:0], owner)) == 0 {
		return tx, nil
	}
	items, version, err := r.store.Rosters.Roster(ctx, owner.String())
	if err != nil {
		st.mu.Unlock()
		return nil, fmt.Errorf("load roster of %s: %w", owner, err)
	}
	c := &rosterCache{items: make(map[jid.JID]storage.RosterItem, len(items)), version: version}
	for _, it := range items {
		if j, err := jid.Parse(it.Contact); err == nil {
			c.items[j] = it
		}
	}
	st.caches[owner] = c
	tx.cache = c
	return tx, nil
}

func (tx *rosterTx) unlock() { tx.st.mu.Unlock() }

// forget drops the cached roster of an owner that went offline.
func (r *Router) forgetRoster(owner jid.JID) {
	st := r.rosters.stripe(owner)
	st.mu.Lock()
	var buf [1]target
	if len(r.table.resources(buf[:0], owner)) == 0 {
		delete(st.caches, owner)
	}
	st.mu.Unlock()
}

// item returns the owner's item for contact.
func (tx *rosterTx) item(ctx context.Context, contact jid.JID) (storage.RosterItem, bool, error) {
	if tx.cache != nil {
		it, ok := tx.cache.items[contact]
		return it, ok, nil
	}
	it, err := tx.r.store.Rosters.RosterItem(ctx, tx.owner.String(), contact.String())
	if errors.Is(err, storage.ErrNotFound) {
		return storage.RosterItem{}, false, nil
	}
	if err != nil {
		return storage.RosterItem{}, false, fmt.Errorf("read roster item: %w", err)
	}
	return it, true, nil
}

// put stores an item and returns it with its new version.
func (tx *rosterTx) put(ctx context.Context, it storage.RosterItem) (storage.RosterItem, error) {
	v, err := tx.r.store.Rosters.PutRosterItem(ctx, tx.owner.String(), it)
	if err != nil {
		return it, fmt.Errorf("store roster item: %w", err)
	}
	it.Version = v
	if tx.cache != nil {
		if c, err := jid.Parse(it.Contact); err == nil {
			tx.cache.items[c] = it
		}
		tx.cache.version = v
	}
	return it, nil
}

// remove deletes an item and returns the new roster version.
func (tx *rosterTx) remove(ctx context.Context, contact jid.JID) (int64, error) {
	v, err := tx.r.store.Rosters.DeleteRosterItem(ctx, tx.owner.String(), contact.String())
	if err != nil {
		return 0, fmt.Errorf("delete roster item: %w", err)
	}
	if tx.cache != nil {
		delete(tx.cache.items, contact)
		tx.cache.version = v
	}
	return v, nil
}

// all returns every item and the roster version.
func (tx *rosterTx) all(ctx context.Context) ([]storage.RosterItem, int64, error) {
	if tx.cache != nil {
		items := make([]storage.RosterItem, 0, len(tx.cache.items))
		for _, it := range tx.cache.items {
			items = append(items, it)
		}
		slices.SortFunc(items, func(a, b storage.RosterItem) int { return strings.Compare(a.Contact, b.Contact) })
		return items, tx.cache.version, nil
	}
	items, v, err := tx.r.store.Rosters.Roster(ctx, tx.owner.String())
	if err != nil {
		return nil, 0, fmt.Errorf("read roster: %w", err)
	}
	return items, v, nil
}

// contacts returns the contacts whose items satisfy keep.
func (tx *rosterTx) contacts(ctx context.Context, keep func(storage.RosterItem) bool) ([]jid.JID, error) {
	items, _, err := tx.all(ctx)
	if err != nil {
		return nil, err
	}
	var out []jid.JID
	for _, it := range items {
		if keep(it) {
			if j, err := jid.Parse(it.Contact); err == nil {
				out = append(out, j)
			}
		}
	}
	return out, nil
}

// subscribers returns the contacts subscribed to owner's presence (From or
// Both, RFC 6121 §4.2.2), and the contacts owner is subscribed to (To or
// Both), the targets of presence probes (§4.3.1).
func (r *Router) subscribers(ctx context.Context, owner jid.JID) (from, to []jid.JID, err error) {
	tx, err := r.lockRoster(ctx, owner)
	if err != nil {
		return nil, nil, err
	}
	defer tx.unlock()
	from, err = tx.contacts(ctx, func(it storage.RosterItem) bool { return it.Subscription.From() })
	if err != nil {
		return nil, nil, err
	}
	to, err = tx.contacts(ctx, func(it storage.RosterItem) bool { return it.Subscription.To() })
	return from, to, err
}

// stateOf and withState translate between stored items and the state
// machine's view (RFC 6121 App. A).
func stateOf(it storage.RosterItem) subscription.State {
	var s subscription.Sub
	switch it.Subscription {
	case storage.SubTo:
		s = subscription.To
	case storage.SubFrom:
		s = subscription.From
	case storage.SubBoth:
		s = subscription.Both
	default:
		s = subscription.None
	}
	return subscription.State{Sub: s, PendingOut: it.PendingOut, PendingIn: it.PendingIn}
}

func withState(it storage.RosterItem, s subscription.State) storage.RosterItem {
	switch s.Sub {
	case subscription.To:
		it.Subscription = storage.SubTo
	case subscription.From:
		it.Subscription = storage.SubFrom
	case subscription.Both:
		it.Subscription = storage.SubBoth
	default:
		it.Subscription = storage.SubNone
	}
	it.PendingOut, it.PendingIn = s.PendingOut, s.PendingIn
	return it
}

// RosterItemElement renders an item as in RFC 6121 §2.1.2; removed renders
// subscription='remove' for a push of a deleted item.
func RosterItemElement(it storage.RosterItem, removed bool) *etree.Element {
	el := etree.NewElement("item")
	el.CreateAttr("jid", it.Contact)
	if removed {
		el.CreateAttr("subscription", "remove")
		return el
	}
	if it.Name != "" {
		el.CreateAttr("name", it.Name)
	}
	el.CreateAttr("subscription", it.Subscription.String())
	if it.PendingOut {
		el.CreateAttr("ask", "subscribe")
	}
	if it.PreApproved {
		el.CreateAttr("approved", "true") // RFC 6121 §2.1.2.1
	}
	for _, g := range it.Groups {
		el.CreateElement("group").SetText(g)
	}
	return el
}

// pushRoster sends a roster push (RFC 6121 §2.1.6) of one item to every
// interested resource of owner, or only to one resource when only is set.
func (r *Router) pushRoster(owner jid.JID, it storage.RosterItem, removed bool, version int64, only jid.JID) {
	q := etree.NewElement("query")
	q.CreateAttr("xmlns", NSRoster)
	q.CreateAttr("ver", strconv.FormatInt(version, 10))
	q.AddChild(RosterItemElement(it, removed))
	r.pushIQ(owner, q, func(t target) bool {
		if !only.IsZero() {
			return t.sess.JID() == only
		}
		return t.interested
	})
}

// markInterested records that a resource requested the roster, which makes
// it receive roster pushes (RFC 6121 §2.1.6 "interested resource").
func (r *Router) markInterested(full jid.JID) {
	r.table.updateJID(full, func(res *resource) { res.interested = true })
}

// Roster returns the roster of requester's account and marks requester as
// an interested resource (RFC 6121 §2.1.3).
func (r *Router) Roster(ctx context.Context, requester jid.JID) ([]storage.RosterItem, int64, error) {
	r.markInterested(requester)
	tx, err := r.lockRoster(ctx, requester.Bare())
	if err != nil {
		return nil, 0, err
	}
	defer tx.unlock()
	return tx.all(ctx)
}

// RosterChangesSince answers a versioned roster get (RFC 6121 §2.6.3): the
// changes after since, or ok=false when the full roster must be sent.
func (r *Router) RosterChangesSince(ctx context.Context, requester jid.JID, since int64) ([]storage.RosterChange, int64, bool, error) {
	r.markInterested(requester)
	tx, err := r.lockRoster(ctx, requester.Bare())
	if err != nil {
		return nil, 0, false, err
	}
	defer tx.unlock()
	if tx.cache != nil && since == tx.cache.version {
		return nil, since, true, nil
	}
	changes, current, ok, err := r.store.Rosters.RosterChangesSince(ctx, requester.Bare().String(), since)
	if err != nil {
		return nil, 0, false, fmt.Errorf("roster changes: %w", err)
	}
	return changes, current, ok, nil
}

// PushRosterChanges sends the changes of a versioned roster get to the one
// resource that asked, as pushes (RFC 6121 §2.6.3).
func (r *Router) PushRosterChanges(requester jid.JID, changes []storage.RosterChange) {
	for _, ch := range changes {
		r.pushRoster(requester.Bare(), ch.Item, ch.Deleted, ch.Item.Version, requester)
	}
}

// RosterUpdate is what a roster set may change (RFC 6121 §2.3, §2.4): the
// subscription fields are the server's to manage.
type RosterUpdate struct {
	Contact jid.JID
	Name    string
	Groups  []string
}

// SetRosterItem adds or updates an item (RFC 6121 §2.3, §2.4) and pushes it
// to the account's interested resources.
func (r *Router) SetRosterItem(ctx context.Context, requester jid.JID, u RosterUpdate) error {
	owner := requester.Bare()
	if !u.Contact.IsBare() {
		return stream.NewStanzaError(stream.BadRequest, "a roster item's jid must be a bare JID")
	}
	tx, err := r.lockRoster(ctx, owner)
	if err != nil {
		return err
	}
	it, _, err := tx.item(ctx, u.Contact)
	if err != nil {
		tx.unlock()
		return err
	}
	it.Contact = u.Contact.String()
	it.Name = u.Name
	it.Groups = u.Groups
	it, err = tx.put(ctx, it)
	tx.unlock()
	if err != nil {
		return err
	}
	r.pushRoster(owner, it, false, it.Version, jid.JID{})
	return nil
}

// RemoveRosterItem deletes an item (RFC 6121 §2.5). Removing a contact also
// ends the subscriptions in both directions: the server sends unsubscribe
// and unsubscribed as the state requires (§2.5.2) and unavailable presence
// to a contact that was subscribed to the user.
func (r *Router) RemoveRosterItem(ctx context.Context, requester jid.JID, contact jid.JID) error {
	owner := requester.Bare()
	tx, err := r.lockRoster(ctx, owner)
	if err != nil {
		return err
	}
	it, ok, err := tx.item(ctx, contact)
	if err != nil {
		tx.unlock()
		return err
	}
	if !ok {
		tx.unlock()
		return stream.NewStanzaError(stream.ItemNotFound, "%s is not in the roster", contact)
	}
	res := subscription.Remove(stateOf(it))
	version, err := tx.remove(ctx, contact)
	tx.unlock()
	if err != nil {
		return err
	}
	if err := r.store.Requests.DeleteSubscriptionRequest(ctx, owner.String(), contact.String()); err != nil {
		r.log.Error("router: delete subscription request", "err", err)
	}
	r.pushRoster(owner, it, true, version, jid.JID{})
	if res.Unsubscribe {
		r.sendSubscription(ctx, owner, contact, subscription.Unsubscribe)
	}
	if res.SendUnavailable {
		r.sendPresenceOf(ctx, owner, contact, true)
	}
	if res.Unsubscribed {
		r.sendSubscription(ctx, owner, contact, subscription.Unsubscribed)
	}
	return nil
}
