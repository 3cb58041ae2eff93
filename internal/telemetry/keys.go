package telemetry

import "go.opentelemetry.io/otel/attribute"

// Attribute keys. The MCP, gen_ai, jsonrpc and rpc keys are those of semantic
// conventions v1.41 (Development); they are defined here rather than imported
// from go.opentelemetry.io/otel/semconv/v1.41.0 because later semconv
// releases dropped them and because the resource must not carry that
// package's schema URL next to the SDK's (resource.Merge refuses two
// different schema URLs).
const (
	keyMCPMethod          = attribute.Key("mcp.method.name")
	keyMCPProtocolVersion = attribute.Key("mcp.protocol.version")
	// keySessionRef replaces mcp.session.id (record.SessionRef says why).
	keySessionRef         = attribute.Key("mcpgate.session.ref")
	keyMCPResourceURI     = attribute.Key("mcp.resource.uri")
	keyJSONRPCRequestID   = attribute.Key("jsonrpc.request.id")
	keyRPCStatusCode      = attribute.Key("rpc.response.status_code")
	keyGenAIToolName      = attribute.Key("gen_ai.tool.name")
	keyGenAIPromptName    = attribute.Key("gen_ai.prompt.name")
	keyGenAIOperation     = attribute.Key("gen_ai.operation.name")
	keyGenAIToolArguments = attribute.Key("gen_ai.tool.call.arguments")
	keyErrorType          = attribute.Key("error.type")

	keyNetworkTransport       = attribute.Key("network.transport")
	keyNetworkProtocolName    = attribute.Key("network.protocol.name")
	keyNetworkProtocolVersion = attribute.Key("network.protocol.version")
	keyClientAddress          = attribute.Key("client.address")
	keyClientPort             = attribute.Key("client.port")
	keyServerAddress          = attribute.Key("server.address")
	keyServerPort             = attribute.Key("server.port")
	keyHTTPMethod             = attribute.Key("http.request.method")
	keyHTTPStatus             = attribute.Key("http.response.status_code")

	// Extensions, documented as such in docs/telemetry.md.
	keyMCPClientName    = attribute.Key("mcp.client.name")
	keyMCPClientVersion = attribute.Key("mcp.client.version")
	keyBackend          = attribute.Key("mcpgate.backend")
	keyAuthzDecision    = attribute.Key("mcpgate.authz.decision")
	keyAuthzPolicies    = attribute.Key("mcpgate.authz.policies")
	keyAuthzItemsDenied = attribute.Key("mcpgate.authz.items_denied")
	keyHTTPKind         = attribute.Key("mcpgate.http.kind")
	keyMessageKind      = attribute.Key("mcpgate.jsonrpc.kind")
	keyLinkSource       = attribute.Key("mcpgate.link.source")
	keyOutcome          = attribute.Key("mcpgate.outcome")
)

// Values of the attributes above that the gateway itself chooses.
const (
	other         = "_OTHER" // any value outside a bounded set
	opExecuteTool = "execute_tool"
	transportTCP  = "tcp"
	transportPipe = "pipe"
	protocolHTTP  = "http"
	kindStream    = "stream"
	kindDelete    = "delete"
	kindRejected  = "rejected"
	linkFromHTTP  = "http"
	linkFromMeta  = "_meta"
)

// clientInfoMax caps the self-reported client name and version (they are
// whatever the client wrote in initialize).
const clientInfoMax = 128
