package jsonrpc

import (
	"sync"
)

// Limits bounds what Parse accepts. Zero fields take the defaults.
type Limits struct {
	MaxDepth int // nesting of arrays/objects; default 64
	MaxBatch int // messages in a batch (array); default 32
}

// Default limits.
const (
	DefaultMaxDepth = 64
	DefaultMaxBatch = 32
)

// Body is one parsed HTTP (or stdio line) body.
type Body struct {
	Batch    bool      // the body was a JSON array
	Messages []Message // in order; len 1 when !Batch
}

var scanners = sync.Pool{New: func() any {
	return &scanner{
		names:  make([]nameRef, 0, 32),
		frames: make([]frame, 0, 16),
		pend:   make([]pending, 0, 12),
		strs:   make([]byte, 0, 256),
	}
}}

// Parse parses body strictly. It allocates as little as possible: Messages
// may reuse b.Messages' backing array (so callers can pool Body values), and
// the strings of one message share a single allocation (method names and
// protocol versions of the spec allocate nothing). Spans refer to body, which
// the caller must not modify while it uses them.
//
// The error, when not nil, is an *Error with CodeParseError for anything that
// is not strict JSON and CodeInvalidRequest for JSON that is not a valid MCP
// JSON-RPC message or batch. A syntax error anywhere takes precedence over a
// shape error. On error b.Messages is empty.
func (b *Body) Parse(body []byte, lim Limits) error {
	if lim.MaxDepth <= 0 {
		lim.MaxDepth = DefaultMaxDepth
	}
	if lim.MaxBatch <= 0 {
		lim.MaxBatch = DefaultMaxBatch
	}
	s := scanners.Get().(*scanner)
	s.init(body, lim.MaxDepth)
	s.maxBatch = lim.MaxBatch
	e := s.parseBody(b)
	s.release()
	scanners.Put(s)
	if e != nil {
		b.Batch = false
		b.Messages = b.Messages[:0]
		return e
	}
	return nil
}

// Parse is Body.Parse into a new Body.
func Parse(body []byte, lim Limits) (Body, error) {
	var b Body
	err := b.Parse(body, lim)
	return b, err
}

func (s *scanner) parseBody(b *Body) *Error {
	msgs := b.Messages[:0]
	b.Batch = false
	s.skipWS()
	if s.pos >= len(s.buf) {
		return parseError("empty body")
	}
	switch s.buf[s.pos] {
	case '{':
		msgs = grow(msgs)
		s.message(&msgs[0])
	case '[':
		b.Batch = true
		msgs = s.batch(msgs)
	default:
		if s.value() != vErr {
			s.setInvalid(invalidRequest("a message must be a JSON object, or a batch an array of them"))
		}
	}
	if s.err == nil {
		s.skipWS()
		if s.pos < len(s.buf) {
			s.err = parseError("unexpected data after the JSON value at offset %d", s.pos)
		}
	}
	b.Messages = msgs
	if s.err != nil {
		return s.err
	}
	return s.invalid
}

// grow extends msgs by one element, reusing capacity.
func grow(msgs []Message) []Message {
	if len(msgs) < cap(msgs) {
		return msgs[:len(msgs)+1]
	}
	return append(msgs, Message{})
}

func (s *scanner) batch(msgs []Message) []Message {
	start := s.pos
	if !s.openArray() {
		return msgs
	}
	n := 0
	for s.nextElement() {
		if s.buf[s.pos] == '{' && n < s.maxBatch {
			msgs = grow(msgs)
			s.message(&msgs[len(msgs)-1])
		} else {
			// Past the limit only syntax is checked: the count is reported
			// once the whole body is known to be JSON.
			if s.value() == vObject || n >= s.maxBatch {
				// over the limit; reported below
			} else if s.err == nil {
				s.setInvalid(invalidRequest("batch element %d is not an object", n))
			}
		}
		if s.err != nil {
			return msgs
		}
		n++
	}
	switch {
	case s.err != nil:
	case n == 0:
		s.setInvalid(invalidRequest("empty batch at offset %d", start))
	case n > s.maxBatch:
		s.invalid = invalidRequest("batch of %d messages exceeds the limit of %d", n, s.maxBatch)
	}
	return msgs
}

// Which members a message has.
const (
	hasJSONRPC = 1 << iota
	hasMethod
	hasID
	hasResult
	hasError
)

// message parses the object at s.pos into m.
func (s *scanner) message(m *Message) {
	*m = Message{}
	s.strs, s.pend = s.strs[:0], s.pend[:0]
	start := s.pos
	if !s.openObject() {
		return
	}
	var has uint8
	for {
		name, ok := s.member()
		if !ok {
			break
		}
		switch string(name) {
		case "jsonrpc":
			has |= hasJSONRPC
			if s.buf[s.pos] == '"' {
				raw, flags, ok := s.str()
				if !ok {
					return
				}
				if !s.equals(raw, flags, "2.0") {
					s.setInvalid(invalidRequest(`"jsonrpc" must be "2.0"`))
				}
			} else {
				s.value()
				s.setInvalid(invalidRequest(`"jsonrpc" must be "2.0"`))
			}
		case "method":
			has |= hasMethod
			s.method(m)
		case "id":
			has |= hasID
			s.id(m)
		case "params":
			if s.buf[s.pos] == '{' {
				s.params(m)
			} else if s.value() != vErr {
				s.setInvalid(invalidRequest(`"params" must be an object`))
			}
		case "result":
			has |= hasResult
			vs := s.pos
			if s.buf[s.pos] == '{' {
				s.result(m)
			} else {
				s.value()
			}
			m.Result = Span{vs, s.pos}
		case "error":
			has |= hasError
			if s.buf[s.pos] == '{' {
				s.errorObject(m)
			} else if s.value() != vErr {
				s.setInvalid(errBadErrorObject)
			}
		default:
			s.value()
		}
		if s.err != nil {
			return
		}
	}
	if s.err != nil {
		return
	}
	m.Object = Span{start, s.pos}
	s.flushStrings()
	s.shape(m, has)
}

var errBadErrorObject = &Error{Code: CodeInvalidRequest, Message: `"error" must be an object with an integer "code" and a string "message"`}

// shape decides the Kind from the members present, per JSON-RPC 2.0.
func (s *scanner) shape(m *Message, has uint8) {
	switch {
	case has&hasJSONRPC == 0:
		s.setInvalid(invalidRequest(`missing "jsonrpc" at offset %d`, m.Object.Start))
	case has&hasMethod != 0:
		if has&(hasResult|hasError) != 0 {
			s.setInvalid(invalidRequest(`a message cannot have both "method" and "result" or "error"`))
		}
		m.Kind = KindNotification
		if has&hasID != 0 {
			m.Kind = KindRequest
			if m.IDNull {
				s.setInvalid(invalidRequest(`a request "id" must not be null`))
			}
		}
	case has&(hasResult|hasError) == 0:
		s.setInvalid(invalidRequest(`a message needs "method", "result" or "error"`))
	case has&(hasResult|hasError) == hasResult|hasError:
		s.setInvalid(invalidRequest(`a response cannot have both "result" and "error"`))
	case has&hasID == 0:
		s.setInvalid(invalidRequest(`a response needs an "id"`))
	case has&hasResult != 0:
		m.Kind = KindResult
		if m.IDNull {
			s.setInvalid(invalidRequest(`a result "id" must not be null`))
		}
	default:
		m.Kind = KindError
	}
}

// equals reports whether the decoded string raw is lit.
func (s *scanner) equals(raw []byte, flags uint8, lit string) bool {
	if flags&strEscaped == 0 {
		return string(raw) == lit
	}
	s.tmp = appendUnquoted(s.tmp[:0], raw)
	return string(s.tmp) == lit
}

func (s *scanner) method(m *Message) {
	if s.buf[s.pos] != '"' {
		if s.value() != vErr {
			s.setInvalid(invalidRequest(`"method" must be a string`))
		}
		return
	}
	raw, flags, ok := s.str()
	if !ok {
		return
	}
	if flags&strEscaped == 0 {
		if k, ok := internMethod(raw); ok {
			m.Method = k
			return
		}
	} else {
		s.tmp = appendUnquoted(s.tmp[:0], raw)
		if k, ok := internMethod(s.tmp); ok {
			m.Method = k
			return
		}
	}
	s.keep(&m.Method, raw, flags)
}

func (s *scanner) id(m *Message) {
	vs := s.pos
	switch s.value() {
	case vString, vInt:
		m.ID = Span{vs, s.pos}
	case vNull:
		m.IDNull = true
	case vErr:
	default:
		s.setInvalid(invalidRequest(`"id" must be a string or an integer`))
	}
}

// optString records the string value at s.pos into *dst (and its token into
// *tok when tok is not nil). Values of other types are skipped, not recorded.
func (s *scanner) optString(dst *string, tok *Span, intern func([]byte) (string, bool)) {
	if s.buf[s.pos] != '"' {
		s.value()
		return
	}
	vs := s.pos
	raw, flags, ok := s.str()
	if !ok {
		return
	}
	if tok != nil {
		*tok = Span{vs, s.pos}
	}
	if intern != nil && flags&strEscaped == 0 {
		if k, ok := intern(raw); ok {
			*dst = k
			return
		}
	}
	s.keep(dst, raw, flags)
}

func (s *scanner) params(m *Message) {
	vs := s.pos
	if !s.openObject() {
		return
	}
	for {
		name, ok := s.member()
		if !ok {
			break
		}
		switch string(name) {
		case "name":
			s.optString(&m.Name, &m.NameValue, nil)
		case "uri":
			s.optString(&m.URI, nil, nil)
		case "progressToken":
			m.ParamsProgressToken = s.idLike()
		case "requestId":
			m.ParamsRequestID = s.idLike()
		case "protocolVersion":
			s.optString(&m.ProtocolVersion, nil, internProtocolVersion)
		case "clientInfo":
			if s.buf[s.pos] == '{' {
				s.clientInfo(m)
			} else {
				s.value()
			}
		case "_meta":
			if s.buf[s.pos] == '{' {
				s.meta(m)
			} else {
				s.value()
			}
		default:
			s.value()
		}
		if s.err != nil {
			return
		}
	}
	m.Params = Span{vs, s.pos}
}

func (s *scanner) clientInfo(m *Message) {
	if !s.openObject() {
		return
	}
	for {
		name, ok := s.member()
		if !ok {
			return
		}
		switch string(name) {
		case "name":
			s.optString(&m.ClientName, nil, nil)
		case "version":
			s.optString(&m.ClientVersion, nil, nil)
		default:
			s.value()
		}
		if s.err != nil {
			return
		}
	}
}

func (s *scanner) meta(m *Message) {
	vs := s.pos
	if !s.openObject() {
		return
	}
	for {
		name, ok := s.member()
		if !ok {
			break
		}
		switch string(name) {
		case MetaKeyProtocolVersion:
			s.optString(&m.MetaProtocolVersion, nil, internProtocolVersion)
		case "progressToken":
			m.ProgressToken = s.idLike()
		case "traceparent":
			s.optString(&m.Traceparent, &m.TraceparentValue, nil)
		case "tracestate":
			s.optString(&m.Tracestate, &m.TracestateValue, nil)
		default:
			s.value()
		}
		if s.err != nil {
			return
		}
	}
	m.Meta = Span{vs, s.pos}
}

func (s *scanner) result(m *Message) {
	if !s.openObject() {
		return
	}
	for {
		name, ok := s.member()
		if !ok {
			return
		}
		if string(name) == "isError" {
			if s.value() == vTrue {
				m.IsError = true
			}
		} else {
			s.value()
		}
		if s.err != nil {
			return
		}
	}
}

func (s *scanner) errorObject(m *Message) {
	var code, msg bool
	if !s.openObject() {
		return
	}
	for {
		name, ok := s.member()
		if !ok {
			break
		}
		switch string(name) {
		case "code":
			vs := s.pos
			if s.value() == vInt {
				m.ErrorCode, code = parseInt64(s.buf[vs:s.pos])
			}
		case "message":
			if s.buf[s.pos] == '"' {
				msg = true
			}
			s.optString(&m.ErrorMessage, nil, nil)
		default:
			s.value()
		}
		if s.err != nil {
			return
		}
	}
	if s.err == nil && !(code && msg) {
		s.setInvalid(errBadErrorObject)
	}
}

// parseInt64 converts a JSON integer token; false when it overflows int64.
func parseInt64(b []byte) (int64, bool) {
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	var u uint64
	for _, c := range b {
		d := uint64(c - '0')
		if u > (1<<64-1-d)/10 {
			return 0, false
		}
		u = u*10 + d
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > 1<<63-1 {
		return 0, false
	}
	return int64(u), true
}

// pending is a decoded string waiting for the message's single allocation.
type pending struct {
	dst        *string
	start, end int
}

// keep queues the decoded form of raw for *dst. All strings of one message
// are copied into one buffer, converted to a string once in flushStrings and
// handed out as substrings: one allocation per message instead of one per
// field, and no aliasing of the caller's body.
func (s *scanner) keep(dst *string, raw []byte, flags uint8) {
	start := len(s.strs)
	if flags&strEscaped == 0 {
		s.strs = append(s.strs, raw...)
	} else {
		s.strs = appendUnquoted(s.strs, raw)
	}
	s.pend = append(s.pend, pending{dst: dst, start: start, end: len(s.strs)})
}

func (s *scanner) flushStrings() {
	if len(s.pend) == 0 {
		return
	}
	all := string(s.strs)
	for _, p := range s.pend {
		*p.dst = all[p.start:p.end]
	}
	clear(s.pend) // the pointers reach into the caller's Body
	s.strs, s.pend = s.strs[:0], s.pend[:0]
}

// idLike scans a value and returns its span when it is a string or a
// number, the types of ids and progress tokens.
func (s *scanner) idLike() Span {
	ts := s.pos
	switch s.value() {
	case vString, vInt, vFloat:
		return Span{ts, s.pos}
	}
	return Span{}
}
