package telemetry

import (
	"context"
	"net/http"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/mcpgate/mcpgate/internal/record"
)

const (
	httpTP  = "00-11111111111111111111111111111111-aaaaaaaaaaaaaaaa-01"
	metaTP  = "00-22222222222222222222222222222222-bbbbbbbbbbbbbbbb-01"
	httpTID = "11111111111111111111111111111111"
	metaTID = "22222222222222222222222222222222"
)

// bodyWithMeta is a tools/call whose params._meta carries tp ("" for none).
func bodyWithMeta(tp string) string {
	meta := ""
	if tp != "" {
		meta = `,"_meta":{"traceparent":"` + tp + `","tracestate":"m=1"}`
	}
	return `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"` + meta + `}}`
}

type linkWant struct{ traceID, source string }

// TestParentRules pins docs/telemetry.md ("Parents, links and sampling"): an admitted request's span is parented
// by its _meta context, else by the HTTP traceparent, the other linked; a
// rejected one is a new root linked to what the caller sent.
func TestParentRules(t *testing.T) {
	tests := []struct {
		name        string
		header      string // HTTP traceparent
		meta        string // params._meta traceparent
		reject      bool
		wantParent  string // trace id of the remote parent; "" for a new root
		wantLinks   []linkWant
		wantTrState string
	}{
		{name: "meta parent, HTTP linked", header: httpTP, meta: metaTP,
			wantParent: metaTID, wantLinks: []linkWant{{httpTID, "http"}}, wantTrState: "m=1"},
		{name: "HTTP only", header: httpTP, wantParent: httpTID},
		{name: "meta only", meta: metaTP, wantParent: metaTID, wantTrState: "m=1"},
		{name: "the same context twice is not linked", header: metaTP, meta: metaTP, wantParent: metaTID, wantTrState: "m=1"},
		{name: "none: new root"},
		{name: "invalid traceparent ignored", header: "00-zz-bad-01"},
		{name: "rejected: new root linked to the header", header: httpTP, reject: true,
			wantLinks: []linkWant{{httpTID, "http"}}},
		{name: "rejected without context: plain root", reject: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, InstrumentOptions{}, nil)
			req := post(bodyWithMeta(tc.meta))
			if tc.header != "" {
				req.Header.Set("Traceparent", tc.header)
			}
			if tc.reject {
				req.Header.Set(rejectAuth, "1")
			}
			h.serve(req, answer())
			s := h.spans.Ended()[0]
			checkParent(t, s.Parent(), s.SpanContext(), tc.wantParent)
			if got := s.SpanContext().TraceState().String(); got != tc.wantTrState {
				t.Errorf("tracestate %q, want %q", got, tc.wantTrState)
			}
			checkLinks(t, s.Links(), tc.wantLinks)
		})
	}
}

// TestRejectedLinksBoth drives the reporter with a record as inspect fills
// it for a request rejected by authn: a new root, linked to the _meta and
// the HTTP contexts.
func TestRejectedLinksBoth(t *testing.T) {
	h := newHarness(t, InstrumentOptions{}, nil)
	rec := &record.Record{Start: time.Now(), HTTPMethod: "POST", TraceParent: httpTP, Status: 401, Reason: record.ReasonUnauthenticated}
	op := &rec.NewOps(1)[0]
	op.Kind, op.Method, op.ID, op.Name = record.OpRequest, "tools/call", "1", "echo"
	op.TraceParent, op.TraceState = metaTP, "m=1"
	h.tel.Reporter().Report(context.Background(), rec)
	s := h.spans.Ended()[0]
	checkParent(t, s.Parent(), s.SpanContext(), "")
	checkLinks(t, s.Links(), []linkWant{{metaTID, "_meta"}, {httpTID, "http"}})
}

// TestRejectedWithoutMessageLinksHeader: a request rejected before its body
// was parsed still links the HTTP context.
func TestRejectedWithoutMessageLinksHeader(t *testing.T) {
	h := newHarness(t, InstrumentOptions{}, nil)
	req := post(`not json`, "Traceparent", httpTP)
	h.serve(req, answer())
	s := h.spans.Ended()[0]
	checkParent(t, s.Parent(), s.SpanContext(), "")
	checkLinks(t, s.Links(), []linkWant{{httpTID, "http"}})
}

func checkParent(t *testing.T, parent, self trace.SpanContext, want string) {
	t.Helper()
	if want == "" {
		if parent.IsValid() {
			t.Errorf("parent %v, want a new root", parent.TraceID())
		}
		for _, tid := range []string{httpTID, metaTID} {
			if self.TraceID().String() == tid {
				t.Errorf("new root reuses the caller's trace id %s", tid)
			}
		}
		return
	}
	if !parent.IsRemote() || parent.TraceID().String() != want {
		t.Errorf("parent %v (remote %v), want %s", parent.TraceID(), parent.IsRemote(), want)
	}
}

func checkLinks(t *testing.T, links []sdkLink, want []linkWant) {
	t.Helper()
	if len(links) != len(want) {
		t.Fatalf("%d links, want %d", len(links), len(want))
	}
	for i, l := range links {
		if got := l.SpanContext.TraceID().String(); got != want[i].traceID {
			t.Errorf("link %d trace %s, want %s", i, got, want[i].traceID)
		}
		if got := attrs(l.Attributes)["mcpgate.link.source"]; got != want[i].source {
			t.Errorf("link %d source %q, want %q", i, got, want[i].source)
		}
	}
}

// TestServerSpanContext: the accessor for the audit log finds each message's
// span.
func TestServerSpanContext(t *testing.T) {
	h := newHarness(t, InstrumentOptions{}, nil)
	var rec *record.Record
	h.serve(post(`[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"ping"}]`, "Mcp-Protocol-Version", "2025-03-26"),
		func(w http.ResponseWriter, r *http.Request) {
			rec = record.FromContext(r.Context())
			answer()(w, r)
		})
	spans := h.spans.Ended()
	for i := range rec.Ops {
		if got := ServerSpanContext(rec, i); got.SpanID() != spans[i].SpanContext().SpanID() {
			t.Errorf("op %d: span %v, want %v", i, got.SpanID(), spans[i].SpanContext().SpanID())
		}
	}
	if ServerSpanContext(&record.Record{}, -1).IsValid() {
		t.Error("a record without spans has a span context")
	}
}
