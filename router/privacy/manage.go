package privacy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/beevik/etree"

	"github.com/herald-im/herald/jid"
	"github.com/herald-im/herald/storage"
)

// Limits on what one user may store. Beyond them a change fails with an
// error wrapping ErrLimit.
const (
	// MaxLists is the number of privacy lists one user may have.
	MaxLists = 64
	// MaxRules is the number of rules in one list, blocking rules included.
	MaxRules = 2000
	// MaxNameBytes bounds a list name.
	MaxNameBytes = 1023
)

// BlocklistName is the name of the default list created when a user with no
// default list blocks a JID (XEP-0191 §5).
const BlocklistName = "blocklist"

// Errors of list management. Failures also wrap storage.ErrNotFound (no such
// list, or a group rule naming a group not in the roster), storage.ErrConflict
// (XEP-0016 §2.2 rule 11) and storage.ErrInvalid (a malformed list); test
// them with errors.Is.
var (
	// ErrLimit reports that a change would exceed MaxLists, MaxRules or
	// MaxNameBytes.
	ErrLimit = errors.New("privacy: limit exceeded")
	// ErrJIDMalformed reports a jid rule whose value is not a JID.
	ErrJIDMalformed = errors.New("privacy: malformed JID")
)

func isNotFound(err error) bool { return errors.Is(err, storage.ErrNotFound) }

// view is what applies to each of an owner's sessions at one moment.
type view struct {
	def    *list
	active map[jid.JID]*list
}

// listOf returns the list that applies to session (XEP-0016 §2.2).
func (v view) listOf(session jid.JID) *list {
	if l, ok := v.active[session]; ok && l != nil {
		return l
	}
	return v.def
}

// view returns the lists that apply to owner's sessions now.
func (e *Engine) view(ctx context.Context, bare jid.JID) (view, error) {
	snap, err := e.snapshot(ctx, bare)
	if err != nil {
		return view{}, err
	}
	v := view{def: snap.def}
	sh := e.shard(bare)
	sh.mu.RLock()
	if o := sh.owners[bare]; o != nil && len(o.active) > 0 {
		v.active = make(map[jid.JID]*list, len(o.active))
		for s, n := range o.active {
			v.active[s] = snap.lists[n]
		}
	}
	sh.mu.RUnlock()
	return v, nil
}

// change is what a management operation did, for the notifications that
// follow it.
type change struct {
	// edited are the lists whose rules changed or that were removed: each
	// gets a privacy list push (XEP-0016 §2.6).
	edited []string
	// explicit marks a blocking command, whose pushes are block, unblock
	// and unblockAll rather than the difference of the blocklists.
	explicit   bool
	block      []jid.JID
	unblock    []jid.JID
	unblockAll bool
}

// mutate runs op for the owner of session under the owner's management
// lock, then drops the cached lists and sends the pushes and presence the
// change calls for.
func (e *Engine) mutate(ctx context.Context, session jid.JID, op func(owner jid.JID, c *change) error) error {
	owner := session.Bare()
	mu := e.mgmtLock(owner)
	mu.Lock()
	defer mu.Unlock()
	before, err := e.view(ctx, owner)
	if err != nil {
		return err
	}
	var c change
	opErr := op(owner, &c)
	e.invalidate(owner) // even after a failure, storage may have changed
	if opErr != nil {
		return opErr
	}
	after, err := e.view(ctx, owner)
	if err != nil {
		// The change is stored; only the notifications are lost.
		e.log.Error("privacy: cannot reload lists after a change", "owner", owner.String(), "err", err)
		return nil
	}
	e.notify(ctx, owner, before, after, &c)
	return nil
}

// notify sends the pushes and presence a change calls for.
func (e *Engine) notify(ctx context.Context, owner jid.JID, before, after view, c *change) {
	r := e.router()
	for _, name := range c.edited {
		q := etree.NewElement("query")
		q.CreateAttr("xmlns", NSPrivacy)
		q.CreateElement("list").CreateAttr("name", name)
		r.PushIQ(owner, q, nil) // XEP-0016 §2.6: to all connected resources
	}
	block, unblock := c.block, c.unblock
	if !c.explicit {
		block, unblock = diff(before.def.blocked(), after.def.blocked())
	}
	interested := e.interested(owner)
	only := func(full jid.JID) bool { _, ok := interested[full]; return ok }
	if len(interested) > 0 {
		if len(block) > 0 {
			r.PushIQ(owner, blockingPayload("block", block), only)
		}
		if len(unblock) > 0 || c.unblockAll {
			r.PushIQ(owner, blockingPayload("unblock", unblock), only)
		}
	}
	if affectsPresence(before, kindPresenceOut) || affectsPresence(after, kindPresenceOut) {
		r.ReconcilePresence(ctx, owner,
			func(from, to jid.JID) bool {
				return e.presenceAllowed(ctx, before, from, to, kindPresenceOut) && !e.presenceAllowed(ctx, after, from, to, kindPresenceOut)
			},
			func(from, to jid.JID) bool {
				return !e.presenceAllowed(ctx, before, from, to, kindPresenceOut) && e.presenceAllowed(ctx, after, from, to, kindPresenceOut)
			})
	}
	if affectsPresence(before, kindPresenceIn) || affectsPresence(after, kindPresenceIn) {
		// Here the owner's session is the recipient, the contact the
		// sender. A rule that starts denying presence-in makes the
		// server send unavailable on the contact's behalf (XEP-0016
		// §2.10); a rule that denies everything (a block, XEP-0191 §3.3:
		// "MUST NOT deliver any XML stanzas from the JID") does not.
		// Once presence-in is allowed again, the contact's current
		// presence is sent, as a probe would have it.
		r.ReconcileInboundPresence(ctx, owner,
			func(from, to jid.JID) bool {
				if !e.presenceAllowed(ctx, before, to, from, kindPresenceIn) {
					return false
				}
				allowed, everything := e.presenceInDecision(ctx, after, to, from)
				return !allowed && !everything
			},
			func(from, to jid.JID) bool {
				return !e.presenceAllowed(ctx, before, to, from, kindPresenceIn) && e.presenceAllowed(ctx, after, to, from, kindPresenceIn)
			})
	}
}

// presenceInDecision reports whether v lets presence notifications from
// other reach session, and, when it does not, whether the rule that
// refuses them refuses every kind of stanza (a block). A failure counts as
// a block.
func (e *Engine) presenceInDecision(ctx context.Context, v view, session, other jid.JID) (allowed, everything bool) {
	if other.Bare() == session.Bare() {
		return true, false
	}
	ok, r, err := v.listOf(session).decide(ctx, e.roster, session.Bare(), other, kindPresenceIn)
	if err != nil {
		e.log.Error("privacy: cannot evaluate rules", "owner", session.Bare().String(), "err", err)
		return false, true
	}
	return ok, !ok && r != nil && r.kinds == 0
}

// presenceAllowed reports whether v lets presence notifications of kind
// bit (kindPresenceOut or kindPresenceIn) pass between session and other.
// A failure counts as a refusal.
func (e *Engine) presenceAllowed(ctx context.Context, v view, session, other jid.JID, bit uint8) bool {
	if other.Bare() == session.Bare() {
		return true
	}
	ok, _, err := v.listOf(session).decide(ctx, e.roster, session.Bare(), other, bit)
	if err != nil {
		e.log.Error("privacy: cannot evaluate rules", "owner", session.Bare().String(), "err", err)
		return false
	}
	return ok
}

// affectsPresence reports whether any list of v has a rule that can apply
// to presence notifications of kind bit.
func affectsPresence(v view, bit uint8) bool {
	check := func(l *list) bool {
		if l == nil {
			return false
		}
		for i := range l.rules {
			if k := l.rules[i].kinds; k == 0 || k&bit != 0 {
				return true
			}
		}
		return false
	}
	if check(v.def) {
		return true
	}
	for _, l := range v.active {
		if check(l) {
			return true
		}
	}
	return false
}

// diff returns what is in after and not in before, and the reverse.
func diff(before, after []jid.JID) (added, removed []jid.JID) {
	for _, j := range after {
		if !slices.Contains(before, j) {
			added = append(added, j)
		}
	}
	for _, j := range before {
		if !slices.Contains(after, j) {
			removed = append(removed, j)
		}
	}
	return added, removed
}

// blockingPayload builds a <block/> or <unblock/> push payload (XEP-0191
// §3.3–§3.5).
func blockingPayload(tag string, jids []jid.JID) *etree.Element {
	el := etree.NewElement(tag)
	el.CreateAttr("xmlns", NSBlocking)
	for _, j := range jids {
		el.CreateElement("item").CreateAttr("jid", j.String())
	}
	return el
}

// interested returns a copy of the sessions of owner that requested the
// blocklist.
func (e *Engine) interested(bare jid.JID) map[jid.JID]struct{} {
	sh := e.shard(bare)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	o := sh.owners[bare]
	if o == nil || len(o.interested) == 0 {
		return nil
	}
	out := make(map[jid.JID]struct{}, len(o.interested))
	for k := range o.interested {
		out[k] = struct{}{}
	}
	return out
}

// ListNames returns the names of the lists of session's account, the
// session's active list and the default list ("" for none) (XEP-0016
// §2.3).
func (e *Engine) ListNames(ctx context.Context, session jid.JID) (names []string, active, def string, err error) {
	names, def, err = e.lists.PrivacyListNames(ctx, session.Bare().String())
	if err != nil {
		return nil, "", "", fmt.Errorf("privacy: list names: %w", err)
	}
	return names, e.Active(session), def, nil
}

// List returns one list of session's account (XEP-0016 §2.3), failing with
// storage.ErrNotFound if there is none of that name.
func (e *Engine) List(ctx context.Context, session jid.JID, name string) (storage.PrivacyList, error) {
	l, err := e.lists.PrivacyList(ctx, session.Bare().String(), name)
	if err != nil {
		return storage.PrivacyList{}, fmt.Errorf("privacy: list %q: %w", name, err)
	}
	return l, nil
}

// PutList creates or replaces a list of session's account (XEP-0016 §2.6,
// §2.7). jid values are stored in canonical form. It pushes the list's name
// to every resource, block and unblock pushes when the default list's
// blocking rules changed, and presence when visibility changed. Editing an
// active or default list is allowed; later stanzas use the new rules (§2.2
// rule 8).
func (e *Engine) PutList(ctx context.Context, session jid.JID, l storage.PrivacyList) error {
	l.Rules = slices.Clone(l.Rules)
	if err := e.validate(ctx, session.Bare(), &l); err != nil {
		return err
	}
	return e.mutate(ctx, session, func(owner jid.JID, c *change) error {
		names, _, err := e.lists.PrivacyListNames(ctx, owner.String())
		if err != nil {
			return fmt.Errorf("privacy: list names: %w", err)
		}
		if !slices.Contains(names, l.Name) && len(names) >= MaxLists {
			return fmt.Errorf("%w: at most %d privacy lists", ErrLimit, MaxLists)
		}
		if err := e.lists.PutPrivacyList(ctx, owner.String(), l); err != nil {
			return fmt.Errorf("privacy: store list %q: %w", l.Name, err)
		}
		c.edited = append(c.edited, l.Name)
		return nil
	})
}

// validate checks a list before it is stored and puts its jid values in
// canonical form.
func (e *Engine) validate(ctx context.Context, owner jid.JID, l *storage.PrivacyList) error {
	if len(l.Name) > MaxNameBytes {
		return fmt.Errorf("%w: list names are at most %d bytes", ErrLimit, MaxNameBytes)
	}
	if len(l.Rules) > MaxRules {
		return fmt.Errorf("%w: at most %d rules in a list", ErrLimit, MaxRules)
	}
	if err := l.Validate(); err != nil {
		return fmt.Errorf("privacy: %w", err)
	}
	var groups []string
	groupsLoaded := false
	for i := range l.Rules {
		r := &l.Rules[i]
		switch r.Type {
		case storage.PrivacyJID:
			j, err := jid.Parse(r.Value)
			if err != nil {
				return fmt.Errorf("%w: rule %d: %q: %v", ErrJIDMalformed, r.Order, r.Value, err)
			}
			r.Value = j.String()
		case storage.PrivacyGroup:
			if e.groups == nil {
				continue
			}
			if !groupsLoaded {
				g, err := e.groups(ctx, owner)
				if err != nil {
					return fmt.Errorf("privacy: roster groups of %s: %w", owner, err)
				}
				groups, groupsLoaded = g, true
			}
			if !slices.Contains(groups, r.Value) {
				return fmt.Errorf("privacy: rule %d: group %q is not in the roster (XEP-0016 §2.1): %w", r.Order, r.Value, storage.ErrNotFound)
			}
		}
	}
	return nil
}

// DeleteList removes a list of session's account (XEP-0016 §2.8). It fails
// with storage.ErrConflict if the list is active for another session or is
// the default list (§2.2 rule 11; the user must first choose another
// default), and with storage.ErrNotFound if there is no such list. A list
// active for session itself is deactivated.
func (e *Engine) DeleteList(ctx context.Context, session jid.JID, name string) error {
	return e.mutate(ctx, session, func(owner jid.JID, c *change) error {
		var conflict bool
		sh := e.shard(owner)
		sh.mu.RLock()
		if o := sh.owners[owner]; o != nil {
			for s, n := range o.active {
				conflict = conflict || (n == name && s != session)
			}
		}
		sh.mu.RUnlock()
		if conflict {
			return fmt.Errorf("privacy: list %q is active for another resource (XEP-0016 §2.8): %w", name, storage.ErrConflict)
		}
		if err := e.lists.DeletePrivacyList(ctx, owner.String(), name); err != nil {
			return fmt.Errorf("privacy: remove list %q: %w", name, err)
		}
		e.withOwner(owner, func(o *ownerState) {
			if o.active[session] == name {
				delete(o.active, session)
			}
		})
		c.edited = append(c.edited, name)
		return nil
	})
}

// SetActive makes name the active list of session (XEP-0016 §2.4); ""
// declines the use of an active list. It fails with storage.ErrNotFound if
// there is no such list. The list applies before SetActive returns.
func (e *Engine) SetActive(ctx context.Context, session jid.JID, name string) error {
	return e.mutate(ctx, session, func(owner jid.JID, _ *change) error {
		if name != "" {
			if _, err := e.lists.PrivacyList(ctx, owner.String(), name); err != nil {
				return fmt.Errorf("privacy: activate list %q: %w", name, err)
			}
		}
		e.withOwner(owner, func(o *ownerState) {
			if name == "" {
				delete(o.active, session)
				return
			}
			if o.active == nil {
				o.active = make(map[jid.JID]string)
			}
			o.active[session] = name
		})
		return nil
	})
}

// SetDefault makes name the default list of session's account (XEP-0016
// §2.5); "" declines the use of a default list. It fails with
// storage.ErrNotFound if there is no such list, and with storage.ErrConflict
// if the current default list applies to another connected resource (one
// without an active list).
func (e *Engine) SetDefault(ctx context.Context, session jid.JID, name string) error {
	return e.mutate(ctx, session, func(owner jid.JID, _ *change) error {
		names, def, err := e.lists.PrivacyListNames(ctx, owner.String())
		if err != nil {
			return fmt.Errorf("privacy: list names: %w", err)
		}
		if name != "" && !slices.Contains(names, name) {
			return fmt.Errorf("privacy: default list %q: %w", name, storage.ErrNotFound)
		}
		if name == def {
			return nil
		}
		if def != "" {
			for _, s := range e.router().Resources(owner) {
				if s != session && e.Active(s) == "" {
					return fmt.Errorf("privacy: the default list %q applies to %s (XEP-0016 §2.5): %w", def, s, storage.ErrConflict)
				}
			}
		}
		if err := e.lists.SetDefaultPrivacyList(ctx, owner.String(), name); err != nil {
			return fmt.Errorf("privacy: set default list %q: %w", name, err)
		}
		return nil
	})
}

// Blocklist returns the JIDs session's account blocks (XEP-0191 §3.2): the
// targets of the default list's blocking rules. From then on session
// receives block and unblock pushes.
func (e *Engine) Blocklist(ctx context.Context, session jid.JID) ([]jid.JID, error) {
	owner := session.Bare()
	e.withOwner(owner, func(o *ownerState) {
		if o.interested == nil {
			o.interested = make(map[jid.JID]struct{})
		}
		o.interested[session] = struct{}{}
	})
	snap, err := e.snapshot(ctx, owner)
	if err != nil {
		return nil, err
	}
	return snap.def.blocked(), nil
}

// Block adds a blocking rule for each of jids that is not blocked yet at
// the top of the default list, creating the default list if the account
// has none (XEP-0191 §3.3, §5), and pushes the block to the resources that
// requested the blocklist.
func (e *Engine) Block(ctx context.Context, session jid.JID, jids []jid.JID) error {
	jids = dedupe(jids)
	if len(jids) == 0 {
		return fmt.Errorf("privacy: nothing to block (XEP-0191 §3.3): %w", storage.ErrInvalid)
	}
	return e.mutate(ctx, session, func(owner jid.JID, c *change) error {
		c.explicit, c.block = true, jids
		names, def, err := e.lists.PrivacyListNames(ctx, owner.String())
		if err != nil {
			return fmt.Errorf("privacy: list names: %w", err)
		}
		l := storage.PrivacyList{Name: def}
		if def == "" {
			if len(names) >= MaxLists {
				return fmt.Errorf("%w: at most %d privacy lists", ErrLimit, MaxLists)
			}
			l.Name = uniqueName(names, BlocklistName)
		} else if l, err = e.lists.PrivacyList(ctx, owner.String(), def); err != nil {
			return fmt.Errorf("privacy: default list %q: %w", def, err)
		}
		var blocked []jid.JID
		for _, r := range l.Rules {
			if j, ok := isBlockingRule(r); ok {
				blocked = append(blocked, j)
			}
		}
		var add []storage.PrivacyRule
		for _, j := range jids {
			if !slices.Contains(blocked, j) {
				add = append(add, storage.PrivacyRule{Type: storage.PrivacyJID, Value: j.String()})
			}
		}
		if len(add) == 0 && def != "" {
			return nil // all already blocked; the pushes still confirm it
		}
		if len(l.Rules)+len(add) > MaxRules {
			return fmt.Errorf("%w: at most %d rules in a list", ErrLimit, MaxRules)
		}
		l.Rules = prepend(l.Rules, add)
		if err := e.lists.PutPrivacyList(ctx, owner.String(), l); err != nil {
			return fmt.Errorf("privacy: store list %q: %w", l.Name, err)
		}
		c.edited = append(c.edited, l.Name)
		if def == "" {
			if err := e.lists.SetDefaultPrivacyList(ctx, owner.String(), l.Name); err != nil {
				return fmt.Errorf("privacy: make %q the default list: %w", l.Name, err)
			}
		}
		return nil
	})
}

// Unblock removes the blocking rules for jids from the default list
// (XEP-0191 §3.4) and pushes the unblock to the resources that requested
// the blocklist. JIDs that are not blocked are ignored.
func (e *Engine) Unblock(ctx context.Context, session jid.JID, jids []jid.JID) error {
	jids = dedupe(jids)
	if len(jids) == 0 {
		return e.UnblockAll(ctx, session)
	}
	return e.unblock(ctx, session, func(j jid.JID) bool { return slices.Contains(jids, j) }, func(c *change) { c.unblock = jids })
}

// UnblockAll removes every blocking rule from the default list (XEP-0191
// §3.5) and pushes an empty unblock to the resources that requested the
// blocklist.
func (e *Engine) UnblockAll(ctx context.Context, session jid.JID) error {
	return e.unblock(ctx, session, func(jid.JID) bool { return true }, func(c *change) { c.unblockAll = true })
}

func (e *Engine) unblock(ctx context.Context, session jid.JID, drop func(jid.JID) bool, push func(*change)) error {
	return e.mutate(ctx, session, func(owner jid.JID, c *change) error {
		c.explicit = true
		push(c)
		_, def, err := e.lists.PrivacyListNames(ctx, owner.String())
		if err != nil {
			return fmt.Errorf("privacy: list names: %w", err)
		}
		if def == "" {
			return nil
		}
		l, err := e.lists.PrivacyList(ctx, owner.String(), def)
		if err != nil {
			return fmt.Errorf("privacy: default list %q: %w", def, err)
		}
		kept := l.Rules[:0:0]
		for _, r := range l.Rules {
			if j, ok := isBlockingRule(r); ok && drop(j) {
				continue
			}
			kept = append(kept, r)
		}
		if len(kept) == len(l.Rules) {
			return nil
		}
		l.Rules = kept
		if err := e.lists.PutPrivacyList(ctx, owner.String(), l); err != nil {
			return fmt.Errorf("privacy: store list %q: %w", l.Name, err)
		}
		c.edited = append(c.edited, l.Name)
		return nil
	})
}

// prepend puts add ahead of rules (XEP-0191 §5: blocked items first). The
// existing rules keep their order values when there is room below the
// lowest one; otherwise the whole list is renumbered in steps of ten.
func prepend(rules, add []storage.PrivacyRule) []storage.PrivacyRule {
	rules = slices.Clone(rules)
	slices.SortStableFunc(rules, func(a, b storage.PrivacyRule) int {
		switch {
		case a.Order < b.Order:
			return -1
		case a.Order > b.Order:
			return 1
		}
		return 0
	})
	if len(rules) > 0 && uint64(rules[0].Order) >= uint64(len(add)) {
		base := rules[0].Order - uint32(len(add))
		for i := range add {
			add[i].Order = base + uint32(i)
		}
		return append(add, rules...)
	}
	all := append(add, rules...)
	for i := range all {
		all[i].Order = uint32(i+1) * 10
	}
	return all
}

// uniqueName returns base, or base-2, base-3… whichever is not in names.
func uniqueName(names []string, base string) string {
	name := base
	for i := 2; slices.Contains(names, name); i++ {
		name = base + "-" + strconv.Itoa(i)
	}
	return name
}

func dedupe(jids []jid.JID) []jid.JID {
	out := make([]jid.JID, 0, len(jids))
	for _, j := range jids {
		if !j.IsZero() && !slices.Contains(out, j) {
			out = append(out, j)
		}
	}
	return out
}
