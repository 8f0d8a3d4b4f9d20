package match

import "testing"

func TestDomain(t *testing.T) {
	cases := map[string]string{
		"acme.com":                     "acme.com",
		"https://www.Acme.co.uk/about": "acme.co.uk",
		"http://shop.acme.com:8080/x":  "acme.com",
		"ana@eu.acme.co.uk":            "acme.co.uk",
		"  WWW.NORTHWIND.EXAMPLE ":     "northwind.example",
		"acme.github.io":               "acme.github.io", // a public suffix: each site is its own
		"gmail.com":                    "gmail.com",
		"":                             "",
		"localhost":                    "",
		"not a domain":                 "",
		"co.uk":                        "",
		"mailto:ANA@Acme.com":          "acme.com",
		"https://":                     "",
	}
	for in, want := range cases {
		if got := Domain(in); got != want {
			t.Errorf("Domain(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCompanyDomainRefusesFreemail(t *testing.T) {
	for _, s := range []string{"ana@gmail.com", "bob@googlemail.com", "x@yopmail.com", "https://mail.yahoo.co.uk", "c@outlook.com"} {
		if d := CompanyDomain(s); d != "" {
			t.Errorf("CompanyDomain(%q) = %q, want none", s, d)
		}
	}
	if d := CompanyDomain("ana@acme.com"); d != "acme.com" {
		t.Errorf("got %q", d)
	}
}

func TestEmail(t *testing.T) {
	cases := map[string]string{
		" Ana.Lopez@Northwind.Example ": "ana.lopez@northwind.example",
		"mailto:x@y.com":                "x@y.com",
		"no-at-sign":                    "",
		"@acme.com":                     "",
		"ana@":                          "",
		"ana@localhost":                 "",
		"Ana <ana@acme.com>":            "",
	}
	for in, want := range cases {
		if got := Email(in); got != want {
			t.Errorf("Email(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestName(t *testing.T) {
	cases := map[string]string{
		"Acme, Inc.":            "acme",
		"ACME":                  "acme",
		"Müller & Söhne GmbH":   "muller and sohne",
		"  Northwind   Traders": "northwind traders",
		"Inc":                   "inc",
		"Société Générale S.A.": "societe generale",
	}
	for in, want := range cases {
		if got := Name(in); got != want {
			t.Errorf("Name(%q) = %q, want %q", in, got, want)
		}
	}
}
