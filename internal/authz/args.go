package authz

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/cedar-policy/cedar-go/types"
)

// The bounds on the arguments a policy sees as context.arguments. A call's
// arguments are the client's to choose, so converting them must cost a
// bounded amount whatever they hold. What lies beyond a bound is left out of
// the record — never cut short, since a shortened string is a different
// value a pattern could wrongly match or miss — and context.argumentsTruncated
// is true, so that a policy that needs every argument can forbid what it
// cannot see (docs: "Argument bounds").
const (
	// MaxArgumentBytes: larger arguments are not converted at all: the
	// record is empty and argumentsTruncated is true.
	MaxArgumentBytes = 64 << 10
	// MaxArgumentDepth: the arguments record is depth 1; a value nested
	// deeper (an object in an object in ... nine levels down) is left out.
	MaxArgumentDepth = 8
	// MaxArgumentValues: values converted in all (members and elements, at
	// any depth, containers included), in document order; the rest are left
	// out.
	MaxArgumentValues = 256
	// MaxArgumentString: a string value or member name longer than this
	// many bytes is left out.
	MaxArgumentString = 4096
)

// argConv converts JSON to Cedar values within the bounds.
type argConv struct {
	s         scan
	left      int
	truncated bool
}

// convertArguments converts raw (a JSON object, or empty when the request
// has no arguments) to the context.arguments record. Malformed JSON yields
// an empty, truncated record: a gateway that relays the message has parsed
// it already, so this is for callers that did not.
func convertArguments(raw []byte) (types.Record, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return types.Record{}, false
	}
	if len(raw) > MaxArgumentBytes || raw[0] != '{' {
		return types.Record{}, true
	}
	c := argConv{s: scan{b: raw}, left: MaxArgumentValues}
	v, ok := c.value(1)
	if !ok || !c.s.end() {
		return types.Record{}, true
	}
	rec, _ := v.(types.Record)
	return rec, c.truncated
}

// value converts the value at pos, at the given depth. It returns nil (and
// ok) for a value left out or a null; ok is false for malformed input.
func (c *argConv) value(depth int) (types.Value, bool) {
	if depth > MaxArgumentDepth || c.left <= 0 {
		c.truncated = true
		return nil, c.s.skip() == nil
	}
	c.left--
	switch c.s.peek() {
	case '{':
		var m types.RecordMap
		err := c.s.object(func(name []byte, esc bool) error {
			key, ok := unquote(name, esc)
			if !ok {
				return errSyntax
			}
			if len(key) > MaxArgumentString {
				c.truncated = true
				return c.s.skip()
			}
			v, ok := c.value(depth + 1)
			if !ok {
				return errSyntax
			}
			if v != nil {
				if m == nil {
					m = types.RecordMap{}
				}
				m[types.String(key)] = v
			}
			return nil
		})
		if err != nil {
			return nil, false
		}
		return types.NewRecord(m), true
	case '[':
		var vs []types.Value
		err := c.s.array(func() error {
			v, ok := c.value(depth + 1)
			if !ok {
				return errSyntax
			}
			if v != nil {
				vs = append(vs, v)
			}
			return nil
		})
		if err != nil {
			return nil, false
		}
		return types.NewSet(vs...), true
	case '"':
		raw, esc, err := c.s.str()
		if err != nil {
			return nil, false
		}
		if len(raw)-2 > MaxArgumentString {
			c.truncated = true
			return nil, true
		}
		v, ok := unquote(raw, esc)
		if !ok {
			return nil, false
		}
		return types.String(v), true
	case 't':
		return types.True, c.s.lit("true") == nil
	case 'f':
		return types.False, c.s.lit("false") == nil
	case 'n':
		// Cedar has no null: a null member reads as an absent one.
		return nil, c.s.lit("null") == nil
	default:
		num, err := c.s.number()
		if err != nil {
			return nil, false
		}
		v := convertNumber(num)
		if v == nil {
			c.truncated = true
		}
		return v, true
	}
}

// convertNumber maps a JSON number to a Cedar Long when it is an integer in
// range, to a decimal when it has at most four fractional digits (Cedar's
// decimal), and otherwise to nil: rounding would hand a policy a different
// number than the backend receives.
func convertNumber(num []byte) types.Value {
	if i, err := strconv.ParseInt(string(num), 10, 64); err == nil {
		return types.Long(i)
	}
	if dot := bytes.IndexByte(num, '.'); dot > 0 && !bytes.ContainsAny(num, "eE") && len(num)-dot-1 <= 4 {
		if d, err := types.ParseDecimal(string(num)); err == nil {
			return d
		}
	}
	return nil
}

// convertJSON converts a decoded JSON value (a token claim) to a Cedar
// value under the same rules as arguments; nil when it has no Cedar form.
func convertJSON(v any, depth int) types.Value {
	if depth > MaxArgumentDepth {
		return nil
	}
	switch x := v.(type) {
	case string:
		return types.String(x)
	case bool:
		return types.Boolean(x)
	case float64:
		return convertNumber(strconv.AppendFloat(nil, x, 'f', -1, 64))
	case json.Number:
		return convertNumber([]byte(x))
	case int:
		return types.Long(x)
	case int64:
		return types.Long(x)
	case []any:
		vs := make([]types.Value, 0, len(x))
		for _, e := range x {
			if cv := convertJSON(e, depth+1); cv != nil {
				vs = append(vs, cv)
			}
		}
		return types.NewSet(vs...)
	case []string:
		vs := make([]types.Value, len(x))
		for i, e := range x {
			vs[i] = types.String(e)
		}
		return types.NewSet(vs...)
	case map[string]any:
		m := make(types.RecordMap, len(x))
		for k, e := range x {
			if cv := convertJSON(e, depth+1); cv != nil {
				m[types.String(k)] = cv
			}
		}
		return types.NewRecord(m)
	}
	return nil
}
