package storage

import (
	"errors"
	"slices"
	"testing"
)

func TestSubscriptionStrings(t *testing.T) {
	for _, tc := range []struct {
		sub      Subscription
		name     string
		to, from bool
	}{
		{SubNone, "none", false, false},
		{SubTo, "to", true, false},
		{SubFrom, "from", false, true},
		{SubBoth, "both", true, true},
	} {
		if got := tc.sub.String(); got != tc.name {
			t.Errorf("%d.String() = %q, want %q", tc.sub, got, tc.name)
		}
		if got, err := ParseSubscription(tc.name); err != nil || got != tc.sub {
			t.Errorf("ParseSubscription(%q) = %v, %v; want %v", tc.name, got, err, tc.sub)
		}
		if tc.sub.To() != tc.to || tc.sub.From() != tc.from || !tc.sub.Valid() {
			t.Errorf("%v: To %v, From %v, Valid %v; want %v, %v, true", tc.sub, tc.sub.To(), tc.sub.From(), tc.sub.Valid(), tc.to, tc.from)
		}
	}
	if got := Subscription(4).String(); got != "Subscription(4)" {
		t.Errorf("Subscription(4).String() = %q", got)
	}
	if Subscription(4).Valid() {
		t.Error("Subscription(4) is valid")
	}
	// "remove" is a request (RFC 6121 §2.5), not a state; values are
	// case-sensitive.
	for _, s := range []string{"remove", "", "Both", "NONE", " to", "from "} {
		if _, err := ParseSubscription(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseSubscription(%q) = %v, want ErrInvalid", s, err)
		}
	}
}

// TestRosterItemValidate checks the states of RFC 6121 Appendix A.1 and the
// pre-approval rules of §3.4.2.
func TestRosterItemValidate(t *testing.T) {
	const c = "juliet@example.com"
	for _, tc := range []struct {
		name string
		item RosterItem
		ok   bool
	}{
		{"None", RosterItem{Contact: c}, true},
		{"None + Pending Out", RosterItem{Contact: c, PendingOut: true}, true},
		{"None + Pending In", RosterItem{Contact: c, PendingIn: true}, true},
		{"None + Pending Out+In", RosterItem{Contact: c, PendingOut: true, PendingIn: true}, true},
		{"To", RosterItem{Contact: c, Subscription: SubTo}, true},
		{"To + Pending In", RosterItem{Contact: c, Subscription: SubTo, PendingIn: true}, true},
		{"From", RosterItem{Contact: c, Subscription: SubFrom}, true},
		{"From + Pending Out", RosterItem{Contact: c, Subscription: SubFrom, PendingOut: true}, true},
		{"Both", RosterItem{Contact: c, Subscription: SubBoth, Name: "J", Groups: []string{"a", "a"}}, true},
		{"None pre-approved", RosterItem{Contact: c, PreApproved: true}, true},
		{"None + Pending Out pre-approved", RosterItem{Contact: c, PendingOut: true, PreApproved: true}, true},
		{"To pre-approved", RosterItem{Contact: c, Subscription: SubTo, PreApproved: true}, true},

		{"no contact", RosterItem{}, false},
		{"unknown subscription", RosterItem{Contact: c, Subscription: 9}, false},
		{"empty group", RosterItem{Contact: c, Groups: []string{""}}, false},
		{"To + Pending Out", RosterItem{Contact: c, Subscription: SubTo, PendingOut: true}, false},
		{"Both + Pending Out", RosterItem{Contact: c, Subscription: SubBoth, PendingOut: true}, false},
		{"From + Pending In", RosterItem{Contact: c, Subscription: SubFrom, PendingIn: true}, false},
		{"Both + Pending In", RosterItem{Contact: c, Subscription: SubBoth, PendingIn: true}, false},
		{"From pre-approved", RosterItem{Contact: c, Subscription: SubFrom, PreApproved: true}, false},
		{"Both pre-approved", RosterItem{Contact: c, Subscription: SubBoth, PreApproved: true}, false},
		{"None + Pending In pre-approved", RosterItem{Contact: c, PendingIn: true, PreApproved: true}, false},
	} {
		err := tc.item.Validate()
		if tc.ok && err != nil {
			t.Errorf("%s: Validate = %v, want nil", tc.name, err)
		}
		if !tc.ok && !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Validate = %v, want ErrInvalid", tc.name, err)
		}
	}
}

func TestNormalizeGroups(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{nil, nil},
		{[]string{}, nil},
		{[]string{"b", "a", "b", "a"}, []string{"a", "b"}},
		{[]string{"friends", "Friends", "家族", "Zed"}, []string{"Friends", "Zed", "friends", "家族"}},
	} {
		in := slices.Clone(tc.in)
		got := NormalizeGroups(in)
		if !slices.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
			t.Errorf("NormalizeGroups(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if !slices.Equal(in, tc.in) {
			t.Errorf("NormalizeGroups modified its argument: %q", in)
		}
	}
}
