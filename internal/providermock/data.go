package providermock

import (
	"fmt"
	"strings"
)

// Fake but plausible data, picked by index so that every mock is deterministic
// without a random generator: the same index always gives the same person.

var (
	firstNames = []string{"Ana", "Bo", "Chen", "Dara", "Emeka", "Fatima", "Gus", "Hana", "Ivan", "Jo", "Kofi", "Lena", "Mateo", "Nia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Viktor", "Wen", "Xena", "Yusuf", "Zoe"}
	lastNames  = []string{"Lima", "Becker", "Okafor", "Nakamura", "Silva", "Haddad", "Novak", "Moreau", "Kowalski", "Rossi", "Jensen", "Park", "Alvarez", "Dubois", "Mensah", "Ivanova", "Schmidt", "Tanaka", "Costa", "Murphy"}
	adjectives = []string{"Blue", "Bright", "Cedar", "Delta", "Ember", "Falcon", "Granite", "Harbor", "Iron", "Juniper", "Kite", "Lumen", "Maple", "North", "Orbit", "Pine", "Quartz", "River", "Summit", "Tidal"}
	nouns      = []string{"Robotics", "Analytics", "Foods", "Logistics", "Health", "Labs", "Energy", "Media", "Systems", "Works", "Capital", "Retail"}
	industries = []string{"Software", "Manufacturing", "Retail", "Healthcare", "Logistics", "Finance", "Media", "Energy", "Education", "Hospitality"}
	countries  = []string{"US", "DE", "FR", "GB", "BR", "JP", "IN", "NG", "ES", "CA"}
	cities     = []string{"Austin", "Berlin", "Lyon", "Leeds", "Recife", "Osaka", "Pune", "Lagos", "Valencia", "Toronto"}
	titles     = []string{"CTO", "Head of Support", "VP Sales", "Engineer", "Office Manager", "CFO", "Product Manager", "Analyst", nil_}
	subjects   = []string{"Cannot log in", "Invoice is wrong", "Export times out", "Feature request: dark mode", "Password reset email never arrives", "API returns 500", "Upgrade our plan", "Data missing after import", "Slow dashboard", "Webhook not firing"}
)

// nil_ marks "no value" in string tables that hold optional values.
const nil_ = "\x00"

func pick(xs []string, i int) string { return xs[((i%len(xs))+len(xs))%len(xs)] }

// optional turns the nil_ marker into a JSON null.
func optional(s string) any {
	if s == nil_ {
		return nil
	}
	return s
}

// person is the i-th fake person.
func person(i int) (first, last string) {
	return pick(firstNames, i), pick(lastNames, i*7+i/len(firstNames))
}

// company is the i-th fake company: its name and domain.
func company(i int) (name, domain string) {
	a, n := pick(adjectives, i), pick(nouns, i*3+i/len(adjectives))
	name = a + " " + n
	if i >= len(adjectives)*len(nouns)/2 {
		name = fmt.Sprintf("%s %s %d", a, n, i)
	}
	domain = strings.ToLower(strings.ReplaceAll(name, " ", "")) + ".example"
	return name, domain
}

// email is the i-th person's address at a domain; every 9th uses a mailbox provider.
func email(first, last, domain string, i int) string {
	if i%9 == 4 {
		domain = "gmail.com"
	}
	return strings.ToLower(first + "." + last + fmt.Sprint(i) + "@" + domain)
}
