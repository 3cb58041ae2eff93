package authz

// RequestParams is what a decision reads from a request's params object
// beyond what the JSON-RPC parser already found (the name, the URI).
type RequestParams struct {
	// Arguments is the raw JSON of params.arguments (tools/call,
	// prompts/get) or params.argument (completion/complete); nil when
	// absent.
	Arguments []byte
	// Ref is completion/complete's params.ref as a target: a prompt
	// (ref/prompt, by name) or a resource (ref/resource, by URI template);
	// Kind is KindDefault when there is none.
	Ref Target
}

// ReadParams reads params (a request's params object, already checked as
// JSON by the request's parser) for method. Member names are matched
// ignoring ASCII case, like list filtering: a backend decoding with Go's
// encoding/json would read "Arguments" as the arguments. When a member
// appears more than once the last one counts, as encoding/json and
// JavaScript's JSON.parse both keep it. A malformed params yields the zero
// RequestParams.
func ReadParams(method string, params []byte) RequestParams {
	var rp RequestParams
	if len(params) == 0 {
		return rp
	}
	argMember := "arguments"
	if method == "completion/complete" {
		argMember = "argument"
	}
	s := scan{b: params}
	err := s.object(func(name []byte, esc bool) error {
		switch {
		case nameIs(name, esc, argMember):
			start := s.pos
			if err := s.skip(); err != nil {
				return err
			}
			rp.Arguments = params[start:s.pos]
			return nil
		case method == "completion/complete" && nameIs(name, esc, "ref") && s.peek() == '{':
			var typ, id, uri string
			err := s.object(func(name []byte, esc bool) error {
				var dst *string
				switch {
				case nameIs(name, esc, "type"):
					dst = &typ
				case nameIs(name, esc, "name"):
					dst = &id
				case nameIs(name, esc, "uri"):
					dst = &uri
				default:
					return s.skip()
				}
				if s.peek() != '"' {
					return s.skip()
				}
				raw, e, err := s.str()
				if err != nil {
					return err
				}
				*dst, _ = unquote(raw, e)
				return nil
			})
			switch typ {
			case "ref/prompt":
				rp.Ref = Target{Kind: KindPrompt, Name: id}
			case "ref/resource":
				rp.Ref = Target{Kind: KindResource, Name: uri}
			default:
				rp.Ref = Target{}
			}
			return err
		}
		return s.skip()
	})
	if err != nil {
		return RequestParams{}
	}
	return rp
}

// MarkPrivate returns result (a list result object) with its cacheScope
// member set to "private" (SEP-2549): a filtered list depends on the
// principal, and a shared cache must not hand it to another. Every
// existing cacheScope (matched ignoring case, as a lenient reader would) is
// replaced; without one the member is added first. Every other byte is
// kept.
func MarkPrivate(result []byte) ([]byte, error) {
	const private = `"private"`
	type span struct{ start, end int }
	var found []span
	s := scan{b: result}
	err := s.object(func(name []byte, esc bool) error {
		if nameIs(name, esc, "cacheScope") {
			start := s.pos
			if err := s.skip(); err != nil {
				return err
			}
			found = append(found, span{start, s.pos})
			return nil
		}
		return s.skip()
	})
	if err != nil || !s.end() {
		return nil, ErrListShape
	}
	out := make([]byte, 0, len(result)+32)
	if len(found) > 0 {
		at := 0
		for _, f := range found {
			out = append(out, result[at:f.start]...)
			out = append(out, private...)
			at = f.end
		}
		return append(out, result[at:]...), nil
	}
	open := 0
	for result[open] != '{' {
		open++
	}
	out = append(out, result[:open+1]...)
	out = append(out, `"cacheScope":`+private...)
	rest := result[open+1:]
	s = scan{b: rest}
	if s.peek() != '}' {
		out = append(out, ',')
	}
	return append(out, rest...), nil
}
