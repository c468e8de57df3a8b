package router

import (
	"context"

	"github.com/beevik/etree"

	"github.com/herald-im/herald/jid"
	"github.com/herald-im/herald/storage"
)

// Resources returns the full JIDs of owner's bound sessions (for the
// privacy engine's conflict checks, XEP-0016 §2.5).
func (r *Router) Resources(owner jid.JID) []jid.JID {
	var buf [8]target
	ts := r.table.resources(buf[:0], owner.Bare())
	out := make([]jid.JID, 0, len(ts))
	for _, t := range ts {
		out = append(out, t.sess.JID())
	}
	return out
}

// PushIQ sends an iq of type set carrying a copy of payload to each bound
// session of owner that only accepts (all when only is nil), like a roster
// push: privacy list pushes (XEP-0016 §2.6) and block pushes (XEP-0191
// §3.3). The clients' results are dropped by handleIQ.
func (r *Router) PushIQ(owner jid.JID, payload *etree.Element, only func(full jid.JID) bool) {
	r.pushIQ(owner, payload, func(t target) bool { return only == nil || only(t.sess.JID()) })
}

// pushIQ sends a server push (an iq set with no 'from', RFC 6121 §2.1.6)
// carrying a copy of payload to each of owner's sessions that keep accepts.
func (r *Router) pushIQ(owner jid.JID, payload *etree.Element, keep func(target) bool) {
	var buf [8]target
	for _, t := range r.table.resources(buf[:0], owner.Bare()) {
		if !keep(t) {
			continue
		}
		push := etree.NewElement("iq")
		push.CreateAttr("type", "set")
		push.CreateAttr("id", "push-"+newID())
		push.CreateAttr("to", t.sess.JID().String())
		push.AddChild(payload.Copy())
		deliverTo(t.sess, push)
	}
}

// ReconcilePresence corrects what owner's contacts know of its presence
// after a privacy change: for each available resource R and each entity C
// entitled to R's presence (a subscriber, From or Both, or a recipient of
// R's directed presence), it sends unavailable presence from R to C when
// hide(R, C) reports true (XEP-0191 §3.3, XEP-0016 §2.11) and R's current
// presence when show(R, C) does (XEP-0191 §3.4). The outbound policy is not
// consulted (it already refuses the blocked contact); the recipient's
// inbound policy is, by deliverPresence. No lock is held while hide and
// show run.
func (r *Router) ReconcilePresence(ctx context.Context, owner jid.JID, hide, show func(from, to jid.JID) bool) {
	bare := owner.Bare()
	subscribers, _, err := r.subscribers(ctx, bare)
	if err != nil {
		r.log.Error("router: presence correction without the roster", "jid", bare.String(), "err", err)
	}
	type avail struct {
		full     jid.JID
		presence *etree.Element
		directed []jid.JID
	}
	var resources []avail
	sh := r.table.shard(bare)
	sh.mu.RLock()
	if acc := sh.accounts[bare]; acc != nil {
		for _, res := range acc.resources {
			if !res.available || res.presence == nil {
				continue
			}
			a := avail{full: res.sess.JID(), presence: res.presence}
			for d := range res.directed {
				a.directed = append(a.directed, d)
			}
			resources = append(resources, a)
		}
	}
	sh.mu.RUnlock()
	for _, a := range resources {
		seen := make(map[jid.JID]struct{}, len(subscribers)+len(a.directed))
		for _, list := range [][]jid.JID{subscribers, a.directed} {
			for _, c := range list {
				if _, dup := seen[c]; dup || c.Bare() == bare {
					continue
				}
				seen[c] = struct{}{}
				switch {
				case hide(a.full, c):
					r.deliverPresence(ctx, a.full, c, unavailablePresence(a.full, c))
				case show(a.full, c):
					r.deliverPresence(ctx, a.full, c, presenceCopy(a.presence, c))
				}
			}
		}
	}
}

// ReconcileInboundPresence visits each available session S of owner and
// each available resource C of a local contact whose presence owner is
// subscribed to (To or Both, confirmed by the contact's roster), and,
// without consulting the Policy, sends S unavailable presence on behalf of
// C when hide(C, S) reports true (XEP-0016 §2.10: S may no longer receive
// C's presence notifications, so its client must not keep showing C
// online), or C's current presence when show(C, S) does and C's own rules
// let it reach owner. Remote contacts' presence is not known here. No
// router lock is held while hide and show run: they consult the roster.
func (r *Router) ReconcileInboundPresence(ctx context.Context, owner jid.JID, hide, show func(from, to jid.JID) bool) {
	bare := owner.Bare()
	_, publishers, err := r.subscribers(ctx, bare)
	if err != nil {
		r.log.Error("router: presence correction without the roster", "jid", bare.String(), "err", err)
		return
	}
	var sessions []Session
	sh := r.table.shard(bare)
	sh.mu.RLock()
	if acc := sh.accounts[bare]; acc != nil {
		for _, res := range acc.resources {
			if res.available {
				sessions = append(sessions, res.sess)
			}
		}
	}
	sh.mu.RUnlock()
	if len(sessions) == 0 {
		return
	}
	for _, contact := range publishers {
		if !r.IsLocal(contact) || !r.subscribedTo(ctx, contact, bare) {
			continue
		}
		for _, p := range r.availablePresences(contact) {
			from, err := jid.Parse(p.SelectAttrValue("from", ""))
			if err != nil {
				continue
			}
			for _, s := range sessions {
				switch {
				case hide(from, s.JID()):
					deliverTo(s, unavailablePresence(from, bare))
				case show(from, s.JID()) && r.policy.Outbound(ctx, from, bare, KindPresence) == nil:
					deliverTo(s, presenceCopy(p, bare))
				}
			}
		}
	}
}

// RosterItem returns owner's roster item for contact, from the cached
// roster while owner is online: the privacy engine's RosterLookup for group
// and subscription rules. It takes owner's roster stripe lock, so the router
// must never consult the Policy while holding a roster lock.
func (r *Router) RosterItem(ctx context.Context, owner, contact jid.JID) (storage.RosterItem, bool, error) {
	tx, err := r.lockRoster(ctx, owner.Bare())
	if err != nil {
		return storage.RosterItem{}, false, err
	}
	defer tx.unlock()
	return tx.item(ctx, contact.Bare())
}

// RosterGroups returns the groups of owner's roster (the privacy engine
// refuses rules for groups that do not exist, XEP-0016 §2.1).
func (r *Router) RosterGroups(ctx context.Context, owner jid.JID) ([]string, error) {
	tx, err := r.lockRoster(ctx, owner.Bare())
	if err != nil {
		return nil, err
	}
	defer tx.unlock()
	items, _, err := tx.all(ctx)
	if err != nil {
		return nil, err
	}
	var groups []string
	for _, it := range items {
		groups = append(groups, it.Groups...)
	}
	return groups, nil
}
