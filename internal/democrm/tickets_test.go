package democrm

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Tickets page like the other resources, refer to contacts and accounts that exist,
// and leave the accounts and contacts as they would be without them.
func TestTickets(t *testing.T) {
	h := newHarness(t, Options{Seed: 3, Now: fixed(t0)})
	if got := h.srv.Count("tickets"); got != defaultTickets {
		t.Fatalf("tickets %d, want %d", got, defaultTickets)
	}
	recs, raws, _ := h.all("tickets", url.Values{"limit": {"37"}})
	if len(recs) != defaultTickets {
		t.Fatalf("collected %d tickets", len(recs))
	}
	checkSorted(t, recs)
	contacts := map[string]string{} // id -> email
	_, craws, _ := h.all("contacts", url.Values{"limit": {"200"}})
	for _, raw := range craws {
		var c struct {
			ID        string `json:"id"`
			Email     string `json:"email"`
			AccountID string `json:"account_id"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatal(err)
		}
		contacts[c.ID] = strings.ToLower(c.Email) + " " + c.AccountID
	}
	kinds := map[string]int{}
	for i, raw := range raws {
		var tk struct {
			ID        string  `json:"id"`
			Subject   string  `json:"subject"`
			ContactID *string `json:"contact_id"`
			CompanyID *string `json:"company_id"`
			Requester struct {
				Email string `json:"email"`
			} `json:"requester"`
		}
		if err := json.Unmarshal(raw, &tk); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(tk.ID, "tkt_") || tk.Subject == "" || !strings.Contains(tk.Requester.Email, "@") {
			t.Errorf("ticket %d: %s", i, raw)
		}
		switch {
		case tk.ContactID != nil:
			kinds["contact"]++
			c, ok := contacts[*tk.ContactID]
			if !ok || tk.CompanyID == nil || c != strings.ToLower(tk.Requester.Email)+" "+*tk.CompanyID {
				t.Errorf("ticket %s names contact %v (%q) and company %v: %s", tk.ID, *tk.ContactID, c, tk.CompanyID, raw)
			}
		case tk.CompanyID != nil:
			kinds["stranger at a customer"]++
		case strings.HasSuffix(tk.Requester.Email, ".example"):
			kinds["address only"]++
		default:
			kinds["mailbox"]++
		}
	}
	for _, k := range []string{"contact", "stranger at a customer", "address only", "mailbox"} {
		if kinds[k] == 0 {
			t.Errorf("no ticket of kind %q: %v", k, kinds)
		}
	}

	// Mutate opens tickets: new records at the end of the feed.
	ch := h.srv.Mutate(3, 4)
	if ch.Tickets != 2 || h.srv.Count("tickets") != defaultTickets+2 {
		t.Errorf("Mutate(3, 4) opened %d tickets, now %d", ch.Tickets, h.srv.Count("tickets"))
	}
	after, _, _ := h.all("tickets", url.Values{"limit": {"200"}})
	checkSorted(t, after)
	if last := after[len(after)-1]; last.ID != "tkt_0242" || last.UpdatedAt != t0.Format(time.RFC3339) {
		t.Errorf("last ticket %+v", last)
	}

	// Tickets take nothing from the accounts' and contacts' randomness.
	without := newHarness(t, Options{Seed: 3, Now: fixed(t0), Tickets: -1})
	without.srv.Mutate(3, 4)
	if without.srv.Count("tickets") != 0 {
		t.Errorf("Tickets: -1 served %d tickets", without.srv.Count("tickets"))
	}
	for _, resource := range []string{"accounts", "contacts"} {
		_, _, a := h.all(resource, url.Values{"limit": {"200"}})
		_, _, b := without.all(resource, url.Values{"limit": {"200"}})
		if !bytes.Equal(bytes.Join(a, nil), bytes.Join(b, nil)) {
			t.Errorf("%s differ with and without tickets", resource)
		}
	}
}
