package process

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/spec"
)

// kindsSpec is a connector with one interaction type per kind given, and extra YAML
// appended at the top level (kinds:).
func kindsSpec(t *testing.T, extra string, kinds ...string) *spec.Connector {
	t.Helper()
	var b strings.Builder
	b.WriteString("provider: p\nbase_url: http://x\ninteraction_types:\n")
	for _, k := range kinds {
		fmt.Fprintf(&b, "  %ss:\n    kind: %s\n    request: {path: /%s}\n    records: .[]\n    id: .id\n", k, k, k)
	}
	b.WriteString(extra)
	c, err := spec.Load("p.yaml", []byte(b.String()))
	require.NoError(t, err)
	return c
}

func validator(t *testing.T, c *spec.Connector) *Validator {
	t.Helper()
	v, err := NewValidator(c)
	require.NoError(t, err)
	return v
}

// Each built-in kind accepts what real providers' mapped records look like and refuses
// the mapping mistakes it exists to catch, with one stable line per violation.
func TestBuiltinKinds(t *testing.T) {
	v := validator(t, kindsSpec(t, "", "account", "contact", "ticket", "deal", "task", "note", "user"))
	cases := []struct {
		kind, name, record string
		want               string // "" valid; else the exact error text
	}{
		// account
		{"account", "crm company", `{"name":"Blue Harbor Robotics","domain":"blueharbor-robotics.example","website":"https://www.blueharbor-robotics.example","industry":"Manufacturing","employees":1372,"plan":"enterprise","country":"US","owner_email":"dana@demo-crm.example","created_at":"2025-01-26T05:46:58Z","updated_at":"2025-10-25T23:26:21Z"}`, ""},
		{"account", "salesforce nulls and offsets", `{"name":"Acme","domain":null,"website":"acme.example","employees":null,"annual_revenue":1.5e6,"address":{"street":"1 Main St","city":"Springfield"},"owner_id":"0055g00000AbCdE","created_at":"2024-03-01T10:00:00.000+0000"}`, ""},
		{"account", "zendesk organization", `{"id":360012345678,"name":"Acme","domain":"","tags":["vip","emea"],"url":"https://acme.zendesk.com/api/v2/organizations/360012345678.json","created_at":"2024-03-01T10:00:00Z"}`, ""},
		{"account", "custom fields", `{"name":"Acme","health_score":87,"renewal":{"date":"2026-05-01"}}`, ""},
		{"account", "empty mapping", `{}`, ""},
		{"account", "domain is a url", `{"name":"Acme","domain":"https://acme.example/"}`, `fields.domain: must be a domain name such as acme.example (no scheme, path or port) or null, not "https://acme.example/"`},
		{"account", "domain is an email", `{"domain":"ana@acme.example"}`, `fields.domain: must be a domain name such as acme.example (no scheme, path or port) or null, not "ana@acme.example"`},
		{"account", "employees as text", `{"employees":"50"}`, `fields.employees: must be a whole number, 0 or more, or null, not a string`},
		{"account", "employees fractional", `{"employees":12.5}`, `fields.employees: must be a whole number, 0 or more, or null, not a number`},
		{"account", "employees negative", `{"employees":-1}`, `fields.employees: must be a whole number, 0 or more, or null, not -1`},
		{"account", "name is an object", `{"name":{"first":"Acme"}}`, `fields.name: must be a string or null, not an object`},
		{"account", "not an object", `["Acme"]`, `fields: must be an object, not an array`},
		// contact
		{"contact", "crm contact", `{"email":"zara.ali@blueharbor-robotics.example","name":"Zara Ali","title":"CTO","phone":"+1 206 555 7116","account_id":"acc_0001","lifecycle_stage":"customer","updated_at":"2026-02-01T10:00:00Z"}`, ""},
		{"contact", "hubspot contact", `{"id":"51","email":"","first_name":"Ana","last_name":null,"email_opt_out":false,"company":"Acme","created_at":"2024-01-01T00:00:00.000Z"}`, ""},
		{"contact", "numeric account id", `{"email":"ana@acme.example","account_id":360012345678}`, ""},
		{"contact", "email is a number", `{"email":42}`, `fields.email: must be an email address (text with an @) or null, not a number`},
		{"contact", "email without @", `{"email":"ana at acme.example"}`, `fields.email: must be an email address (text with an @) or null, not "ana at acme.example"`},
		{"contact", "name from a whole object", `{"name":{"first_name":"Ana"},"email":"ana@acme.example"}`, `fields.name: must be a string or null, not an object`},
		{"contact", "several at once, sorted", `{"updated_at":1700000000,"email":["a@b.example"],"account_id":{"id":1}}`,
			`fields.account_id: must be an integer, a string or null, not an object; fields.email: must be an email address (text with an @) or null, not an array; fields.updated_at: must be a date or date-time such as 2026-01-31T09:30:00Z, or null, not a number`},
		// ticket
		{"ticket", "zendesk ticket", `{"subject":"Printer on fire","status":"open","priority":"urgent","requester_email":"ana@acme.example","requester_id":361234,"tags":["hardware"],"created_at":"2026-01-31T09:30:00Z","updated_at":"2026-01-31T09:45:12Z"}`, ""},
		{"ticket", "freshdesk numeric status", `{"subject":"Refund","status":2,"priority":1,"due_at":"2026-02-03T00:00:00Z"}`, ""},
		{"ticket", "intercom conversation without subject", `{"subject":null,"status":"open","channel":"chat","created_at":"2026-01-31 09:30:00"}`, ""},
		{"ticket", "status is an object", `{"subject":"x","status":{"name":"open"}}`, `fields.status: must be an integer, a string or null, not an object`},
		{"ticket", "unix timestamp", `{"subject":"x","created_at":1769851800}`, `fields.created_at: must be a date or date-time such as 2026-01-31T09:30:00Z, or null, not a number`},
		{"ticket", "timestamp in words", `{"updated_at":"yesterday"}`, `fields.updated_at: must be a date or date-time such as 2026-01-31T09:30:00Z, or null, not "yesterday"`},
		{"ticket", "tags as a string", `{"tags":"a,b"}`, `fields.tags: must be an array or null, not a string`},
		{"ticket", "tag not a string", `{"tags":["a",7]}`, `fields.tags[1]: must be a string, not a number`},
		// deal
		{"deal", "pipedrive deal", `{"name":"Acme renewal","amount":12000.5,"currency":"EUR","stage":"negotiation","probability":60,"is_won":null,"close_date":"2026-03-31","account_id":12,"contact_ids":[1,"c-2"],"owner_email":"rep@seller.example"}`, ""},
		{"deal", "amount as text", `{"name":"x","amount":"12000"}`, `fields.amount: must be a number or null, not a string`},
		{"deal", "is_won as text", `{"is_won":"true"}`, `fields.is_won: must be a boolean or null, not a string`},
		{"deal", "negative probability", `{"probability":-5}`, `fields.probability: must be at least 0, not -5`},
		{"deal", "contact ids of objects", `{"contact_ids":[{"id":1}]}`, `fields.contact_ids[0]: must be an integer, a string or null, not an object`},
		// task
		{"task", "salesforce task", `{"subject":"Call back","status":"Not Started","priority":"High","type":"call","due_at":"2026-02-01","completed":false,"assignee_email":"rep@seller.example","contact_id":"003xx"}`, ""},
		{"task", "completed as text", `{"subject":"x","completed":"yes"}`, `fields.completed: must be a boolean or null, not a string`},
		{"task", "due date with slashes", `{"due_at":"01/02/2026"}`, `fields.due_at: must be a date or date-time such as 2026-01-31T09:30:00Z, or null, not "01/02/2026"`},
		// note
		{"note", "hubspot note", `{"body":"<p>Spoke with Ana</p>","author_email":"rep@seller.example","account_id":"123","created_at":"2026-01-31T09:30:00.123Z"}`, ""},
		{"note", "body is an object", `{"body":{"html":"<p>x</p>"}}`, `fields.body: must be a string or null, not an object`},
		// user
		{"user", "zendesk agent", `{"id":1,"email":"agent@acme.example","name":"Agent Smith","role":"agent","active":true,"time_zone":"Europe/Madrid","last_login_at":"2026-01-31T09:30:00+01:00"}`, ""},
		{"user", "active as number", `{"email":"a@acme.example","active":1}`, `fields.active: must be a boolean or null, not a number`},
		{"user", "email is a name", `{"email":"Agent Smith"}`, `fields.email: must be an email address (text with an @) or null, not "Agent Smith"`},
	}
	for _, tc := range cases {
		t.Run(tc.kind+"/"+tc.name, func(t *testing.T) {
			err := v.Check(tc.kind, []byte(tc.record))
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			var ie *InvalidError
			require.True(t, errors.As(err, &ie))
			assert.Equal(t, tc.kind, ie.Kind)
			assert.Equal(t, tc.want, err.Error())
		})
	}
}

// Every built-in kind is validated even when no interaction type of the connector uses
// it, and a kind that is neither built-in nor declared is stored unvalidated.
func TestUnknownKindsAreNotValidated(t *testing.T) {
	v := validator(t, kindsSpec(t, "", "renewal"))
	assert.False(t, v.Validates("renewal"))
	assert.NoError(t, v.Check("renewal", []byte(`{"email":42}`)))
	assert.True(t, v.Validates("contact"))
	assert.Error(t, v.Check("contact", []byte(`{"email":42}`)))
}

const vipKinds = `kinds:
  vip_account:
    $ref: https://intake.dev/schemas/kinds/account.schema.json
    required: [name, tier]
    properties:
      tier: {enum: [gold, silver]}
      renews_on: {type: string, format: date}
  event:
    type: object
    additionalProperties: false
    required: [name]
    properties:
      name: {type: string, minLength: 1}
      attendees: {type: integer, minimum: 0, maximum: 10000}
      source: {anyOf: [{type: string}, {type: integer}]}
`

// Custom kinds declared under kinds: are validated with their own schema, which may
// build on a built-in kind.
func TestCustomKinds(t *testing.T) {
	c := kindsSpec(t, vipKinds, "vip_account", "event")
	v := validator(t, c)
	assert.True(t, v.Validates("vip_account"))
	cases := []struct{ kind, record, want string }{
		{"vip_account", `{"name":"Acme","tier":"gold","domain":"acme.example","renews_on":"2026-05-01"}`, ""},
		{"vip_account", `{"name":"Acme"}`, `fields.tier: is required`},
		{"vip_account", `{"name":"Acme","tier":"bronze"}`, `fields.tier: "bronze" is not one of: "gold", "silver"`},
		{"vip_account", `{"name":"Acme","tier":"gold","domain":"https://acme.example"}`, `fields.domain: must be a domain name such as acme.example (no scheme, path or port) or null, not "https://acme.example"`},
		{"vip_account", `{"name":"Acme","tier":"gold","renews_on":"May 1st"}`, `fields.renews_on: "May 1st" is not a valid date`},
		{"event", `{"name":"Launch","attendees":120,"source":"web"}`, ""},
		{"event", `{"name":"","attendees":20000,"venue":"Hall 1"}`, `fields.attendees: must be at most 10000, not 20000; fields.name: must be at least 1 characters, not 0; fields.venue: is not allowed`},
		{"event", `{"name":"x","source":true}`, `fields.source: matches none of the allowed forms (must be a string, not a boolean | must be an integer, not a boolean)`},
	}
	for _, tc := range cases {
		err := v.Check(tc.kind, []byte(tc.record))
		if tc.want == "" {
			assert.NoError(t, err, tc.record)
			continue
		}
		if assert.Error(t, err, tc.record) {
			assert.Equal(t, tc.want, err.Error())
		}
	}
	// The effective spec prints the schema back.
	out, err := c.Kinds.Map["event"].MarshalJSON()
	require.NoError(t, err)
	assert.Contains(t, string(out), `"additionalProperties":false`)
}

// A custom kind whose inline schema is not valid JSON Schema is refused at load, at
// the file, line and key of the mistake.
func TestBadKindSchemaFailsLoad(t *testing.T) {
	head := "provider: p\nbase_url: http://x\ninteraction_types:\n  t:\n    kind: vip\n    request: {path: /t}\n    records: .[]\n    id: .id\nkinds:\n"
	cases := []struct{ kinds, want string }{
		{"  vip:\n    type: strin\n", `p.yaml:11:11: kinds.vip.type: invalid JSON Schema: value must be one of 'array', 'boolean', 'integer', 'null', 'number', 'object', 'string'`},
		{"  vip:\n    type: object\n    properties:\n      tier: {type: [string, nul]}\n", `p.yaml:13:29: kinds.vip.properties.tier.type[1]: invalid JSON Schema: value must be one of`},
		{"  vip:\n    required: name\n", `p.yaml:11:15: kinds.vip.required: invalid JSON Schema: must be a list, not a string`},
		{"  vip:\n    minLength: -1\n", `p.yaml:11:16: kinds.vip.minLength: invalid JSON Schema: must be at least 0, not -1`},
		{"  vip:\n    properties:\n      code: {pattern: '(['}\n", `p.yaml:12:23: kinds.vip.properties.code.pattern: invalid JSON Schema: '([' is not valid regex`},
		{"  vip:\n    $ref: https://example.com/vip.json\n", `p.yaml:11:5: kinds.vip: invalid JSON Schema: cannot resolve "https://example.com/vip.json": only the built-in kinds`},
		{"  vip:\n    $ref: file:///etc/passwd\n", `p.yaml:11:5: kinds.vip: invalid JSON Schema: cannot resolve "file:///etc/passwd"`},
		{"  vip: [string]\n", `p.yaml:10:8: kinds.vip: must be a mapping, not a list`},
		{"  Vip: {}\n", `p.yaml:10:3: kinds.Vip: name "Vip" must be lower case`},
		{"  contact:\n    type: object\n", `p.yaml:10:3: kinds.contact: "contact" is a built-in kind; give the custom kind another name`},
	}
	for _, tc := range cases {
		_, err := spec.Load("p.yaml", []byte(head+tc.kinds))
		if assert.Error(t, err, tc.kinds) {
			assert.Contains(t, err.Error(), tc.want, tc.kinds)
		}
	}
}

// strict is an interaction type key, false by default.
func TestStrictKey(t *testing.T) {
	c, err := spec.Load("p.yaml", []byte("provider: p\nbase_url: http://x\ninteraction_types:\n  a:\n    kind: ticket\n    strict: true\n    request: {path: /a}\n    records: .[]\n    id: .id\n  b:\n    kind: ticket\n    request: {path: /b}\n    records: .[]\n    id: .id\n"))
	require.NoError(t, err)
	assert.True(t, c.InteractionTypes.Map["a"].Strict)
	assert.False(t, c.InteractionTypes.Map["b"].Strict)
	_, err = spec.Load("p.yaml", []byte("provider: p\nbase_url: http://x\ninteraction_types:\n  a:\n    kind: ticket\n    strict: yes please\n    request: {path: /a}\n    records: .[]\n    id: .id\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "p.yaml:6:13: interaction_types.a.strict: must be true or false, not a string")
}

// A customer's override can declare a custom kind and use it for a custom type, where
// the provider lets kinds vary.
func TestOverrideDeclaresKind(t *testing.T) {
	base, err := spec.Load("crm.yaml", []byte(`provider: crm
base_url: http://x
customizable: [kinds]
interaction_types:
  deals:
    kind: deal
    request: {path: /deals}
    records: .[]
    id: .id
`))
	require.NoError(t, err)
	ov, err := spec.ParseOverride("acme.yaml", []byte(`customer: acme
provider: crm
kinds:
  renewal:
    $ref: https://intake.dev/schemas/kinds/deal.schema.json
    required: [renews_on]
interaction_types:
  renewals:
    extends: deals
    kind: renewal
`))
	require.NoError(t, err)
	l, err := spec.Apply(base, ov)
	require.NoError(t, err)
	v := validator(t, l.Connector)
	assert.True(t, v.Validates("renewal"))
	assert.EqualError(t, v.Check("renewal", []byte(`{"amount":"100"}`)), "fields.amount: must be a number or null, not a string; fields.renews_on: is required")

	bad, err := spec.ParseOverride("acme.yaml", []byte("customer: acme\nprovider: crm\nkinds:\n  renewal:\n    required: renews_on\n"))
	require.NoError(t, err)
	_, err = spec.Apply(base, bad)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "acme.yaml:5:15: kinds.renewal.required: invalid JSON Schema: must be a list, not a string")
}

// One Validator serves concurrent checks (run with -race).
func TestValidatorConcurrent(t *testing.T) {
	v := validator(t, kindsSpec(t, vipKinds, "contact", "vip_account"))
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				assert.NoError(t, v.Check("contact", []byte(fmt.Sprintf(`{"email":"u%d@acme.example"}`, j))))
				assert.Error(t, v.Check("vip_account", []byte(`{"name":1}`)))
				assert.Error(t, v.Check("ticket", []byte(`{"subject":[]}`)))
			}
		}(i)
	}
	wg.Wait()
}
