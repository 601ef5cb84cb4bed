package ticketdoc

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"codeberg.org/go-pdf/fpdf"
)

// maxRunes bounds every text field before layout; the longest line of the
// page holds far fewer characters, and the rest would be cut off anyway.
const maxRunes = 400

// cp1252Table maps the non-ASCII runes that Windows-1252 can show to their
// byte. It is read once from fpdf's cp1252 translator; the translator itself
// keeps a shared buffer and so cannot be called from several goroutines.
var cp1252Table = sync.OnceValue(func() map[rune]byte {
	tr := fpdf.New("P", "mm", "A4", "").UnicodeTranslatorFromDescriptor("")
	m := make(map[rune]byte, 128)
	for r := rune(0x80); r <= 0xFFFF; r++ {
		if s := tr(string(r)); len(s) == 1 && s != "." {
			m[r] = s[0]
		}
	}
	return m
})

// cleanText makes s fit for one line of a page: whitespace of any kind
// becomes one space, control and format characters (NUL, bidi overrides,
// zero-width joiners), combining marks and variation selectors are dropped,
// invalid UTF-8 becomes U+FFFD, and at most maxRunes runes are kept.
func cleanText(s string) string {
	var b strings.Builder
	b.Grow(min(len(s), 4*maxRunes))
	space, n := false, 0
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case unicode.IsControl(r), unicode.In(r, unicode.Cf, unicode.Mn, unicode.Me, unicode.Cs),
			unicode.Is(unicode.Variation_Selector, r):
			continue
		}
		if n == maxRunes {
			break
		}
		if space {
			b.WriteByte(' ')
			space = false
			n++
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// cp1252 returns s, cleaned, in the encoding of fpdf's core fonts; runes
// that Windows-1252 lacks become '?'.
func cp1252(s string) string {
	s = cleanText(s)
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	table := cp1252Table()
	b := make([]byte, 0, len(s))
	for _, r := range s {
		switch c, ok := table[r]; {
		case r < utf8.RuneSelf:
			b = append(b, byte(r))
		case ok:
			b = append(b, c)
		default:
			b = append(b, '?')
		}
	}
	return string(b)
}
