package gateway

// readiness is the one answer to "may traffic be sent here": both /readyz
// endpoints read it, the public one as a line of text, the admin one with
// the detail. A backend that is down does not make the gateway unready:
// in aggregating mode the others still serve, and relayed, the client gets
// the backend's failure, which no other replica would avoid.
type readinessState struct {
	draining bool
	auth     error // the identity providers' keys are unavailable
	audit    error // the audit sink fails; only counts with audit.failClosed
	// auditBlocks is audit != nil with audit.failClosed: nothing is served.
	auditBlocks bool
}

func (g *Gateway) readiness() readinessState {
	rd := readinessState{draining: g.draining.Load(), auth: g.auth.Ready()}
	if a := g.principals.audit; a != nil {
		rd.audit = a.Healthy()
		rd.auditBlocks = rd.audit != nil && a.FailClosed()
	}
	return rd
}

func (rd readinessState) ready() bool {
	return !rd.draining && rd.auth == nil && !rd.auditBlocks
}

// reason is why the gateway is not ready, as the public /readyz says it.
func (rd readinessState) reason() string {
	switch {
	case rd.draining:
		return "draining"
	case rd.auth != nil:
		return "not ready: identity provider keys unavailable"
	case rd.auditBlocks:
		return "not ready: audit sink failing"
	}
	return "ready"
}

// mode is relay with one backend, aggregate with several.
func (g *Gateway) mode() string {
	if len(g.cfg.Backends) > 1 {
		return "aggregate"
	}
	return "relay"
}
