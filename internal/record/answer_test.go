package record

import (
	"testing"

	"github.com/mcpgate/mcpgate/internal/mcpwire"
)

func TestAnswer(t *testing.T) {
	gw := RPCError{Code: mcpwire.CodeGateway, Message: "x", Valid: true}
	tests := []struct {
		name   string
		ops    []Op
		id     string
		nullID bool
		want   int // index of the op answered, -1 for none
	}{
		{"the request with the id", []Op{{Kind: OpRequest, ID: "1"}, {Kind: OpRequest, ID: "2"}}, "2", false, 1},
		{"a client response with the same id is not answered", []Op{{Kind: OpResult, ID: "1"}, {Kind: OpRequest, ID: "1"}}, "1", false, 1},
		{"no request with the id", []Op{{Kind: OpNotification}, {Kind: OpResult, ID: "1"}}, "1", false, -1},
		{"a null id answers the single request", []Op{{Kind: OpRequest, ID: "7"}}, "", true, 0},
		{"a null id in a batch answers none", []Op{{Kind: OpRequest, ID: "1"}, {Kind: OpRequest, ID: "2"}}, "", true, -1},
		{"no id at all answers none", []Op{{Kind: OpRequest, ID: "7"}}, "", false, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &Record{Ops: tc.ops}
			op := r.Answer([]byte(tc.id), tc.nullID, Answer{Error: gw})
			for i := range r.Ops {
				answered := i == tc.want
				if r.Ops[i].Answered != answered || r.Ops[i].Error.Valid != answered {
					t.Errorf("op %d: %+v, answered want %v", i, r.Ops[i], answered)
				}
			}
			if (op == nil) != (tc.want < 0) || op != nil && op != &r.Ops[tc.want] {
				t.Errorf("returned op %p, want index %d", op, tc.want)
			}
		})
	}
}

func TestOpOutcome(t *testing.T) {
	gwErr := RPCError{Code: mcpwire.CodeGateway, Message: `backend "a" timed out`, Valid: true}
	tests := []struct {
		name string
		rec  Record
		op   Op
		want Outcome
	}{
		{"success", Record{}, Op{Kind: OpRequest, Answered: true}, Outcome{}},
		{"backend's client error", Record{}, Op{Answered: true, Error: RPCError{Code: -32602, Valid: true}}, Outcome{Class: ClassError, Error: RPCError{Code: -32602, Valid: true}}},
		{"backend's internal error", Record{}, Op{Answered: true, Error: RPCError{Code: -32603, Valid: true}}, Outcome{Class: ClassFailure, Error: RPCError{Code: -32603, Valid: true}}},
		{"the gateway's error in place of a failed backend", Record{Reason: ReasonUpstreamTimeout}, Op{Answered: true, Error: gwErr},
			Outcome{Class: ClassFailure, Reason: ReasonUpstreamTimeout, Error: gwErr}},
		{"a backend's own -32000 without a reason", Record{}, Op{Answered: true, Error: gwErr}, Outcome{Class: ClassFailure, Error: gwErr}},
		{"tool error", Record{}, Op{Answered: true, ToolError: true}, Outcome{Class: ClassFailure, ToolError: true}},
		{"rejected", Record{Reason: ReasonForbidden, Status: 403}, Op{Kind: OpRequest}, Outcome{Class: ClassDenied, Reason: ReasonForbidden}},
		{"canceled", Record{Reason: ReasonClientCanceled}, Op{Kind: OpRequest}, Outcome{Class: ClassError, Reason: ReasonClientCanceled}},
		{"unknown session from the backend", Record{Status: 404, SessionID: "s"}, Op{Kind: OpRequest}, Outcome{Class: ClassDenied, Status: 404}},
		{"backend's 502", Record{Status: 502}, Op{Kind: OpNotification}, Outcome{Class: ClassFailure, Status: 502}},
		{"backend's 400", Record{Status: 400}, Op{Kind: OpRequest}, Outcome{Class: ClassError, Status: 400}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.rec.OpOutcome(&tc.op); got != tc.want {
				t.Errorf("OpOutcome = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestReasonTable(t *testing.T) {
	tests := []struct {
		reason    Reason
		class     Class
		rejection bool
		category  Category
	}{
		{ReasonUnauthenticated, ClassDenied, true, CategoryAuth},
		{ReasonAuthUnavailable, ClassFailure, true, CategoryAuth},
		{ReasonSessionNotFound, ClassDenied, true, CategoryClient},
		{ReasonParseError, ClassError, true, CategoryClient},
		{ReasonClientCanceled, ClassError, false, CategoryClient},
		{ReasonSessionLimit, ClassFailure, true, CategoryGateway},
		{ReasonStreamClosed, ClassFailure, false, CategoryUpstream},
		{"added_later", ClassFailure, false, CategoryNone},
		{"", ClassSuccess, false, CategoryNone},
	}
	for _, tc := range tests {
		t.Run(string(tc.reason), func(t *testing.T) {
			if c, rj, cat := tc.reason.Class(), tc.reason.Rejection(), tc.reason.Category(); c != tc.class || rj != tc.rejection || cat != tc.category {
				t.Errorf("class %d rejection %v category %d, want %d %v %d", c, rj, cat, tc.class, tc.rejection, tc.category)
			}
		})
	}
}

func TestBackendErrorMessage(t *testing.T) {
	be := &BackendError{Backend: `we"ird`, Reason: ReasonUpstreamTimeout, What: "timed out"}
	if got, want := be.Error(), `backend "we\"ird" timed out`; got != want {
		t.Errorf("Error() = %s, want %s", got, want)
	}
	if got, want := string(be.AppendJSON(nil, []byte("3"))), `{"jsonrpc":"2.0","id":3,"error":{"code":-32000,"message":"backend \"we\\\"ird\" timed out"}}`; got != want {
		t.Errorf("AppendJSON = %s, want %s", got, want)
	}
}

func TestAnswerDoesNotAllocate(t *testing.T) {
	r := &Record{}
	r.NewOps(1)[0] = Op{Kind: OpRequest, ID: "12"}
	id := []byte("12")
	a := Answer{Error: RPCError{Code: -32602, Message: "bad", Valid: true}}
	if n := testing.AllocsPerRun(100, func() { r.Answer(id, false, a) }); n != 0 {
		t.Errorf("Answer: %v allocations", n)
	}
}

func TestKeySlots(t *testing.T) {
	type a struct{ n int }
	type b struct{ s string }
	ka, kb := NewKey[a](), NewKey[b]()
	r := &Record{}
	if ka.Get(r) != nil || ka.Get(nil) != nil {
		t.Fatal("an unset slot is not nil")
	}
	va, vb := &a{1}, &b{"x"}
	ka.Set(r, va)
	kb.Set(r, vb)
	if ka.Get(r) != va || kb.Get(r) != vb {
		t.Fatal("slots do not hold their own values")
	}
	ka.Set(r, nil)
	if ka.Get(r) != nil || kb.Get(r) != vb {
		t.Fatal("clearing one slot touched the other")
	}
}
