package jsonrpc_test

import (
	"fmt"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
)

func Example() {
	body := []byte(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"search","arguments":{"q":"go"}}}`)

	var b jsonrpc.Body
	if err := b.Parse(body, jsonrpc.Limits{}); err != nil {
		fmt.Println(err)
		return
	}
	m := &b.Messages[0]
	fmt.Println(m.Kind, m.Method, m.Name, string(m.ID.Bytes(body)))

	// Add trace context and give the request a gateway id, by splicing bytes
	// at the offsets the parse found.
	edits := m.AppendSetMetaEdits(nil, body,
		jsonrpc.MetaKV{Key: "traceparent", Value: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
	edits = m.AppendReplaceIDEdits(edits, []byte(`"g-1"`))
	jsonrpc.SortEdits(edits)
	out, err := jsonrpc.Splice(nil, body, edits)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(out))
	// Output:
	// request tools/call search 7
	// {"jsonrpc":"2.0","id":"g-1","method":"tools/call","params":{"_meta":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},"name":"search","arguments":{"q":"go"}}}
}
