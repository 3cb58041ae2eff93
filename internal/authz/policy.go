package authz

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/types"
	xast "github.com/cedar-policy/cedar-go/x/exp/ast"
)

// ParseError is a policy file that is not valid Cedar.
type ParseError struct {
	File         string
	Line, Column int // 0 when the parser gave no position
	Message      string
}

func (e *ParseError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("authz: %s: %s", e.File, e.Message)
	}
	return fmt.Sprintf("authz: %s:%d:%d: %s", e.File, e.Line, e.Column, e.Message)
}

// cedar-go reports "parser error: parse error at <input>:L:C <msg>": the
// file name is ours to add.
var parsePos = regexp.MustCompile(`at <input>:(\d+):(\d+) (.*)$`)

func newParseError(file string, err error) *ParseError {
	msg := err.Error()
	pe := &ParseError{File: file, Message: strings.TrimPrefix(msg, "parser error: ")}
	if m := parsePos.FindStringSubmatch(msg); m != nil {
		pe.Line, _ = strconv.Atoi(m[1])
		pe.Column, _ = strconv.Atoi(m[2])
		pe.Message = "parse error: " + m[3]
	}
	return pe
}

// policy is one loaded policy with the id decisions name it by.
type policy struct {
	id  string // its @id annotation, else file:line
	pos string // file:line
	p   *cedar.Policy
	// readsArguments is false only when the policy cannot depend on
	// context.arguments or context.argumentsTruncated, so that a request
	// whose candidate policies all have it false skips converting them.
	readsArguments bool
}

// wholeContext matches a use of context other than reading one of its
// attributes by name (context == {...}, context has x, context["x"]): such
// a policy may depend on the arguments without naming them.
var wholeContext = regexp.MustCompile(`\bcontext\b\s*([^.\s]|$)`)

// readsArguments reports whether p may depend on the arguments. Cedar has
// no computed attribute names for records, so a policy that reads them
// names "arguments" (.arguments, ["arguments"], has arguments) or uses the
// context whole; the test errs towards true.
func readsArguments(p *cedar.Policy) bool {
	text := p.MarshalCedar()
	return bytes.Contains(text, []byte("arguments")) || wholeContext.Match(text)
}

// PolicySet is a parsed, type-checked set of policies, indexed by the
// action and resource their scopes name. It is immutable once built.
type PolicySet struct {
	files    []string
	policies []policy
	index    index
	// TypeErrors lists the policies that do not type-check against the
	// schema (empty unless loaded with AllowTypeErrors).
	TypeErrors []error
}

// Len returns the number of policies.
func (s *PolicySet) Len() int { return len(s.policies) }

// Files returns the files the set was loaded from, sorted.
func (s *PolicySet) Files() []string { return slices.Clone(s.files) }

// IDs returns the policies' ids in load order (file, then position).
func (s *PolicySet) IDs() []string {
	ids := make([]string, len(s.policies))
	for i, p := range s.policies {
		ids[i] = p.id
	}
	return ids
}

// LoadOptions tune Load.
type LoadOptions struct {
	// AllowTypeErrors loads a set even when some policies do not type-check
	// against the schema, listing them in PolicySet.TypeErrors. By default
	// such a set is refused: a policy that fails to evaluate is skipped by
	// Cedar, so an ill-typed forbid would silently never deny. It is the way
	// out should cedar-go's experimental validator reject a sound policy.
	AllowTypeErrors bool
}

// ExpandFiles resolves patterns (file names or filepath.Match globs) to
// the sorted, de-duplicated list of files. A pattern that matches nothing
// is an error: a mistyped directory would otherwise load no policy, and in
// enforce mode deny everything without a word.
func ExpandFiles(patterns []string) ([]string, error) {
	if len(patterns) == 0 {
		return nil, errors.New("authz: no policy files configured")
	}
	var files []string
	for _, pat := range patterns {
		m, err := filepath.Glob(pat)
		if err != nil {
			return nil, fmt.Errorf("authz: policy pattern %q: %w", pat, err)
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("authz: policy pattern %q matches no file", pat)
		}
		files = append(files, m...)
	}
	slices.Sort(files)
	return slices.Compact(files), nil
}

// Load reads, parses and type-checks the policy files patterns name. The
// first parse error is returned as a *ParseError naming file, line and
// column; type errors as *TypeError (joined).
func Load(patterns []string, opts LoadOptions) (*PolicySet, error) {
	files, err := ExpandFiles(patterns)
	if err != nil {
		return nil, err
	}
	docs := make(map[string][]byte, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("authz: reading policy file: %w", err)
		}
		docs[f] = b
	}
	s, err := parseDocs(files, docs, opts)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// ParsePolicies builds a set from in-memory documents (name → Cedar text),
// as Load does from files.
func ParsePolicies(docs map[string][]byte, opts LoadOptions) (*PolicySet, error) {
	names := make([]string, 0, len(docs))
	for n := range docs {
		names = append(names, n)
	}
	slices.Sort(names)
	return parseDocs(names, docs, opts)
}

func parseDocs(files []string, docs map[string][]byte, opts LoadOptions) (*PolicySet, error) {
	s := &PolicySet{files: files}
	seen := map[string]string{} // id → position
	var typeErrs []error
	for _, f := range files {
		list, err := cedar.NewPolicyListFromBytes(f, docs[f])
		if err != nil {
			return nil, newParseError(f, err)
		}
		for _, p := range list {
			pos := p.Position()
			at := fmt.Sprintf("%s:%d", f, pos.Line)
			id := at
			if v, ok := p.Annotations()["id"]; ok {
				if v == "" {
					return nil, fmt.Errorf("authz: %s: @id is empty", at)
				}
				id = string(v)
			} else if _, dup := seen[id]; dup {
				id = fmt.Sprintf("%s:%d", at, pos.Column)
			}
			if prev, dup := seen[id]; dup {
				return nil, fmt.Errorf("authz: %s: policy id %q is already used at %s", at, id, prev)
			}
			seen[id] = at
			if err := typeCheck(id, p); err != nil {
				typeErrs = append(typeErrs, &TypeError{PolicyID: id, Position: at, Message: validatorMessage(id, err)})
			}
			s.policies = append(s.policies, policy{id: id, pos: at, p: p, readsArguments: readsArguments(p)})
		}
	}
	if len(typeErrs) > 0 {
		if !opts.AllowTypeErrors {
			return nil, errors.Join(typeErrs...)
		}
		s.TypeErrors = typeErrs
	}
	s.index = buildIndex(s.policies)
	return s, nil
}

// validatorMessage strips the validator's "for policy `id`, " prefixes: the
// TypeError names the policy already.
func validatorMessage(id string, err error) string {
	prefix := "for policy `" + id + "`, "
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, prefix)
	}
	return strings.Join(lines, "; ")
}

// index narrows the policies evaluated for a request to those whose scope
// can match it. Skipping the others is exact, not an approximation: Cedar
// evaluates a policy's scope before its conditions, so a policy whose
// action or resource scope names another entity is false without error.
// mcpgate declares no entity hierarchy for actions and resources (no
// parents), so `in E` matches only E itself, like `== E`.
type index struct {
	byAction map[types.EntityUID]*actionBucket // action → policies scoped to it
	any      actionBucket                      // policies with an unscoped action (or `is`)
}

type actionBucket struct {
	any        []int                     // resource unscoped, or by type
	byResource map[types.EntityUID][]int // resource == E or in E
}

func buildIndex(ps []policy) index {
	ix := index{byAction: map[types.EntityUID]*actionBucket{}}
	for i, p := range ps {
		ast := (*xast.Policy)(p.p.AST())
		var buckets []*actionBucket
		switch a := ast.Action.(type) {
		case xast.ScopeTypeEq:
			buckets = append(buckets, ix.bucket(a.Entity))
		case xast.ScopeTypeIn:
			buckets = append(buckets, ix.bucket(a.Entity))
		case xast.ScopeTypeInSet:
			for _, e := range a.Entities {
				buckets = append(buckets, ix.bucket(e))
			}
			// An `in []` matches nothing: no bucket.
		default:
			buckets = append(buckets, &ix.any)
		}
		var res *types.EntityUID
		switch r := ast.Resource.(type) {
		case xast.ScopeTypeEq:
			res = &r.Entity
		case xast.ScopeTypeIn:
			res = &r.Entity
		}
		for j, b := range buckets {
			if slices.Contains(buckets[:j], b) {
				continue // `action in [A, A]`
			}
			if res == nil {
				b.any = append(b.any, i)
				continue
			}
			if b.byResource == nil {
				b.byResource = map[types.EntityUID][]int{}
			}
			b.byResource[*res] = append(b.byResource[*res], i)
		}
	}
	return ix
}

// bucket returns the bucket of action entity e; an entity that is not a
// mcpgate action still gets one, so that such a policy matches nothing.
func (ix *index) bucket(e types.EntityUID) *actionBucket {
	b := ix.byAction[e]
	if b == nil {
		b = &actionBucket{}
		ix.byAction[e] = b
	}
	return b
}

// candidates calls f with the index of every policy that can match action
// and resource, each once, in no particular order.
func (ix *index) candidates(action, resource types.EntityUID, f func(int) bool) {
	lists := [4][]int{ix.any.any, ix.any.byResource[resource]}
	if b := ix.byAction[action]; b != nil {
		lists[2], lists[3] = b.any, b.byResource[resource]
	}
	for _, l := range lists {
		for _, i := range l {
			if !f(i) {
				return
			}
		}
	}
}

// readsArguments reports whether any policy that can match action and
// resource may depend on the arguments.
func (s *PolicySet) readsArguments(action, resource types.EntityUID) bool {
	reads := false
	s.index.candidates(action, resource, func(i int) bool {
		reads = s.policies[i].readsArguments
		return !reads
	})
	return reads
}
