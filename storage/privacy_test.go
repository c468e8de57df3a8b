package storage

import (
	"errors"
	"testing"
)

// TestPrivacyListValidate checks the rule syntax of XEP-0016 §2.1.
func TestPrivacyListValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		list PrivacyList
		ok   bool
	}{
		{"no rules", PrivacyList{Name: "empty"}, true},
		{"every type", PrivacyList{Name: "l", Rules: []PrivacyRule{
			{Type: PrivacyJID, Value: "example.org", Order: 3},
			{Type: PrivacyGroup, Value: "Enemies", Order: 1, Message: true},
			{Type: PrivacySubscription, Value: "none", Order: 2, PresenceIn: true},
			{Type: PrivacySubscription, Value: "both", Order: 4},
			{Allow: true, Order: 0},
		}}, true},
		{"no name", PrivacyList{Rules: []PrivacyRule{{Allow: true}}}, false},
		{"duplicate order", PrivacyList{Name: "l", Rules: []PrivacyRule{{Order: 7}, {Type: PrivacyJID, Value: "a@b", Order: 7}}}, false},
		{"unknown type", PrivacyList{Name: "l", Rules: []PrivacyRule{{Type: "JID", Value: "a@b"}}}, false},
		{"jid without value", PrivacyList{Name: "l", Rules: []PrivacyRule{{Type: PrivacyJID}}}, false},
		{"group without value", PrivacyList{Name: "l", Rules: []PrivacyRule{{Type: PrivacyGroup}}}, false},
		{"bad subscription", PrivacyList{Name: "l", Rules: []PrivacyRule{{Type: PrivacySubscription, Value: "remove"}}}, false},
		{"fall-through with value", PrivacyList{Name: "l", Rules: []PrivacyRule{{Value: "a@b"}}}, false},
	} {
		err := tc.list.Validate()
		if tc.ok && err != nil {
			t.Errorf("%s: Validate = %v, want nil", tc.name, err)
		}
		if !tc.ok && !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Validate = %v, want ErrInvalid", tc.name, err)
		}
	}
}
