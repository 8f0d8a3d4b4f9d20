package democrm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// stamp is a Unix time in whole seconds, serialised as RFC 3339 UTC.
type stamp int64

func formatStamp(u int64) string { return time.Unix(u, 0).UTC().Format(time.RFC3339) }

func (t stamp) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(formatStamp(int64(t)))), nil
}

// row is a record of any resource.
type row interface {
	key() (updatedAt int64, id string)
}

type owner struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

type account struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Domain    string `json:"domain"`
	Website   string `json:"website"`
	Industry  string `json:"industry"`
	Employees int    `json:"employees"`
	Plan      string `json:"plan"`
	Country   string `json:"country"`
	Owner     owner  `json:"owner"`
	CreatedAt stamp  `json:"created_at"`
	UpdatedAt stamp  `json:"updated_at"`
}

func (a *account) key() (int64, string) { return int64(a.UpdatedAt), a.ID }

type contact struct {
	ID             string  `json:"id"`
	AccountID      string  `json:"account_id"`
	FirstName      string  `json:"first_name"`
	LastName       string  `json:"last_name"`
	Email          string  `json:"email"`
	Phone          *string `json:"phone"`
	Title          string  `json:"title"`
	LifecycleStage string  `json:"lifecycle_stage"`
	CreatedAt      stamp   `json:"created_at"`
	UpdatedAt      stamp   `json:"updated_at"`

	country string // unexported: the account's country, for phone numbers
}

func (c *contact) key() (int64, string) { return int64(c.UpdatedAt), c.ID }

// ---- word lists ----

var namePrefixes = []string{
	"Northwind", "Contoso", "Fabrikam", "Globex", "Initech", "Acme", "Blue Harbor",
	"Summit", "Redwood", "Silverline", "Brightpath", "Ironbridge", "Evergreen",
	"Lakeside", "Pinecrest", "Stonegate", "Clearwater", "Highland", "Maple", "Orion",
	"Vertex", "Nimbus", "Cobalt", "Juniper", "Atlas", "Beacon", "Horizon", "Meridian",
	"Quantum", "Polar", "Crescent", "Sterling", "Falcon", "Willow", "Granite",
	"Aurora", "Cascade", "Keystone", "Tidewater", "Blackbird", "Copperleaf", "Driftwood",
}

var nameSuffixes = []struct{ word, industry string }{
	{"Traders", "Retail"},
	{"Labs", "Research"},
	{"Systems", "Technology"},
	{"Logistics", "Transportation"},
	{"Foods", "Food & Beverage"},
	{"Analytics", "Technology"},
	{"Health", "Healthcare"},
	{"Energy", "Energy"},
	{"Software", "Technology"},
	{"Partners", "Professional Services"},
	{"Holdings", "Financial Services"},
	{"Robotics", "Manufacturing"},
	{"Media", "Media"},
	{"Capital", "Financial Services"},
	{"Studios", "Media"},
	{"Networks", "Telecommunications"},
	{"Outfitters", "Retail"},
	{"Manufacturing", "Manufacturing"},
	{"Consulting", "Professional Services"},
	{"Biotech", "Life Sciences"},
	{"Freight", "Transportation"},
	{"Security", "Technology"},
	{"Insurance", "Insurance"},
	{"Education", "Education"},
	{"Hospitality", "Hospitality"},
}

var plans = []string{"free", "starter", "growth", "enterprise"}

var owners = []owner{
	{"Dana Smith", "dana.smith@demo-crm.example"},
	{"Marcus Chen", "marcus.chen@demo-crm.example"},
	{"Priya Patel", "priya.patel@demo-crm.example"},
	{"Tom Becker", "tom.becker@demo-crm.example"},
	{"Lucia Fernandez", "lucia.fernandez@demo-crm.example"},
	{"Kenji Watanabe", "kenji.watanabe@demo-crm.example"},
	{"Amara Okafor", "amara.okafor@demo-crm.example"},
	{"Sofia Rossi", "sofia.rossi@demo-crm.example"},
}

// countries, weighted by how often they appear, with a phone number format.
var countries = []struct {
	code   string
	weight int
	phone  func(r *rand.Rand) string
}{
	{"US", 30, func(r *rand.Rand) string {
		return fmt.Sprintf("+1 %s 555 %04d", pick(r, []string{"212", "415", "512", "617", "206", "312"}), r.IntN(10000))
	}},
	{"DE", 12, func(r *rand.Rand) string {
		return fmt.Sprintf("+49 %s %07d", pick(r, []string{"30", "40", "89", "69", "221"}), r.IntN(10_000_000))
	}},
	{"GB", 10, func(r *rand.Rand) string {
		return fmt.Sprintf("+44 20 %04d %04d", 7000+r.IntN(3000), r.IntN(10000))
	}},
	{"FR", 6, func(r *rand.Rand) string {
		return fmt.Sprintf("+33 1 %02d %02d %02d %02d", r.IntN(100), r.IntN(100), r.IntN(100), r.IntN(100))
	}},
	{"CA", 6, func(r *rand.Rand) string {
		return fmt.Sprintf("+1 %s 555 %04d", pick(r, []string{"416", "604", "514"}), r.IntN(10000))
	}},
	{"NL", 4, func(r *rand.Rand) string {
		return fmt.Sprintf("+31 20 %03d %04d", r.IntN(1000), r.IntN(10000))
	}},
	{"ES", 4, func(r *rand.Rand) string {
		return fmt.Sprintf("+34 91 %03d %02d %02d", r.IntN(1000), r.IntN(100), r.IntN(100))
	}},
	{"SE", 3, func(r *rand.Rand) string {
		return fmt.Sprintf("+46 8 %03d %03d %02d", r.IntN(1000), r.IntN(1000), r.IntN(100))
	}},
	{"AU", 4, func(r *rand.Rand) string {
		return fmt.Sprintf("+61 2 %04d %04d", r.IntN(10000), r.IntN(10000))
	}},
	{"BR", 3, func(r *rand.Rand) string {
		return fmt.Sprintf("+55 11 9%04d %04d", r.IntN(10000), r.IntN(10000))
	}},
	{"JP", 3, func(r *rand.Rand) string {
		return fmt.Sprintf("+81 3 %04d %04d", r.IntN(10000), r.IntN(10000))
	}},
	{"IN", 3, func(r *rand.Rand) string {
		return fmt.Sprintf("+91 22 %04d %04d", r.IntN(10000), r.IntN(10000))
	}},
}

var firstNames = []string{
	"Ana", "James", "Mei", "Oliver", "Fatima", "Lukas", "Sofia", "Noah", "Aisha", "Mateo",
	"Emma", "Hiroshi", "Chloe", "Liam", "Priya", "Jonas", "Olivia", "Ethan", "Zara", "Diego",
	"Hannah", "Wei", "Grace", "Samuel", "Ingrid", "Kwame", "Leila", "Marco", "Nina", "Omar",
	"Rachel", "Sven", "Tara", "Victor", "Yuki", "Elena", "Ben", "Clara", "David", "Maya",
}

var lastNames = []string{
	"Lopez", "Smith", "Nguyen", "Müller", "Kim", "O'Brien", "Garcia", "Johnson", "Rossi",
	"van Dijk", "Schmidt", "Patel", "Tanaka", "Brown", "Dubois", "Silva", "Andersson",
	"Kowalski", "Cohen", "Wilson", "Martin", "Okafor", "Ivanova", "Hernandez", "Chen",
	"Fischer", "Taylor", "Moreau", "Ali", "Jensen", "Novak", "Costa", "Walker", "Sato",
}

var titles = []string{
	"VP Sales", "Head of Marketing", "CTO", "CEO", "CFO", "COO", "Software Engineer",
	"Account Executive", "Operations Manager", "Product Manager", "Customer Success Manager",
	"Data Analyst", "Procurement Lead", "Office Manager", "Director of IT",
	"HR Business Partner", "Founder", "Marketing Coordinator", "Head of Finance",
	"Sales Development Rep",
}

var lifecycleStages = []struct {
	stage  string
	weight int
}{
	{"subscriber", 10}, {"lead", 25}, {"marketing_qualified_lead", 15},
	{"sales_qualified_lead", 10}, {"opportunity", 10}, {"customer", 25}, {"evangelist", 5},
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// ---- generator ----

// generator creates fake records. It keeps the sets that make account names,
// domains and contact emails unique. All randomness comes from rng.
type generator struct {
	rng     *rand.Rand
	names   map[string]bool
	domains map[string]bool
	emails  map[string]bool // lower-cased
}

func newGenerator(rng *rand.Rand) *generator {
	return &generator{rng: rng, names: map[string]bool{}, domains: map[string]bool{}, emails: map[string]bool{}}
}

const historyDays = 400

// initial generates the starting data set. Timestamps are spread over the
// historyDays before now; many records share an updated_at second (bulk
// imports and bulk edits) so that keyset ties are exercised. ids follow
// creation order.
func (g *generator) initial(now int64, nAccounts, nContacts int) ([]*account, []*contact) {
	start := now - historyDays*24*3600

	// Bulk-edit instants shared by many records.
	bulk := make([]int64, max(3, (nAccounts+nContacts)/12))
	for i := range bulk {
		bulk[i] = start + g.rng.Int64N(now-start+1)
	}
	slices.Sort(bulk)
	times := func() (created, updated int64) {
		created = start + g.rng.Int64N(now-start+1)
		switch p := g.rng.Float64(); {
		case p < 0.25: // never edited
			return created, created
		case p < 0.65: // touched by a bulk edit, if one happened after creation
			if i := sort.Search(len(bulk), func(i int) bool { return bulk[i] >= created }); i < len(bulk) {
				return created, bulk[i+g.rng.IntN(len(bulk)-i)]
			}
		}
		return created, created + g.rng.Int64N(now-created+1)
	}

	accounts := make([]*account, nAccounts)
	for i := range accounts {
		c, u := times()
		accounts[i] = g.newAccount(c, u)
	}
	slices.SortStableFunc(accounts, func(a, b *account) int { return cmpInt(a.CreatedAt, b.CreatedAt) })
	for i, a := range accounts {
		a.ID = fmt.Sprintf("acc_%04d", i+1)
	}

	type pending struct{ created, updated int64 }
	ps := make([]pending, nContacts)
	for i := range ps {
		ps[i].created, ps[i].updated = times()
	}
	slices.SortStableFunc(ps, func(a, b pending) int { return cmpInt(a.created, b.created) })
	contacts := make([]*contact, nContacts)
	for i, p := range ps {
		// A contact belongs to an account that already existed when it was created.
		k := sort.Search(len(accounts), func(j int) bool { return int64(accounts[j].CreatedAt) > p.created })
		if k == 0 {
			k = 1
			p.created = int64(accounts[0].CreatedAt)
			p.updated = max(p.updated, p.created)
		}
		c := g.newContact(accounts[g.rng.IntN(k)], p.created, p.updated)
		c.ID = fmt.Sprintf("con_%04d", i+1)
		contacts[i] = c
	}
	return accounts, contacts
}

func cmpInt[T ~int64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// newAccount returns an account without an ID.
func (g *generator) newAccount(created, updated int64) *account {
	r := g.rng
	prefix := pick(r, namePrefixes)
	suffix := pick(r, nameSuffixes)
	name := prefix + " " + suffix.word
	for n := 2; g.names[name]; n++ {
		name = fmt.Sprintf("%s %s %d", prefix, suffix.word, n)
	}
	g.names[name] = true

	domain := g.uniqueDomain(slug(prefix), slug(prefix)+"-"+slug(suffix.word))

	industry := suffix.industry
	if r.IntN(5) == 0 {
		industry = pick(r, nameSuffixes).industry // not every name tells the truth
	}

	// Log-uniform head count from 1 to ~20,000.
	employees := int(math.Exp(r.Float64() * math.Log(20000)))
	var plan string
	switch {
	case employees < 10:
		plan = plans[r.IntN(2)] // free, starter
	case employees < 200:
		plan = plans[1+r.IntN(2)] // starter, growth
	case employees < 2000:
		plan = plans[2+r.IntN(2)] // growth, enterprise
	default:
		plan = "enterprise"
	}

	country := weightedCountry(r)
	return &account{
		Name:      name,
		Domain:    domain,
		Website:   "https://www." + domain,
		Industry:  industry,
		Employees: employees,
		Plan:      plan,
		Country:   country,
		Owner:     pick(r, owners),
		CreatedAt: stamp(created),
		UpdatedAt: stamp(updated),
	}
}

func (g *generator) uniqueDomain(short, long string) string {
	for _, base := range []string{short, long} {
		if d := base + ".example"; !g.domains[d] {
			g.domains[d] = true
			return d
		}
	}
	for n := 2; ; n++ {
		if d := fmt.Sprintf("%s%d.example", long, n); !g.domains[d] {
			g.domains[d] = true
			return d
		}
	}
}

func weightedCountry(r *rand.Rand) string {
	total := 0
	for _, c := range countries {
		total += c.weight
	}
	n := r.IntN(total)
	for _, c := range countries {
		if n < c.weight {
			return c.code
		}
		n -= c.weight
	}
	return countries[0].code
}

func phoneFor(r *rand.Rand, country string) string {
	for _, c := range countries {
		if c.code == country {
			return c.phone(r)
		}
	}
	return countries[0].phone(r)
}

func weightedStage(r *rand.Rand) string {
	total := 0
	for _, s := range lifecycleStages {
		total += s.weight
	}
	n := r.IntN(total)
	for _, s := range lifecycleStages {
		if n < s.weight {
			return s.stage
		}
		n -= s.weight
	}
	return lifecycleStages[0].stage
}

// newContact returns a contact of acc without an ID.
func (g *generator) newContact(acc *account, created, updated int64) *contact {
	r := g.rng
	first, last := pick(r, firstNames), pick(r, lastNames)

	local := slug(first) + "." + slug(last)
	email := local + "@" + acc.Domain
	for n := 2; g.emails[email]; n++ {
		email = fmt.Sprintf("%s%d@%s", local, n, acc.Domain)
	}
	g.emails[email] = true
	if r.IntN(100) < 5 { // messy data: mixed-case address
		email = mixedCase(email)
	}

	var phone *string
	if r.IntN(100) >= 3 { // ~3% have no phone
		p := phoneFor(r, acc.Country)
		phone = &p
	}
	return &contact{
		AccountID:      acc.ID,
		FirstName:      first,
		LastName:       last,
		Email:          email,
		Phone:          phone,
		Title:          pick(r, titles),
		LifecycleStage: weightedStage(r),
		CreatedAt:      stamp(created),
		UpdatedAt:      stamp(updated),
		country:        acc.Country,
	}
}

// touchAccount changes one field of a and bumps updated_at.
func (g *generator) touchAccount(a *account, now int64) {
	r := g.rng
	switch r.IntN(3) {
	case 0: // plan change (upgrade or downgrade)
		old := a.Plan
		for a.Plan == old {
			a.Plan = pick(r, plans)
		}
	case 1: // head count change
		old := a.Employees
		a.Employees = max(1, int(float64(old)*(0.8+0.5*r.Float64())))
		if a.Employees == old {
			a.Employees++
		}
	default: // account handed over to another owner
		old := a.Owner
		for a.Owner == old {
			a.Owner = pick(r, owners)
		}
	}
	a.UpdatedAt = stamp(now)
}

// touchContact changes one field of c and bumps updated_at.
func (g *generator) touchContact(c *contact, now int64) {
	r := g.rng
	switch r.IntN(3) {
	case 0: // new job title
		old := c.Title
		for c.Title == old {
			c.Title = pick(r, titles)
		}
	case 1: // new phone number
		np := phoneFor(r, c.country)
		c.Phone = &np
	default: // moves along the funnel (or falls back)
		old := c.LifecycleStage
		for c.LifecycleStage == old {
			c.LifecycleStage = weightedStage(r)
		}
	}
	c.UpdatedAt = stamp(now)
}

// slug lower-cases s and keeps ASCII letters and digits only:
// "O'Brien" -> "obrien", "van Dijk" -> "vandijk", "Müller" -> "muller".
func slug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == 'ä' || r == 'à' || r == 'á':
			b.WriteByte('a')
		case r == 'ö' || r == 'ó':
			b.WriteByte('o')
		case r == 'ü' || r == 'ú':
			b.WriteByte('u')
		case r == 'é' || r == 'è':
			b.WriteByte('e')
		}
	}
	return b.String()
}

// mixedCase capitalises each dot-separated part of the local part and the
// first label of the domain: "ana.lopez@northwind.example" ->
// "Ana.Lopez@Northwind.example".
func mixedCase(email string) string {
	local, domain, _ := strings.Cut(email, "@")
	parts := strings.Split(local, ".")
	for i, p := range parts {
		parts[i] = capitalize(p)
	}
	return strings.Join(parts, ".") + "@" + capitalize(domain)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
