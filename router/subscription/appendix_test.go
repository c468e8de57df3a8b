package subscription

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// appendixRow is one row of an RFC 6121 App. A table. state, column and next
// are copied from the RFC as printed (footnote markers included); effects
// lists everything Herald does for that row (see wantOutbound and
// wantInbound for the words); prose, when set, cites the §3 text that the
// result follows instead of the column.
type appendixRow struct {
	state, column, next string
	effects             string
	prose               string
}

// appendixTable is one table of RFC 6121 App. A.2 or A.3, rows in the
// RFC's order. Inbound rows are run with an existing roster item and no
// pre-approval.
type appendixTable struct {
	id       string // "A.2.1"
	title    string // the table's caption
	outbound bool
	kind     Kind
	rows     []appendixRow
}

var appendixTables = []appendixTable{
	{"A.2.1", `Table 2: Processing of outbound "subscribe" stanzas`, true, Subscribe, []appendixRow{
		{"None", "MUST [1]", "None + Pending Out", "route push create", ""},
		{"None + Pending Out", "MUST", "no state change", "route", ""},
		{"None + Pending In", "MUST [1]", "None + Pending Out+In", "route push create", ""},
		{"None + Pending Out+In", "MUST", "no state change", "route", ""},
		{"To", "MUST", "no state change", "route", ""},
		{"To + Pending In", "MUST", "no state change", "route", ""},
		{"From", "MUST [1]", "From + Pending Out", "route push", ""},
		{"From + Pending Out", "MUST", "no state change", "route", ""},
		{"Both", "MUST", "no state change", "route", ""},
	}},
	{"A.2.2", `Table 3: Processing of outbound "unsubscribe" stanzas`, true, Unsubscribe, []appendixRow{
		{"None", "MUST", "no state change", "route", ""},
		{"None + Pending Out", "MUST", "None", "route push", ""},
		{"None + Pending In", "MUST", "no state change", "route", ""},
		{"None + Pending Out+In", "MUST", "None + Pending In", "route push", ""},
		{"To", "MUST", "None", "route push", ""},
		{"To + Pending In", "MUST", "None + Pending In", "route push", ""},
		{"From", "MUST", "no state change", "route", ""},
		{"From + Pending Out", "MUST", "From", "route push", ""},
		{"Both", "MUST", "From", "route push", ""},
	}},
	{"A.2.3", `Table 4: Processing of outbound "subscribed" stanzas`, true, Subscribed, []appendixRow{
		{"None", "M.N.", "pre-approval [1]", "preapprove push create", ""},
		{"None + Pending Out", "M.N.", "pre-approval [1]", "preapprove push", ""},
		{"None + Pending In", "MUST", "From", "route push create avail", ""},
		{"None + Pending Out+In", "MUST", "From + Pending Out", "route push avail", ""},
		{"To", "M.N.", "pre-approval [1]", "preapprove push", ""},
		{"To + Pending In", "MUST", "Both", "route push avail", ""},
		{"From", "M.N.", "no state change", "", ""},
		{"From + Pending Out", "M.N.", "no state change", "", ""},
		{"Both", "M.N.", "no state change", "", ""},
	}},
	{"A.2.4", `Table 5: Processing of outbound "unsubscribed" stanzas`, true, Unsubscribed, []appendixRow{
		{"None", "S.N.", "no state change [1]", "", ""},
		{"None + Pending Out", "S.N.", "no state change [1]", "", ""},
		// A denial: nothing a client sees changes, and no unavailable
		// presence goes to a contact that never had a subscription.
		{"None + Pending In", "MUST", "None", "route", ""},
		{"None + Pending Out+In", "MUST", "None + Pending Out", "route", ""},
		{"To", "S.N.", "no state change [1]", "", ""},
		{"To + Pending In", "MUST", "To", "route", ""},
		{"From", "MUST", "None", "route push unavail", ""},
		{"From + Pending Out", "MUST", "None + Pending Out", "route push unavail", ""},
		{"Both", "MUST", "To", "route push unavail", ""},
	}},
	{"A.3.1", `Table 6: Processing of inbound "subscribe" stanzas`, false, Subscribe, []appendixRow{
		{"None", "MUST [1]", "None + Pending In", "deliver", ""},
		{"None + Pending Out", "MUST", "None + Pending Out+In", "deliver", ""},
		{"None + Pending In", "S.N.", "no state change", "", ""},
		{"None + Pending Out+In", "S.N.", "no state change", "", ""},
		{"To", "MUST", "To + Pending In", "deliver", ""},
		{"To + Pending In", "S.N.", "no state change", "", ""},
		{"From", "S.N. [2]", "no state change", "reply=subscribed avail", ""},
		{"From + Pending Out", "S.N. [2]", "no state change", "reply=subscribed avail", ""},
		{"Both", "S.N. [2]", "no state change", "reply=subscribed avail", ""},
	}},
	{"A.3.2", `Table 7: Processing of inbound "unsubscribe" stanzas`, false, Unsubscribe, []appendixRow{
		{"None", "S.N.", "no state change", "", ""},
		{"None + Pending Out", "S.N.", "no state change", "", ""},
		{"None + Pending In", "MUST [1]", "None", "", prose333},
		{"None + Pending Out+In", "MUST [1]", "None + Pending Out", "", prose333},
		{"To", "S.N.", "no state change", "", ""},
		{"To + Pending In", "MUST [1]", "To", "", prose333},
		{"From", "MUST [1]", "None", "deliver push unavail", ""},
		{"From + Pending Out", "MUST [1]", "None + Pending Out", "deliver push unavail", ""},
		{"Both", "MUST [1]", "To", "deliver push unavail", ""},
	}},
	{"A.3.3", `Table 8: Processing of inbound "subscribed" stanzas`, false, Subscribed, []appendixRow{
		{"None", "S.N.", "no state change", "", ""},
		{"None + Pending Out", "MUST", "To", "deliver push", ""},
		{"None + Pending In", "S.N.", "no state change", "", ""},
		{"None + Pending Out+In", "MUST", "To + Pending In", "deliver push", ""},
		{"To", "S.N.", "no state change", "", ""},
		{"To + Pending In", "S.N.", "no state change", "", ""},
		{"From", "S.N.", "no state change", "", ""},
		{"From + Pending Out", "MUST", "Both", "deliver push", ""},
		{"Both", "S.N.", "no state change", "", ""},
	}},
	{"A.3.4", `Table 9: Processing of inbound "unsubscribed" stanzas`, false, Unsubscribed, []appendixRow{
		{"None", "S.N.", "no state change", "", ""},
		{"None + Pending Out", "MUST", "None", "deliver push", ""},
		{"None + Pending In", "S.N.", "no state change", "", ""},
		{"None + Pending Out+In", "MUST", "None + Pending In", "deliver push", ""},
		{"To", "MUST", "None", "deliver push", ""},
		{"To + Pending In", "MUST", "None + Pending In", "deliver push", ""},
		{"From", "S.N.", "no state change", "", ""},
		{"From + Pending Out", "MUST", "From", "deliver push", ""},
		{"Both", "MUST", "From", "deliver push", ""},
	}},
}

// prose333 explains the Table 7 rows whose DELIVER? column is not followed.
const prose333 = "§3.3.3: unless the contact's item is 'from' or 'both' the server MUST silently ignore " +
	"the unsubscribe (not deliver, not push) and only remove the record of the pending request"

var footnote = regexp.MustCompile(`\s*\[\d\]$`)

// stripFootnote removes a trailing "[n]" footnote marker from a table cell.
func stripFootnote(cell string) string { return footnote.ReplaceAllString(cell, "") }

// stateNamed returns the state whose App. A.1 name is name.
func stateNamed(t *testing.T, name string) State {
	t.Helper()
	for _, s := range States() {
		if s.String() == name {
			return s
		}
	}
	t.Fatalf("no App. A.1 state is named %q", name)
	return State{}
}

// caseName is the subtest name of a table row, e.g.
// "A.3.1/None+Pending Out/subscribe".
func caseName(table string, s State, k Kind) string {
	return table + "/" + strings.ReplaceAll(s.String(), " + ", "+") + "/" + k.String()
}

// wantOutbound builds the expected result of Outbound from the new state and
// a list of effect words: route, push, create, avail, unavail, preapprove,
// clearpre.
func wantOutbound(t *testing.T, next State, effects string) OutboundResult {
	t.Helper()
	r := OutboundResult{State: next}
	for _, w := range strings.Fields(effects) {
		switch w {
		case "route":
			r.Route = true
		case "push":
			r.Push = true
		case "create":
			r.CreateItem = true
		case "avail":
			r.SendAvailable = true
		case "unavail":
			r.SendUnavailable = true
		case "preapprove":
			r.PreApprove = true
		case "clearpre":
			r.ClearPreApproval = true
		default:
			t.Fatalf("unknown outbound effect %q", w)
		}
	}
	return r
}

// wantInbound builds the expected result of Inbound from the new state and a
// list of effect words: deliver, push, create, reply=<kind>, avail, unavail,
// clearpre.
func wantInbound(t *testing.T, next State, effects string) InboundResult {
	t.Helper()
	r := InboundResult{State: next}
	for _, w := range strings.Fields(effects) {
		switch {
		case w == "deliver":
			r.Deliver = true
		case w == "push":
			r.Push = true
		case w == "create":
			r.CreateItem = true
		case w == "avail":
			r.SendAvailable = true
		case w == "unavail":
			r.SendUnavailable = true
		case w == "clearpre":
			r.ClearPreApproval = true
		case strings.HasPrefix(w, "reply="):
			k, ok := ParseKind(strings.TrimPrefix(w, "reply="))
			if !ok {
				t.Fatalf("bad auto-reply in %q", w)
			}
			r.AutoReply, r.HasAutoReply = k, true
		default:
			t.Fatalf("unknown inbound effect %q", w)
		}
	}
	return r
}

// TestAppendixA checks every row of RFC 6121 App. A.2.1–A.2.4 (outbound) and
// A.3.1–A.3.4 (inbound): the ROUTE?/DELIVER? column, the NEW STATE column,
// and the complete set of actions.
func TestAppendixA(t *testing.T) {
	for _, tab := range appendixTables {
		if len(tab.rows) != 9 {
			t.Fatalf("%s (%s): %d rows, want one per App. A.1 state", tab.id, tab.title, len(tab.rows))
		}
		for i, row := range tab.rows {
			s := stateNamed(t, row.state)
			if s != States()[i] {
				t.Fatalf("%s row %d is %q, App. A.1 order has %q", tab.id, i+1, row.state, States()[i])
			}
			t.Run(caseName(tab.id, s, tab.kind), func(t *testing.T) {
				column := stripFootnote(row.column)
				wantFlag := column == "MUST"
				if column != "MUST" && column != "S.N." && column != "M.N." {
					t.Fatalf("unknown column value %q", row.column)
				}
				if row.prose != "" {
					wantFlag = !wantFlag
				}
				var next State
				switch cell := stripFootnote(row.next); cell {
				case "no state change", "pre-approval":
					next = s
				default:
					next = stateNamed(t, cell)
				}
				if tab.outbound {
					got := Outbound(s, tab.kind, false)
					if got.Route != wantFlag {
						t.Errorf("%s: Route = %v, ROUTE? column %q (prose: %q)", tab.title, got.Route, row.column, row.prose)
					}
					if got.State != next {
						t.Errorf("%s: new state %q, NEW STATE column %q", tab.title, got.State, row.next)
					}
					if isPre := stripFootnote(row.next) == "pre-approval"; got.PreApprove != isPre {
						t.Errorf("%s: PreApprove = %v, NEW STATE column %q", tab.title, got.PreApprove, row.next)
					}
					if want := wantOutbound(t, next, row.effects); got != want {
						t.Errorf("Outbound(%q, %s, false)\n got %+v\nwant %+v", s, tab.kind, got, want)
					}
				} else {
					got := Inbound(s, true, tab.kind, false)
					if got.Deliver != wantFlag {
						t.Errorf("%s: Deliver = %v, DELIVER? column %q (prose: %q)", tab.title, got.Deliver, row.column, row.prose)
					}
					if got.State != next {
						t.Errorf("%s: new state %q, NEW STATE column %q", tab.title, got.State, row.next)
					}
					if want := wantInbound(t, next, row.effects); got != want {
						t.Errorf("Inbound(%q, true, %s, false)\n got %+v\nwant %+v", s, tab.kind, got, want)
					}
				}
			})
		}
	}
}

// extraRow is an input outside App. A's tables (a pre-approval, or an
// inbound stanza from a contact the user has no item for) with its expected
// result and the section that mandates it.
type extraRow struct {
	cite     string
	outbound bool
	state    string
	kind     Kind
	pre      bool
	exists   bool // inbound only
	next     string
	effects  string
}

// extraRows covers the inputs App. A's tables leave out: every kind in both
// directions for the three states a pre-approval can exist in (§3.4.2 step
// 3), and inbound stanzas for the two states that can exist without a
// roster item, with and without a pre-approval.
var extraRows = []extraRow{
	// Outbound, pre-approved.
	{"§3.1.2, approval kept", true, "None", Subscribe, true, true, "None + Pending Out", "route push"},
	{"§3.1.2 resend", true, "None + Pending Out", Subscribe, true, true, "None + Pending Out", "route"},
	{"A.2.1", true, "To", Subscribe, true, true, "To", "route"},
	{"A.2.2", true, "None", Unsubscribe, true, true, "None", "route"},
	{"§3.3.2 withdraw", true, "None + Pending Out", Unsubscribe, true, true, "None", "route push"},
	{"§3.3.2", true, "To", Unsubscribe, true, true, "None", "route push"},
	{"§3.4.2 step 3, already noted", true, "None", Subscribed, true, true, "None", ""},
	{"§3.4.2 step 3, already noted", true, "None + Pending Out", Subscribed, true, true, "None + Pending Out", ""},
	{"§3.4.2 step 3, already noted", true, "To", Subscribed, true, true, "To", ""},
	{"§3.2.2 step 2", true, "None", Unsubscribed, true, true, "None", "push clearpre"},
	{"§3.2.2 step 2", true, "None + Pending Out", Unsubscribed, true, true, "None + Pending Out", "push clearpre"},
	{"§3.2.2 step 2", true, "To", Unsubscribed, true, true, "To", "push clearpre"},

	// Inbound, pre-approved, with the item §3.4.2 created.
	{"§3.4.2 auto-approval", false, "None", Subscribe, true, true, "From", "reply=subscribed avail push clearpre"},
	{"§3.4.2 auto-approval", false, "None + Pending Out", Subscribe, true, true, "From + Pending Out", "reply=subscribed avail push clearpre"},
	{"§3.4.2 auto-approval", false, "To", Subscribe, true, true, "Both", "reply=subscribed avail push clearpre"},
	{"§3.3.3 ignore", false, "None", Unsubscribe, true, true, "None", ""},
	{"§3.3.3 ignore", false, "None + Pending Out", Unsubscribe, true, true, "None + Pending Out", ""},
	{"§3.3.3 ignore", false, "To", Unsubscribe, true, true, "To", ""},
	{"§3.1.6 ignore", false, "None", Subscribed, true, true, "None", ""},
	{"§3.1.6, approval kept", false, "None + Pending Out", Subscribed, true, true, "To", "deliver push"},
	{"§3.1.6 ignore", false, "To", Subscribed, true, true, "To", ""},
	{"§3.2.3 ignore", false, "None", Unsubscribed, true, true, "None", ""},
	{"§3.1.4 denial, approval kept", false, "None + Pending Out", Unsubscribed, true, true, "None", "deliver push"},
	{"§3.2.3, approval kept", false, "To", Unsubscribed, true, true, "None", "deliver push"},

	// Inbound for a contact the user has no item for.
	{"§3.1.3 no item created", false, "None", Subscribe, false, false, "None + Pending In", "deliver"},
	{"§3.3.3 ignore", false, "None", Unsubscribe, false, false, "None", ""},
	{"§3.1.6 ignore", false, "None", Subscribed, false, false, "None", ""},
	{"§3.2.3 ignore", false, "None", Unsubscribed, false, false, "None", ""},
	{"§3.1.3 step 4 one request", false, "None + Pending In", Subscribe, false, false, "None + Pending In", ""},
	{"§3.3.3 remove the record", false, "None + Pending In", Unsubscribe, false, false, "None", ""},
	{"§3.1.6 ignore", false, "None + Pending In", Subscribed, false, false, "None + Pending In", ""},
	{"§3.2.3 ignore", false, "None + Pending In", Unsubscribed, false, false, "None + Pending In", ""},
	// A pre-approval reported without an item (which §3.4.2 step 4 would
	// have created): the auto-approval needs one.
	{"§3.4.2 auto-approval", false, "None", Subscribe, true, false, "From", "reply=subscribed avail create push clearpre"},
	{"§3.3.3 ignore", false, "None", Unsubscribe, true, false, "None", ""},
	{"§3.1.6 ignore", false, "None", Subscribed, true, false, "None", ""},
	{"§3.2.3 ignore", false, "None", Unsubscribed, true, false, "None", ""},
	// A pre-approval beside a pending request is dropped; without an item
	// there is nothing to push.
	{"§3.4.2 step 2", false, "None + Pending In", Subscribe, true, false, "None + Pending In", "clearpre"},
	{"§3.3.3 remove the record", false, "None + Pending In", Unsubscribe, true, false, "None", "clearpre"},
	{"§3.4.2 step 2", false, "None + Pending In", Subscribed, true, false, "None + Pending In", "clearpre"},
	{"§3.4.2 step 2", false, "None + Pending In", Unsubscribed, true, false, "None + Pending In", "clearpre"},
}

// TestBeyondAppendixA checks the pre-approval and no-item inputs of
// extraRows.
func TestBeyondAppendixA(t *testing.T) {
	for _, row := range extraRows {
		s := stateNamed(t, row.state)
		next := stateNamed(t, row.next)
		dir := "outbound"
		if !row.outbound {
			dir = "inbound"
		}
		name := caseName(dir, s, row.kind)
		if row.pre {
			name += "/pre-approved"
		}
		if !row.outbound && !row.exists {
			name += "/no-item"
		}
		t.Run(name, func(t *testing.T) {
			if row.outbound {
				got := Outbound(s, row.kind, row.pre)
				if want := wantOutbound(t, next, row.effects); got != want {
					t.Errorf("%s: Outbound(%q, %s, %v)\n got %+v\nwant %+v", row.cite, s, row.kind, row.pre, got, want)
				}
				return
			}
			got := Inbound(s, row.exists, row.kind, row.pre)
			if want := wantInbound(t, next, row.effects); got != want {
				t.Errorf("%s: Inbound(%q, %v, %s, %v)\n got %+v\nwant %+v", row.cite, s, row.exists, row.kind, row.pre, got, want)
			}
		})
	}
}

// kinds lists the four kinds in App. A's order.
var kinds = []Kind{Subscribe, Unsubscribe, Subscribed, Unsubscribed}

// TestStalePreApprovalIsDropped states the expectation for a pre-approval
// passed with one of the six states in which §3.4.2 step 3 never records
// one (the contact is subscribed or has asked): the result is that of the
// same input without it, plus ClearPreApproval and a push that removes
// approved='true' from the item, and never CreateItem (a pre-approval is
// recorded on an item, so the item exists).
func TestStalePreApprovalIsDropped(t *testing.T) {
	for _, s := range States() {
		if s.preApprovable() {
			continue
		}
		for _, k := range kinds {
			t.Run(caseName("outbound", s, k)+"/pre-approved", func(t *testing.T) {
				want := Outbound(s, k, false)
				want.ClearPreApproval, want.Push, want.CreateItem = true, true, false
				if got := Outbound(s, k, true); got != want {
					t.Errorf("\n got %+v\nwant %+v", got, want)
				}
			})
			t.Run(caseName("inbound", s, k)+"/pre-approved", func(t *testing.T) {
				want := Inbound(s, true, k, false)
				want.ClearPreApproval, want.Push = true, true
				if got := Inbound(s, true, k, true); got != want {
					t.Errorf("\n got %+v\nwant %+v", got, want)
				}
			})
		}
	}
}

// TestExistsIgnoredForItemStates states the expectation for inbound stanzas
// with exists=false in the seven states that cannot be held without a
// roster item: exists is taken as true.
func TestExistsIgnoredForItemStates(t *testing.T) {
	for _, s := range States() {
		if !s.NeedsItem() {
			continue
		}
		for _, k := range kinds {
			for _, pre := range []bool{false, true} {
				if got, want := Inbound(s, false, k, pre), Inbound(s, true, k, pre); got != want {
					t.Errorf("Inbound(%q, false, %s, %v) = %+v, want the exists=true result %+v", s, k, pre, got, want)
				}
			}
		}
	}
}

// input is one argument tuple of Outbound or Inbound.
type input struct {
	outbound bool
	s        State
	k        Kind
	pre      bool
	exists   bool // always true for outbound
}

// TestEveryInputHasAnExpectation enumerates all 9 states × 4 kinds × 2
// directions × pre-approved (× item exists, inbound) and checks that exactly
// one of the tables or stated expectations above covers each.
func TestEveryInputHasAnExpectation(t *testing.T) {
	covered := map[input]string{}
	cover := func(in input, by string) {
		t.Helper()
		if prev, dup := covered[in]; dup {
			t.Errorf("%+v covered twice: by %s and by %s", in, prev, by)
		}
		covered[in] = by
	}
	for _, tab := range appendixTables {
		for _, row := range tab.rows {
			cover(input{tab.outbound, stateNamed(t, row.state), tab.kind, false, true}, tab.id)
		}
	}
	for _, row := range extraRows {
		cover(input{row.outbound, stateNamed(t, row.state), row.kind, row.pre, row.exists || row.outbound}, "extraRows "+row.cite)
	}
	for _, s := range States() {
		for _, k := range kinds {
			if !s.preApprovable() {
				cover(input{true, s, k, true, true}, "TestStalePreApprovalIsDropped")
				cover(input{false, s, k, true, true}, "TestStalePreApprovalIsDropped")
			}
			if s.NeedsItem() {
				cover(input{false, s, k, false, false}, "TestExistsIgnoredForItemStates")
				cover(input{false, s, k, true, false}, "TestExistsIgnoredForItemStates")
			}
		}
	}
	total := 0
	for _, s := range States() {
		for _, k := range kinds {
			for _, pre := range []bool{false, true} {
				// Outbound; inbound with an item; inbound without one.
				want := []input{{true, s, k, pre, true}, {false, s, k, pre, true}, {false, s, k, pre, false}}
				total += len(want)
				for _, in := range want {
					if _, ok := covered[in]; !ok {
						t.Errorf("no expectation for %s", describe(in))
					}
				}
			}
		}
	}
	if total != 9*4*2*3 || len(covered) != total {
		t.Errorf("covered %d of %d inputs", len(covered), total)
	}
}

func describe(in input) string {
	if in.outbound {
		return fmt.Sprintf("Outbound(%q, %s, %v)", in.s, in.k, in.pre)
	}
	return fmt.Sprintf("Inbound(%q, %v, %s, %v)", in.s, in.exists, in.k, in.pre)
}
