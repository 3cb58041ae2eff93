package authz_test

import (
	"fmt"

	"github.com/mcpgate/mcpgate/internal/authz"
	"github.com/mcpgate/mcpgate/internal/identity"
)

func Example() {
	e, err := authz.New(authz.Options{
		Mode:     authz.ModeEnforce,
		Policies: []string{"testdata/examples.cedar"},
		Claims:   []string{"department"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Once per request: the caller as the policies see it.
	p := e.Principal(&identity.Identity{Subject: "carol", Issuer: "https://idp.example.com",
		Groups: []string{"contractors"}, Method: identity.MethodOIDC})

	d := e.Decide(p, authz.Request{
		Method: "tools/call",
		Target: authz.Target{Name: "delete_repo", Backend: "git",
			Annotations: authz.Annotations{Destructive: authz.HintTrue}},
		Arguments: []byte(`{"repo":"mcpgate"}`),
	})
	fmt.Println(d.Effect, d.Policies, d.Reason)

	out, st, _ := e.FilterList(p, "tools/list",
		[]byte(`{"tools":[{"name":"search","annotations":{"readOnlyHint":true}},{"name":"delete_repo"}]}`),
		authz.ListOptions{Backend: "git"})
	fmt.Println(string(out), st.Removed, st.Private)
	// Output:
	// deny [no-destructive-for-contractors] forbidden by policy
	// {"tools":[{"name":"search","annotations":{"readOnlyHint":true}}]} 1 true
}
