package jsonrpc

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// genMessage builds a random valid request or notification: member order,
// whitespace, id type and the params/_meta layout all vary.
func genMessage(r *rand.Rand) string {
	ws := func() string { return [...]string{"", "", " ", "\n\t", "  \r\n "}[r.IntN(5)] }
	obj := func(members []string) string {
		r.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
		var sb strings.Builder
		sb.WriteString("{" + ws())
		for i, m := range members {
			if i > 0 {
				sb.WriteString(ws() + "," + ws())
			}
			sb.WriteString(m)
		}
		sb.WriteString(ws() + "}")
		return sb.String()
	}
	member := func(k, v string) string { return fmt.Sprintf("%q%s:%s%s", k, ws(), ws(), v) }

	top := []string{member("jsonrpc", `"2.0"`), member("method", [...]string{`"tools/call"`, `"x/custom"`, `"notifications/progress"`}[r.IntN(3)])}
	switch r.IntN(4) {
	case 0: // notification
	case 1:
		top = append(top, member("id", fmt.Sprint(r.IntN(1000)-500)))
	case 2:
		top = append(top, member("id", `"s-\u00e9`+fmt.Sprint(r.IntN(9))+`"`))
	case 3:
		top = append(top, member("id", "12345678901234567890123"))
	}
	if r.IntN(3) == 0 {
		top = append(top, member("extra", `[1,{"a":"b"},null]`))
	}
	var meta []string
	switch r.IntN(6) {
	case 0:
		meta = nil
	case 1:
		meta = []string{}
	case 2:
		meta = []string{member("traceparent", `"00-old"`)}
	case 3:
		meta = []string{member("TraceParent", `5`), member("progressToken", `"p"`), member("tracestate", `"a=1"`)}
	case 4:
		meta = []string{member("io.modelcontextprotocol/protocolVersion", `"2026-07-28"`), member("other", `{"traceparent":"nested"}`)}
	case 5:
		meta = []string{member("X-GW", `"old"`)}
	}
	switch r.IntN(5) {
	case 0: // no params
	case 1:
		top = append(top, member("Params", `[1]`)) // not params at all
	default:
		var params []string
		if r.IntN(2) == 0 {
			params = append(params, member("name", `"tool_`+fmt.Sprint(r.IntN(9))+`"`), member("arguments", obj([]string{member("q", `"go"`)})))
		}
		if meta != nil {
			params = append(params, member("_meta", obj(meta)))
		} else if r.IntN(4) == 0 {
			params = append(params, member("_meta", `"not an object"`))
		}
		top = append(top, member("params", obj(params)))
	}
	return ws() + obj(top) + ws()
}

func TestRewriteGenerated(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	kv := []MetaKV{
		{Key: "traceparent", Value: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
		{Key: "tracestate", Value: "gw=1"},
		{Key: "x-gw", Value: "é\"\n"},
	}
	for i := range 3000 {
		body := genMessage(r)
		b, err := Parse([]byte(body), Limits{})
		if err != nil {
			t.Fatalf("case %d: generated body rejected: %v\n%s", i, err, body)
		}
		m := &b.Messages[0]
		set := kv[:1+r.IntN(len(kv))]
		edits := m.AppendSetMetaEdits(nil, []byte(body), set...)
		newID := ""
		if r.IntN(2) == 0 {
			newID = `"g-` + fmt.Sprint(i) + `"`
			edits = m.AppendReplaceIDEdits(edits, []byte(newID))
		}
		newName := ""
		if r.IntN(2) == 0 {
			newName = "renamed"
			edits = m.AppendReplaceNameEdits(edits, newName)
		}
		checkRewrite(t, []byte(body), m, edits, set, newID, newName)
		if t.Failed() {
			t.Fatalf("case %d: %s", i, body)
		}
	}
}
