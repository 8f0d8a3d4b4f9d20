package secret

import (
	"strings"
	"testing"
)

// FuzzRedactor embeds two secrets, each in one of the forms a secret reaches text
// in, between any text, and checks that no form of either survives redaction. The
// mask's own letters are first replaced by a byte no secret holds, so that a secret
// spelled by the mask and the text around it is not mistaken for a leak: what
// remains of the input is only text no secret covered.
func FuzzRedactor(f *testing.F) {
	f.Add("s3cr3t/value+1", "1234", "token ", " and ", " end", uint8(0), uint8(0))
	f.Add("tok-1234-abcd", "1234", "", "", "", uint8(0), uint8(0)) // one inside the other
	f.Add("1234", "tok-1234-abcd", "", "", "", uint8(0), uint8(0))
	f.Add("abcdef", "defg", "", "g", "", uint8(0), uint8(0))                // overlapping: abcdefgdefg
	f.Add("pass word&x=1", "ü-secret", "q=", "&p=", "", uint8(2), uint8(4)) // + for a space; JSON
	f.Add("<tag>&\"q\"", "user:pass", "", "", "", uint8(4), uint8(5))
	f.Fuzz(func(t *testing.T, s1, s2, pre, mid, post string, f1, f2 uint8) {
		secrets := []string{s1, s2}
		for _, s := range secrets {
			if strings.ContainsRune(s, 0) {
				return
			}
		}
		form := func(s string, k uint8) string {
			fs := encodings(s)
			return fs[int(k)%len(fs)]
		}
		text := pre + form(s1, f1) + mid + form(s2, f2) + post
		r := NewRedactor(s1, s2)
		got := r.String(text)
		// Every byte inside any occurrence of any form is masked, each run of them
		// by one mask (brute force: every form tried at every offset).
		covered := make([]bool, len(text))
		for _, s := range secrets {
			if len(s) < 4 {
				continue
			}
			for _, enc := range encodings(s) {
				for i := 0; i < len(text); i++ { // every byte: a secret need not be UTF-8
					if strings.HasPrefix(text[i:], enc) {
						for k := i; k < i+len(enc); k++ {
							covered[k] = true
						}
					}
				}
			}
		}
		var want strings.Builder
		for i := 0; i < len(text); i++ {
			if !covered[i] {
				want.WriteByte(text[i])
				continue
			}
			want.WriteString(Mask)
			for i+1 < len(text) && covered[i+1] {
				i++
			}
		}
		if got != want.String() {
			t.Fatalf("redacting %q gave %q, want %q", text, got, want.String())
		}
		out := strings.ReplaceAll(got, Mask, "\x00")
		for _, s := range secrets {
			if len(s) < 4 {
				continue
			}
			for _, enc := range encodings(s) {
				if strings.Contains(out, enc) {
					t.Fatalf("%q survives redaction of %q: %q", enc, text, r.String(text))
				}
			}
		}
	})
}
