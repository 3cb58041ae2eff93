package jsonrpc

// internMethod returns the constant string for an MCP method name spelled by
// b, so that parsing the common methods allocates nothing. The switch on
// string(b) compiles to comparisons without converting b.
func internMethod(b []byte) (string, bool) {
	switch string(b) {
	case "initialize":
		return "initialize", true
	case "ping":
		return "ping", true
	case "tools/list":
		return "tools/list", true
	case "tools/call":
		return "tools/call", true
	case "prompts/list":
		return "prompts/list", true
	case "prompts/get":
		return "prompts/get", true
	case "resources/list":
		return "resources/list", true
	case "resources/read":
		return "resources/read", true
	case "resources/templates/list":
		return "resources/templates/list", true
	case "resources/subscribe":
		return "resources/subscribe", true
	case "resources/unsubscribe":
		return "resources/unsubscribe", true
	case "completion/complete":
		return "completion/complete", true
	case "logging/setLevel":
		return "logging/setLevel", true
	case "sampling/createMessage":
		return "sampling/createMessage", true
	case "elicitation/create":
		return "elicitation/create", true
	case "roots/list":
		return "roots/list", true
	case "server/discover":
		return "server/discover", true
	case "subscriptions/listen":
		return "subscriptions/listen", true
	case "tasks/get":
		return "tasks/get", true
	case "tasks/list":
		return "tasks/list", true
	case "tasks/result":
		return "tasks/result", true
	case "tasks/cancel":
		return "tasks/cancel", true
	case "notifications/initialized":
		return "notifications/initialized", true
	case "notifications/cancelled":
		return "notifications/cancelled", true
	case "notifications/progress":
		return "notifications/progress", true
	case "notifications/message":
		return "notifications/message", true
	case "notifications/roots/list_changed":
		return "notifications/roots/list_changed", true
	case "notifications/tools/list_changed":
		return "notifications/tools/list_changed", true
	case "notifications/prompts/list_changed":
		return "notifications/prompts/list_changed", true
	case "notifications/resources/list_changed":
		return "notifications/resources/list_changed", true
	case "notifications/resources/updated":
		return "notifications/resources/updated", true
	case "notifications/tasks/status":
		return "notifications/tasks/status", true
	case "notifications/elicitation/complete":
		return "notifications/elicitation/complete", true
	}
	return "", false
}

// KnownMethod reports whether m is one of the method names the MCP
// specification defines (requests and notifications, either direction).
func KnownMethod(m string) bool {
	_, ok := internMethod([]byte(m))
	return ok
}

// internProtocolVersion does for protocol revisions what internMethod does
// for methods: initialize and stateless requests carry one each.
func internProtocolVersion(b []byte) (string, bool) {
	switch string(b) {
	case "2024-11-05":
		return "2024-11-05", true
	case "2025-03-26":
		return "2025-03-26", true
	case "2025-06-18":
		return "2025-06-18", true
	case "2025-11-25":
		return "2025-11-25", true
	case "2026-07-28":
		return "2026-07-28", true
	}
	return "", false
}
