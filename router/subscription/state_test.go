package subscription

import "testing"

// TestStateValidAndString checks Valid and String on every combination of
// the four primary states and the two pending flags (RFC 6121 App. A.1:
// nine of the sixteen are states), and on an out-of-range Sub.
func TestStateValidAndString(t *testing.T) {
	tests := []struct {
		s     State
		valid bool
		name  string
	}{
		{State{Sub: None}, true, "None"},
		{State{Sub: None, PendingOut: true}, true, "None + Pending Out"},
		{State{Sub: None, PendingIn: true}, true, "None + Pending In"},
		{State{Sub: None, PendingOut: true, PendingIn: true}, true, "None + Pending Out+In"},
		{State{Sub: To}, true, "To"},
		{State{Sub: To, PendingOut: true}, false, "To + Pending Out"},
		{State{Sub: To, PendingIn: true}, true, "To + Pending In"},
		{State{Sub: To, PendingOut: true, PendingIn: true}, false, "To + Pending Out+In"},
		{State{Sub: From}, true, "From"},
		{State{Sub: From, PendingOut: true}, true, "From + Pending Out"},
		{State{Sub: From, PendingIn: true}, false, "From + Pending In"},
		{State{Sub: From, PendingOut: true, PendingIn: true}, false, "From + Pending Out+In"},
		{State{Sub: Both}, true, "Both"},
		{State{Sub: Both, PendingOut: true}, false, "Both + Pending Out"},
		{State{Sub: Both, PendingIn: true}, false, "Both + Pending In"},
		{State{Sub: Both, PendingOut: true, PendingIn: true}, false, "Both + Pending Out+In"},
		{State{Sub: 4}, false, "Sub(4)"},
	}
	for _, tt := range tests {
		if got := tt.s.Valid(); got != tt.valid {
			t.Errorf("%+v.Valid() = %v, want %v", tt.s, got, tt.valid)
		}
		if got := tt.s.String(); got != tt.name {
			t.Errorf("%+v.String() = %q, want %q", tt.s, got, tt.name)
		}
	}
}

// TestStates checks that States lists the nine valid states, distinct, in
// App. A.1 order, and returns a fresh slice each time.
func TestStates(t *testing.T) {
	want := []string{
		"None", "None + Pending Out", "None + Pending In", "None + Pending Out+In",
		"To", "To + Pending In", "From", "From + Pending Out", "Both",
	}
	got := States()
	if len(got) != len(want) {
		t.Fatalf("States() has %d states, want %d", len(got), len(want))
	}
	for i, s := range got {
		if !s.Valid() || s.String() != want[i] {
			t.Errorf("States()[%d] = %q (valid %v), want %q", i, s, s.Valid(), want[i])
		}
	}
	got[0].Sub = Both
	if States()[0].Sub != None {
		t.Error("States returned a shared slice")
	}
}

// TestNeedsItem checks which states need a roster item: all but "None" and
// "None + Pending In" (App. A.1 implementation note and state 3).
func TestNeedsItem(t *testing.T) {
	for _, s := range States() {
		want := s != State{} && s != State{PendingIn: true}
		if got := s.NeedsItem(); got != want {
			t.Errorf("%q.NeedsItem() = %v, want %v", s, got, want)
		}
	}
}

// TestSubAttr checks the 'subscription' attribute values of RFC 6121
// §2.1.2.5 both ways.
func TestSubAttr(t *testing.T) {
	for _, tt := range []struct {
		sub        Sub
		attr, name string
		to, from   bool
	}{
		{None, "none", "None", false, false},
		{To, "to", "To", true, false},
		{From, "from", "From", false, true},
		{Both, "both", "Both", true, true},
	} {
		if got := tt.sub.Attr(); got != tt.attr {
			t.Errorf("%v.Attr() = %q, want %q", tt.sub, got, tt.attr)
		}
		if got := tt.sub.String(); got != tt.name {
			t.Errorf("Sub(%d).String() = %q, want %q", tt.sub, got, tt.name)
		}
		if got, ok := ParseSub(tt.attr); !ok || got != tt.sub {
			t.Errorf("ParseSub(%q) = %v, %v; want %v, true", tt.attr, got, ok, tt.sub)
		}
		if tt.sub.HasTo() != tt.to || tt.sub.HasFrom() != tt.from {
			t.Errorf("%v: HasTo %v HasFrom %v, want %v %v", tt.sub, tt.sub.HasTo(), tt.sub.HasFrom(), tt.to, tt.from)
		}
	}
	for _, bad := range []string{"", "remove", "None", "BOTH", " to", "pending"} {
		if _, ok := ParseSub(bad); ok {
			t.Errorf("ParseSub(%q) accepted", bad)
		}
	}
	if got := Sub(9).Attr(); got != "" {
		t.Errorf("Sub(9).Attr() = %q, want empty", got)
	}
}

// TestParseKind checks the presence 'type' values of RFC 6121 §4.7.1.
func TestParseKind(t *testing.T) {
	for _, tt := range []struct {
		typ  string
		kind Kind
		ok   bool
	}{
		{"subscribe", Subscribe, true},
		{"subscribed", Subscribed, true},
		{"unsubscribe", Unsubscribe, true},
		{"unsubscribed", Unsubscribed, true},
		{"", 0, false},
		{"unavailable", 0, false},
		{"probe", 0, false},
		{"error", 0, false},
		{"Subscribe", 0, false},
		{"subscribe ", 0, false},
	} {
		got, ok := ParseKind(tt.typ)
		if got != tt.kind || ok != tt.ok {
			t.Errorf("ParseKind(%q) = %v, %v; want %v, %v", tt.typ, got, ok, tt.kind, tt.ok)
		}
		if ok && got.String() != tt.typ {
			t.Errorf("%v.String() = %q, want %q", got, got.String(), tt.typ)
		}
		if got.Valid() != ok {
			t.Errorf("ParseKind(%q) kind %v Valid() = %v", tt.typ, got, got.Valid())
		}
	}
	if got := Kind(0).String(); got != "Kind(0)" {
		t.Errorf("Kind(0).String() = %q", got)
	}
}

// TestInvalidInputChangesNothing checks that an invalid state or kind, which
// only corrupt storage or a programming error can produce, is returned
// unchanged with no action.
func TestInvalidInputChangesNothing(t *testing.T) {
	bad := []State{
		{Sub: To, PendingOut: true},
		{Sub: From, PendingIn: true},
		{Sub: Both, PendingIn: true},
		{Sub: 7},
	}
	for _, s := range bad {
		for _, k := range kinds {
			for _, pre := range []bool{false, true} {
				if got := Outbound(s, k, pre); got != (OutboundResult{State: s}) {
					t.Errorf("Outbound(%q, %s, %v) = %+v, want no action", s, k, pre, got)
				}
				if got := Inbound(s, true, k, pre); got != (InboundResult{State: s}) {
					t.Errorf("Inbound(%q, true, %s, %v) = %+v, want no action", s, k, pre, got)
				}
			}
		}
	}
	for _, s := range States() {
		for _, k := range []Kind{0, Unsubscribed + 1, 255} {
			if got := Outbound(s, k, false); got != (OutboundResult{State: s}) {
				t.Errorf("Outbound(%q, %v, false) = %+v, want no action", s, k, got)
			}
			if got := Inbound(s, true, k, false); got != (InboundResult{State: s}) {
				t.Errorf("Inbound(%q, true, %v, false) = %+v, want no action", s, k, got)
			}
		}
	}
}

// TestRemove checks the stanzas owed when the user deletes a roster item
// (RFC 6121 §2.5.2), for every state.
func TestRemove(t *testing.T) {
	tests := []struct {
		state string
		want  RemoveResult
	}{
		{"None", RemoveResult{}},
		{"None + Pending Out", RemoveResult{Unsubscribe: true}},
		{"None + Pending In", RemoveResult{Unsubscribed: true}},
		{"None + Pending Out+In", RemoveResult{Unsubscribe: true, Unsubscribed: true}},
		{"To", RemoveResult{Unsubscribe: true}},                                              // §2.5.2 rule 1
		{"To + Pending In", RemoveResult{Unsubscribe: true, Unsubscribed: true}},             // rule 1, and a denial
		{"From", RemoveResult{SendUnavailable: true, Unsubscribed: true}},                    // rule 2
		{"From + Pending Out", RemoveResult{true, true, true}},                               // rule 2, and a withdrawal
		{"Both", RemoveResult{Unsubscribe: true, SendUnavailable: true, Unsubscribed: true}}, // rule 3
	}
	for _, tt := range tests {
		s := stateNamed(t, tt.state)
		if got := Remove(s); got != tt.want {
			t.Errorf("Remove(%q) = %+v, want %+v", s, got, tt.want)
		}
	}
}
