package democrm

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// ticket is a support ticket, as CRMs with a help desk serve them: who asked (an
// address, and the contact id when the CRM knows the person) and the company it is
// about. The references are as messy as real ones: some tickets carry only the
// requester's address, some come from people the CRM does not know.
type ticket struct {
	ID        string    `json:"id"`
	Subject   string    `json:"subject"`
	Status    string    `json:"status"`
	Priority  string    `json:"priority"`
	Requester requester `json:"requester"`
	ContactID *string   `json:"contact_id"`
	CompanyID *string   `json:"company_id"`
	CreatedAt stamp     `json:"created_at"`
	UpdatedAt stamp     `json:"updated_at"`
}

type requester struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

func (t *ticket) key() (int64, string) { return int64(t.UpdatedAt), t.ID }

var (
	ticketSubjects = []string{
		"Cannot log in", "Invoice question", "Export to CSV fails", "Add a seat to our plan", "SSO setup",
		"Password reset email not arriving", "API rate limit", "Feature request: dark mode", "Data looks out of date",
		"Cancel my subscription", "Webhook retries", "Upgrade to annual billing", "Bug in the report builder",
	}
	ticketStatuses   = []string{"new", "open", "open", "pending", "solved", "solved", "closed"}
	ticketPriorities = []string{"low", "normal", "normal", "normal", "high", "urgent"}
	freemailDomains  = []string{"gmail.com", "outlook.com", "yahoo.com"}
)

// newTickets generates n tickets about the given accounts and contacts, from an rng of
// their own so that adding tickets changes none of the accounts and contacts.
func newTickets(rng *rand.Rand, now int64, accounts []*account, contacts []*contact, n int) []*ticket {
	if len(contacts) == 0 || n <= 0 {
		return nil
	}
	byID := accountsByID(accounts)
	out := make([]*ticket, n)
	for i := range out {
		c := contacts[rng.IntN(len(contacts))]
		created := int64(c.CreatedAt) + rng.Int64N(max(now-int64(c.CreatedAt), 0)+1)
		updated := created + rng.Int64N(now-created+1)
		out[i] = newTicket(rng, c, byID[c.AccountID], created, updated)
	}
	slices.SortStableFunc(out, func(a, b *ticket) int { return cmpInt(a.CreatedAt, b.CreatedAt) })
	for i, t := range out {
		t.ID = fmt.Sprintf("tkt_%04d", i+1)
	}
	return out
}

func accountsByID(accounts []*account) map[string]*account {
	byID := make(map[string]*account, len(accounts))
	for _, a := range accounts {
		byID[a.ID] = a
	}
	return byID
}

// newTicket returns a ticket about contact c of account acc, without an ID. About 60%
// name the contact and the company; 20% only the contact's address; 10% come from an
// unknown person at the company; 10% from an unknown mailbox address.
func newTicket(rng *rand.Rand, c *contact, acc *account, created, updated int64) *ticket {
	t := &ticket{
		Subject:   pick(rng, ticketSubjects),
		Status:    pick(rng, ticketStatuses),
		Priority:  pick(rng, ticketPriorities),
		Requester: requester{Name: c.FirstName + " " + c.LastName, Email: c.Email},
		CreatedAt: stamp(created),
		UpdatedAt: stamp(updated),
	}
	contactID, companyID := c.ID, c.AccountID
	switch p := rng.IntN(10); {
	case p < 6:
		t.ContactID, t.CompanyID = &contactID, &companyID
	case p < 8:
		// The address only, in whatever case the person typed it.
		if rng.IntN(2) == 0 {
			t.Requester.Email = strings.ToUpper(c.Email[:1]) + c.Email[1:]
		}
	case p < 9:
		first := pick(rng, firstNames)
		t.Requester = requester{Name: first, Email: slug(first) + ".new@" + acc.Domain}
		t.CompanyID = &companyID
	default:
		first, last := pick(rng, firstNames), pick(rng, lastNames)
		t.Requester = requester{Name: first + " " + last, Email: fmt.Sprintf("%s%s%d@%s", slug(first), slug(last), rng.IntN(100), pick(rng, freemailDomains))}
	}
	return t
}
