package connectors_test

// Each provider's known traps (from the provider API notes), proved against the
// bundled connector and its mock: the behaviour that would lose or repeat records if
// the connector were written naively.

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/connectors"
	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/engine/store"
	"github.com/intakehq/intake/internal/providermock"
)

// Wrong credentials fail the first interaction type with class auth (which disables
// the integration) and skip the rest, whatever shape the provider's refusal has: a
// 401 with a JSON object, a JSON array or plain text, or a token endpoint's
// invalid_grant.
func TestProvidersRefuseBadCredentials(t *testing.T) {
	for _, name := range providermock.Providers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clock := newClock()
			m, err := providermock.New(name, providermock.Common{Now: clock.Now, RateLimit: -1})
			require.NoError(t, err)
			var conn *spec.Connector
			e := newEnvWith(t, m, clock, func(vals map[string]any) {
				c, err := spec.LoadFS(connectors.FS, name+".yaml", name+".yaml")
				require.NoError(t, err)
				conn = c
				for _, k := range c.Credentials.Keys {
					vals[k] = vals[k].(string) + "wrong"
				}
			})
			require.NotNil(t, conn)
			results := e.run(t)
			require.NotEmpty(t, results)
			first := results[0]
			require.NotNil(t, first.Run, "%s: %v", first.Type, first.Err)
			assert.Equal(t, store.RunFailed, first.Run.Status)
			assert.Equal(t, spec.ClassAuth, first.Run.ErrorClass, first.Run.Error)
			for _, r := range results[1:] {
				assert.Nil(t, r.Run, "%s: skipped after the auth failure", r.Type)
				assert.ErrorContains(t, r.Err, "refused the credentials")
			}
			for _, v := range m.Values() {
				if s, ok := v.(string); ok && len(s) > 12 {
					assert.NotContains(t, first.Run.Error, s+"wrong", "no credential in the run's error")
				}
			}
			assert.Zero(t, m.Stats().Records)
		})
	}
}

// Salesforce access tokens carry no expires_in: the connector learns of expiry from a
// 401 INVALID_SESSION_ID, refreshes once (the answer has no new refresh token, the old
// one stays valid) and goes on where it was.
func TestSalesforceTokenExpiresMidSync(t *testing.T) {
	clock := newClock()
	m := providermock.NewSalesforce(providermock.SalesforceOptions{Common: providermock.Common{Now: clock.Now, RateLimit: -1}, TokenUses: 4})
	e := newEnvWith(t, m, clock, nil)
	want := m.Counts()
	e.sync(t)
	got := e.stored(t)
	for typ, n := range want {
		assert.Equal(t, n, got[typ], typ)
	}
	st := m.Stats()
	assert.GreaterOrEqual(t, st.TokenRequests, 3, "a token at the start and a refresh every 4 calls")
	assert.Equal(t, st.TokenRequests-1, st.Unauthorized, "each expiry cost one refused call")
}

// GitHub pages by page number over live data. Sorted oldest-updated first, an issue
// updated mid-sync would jump to the end and shift every later one back a slot: the
// first issue of the next page would never be read (and its updated_at is behind the
// cursor). The connector reads newest first: an issue updated mid-sync jumps to page
// 1, already read, and the next sync's since catches it; nothing is lost.
func TestGitHubUpdatedDuringSync(t *testing.T) {
	clock := newClock()
	var m *providermock.GitHub
	m = providermock.NewGitHub(providermock.GitHubOptions{Common: providermock.Common{Now: clock.Now, RateLimit: -1},
		BeforeRequest: func(n int) {
			if n == 2 { // between the issues' first and second pages
				clock.Advance(time.Minute)
				m.Change(2)
			}
		}})
	e := newEnvWith(t, m, clock, nil)
	e.sync(t)
	clock.Advance(time.Minute)
	e.sync(t)
	got, want := e.stored(t), m.Counts()
	for typ, n := range want {
		assert.Equal(t, n, got[typ], "%s: every record after the next sync", typ)
	}
}

// GitHub answers a spent primary limit with 403 (or 429), as it answers a refusal; what
// tells them apart is x-ratelimit-remaining: 0, which a response rule reads. Another
// client of the same token has used the window up before the sync starts: the first
// answer is a 403, the sync waits for x-ratelimit-reset (epoch seconds) and goes on;
// later it sees remaining reach 0 on a success and waits before the provider has to
// refuse anything.
func TestGitHubPrimaryLimitWaitsForReset(t *testing.T) {
	t.Parallel()
	clock := newClock()
	m := providermock.NewGitHub(providermock.GitHubOptions{Common: providermock.Common{Now: clock.Now, RateLimit: 6, RateWindow: 1500 * time.Millisecond}})
	e := newEnvWith(t, m, clock, nil)
	for range 6 {
		req, err := http.NewRequest(http.MethodGet, e.urls["api"]+"/repos/octocat/Hello-World/issues?per_page=1", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+providermock.DefaultGitHubToken)
		req.Header.Set("User-Agent", "another-client")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	m.ResetStats()
	e.sync(t)
	st := m.Stats()
	assert.GreaterOrEqual(t, st.RateLimited, 1, "the first request met the spent limit")
	assert.Equal(t, st.RateLimited, st.Status[http.StatusForbidden], "answered 403")
	assert.Zero(t, st.EarlyRetries, "no request before x-ratelimit-reset")
	got, want := e.stored(t), m.Counts()
	for typ, n := range want {
		assert.Equal(t, n, got[typ], typ)
	}
}

// HubSpot search never returns more than 10,000 results for one query; asking for the
// page past them answers 400. The connector searches in windows of modified date
// (incremental.step: 30d), so 10,300 contacts modified over two years are read in one
// sync, every search under the cap. A bulk import of 10,300 contacts in one hour
// overflows its window: the sync fails (transient) at the 10,000th result with every
// page before it stored, and the next sync carries on from the last one stored.
func TestHubSpotSearchCap(t *testing.T) {
	if testing.Short() {
		t.Skip("syncs over 10,000 records")
	}
	t.Run("windows", func(t *testing.T) {
		t.Parallel()
		clock := newClock()
		m := providermock.NewHubSpot(providermock.HubSpotOptions{Common: providermock.Common{Now: clock.Now, RateLimit: -1}, Contacts: 10300})
		e := newEnvWith(t, m, clock, nil)
		want := m.Counts()["contacts"]
		require.Greater(t, want, 10000)
		runs := e.sync(t, "contacts")
		assert.Equal(t, want, runs["contacts"].RecordsNew, "one sync reads them all")
		assert.Zero(t, m.Stats().Status[400], "no search reached the cap")
		assert.Equal(t, want, e.stored(t)["contacts"])
	})
	t.Run("a window over the cap", func(t *testing.T) {
		t.Parallel()
		clock := newClock()
		m := providermock.NewHubSpot(providermock.HubSpotOptions{Common: providermock.Common{Now: clock.Now, RateLimit: -1}, ImportedContacts: 10300})
		e := newEnvWith(t, m, clock, nil)
		want := m.Counts()["contacts"]
		results := e.run(t, "contacts")
		require.Len(t, results, 1)
		first := results[0].Run
		require.Equal(t, store.RunFailed, first.Status)
		assert.Equal(t, spec.ClassTransient, first.ErrorClass)
		assert.Contains(t, first.Error, "10,000th result")
		assert.Equal(t, 1, m.Stats().Status[400], "the page past the cap, once")
		stored := e.stored(t)["contacts"]
		assert.Equal(t, first.RecordsNew, stored, "every page before it is kept")
		assert.Greater(t, stored, 10000)
		runs := e.sync(t, "contacts")
		assert.Equal(t, want-stored, runs["contacts"].RecordsNew, "the next sync carries on from the last one stored")
		assert.Equal(t, want, e.stored(t)["contacts"])
	})
}

// Zendesk's exports hold back the last minute: a change is not exported until a
// minute has passed, and a start_time within the last minute is refused. The next
// sync picks the change up.
func TestZendeskHoldsBackTheLastMinute(t *testing.T) {
	e := newProviderEnv(t, "zendesk")
	e.sync(t)
	e.clock.Advance(time.Minute)
	delta := e.mock.Change(2)
	runs := e.sync(t, "tickets")
	assert.Zero(t, runs["tickets"].RecordsUpdated, "changed less than a minute ago: held back")
	e.clock.Advance(2 * time.Minute)
	runs = e.sync(t, "tickets")
	assert.Equal(t, delta["tickets"].Updated, runs["tickets"].RecordsUpdated)
	assert.Equal(t, delta["tickets"].Created, runs["tickets"].RecordsNew)
}

// Stripe objects have no update time: created[gte] sees new objects only. Changes to
// existing ones (a paid invoice, a canceled subscription) arrive as events.
func TestStripeChangesArriveAsEvents(t *testing.T) {
	e := newProviderEnv(t, "stripe")
	start := e.clock.Now().UTC().Truncate(time.Second)
	e.sync(t)
	e.clock.Advance(time.Minute)
	e.mock.Change(2)
	runs := e.sync(t)
	assert.Zero(t, runs["invoices"].RecordsUpdated, "the invoices list does not show that two were paid")
	rows, err := e.db.DB().Query(`SELECT json_extract(i.data, '$.type') FROM interactions i JOIN integration_objects o ON o.id = i.integration_object_id
		WHERE o.interaction_type = 'events' AND json_extract(i.data, '$.created_at') >= ?`, start.Format(time.RFC3339))
	require.NoError(t, err)
	defer rows.Close()
	types := map[string]int{}
	for rows.Next() {
		var typ string
		require.NoError(t, rows.Scan(&typ))
		types[typ]++
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, 2, types["invoice.paid"], "the events do: %v", types)
	assert.Equal(t, 2, types["customer.subscription.deleted"])
	assert.Equal(t, 1, types["customer.created"])
}
