package aggregate

import (
	"fmt"
	"maps"
)

// applyLocked replaces what c's backend offers on the session's server with
// the items of l: the names are checked against the other backends' first,
// so a collision changes nothing. s.mu held.
func (s *session) applyLocked(c *conn, l *lists) error {
	n := s.agg.opts.Naming
	name := c.b.Name
	tools, prompts := s.tools.without(name), s.prompts.without(name)
	resources, templates := s.resources.without(name), s.templates.without(name)
	o := &offer{}
	for _, t := range l.tools {
		ex, err := tools.add(n, name, t.Name)
		if err != nil {
			return err
		}
		o.tools = append(o.tools, ex)
	}
	for _, p := range l.prompts {
		ex, err := prompts.add(n, name, p.Name)
		if err != nil {
			return err
		}
		o.prompts = append(o.prompts, ex)
	}
	for _, r := range l.resources {
		o.resources = append(o.resources, resources.add(name, r.URI))
	}
	for _, t := range l.templates {
		o.templates = append(o.templates, templates.add(name, t.URITemplate))
	}

	if old := s.offered[name]; old != nil {
		s.withdrawLocked(name, old)
	}
	s.tools, s.prompts, s.resources, s.templates = tools, prompts, resources, templates
	s.offered[name] = o
	s.agg.learn(name, l.tools, l.prompts, o)
	for i, t := range l.tools {
		t2 := *t
		t2.Name = o.tools[i]
		t2.InputSchema = objectSchema(t.InputSchema)
		s.safeAdd(name, "tool "+t.Name, func() { s.server.AddTool(&t2, c.callTool(t.Name)) })
	}
	for i, p := range l.prompts {
		p2 := *p
		p2.Name = o.prompts[i]
		s.safeAdd(name, "prompt "+p.Name, func() { s.server.AddPrompt(&p2, c.getPrompt(p.Name)) })
	}
	for i, r := range l.resources {
		r2 := *r
		r2.URI = o.resources[i]
		s.safeAdd(name, "resource "+r.URI, func() { s.server.AddResource(&r2, c.readResource(r.URI)) })
	}
	for i, t := range l.templates {
		t2 := *t
		t2.URITemplate = o.templates[i]
		s.safeAdd(name, "resource template "+t.URITemplate, func() { s.server.AddResourceTemplate(&t2, c.readResource("")) })
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
func (t *nameTable) without(backend string) *nameTable {
	c := &nameTable{kind: t.kind, routes: make(map[string]Route, len(t.routes))}
	for k, r := range t.routes {
		if r.Backend != backend {
			c.routes[k] = r
		}
	}
	return c
}

func (t *uriTable) without(backend string) *uriTable {
	c := &uriTable{routes: make(map[string]Route, len(t.routes))}
	for k, r := range t.routes {
		if r.Backend != backend {
			c.routes[k] = r
		}
	}
	return c
}
