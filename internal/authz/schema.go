package authz

import (
	_ "embed"
	"fmt"
	"sync"

	"github.com/cedar-policy/cedar-go"
	xast "github.com/cedar-policy/cedar-go/x/exp/ast"
	"github.com/cedar-policy/cedar-go/x/exp/schema"
	"github.com/cedar-policy/cedar-go/x/exp/schema/validate"
)

// SchemaText is the Cedar schema of the entity model, as shipped in
// schema.cedarschema.
//
//go:embed schema.cedarschema
var SchemaText []byte

// validator is built once: the schema never changes at run time.
var validator = sync.OnceValues(func() (*validate.Validator, error) {
	var s schema.Schema
	s.SetFilename("schema.cedarschema")
	if err := s.UnmarshalCedar(SchemaText); err != nil {
		return nil, fmt.Errorf("authz: shipped schema: %w", err)
	}
	r, err := s.Resolve()
	if err != nil {
		return nil, fmt.Errorf("authz: shipped schema: %w", err)
	}
	return validate.New(r), nil
})

// TypeError is a policy that does not type-check against the schema: one
// that reads an attribute no entity has, names an action mcpgate never
// evaluates, or compares values of different types. Cedar skips a policy
// whose evaluation fails, so such a policy would silently never apply.
type TypeError struct {
	PolicyID string
	Position string // file:line
	Message  string
}

func (e *TypeError) Error() string {
	return fmt.Sprintf("authz: %s: policy %q does not type-check: %s", e.Position, e.PolicyID, e.Message)
}

// typeCheck validates p against the shipped schema. cedar-go's validator
// lives under x/exp (experimental); a panic in it is reported as a failure
// to check, not a crash of the gateway.
func typeCheck(id string, p *cedar.Policy) (err error) {
	v, err := validator()
	if err != nil {
		return err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the validator failed: %v", r)
		}
	}()
	return v.Policy(id, (*xast.Policy)(p.AST()))
}
