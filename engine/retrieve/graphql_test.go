package retrieve_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/retrieve"
	"github.com/intakehq/intake/engine/spec"
)

// graphqlSpec is a GraphQL search paged by cursor: the query and its variables in a
// POST body, the next cursor put into variables.after, and GraphQL errors (which come
// with status 200) classified by response rules. The same example is in
// docs/cookbook.md.
const graphqlSpec = `provider: gql
config: {url: {}}
credentials: {token: {}}
base_url: '${ .config.url }'
auth: {type: bearer}
retries: 2
interaction_types:
  issues:
    kind: ticket
    request:
      method: POST
      path: /graphql
      body:
        query: |
          query($q: String!, $first: Int!, $after: String) {
            search(query: $q, type: ISSUE, first: $first, after: $after) {
              nodes { ... on Issue { id title updatedAt } }
              pageInfo { endCursor hasNextPage }
            }
          }
        variables:
          q: 'repo:acme/app is:issue'
          first: 2
    records: .data.search.nodes[]
    id: .id
    pagination:
      type: cursor
      in: body
      param: variables.after
      next: .data.search.pageInfo.endCursor
      has_more: .data.search.pageInfo.hasNextPage
    response_rules:
      - body: '.errors[0].type == "RATE_LIMITED"'
        action: rate_limited
      - body: '.errors != null'
        action: fail
        class: permanent
        message: GraphQL error
`

// graphqlAPI answers a GitHub-style search. errs, when set, replaces the answer to
// request n (1-based) with a raw body.
type graphqlAPI struct {
	all  []string
	errs map[int]string
}

func (g graphqlAPI) handler(t *testing.T) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		var req struct {
			Query     string         `json:"query"`
			Variables map[string]any `json:"variables"`
		}
		if err := json.Unmarshal(bodyOf(r), &req); err != nil || r.Method != http.MethodPost || r.URL.Path != "/graphql" {
			t.Errorf("request %d: %s %s %s: %v", n, r.Method, r.URL.Path, bodyOf(r), err)
		}
		if !strings.Contains(req.Query, "search(query: $q") || req.Variables["q"] != "repo:acme/app is:issue" || req.Variables["first"] != float64(2) {
			t.Errorf("request %d: the query or its variables were lost: %s", n, bodyOf(r))
		}
		if raw, ok := g.errs[n]; ok {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, raw)
			return
		}
		from := 0
		if after, ok := req.Variables["after"].(string); ok {
			from, _ = strconv.Atoi(strings.TrimPrefix(after, "Y3Vyc29y"))
		}
		to := min(from+2, len(g.all))
		nodes := []any{}
		for _, id := range g.all[from:to] {
			nodes = append(nodes, map[string]any{"id": id, "title": "Issue " + id, "updatedAt": "2024-03-05T06:07:08Z"})
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"search": map[string]any{
			"nodes":    nodes,
			"pageInfo": map[string]any{"endCursor": fmt.Sprintf("Y3Vyc29y%d", to), "hasNextPage": to < len(g.all)},
		}}})
	}
}

func TestGraphQL(t *testing.T) {
	c := mustLoad(t, graphqlSpec)
	it := c.InteractionTypes.Map["issues"]
	creds := clientOpts{creds: map[string]any{"token": token}}

	t.Run("cursor in the variables", func(t *testing.T) {
		api := newAPI(t, wantBearer, graphqlAPI{all: ids(5)}.handler(t))
		got, pages, err := collect(t, newClient(t, c, api.URL, creds), it, nil)
		require.NoError(t, err)
		assert.Equal(t, ids(5), got)
		assert.Equal(t, seq(3), pageNumbers(pages))
		var afters []any
		for _, cl := range api.Calls() {
			var b struct{ Variables map[string]any }
			require.NoError(t, json.Unmarshal(cl.Body, &b))
			afters = append(afters, b.Variables["after"])
		}
		assert.Equal(t, []any{nil, "Y3Vyc29y2", "Y3Vyc29y4"}, afters)
	})

	t.Run("rate limited in a 200, then answered", func(t *testing.T) {
		api := newAPI(t, wantBearer, graphqlAPI{all: ids(3), errs: map[int]string{
			2: `{"errors": [{"type": "RATE_LIMITED", "message": "API rate limit exceeded"}]}`,
		}}.handler(t))
		got, _, err := collect(t, newClient(t, c, api.URL, creds), it, nil)
		require.NoError(t, err)
		assert.Equal(t, ids(3), got)
		assert.Equal(t, 3, api.Count())
	})

	t.Run("errors in a 200 fail the sync", func(t *testing.T) {
		api := newAPI(t, wantBearer, graphqlAPI{all: ids(3), errs: map[int]string{
			1: `{"data": null, "errors": [{"message": "Field 'serch' doesn't exist on type 'Query'", "locations": [{"line": 2, "column": 3}]}]}`,
		}}.handler(t))
		_, _, err := collect(t, newClient(t, c, api.URL, creds), it, nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "GraphQL error: POST "+api.URL+"/graphql: HTTP 200 OK")
		assert.Contains(t, err.Error(), "doesn't exist on type")
		assert.Equal(t, spec.ClassPermanent, retrieve.Classify(err))
		assert.Equal(t, 1, api.Count())
	})

	t.Run("errors after partial data fail the sync once the body is read", func(t *testing.T) {
		api := newAPI(t, wantBearer, graphqlAPI{all: ids(3), errs: map[int]string{
			1: `{"data": {"search": {"nodes": [{"id": "r01"}], "pageInfo": {"endCursor": "x", "hasNextPage": true}}}, "errors": [{"message": "Something went wrong while executing your query", "path": ["search", "nodes", 1]}]}`,
		}}.handler(t))
		_, _, err := collect(t, newClient(t, c, api.URL, creds), it, nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "GraphQL error")
		assert.Contains(t, err.Error(), "Something went wrong")
		assert.Equal(t, spec.ClassPermanent, retrieve.Classify(err))
	})
}
