package spec_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/intakehq/intake/engine/spec"
)

const settingsSpec = `provider: helpdesk
config:
  subdomain:
    pattern: '[a-z0-9-]+'
  page_size:
    type: integer
    default: 100
  ratio:
    type: number
    default: 0.5
  verbose:
    type: boolean
    required: false
  region:
    enum: [us, eu]
    default: us
credentials:
  api_key:
    pattern: 'sk_[a-z0-9]+'
  pin:
    type: integer
base_url: https://${ .config.subdomain }.helpdesk.example
auth:
  type: api_key
  name: X-Key
interaction_types:
  tickets:
    kind: ticket
    request:
      path: /tickets
    records: .tickets[]
    id: .id
`

const (
	secretKey = "sk_live0secret0value"
	secretPin = "4242"
)

func settingsConnector(t *testing.T) *spec.Connector {
	t.Helper()
	c, err := spec.Load("settings.yaml", []byte(settingsSpec))
	if err != nil {
		t.Fatalf("Load:\n%v", err)
	}
	return c
}

func TestParseSettings(t *testing.T) {
	c := settingsConnector(t)
	s, err := c.ParseSettings([]string{"subdomain=acme", "page_size=50", "ratio=1.25", "verbose=true", "api_key=" + secretKey, "pin=" + secretPin})
	if err != nil {
		t.Fatal(err)
	}
	wantConfig := map[string]any{
		"subdomain": "acme",
		"page_size": json.Number("50"),
		"ratio":     json.Number("1.25"),
		"verbose":   true,
		"region":    "us", // default
	}
	wantCreds := map[string]any{"api_key": secretKey, "pin": json.Number(secretPin)}
	if !reflect.DeepEqual(s.Config, wantConfig) {
		t.Errorf("config = %#v\nwant %#v", s.Config, wantConfig)
	}
	if !reflect.DeepEqual(s.Credentials, wantCreds) {
		t.Errorf("credentials = %#v\nwant %#v", s.Credentials, wantCreds)
	}

	// Defaults fill what is not given; an optional field without default stays absent.
	s, err = c.ParseSettings([]string{"subdomain=acme", "api_key=" + secretKey, "pin=1"})
	if err != nil {
		t.Fatal(err)
	}
	wantConfig = map[string]any{"subdomain": "acme", "page_size": json.Number("100"), "ratio": json.Number("0.5"), "region": "us"}
	if !reflect.DeepEqual(s.Config, wantConfig) {
		t.Errorf("config with defaults = %#v\nwant %#v", s.Config, wantConfig)
	}

	// An enum value is accepted.
	s, err = c.ParseSettings([]string{"subdomain=acme", "api_key=" + secretKey, "pin=1", "region=eu"})
	if err != nil || s.Config["region"] != "eu" {
		t.Errorf("region = %v, %v", s.Config["region"], err)
	}
}

func TestParseSettingsErrors(t *testing.T) {
	c := settingsConnector(t)
	base := []string{"subdomain=acme", "api_key=" + secretKey, "pin=" + secretPin}
	with := func(extra ...string) []string {
		return append(append([]string(nil), base...), extra...)
	}
	tests := []struct {
		name   string
		pairs  []string
		want   string // the full error text
		prefix bool   // want is only the start: the rest comes from Field.Check (validate.go)
	}{
		{"missing required are listed, sorted", []string{"page_size=10"},
			"helpdesk needs config.subdomain, credentials.api_key, credentials.pin", false},
		{"undeclared key", with("subdomian=acme"),
			`helpdesk does not declare "subdomian" (config: subdomain, page_size, ratio, verbose, region; credentials: api_key, pin)`, false},
		{"not KEY=VALUE", with("subdomain"),
			`a setting must be KEY=VALUE; got one without "=" (not shown, it may be secret)`, false},
		{"empty key", with("=x"),
			`a setting must be KEY=VALUE; got one with an empty KEY ("=…")`, false},
		// Values are quoted in messages: a string never reads as a bare word or number.
		{"integer", with("page_size=ten"),
			`config.page_size: "ten" is not an integer`, false},
		{"integer with a fraction", with("page_size=2.5"),
			`config.page_size: "2.5" is not an integer`, false},
		{"number", with("ratio=half"),
			`config.ratio: "half" is not a number`, false},
		{"boolean", with("verbose=yes"),
			`config.verbose: "yes" is not true or false`, false},
		{"empty value", with("verbose="),
			`config.verbose: "" is not true or false`, false},
		{"pattern", with("subdomain=Acme Corp"),
			`config.subdomain: "Acme Corp" does not match pattern [a-z0-9-]+`, false},
		{"enum", with("region=apac"),
			`config.region: "apac" is not one of`, true},
		// The first bad pair, in the order given, is the one reported.
		{"first bad pair", with("page_size=ten", "ratio=half", "verbose=yes"),
			`config.page_size: "ten" is not an integer`, false},
		{"first bad pair, other order", with("verbose=yes", "ratio=half", "page_size=ten"),
			`config.verbose: "yes" is not true or false`, false},
		{"bad pair before an undeclared key", with("page_size=ten", "nope=1"),
			`config.page_size: "ten" is not an integer`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for range 20 { // map order must not matter
				_, err := c.ParseSettings(tc.pairs)
				if err == nil {
					t.Fatalf("ParseSettings(%q) succeeded", tc.pairs)
				}
				if tc.prefix && !strings.HasPrefix(err.Error(), tc.want) || !tc.prefix && err.Error() != tc.want {
					t.Fatalf("got:  %s\nwant: %s", err, tc.want)
				}
			}
		})
	}

	// A later pair for the same key replaces an earlier one.
	s, err := c.ParseSettings(with("page_size=ten", "page_size=20"))
	if err != nil || s.Config["page_size"] != json.Number("20") {
		t.Errorf("page_size = %#v, %v; want 20", s.Config["page_size"], err)
	}
}

// TestMalformedPairsHideText checks that a setting that is not KEY=VALUE is not
// repeated: it may be a secret pasted without its key, or with its key but an "="
// lost.
func TestMalformedPairsHideText(t *testing.T) {
	c := settingsConnector(t)
	for _, tc := range []struct {
		pair, secret, want string
	}{
		{secretKey, secretKey, `a setting must be KEY=VALUE; got one without "=" (not shown, it may be secret)`},
		{"api_key:" + secretKey, secretKey, `a setting must be KEY=VALUE; got one without "=" (not shown, it may be secret)`},
		{"sk_live_secret", "sk_live", `a setting must be KEY=VALUE; got one without "=" (not shown, it may be secret)`},
		{"=" + secretKey, secretKey, `a setting must be KEY=VALUE; got one with an empty KEY ("=…")`},
		{"", "", `a setting must be KEY=VALUE; got one without "=" (not shown, it may be secret)`},
	} {
		for _, pairs := range [][]string{{tc.pair}, {"subdomain=acme", tc.pair, "pin=1"}} {
			_, err := c.ConvertPairs(pairs)
			if err == nil {
				t.Fatalf("ConvertPairs(%q) succeeded", pairs)
			}
			if err.Error() != tc.want {
				t.Errorf("ConvertPairs(%q):\n got: %s\nwant: %s", pairs, err, tc.want)
			}
			if tc.secret != "" && strings.Contains(err.Error(), tc.secret) {
				t.Errorf("error echoes the pair: %s", err)
			}
		}
	}
}

// TestCredentialErrorsHideSecrets checks that no error about a credential repeats the
// value that was given for it.
func TestCredentialErrorsHideSecrets(t *testing.T) {
	c := settingsConnector(t)
	tests := []struct {
		name, secret string
		pairs        []string
		want         string
	}{
		{"pattern mismatch", "hunter2-Not-A-Key", []string{"subdomain=acme", "pin=1", "api_key=hunter2-Not-A-Key"},
			"credentials.api_key: invalid value (not shown: it is secret)"},
		{"wrong type", "12ab-secret-pin", []string{"subdomain=acme", "api_key=" + secretKey, "pin=12ab-secret-pin"},
			"credentials.pin: not a valid integer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.ParseSettings(tc.pairs)
			if err == nil {
				t.Fatal("ParseSettings succeeded")
			}
			if err.Error() != tc.want {
				t.Errorf("got:  %s\nwant: %s", err, tc.want)
			}
			if strings.Contains(err.Error(), tc.secret) {
				t.Errorf("error echoes the secret: %s", err)
			}
		})
	}

	// Typed values (ResolveSettings) too.
	_, err := c.ResolveSettings(map[string]any{"subdomain": "acme", "api_key": "plain-text-secret", "pin": json.Number("1")})
	if err == nil || strings.Contains(err.Error(), "plain-text-secret") {
		t.Errorf("ResolveSettings error %v: want an error that does not show the secret", err)
	}
	_, err = c.ResolveSettings(map[string]any{"subdomain": "acme", "api_key": secretKey, "pin": "not-a-number-secret"})
	if err == nil || strings.Contains(err.Error(), "not-a-number-secret") {
		t.Errorf("ResolveSettings error %v: want an error that does not show the secret", err)
	}
}

func TestResolveSettings(t *testing.T) {
	c := settingsConnector(t)
	s, err := c.ResolveSettings(map[string]any{
		"subdomain": "acme",
		"page_size": json.Number("25"),
		"ratio":     2.5,
		"verbose":   false,
		"api_key":   secretKey,
		"pin":       float64(7),
	})
	if err != nil {
		t.Fatal(err)
	}
	wantConfig := map[string]any{"subdomain": "acme", "page_size": json.Number("25"), "ratio": 2.5, "verbose": false, "region": "us"}
	if !reflect.DeepEqual(s.Config, wantConfig) {
		t.Errorf("config = %#v\nwant %#v", s.Config, wantConfig)
	}
	if !reflect.DeepEqual(s.Credentials, map[string]any{"api_key": secretKey, "pin": float64(7)}) {
		t.Errorf("credentials = %#v", s.Credentials)
	}

	tests := []struct {
		name string
		vals map[string]any
		want string
	}{
		{"undeclared", map[string]any{"subdomain": "acme", "api_key": secretKey, "pin": 1, "token": "x"},
			`helpdesk does not declare "token" (config: subdomain, page_size, ratio, verbose, region; credentials: api_key, pin)`},
		{"missing", map[string]any{"subdomain": "acme"},
			"helpdesk needs credentials.api_key, credentials.pin"},
		{"integer with a fraction", map[string]any{"subdomain": "acme", "api_key": secretKey, "pin": 1, "page_size": 2.5},
			"config.page_size: 2.5 is not of type integer"},
		{"integer as json.Number with a fraction", map[string]any{"subdomain": "acme", "api_key": secretKey, "pin": 1, "page_size": json.Number("2.5")},
			"config.page_size: 2.5 is not of type integer"},
		{"pattern", map[string]any{"subdomain": "ACME", "api_key": secretKey, "pin": 1},
			`config.subdomain: "ACME" does not match pattern [a-z0-9-]+`},
		// A string is quoted, so "50" does not read as the number 50.
		{"integer as a string", map[string]any{"subdomain": "acme", "api_key": secretKey, "pin": 1, "page_size": "50"},
			`config.page_size: "50" is not of type integer`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.ResolveSettings(tc.vals)
			if err == nil {
				t.Fatal("ResolveSettings succeeded")
			}
			if err.Error() != tc.want {
				t.Errorf("got:  %s\nwant: %s", err, tc.want)
			}
		})
	}
}
