package stdiorelay

import (
	"errors"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
)

var errDuplicateID = errors.New("a request with this id is already in flight in this session")

// newItem describes a parsed message for delivery. clientID, when not nil,
// is the id the client used (shared children see remapped ids).
func newItem(data []byte, m *jsonrpc.Message, clientID []byte) item {
	it := item{data: data}
	if m.Kind == jsonrpc.KindResult || m.Kind == jsonrpc.KindError {
		it.response = true
		if clientID != nil {
			it.id = string(clientID)
		} else if m.ID.Present() {
			it.id = string(m.ID.Bytes(data))
		}
		it.hasError = m.Kind == jsonrpc.KindError
		it.errCode, it.errMsg = m.ErrorCode, m.ErrorMessage
		it.isError = m.IsError
	}
	return it
}

// errorItem is the JSON-RPC error the gateway answers for the backend.
func errorItem(id []byte, msg string) item {
	return item{
		data:     mcpwire.AppendError(nil, id, mcpwire.CodeGateway, msg),
		response: true, id: string(id),
		hasError: true, errCode: mcpwire.CodeGateway, errMsg: msg,
		gateway: true,
	}
}

// errorResponseFor re-addresses a null-id error response from the child to
// the request with id, keeping the child's code and message.
func errorResponseFor(m *jsonrpc.Message, id string) item {
	return newItem(mcpwire.AppendError(nil, []byte(id), m.ErrorCode, m.ErrorMessage), m, []byte(id))
}
