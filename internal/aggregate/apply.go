package aggregate

import (
	"fmt"
	"maps"
)

// applyLocked replaces what c's backend offers on the session's server with
// the items of l, by way of the backend's shared catalog (catalog.go): the
// names are checked against the other backends' first, so a collision
// changes nothing. The session's server refers to the catalog's items; it
// copies none of them. s.mu held.
func (s *session) applyLocked(c *conn, l *lists) error {
	name := c.b.Name
	cat, learn, err := c.b.shared(s.agg.opts.Naming, l)
	if err != nil {
		return err
	}
	for b, o := range s.offered {
		if b == name {
			continue
		}
		if err := cat.collides(o.cat); err != nil {
			return err
		}
	}
	resources, templates := s.resources.without(name), s.templates.without(name)
	o := &offer{cat: cat}
	for _, r := range cat.resources {
		o.resources = append(o.resources, resources.add(name, r.URI))
	}
	for _, t := range cat.templates {
		o.templates = append(o.templates, templates.add(name, t.URITemplate))
	}

	if old := s.offered[name]; old != nil {
		s.withdrawLocked(old)
	}
	s.resources, s.templates = resources, templates
	s.offered[name] = o
	if learn {
		s.agg.learn(cat)
	}
	for _, t := range cat.tools {
		s.safeAdd(name, "tool "+cat.toolRoutes[t.Name], func() { s.server.AddTool(t, c.toolHandler) })
	}
	for _, p := range cat.prompts {
		s.safeAdd(name, "prompt "+cat.promptRtes[p.Name], func() { s.server.AddPrompt(p, c.promptHandler) })
	}
	for i, r := range cat.resources {
		r2 := r
		if o.resources[i] != r.URI {
			cp := *r
			cp.URI = o.resources[i]
			r2 = &cp
		}
		s.safeAdd(name, "resource "+r.URI, func() { s.server.AddResource(r2, c.readResource(r.URI)) })
	}
	for i, t := range cat.templates {
		t2 := t
		if o.templates[i] != t.URITemplate {
			cp := *t
			cp.URITemplate = o.templates[i]
			t2 = &cp
		}
		s.safeAdd(name, "resource template "+t.URITemplate, func() { s.server.AddResourceTemplate(t2, c.readResource("")) })
	}
	return nil
}

// safeAdd runs an SDK Add*, which panics on what it considers invalid (a
// malformed URI template, say): one bad item of a backend is logged and
// skipped rather than taking the session down.
func (s *session) safeAdd(backend, what string, add func()) {
	defer func() {
		if r := recover(); r != nil {
			s.agg.log.Warn("backend item not offered", "backend", backend, "item", what, "error", fmt.Sprint(r))
		}
	}()
	add()
}

// objectSchema returns schema as the SDK accepts it for a tool's input: a
// JSON object with type "object" (a backend that left the type out, or the
// schema, would otherwise make AddTool panic).
func objectSchema(schema any) any {
	m, ok := schema.(map[string]any)
	if !ok {
		if schema != nil {
			return schema
		}
		return map[string]any{"type": "object"}
	}
	if _, has := m["type"]; !has {
		m = maps.Clone(m)
		m["type"] = "object"
	}
	return m
}

// without returns a copy of t without backend's routes.
func (t *uriTable) without(backend string) *uriTable {
	c := &uriTable{routes: make(map[string]Route, len(t.routes))}
	for k, r := range t.routes {
		if r.Backend != backend {
			c.routes[k] = r
		}
	}
	return c
}
