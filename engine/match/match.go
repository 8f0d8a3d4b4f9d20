// Package match normalises the keys that resolve records to a customer's Accounts and
// Contacts: registrable domains (public-suffix aware), e-mail addresses and company
// names. It holds no state and does no I/O.
package match

import (
	_ "embed"
	"net/url"
	"strings"
	"unicode"

	"golang.org/x/net/publicsuffix"
	"golang.org/x/text/unicode/norm"
)

//go:embed freemail.txt
var freemailList string

var freemail = func() map[string]bool {
	m := map[string]bool{}
	for _, l := range strings.Split(freemailList, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			m[l] = true
		}
	}
	return m
}()

// IsFreemail reports whether a registrable domain belongs to a mailbox provider or a
// disposable-address service.
func IsFreemail(domain string) bool { return freemail[strings.ToLower(domain)] }

// Email normalises an address: trimmed and lower-cased. It returns "" for anything
// that is not a plausible address.
func Email(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimPrefix(s, "mailto:")
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || strings.ContainsAny(s, " \t<>,;") || !strings.Contains(s[at:], ".") {
		return ""
	}
	return s
}

// Domain returns the registrable domain (eTLD+1) of a host name, URL or e-mail address,
// lower-cased: "https://www.Acme.co.uk/about" and "ana@eu.acme.co.uk" both give
// "acme.co.uk". It returns "" when there is none.
func Domain(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return ""
	}
	if at := strings.LastIndexByte(s, '@'); at >= 0 && !strings.Contains(s, "://") {
		s = s[at+1:]
	}
	host := s
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return ""
		}
		host = u.Hostname()
	} else {
		host, _, _ = strings.Cut(host, "/")
		host, _, _ = strings.Cut(host, ":")
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "."), ".")
	if host == "" || !strings.Contains(host, ".") || strings.ContainsAny(host, " _") {
		return ""
	}
	d, err := publicsuffix.EffectiveTLDPlusOne(host)
	if err != nil {
		return ""
	}
	return d
}

// CompanyDomain is Domain, except that mailbox and disposable domains give "": they
// must never match or create accounts.
func CompanyDomain(s string) string {
	d := Domain(s)
	if IsFreemail(d) {
		return ""
	}
	return d
}

var legalSuffixes = map[string]bool{
	"inc": true, "incorporated": true, "llc": true, "ltd": true, "limited": true, "corp": true, "corporation": true,
	"co": true, "company": true, "gmbh": true, "ag": true, "sa": true, "sas": true, "sarl": true, "bv": true, "nv": true,
	"plc": true, "pty": true, "srl": true, "spa": true, "oy": true, "ab": true, "as": true, "kg": true, "lp": true, "llp": true,
}

// Name normalises a company name for matching: accents folded, punctuation dropped,
// lower case, legal suffixes (Inc, GmbH, Ltd ...) removed. "Acme, Inc." and "ACME"
// both give "acme".
func Name(s string) string {
	var b strings.Builder
	for _, r := range norm.NFKD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
			// combining accent: dropped
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(unicode.ToLower(r))
		case r == '&':
			b.WriteString(" and ")
		case r == '.' || r == '\'':
			// S.A. is SA; O'Brien is OBrien

		default:
			b.WriteByte(' ')
		}
	}
	words := strings.Fields(b.String())
	for len(words) > 1 && legalSuffixes[words[len(words)-1]] {
		words = words[:len(words)-1]
	}
	return strings.Join(words, " ")
}
