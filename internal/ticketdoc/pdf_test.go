package ticketdoc

import (
	"bytes"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pages counts the page objects of an uncompressed or compressed PDF; the
// object dictionaries are not compressed either way.
func pages(pdf []byte) int {
	return bytes.Count(pdf, []byte("/Type /Page\n"))
}

func renderPlain(t *testing.T, tickets ...Ticket) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := render(&buf, false, tickets); err != nil {
		t.Fatalf("render: %v", err)
	}
	return buf.Bytes()
}

func TestPDFPages(t *testing.T) {
	for _, n := range []int{1, 2, 10} {
		tickets := make([]Ticket, n)
		for i := range tickets {
			tickets[i] = sampleTicket()
			tickets[i].ID = "TICKET" + strconv.Itoa(i)
		}
		var buf bytes.Buffer
		if err := PDF(&buf, tickets...); err != nil {
			t.Fatal(err)
		}
		out := buf.Bytes()
		if !bytes.HasPrefix(out, []byte("%PDF-")) {
			t.Fatalf("%d tickets: output starts %q", n, out[:min(len(out), 10)])
		}
		if !bytes.Contains(out[max(0, len(out)-1024):], []byte("%%EOF")) {
			t.Errorf("%d tickets: no %%%%EOF at the end", n)
		}
		if got := pages(out); got != n {
			t.Errorf("%d tickets: %d pages", n, got)
		}
		if bytes.Contains(out, []byte("Zo\xeb M\xfcller")) {
			t.Errorf("%d tickets: page text is not compressed", n)
		}
	}
}

func TestPDFContents(t *testing.T) {
	out := renderPlain(t, sampleTicket())
	// Page text is Windows-1252 in the content stream.
	for _, want := range []string{
		"Zo\xeb M\xfcller",                       // attendee
		"\x8045.00",                              // price with the euro sign
		"Block A, Row 12",                        // tier
		"01JPQ7X9K2VM3G8H4N5R6S7T8W",             // ticket id
		"01JPQ7W2A8B9C0D1E2F3G4H5J6",             // order id
		"Saturday, 14 March 2026 \xb7 19:30 CET", // in the event's zone
		"Stra\xdfe",
		Footer,
		"/Subtype /Image",
	} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("PDF lacks %q", want)
		}
	}
	if bytes.Contains(out, []byte("VOID")) {
		t.Error("a valid ticket carries a VOID mark")
	}
}

func TestPDFStatus(t *testing.T) {
	void := sampleTicket()
	void.Status = "void"
	out := renderPlain(t, void)
	for _, want := range []string{"(VOID)", voidFooter, "/ca 0.45"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("void ticket lacks %q", want)
		}
	}
	if bytes.Contains(out, []byte(Footer)) {
		t.Error("void ticket says it admits one person")
	}

	used := sampleTicket()
	used.Status = " Used "
	out = renderPlain(t, used)
	if !bytes.Contains(out, []byte("(USED)")) {
		t.Error("used ticket is not marked USED")
	}
}

func TestPDFNoLocation(t *testing.T) {
	tk := sampleTicket()
	tk.Location = nil
	out := renderPlain(t, tk)
	if !bytes.Contains(out, []byte("Saturday, 14 March 2026 \xb7 18:30 UTC")) {
		t.Error("nil Location is not shown as UTC")
	}
}

func TestPDFText(t *testing.T) {
	pdftotext, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Skip("pdftotext not installed (Debian poppler-utils): text extraction check skipped")
	}
	dir := t.TempDir()
	f := filepath.Join(dir, "t.pdf")
	var buf bytes.Buffer
	tickets := []Ticket{sampleTicket(), sampleTicket()}
	tickets[1].AttendeeName = "Øyvind Ærø"
	if err := PDF(&buf, tickets...); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(pdftotext, "-layout", f, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	text := string(out)
	for _, want := range []string{"Zoë Müller", "Øyvind Ærø", "€45.00", "Nils Frahm — Music for Animals", Footer} {
		if !strings.Contains(text, want) {
			t.Errorf("extracted text lacks %q:\n%s", want, text)
		}
	}
	if c := strings.Count(text, "\f"); c != 2 {
		t.Errorf("%d page breaks, want 2", c)
	}
}

func TestPDFRefuses(t *testing.T) {
	var buf bytes.Buffer
	if err := PDF(&buf); err == nil {
		t.Error("no tickets: no error")
	}
	for _, code := range []string{"", strings.Repeat("a", 5000)} {
		tk := sampleTicket()
		tk.Code = code
		if err := PDF(&buf, sampleTicket(), tk); err == nil || !strings.Contains(err.Error(), "ticket 2") {
			t.Errorf("code of %d bytes: error %v, want one naming ticket 2", len(code), err)
		}
	}
	if buf.Len() != 0 {
		t.Errorf("%d bytes written although PDF failed", buf.Len())
	}
}

func TestPDFOddText(t *testing.T) {
	long := strings.Repeat("Very long title with words ", 400) // over 10 kB
	cases := map[string]func(*Ticket){
		"all empty": func(tk *Ticket) {
			*tk = Ticket{Code: sampleCode}
		},
		"10 kB title":    func(tk *Ticket) { tk.EventTitle = long },
		"10 kB unbroken": func(tk *Ticket) { tk.EventTitle = strings.Repeat("W", 10000) },
		"long everything": func(tk *Ticket) {
			tk.Venue, tk.TierName, tk.AttendeeName, tk.OrderID, tk.Price, tk.ID = long, long, long, long, long, long
		},
		"NUL and controls": func(tk *Ticket) { tk.EventTitle, tk.AttendeeName = "A\x00B\x01C\x1b[31mD\x7f", "\r\n\t Zoë\x00 \x85" },
		"emoji":            func(tk *Ticket) { tk.EventTitle, tk.AttendeeName = "Party 🎉🎶 night", "👩🏽‍💻 Ada" },
		"RTL": func(tk *Ticket) {
			tk.EventTitle, tk.Venue = "حفلة موسيقية \u202eevil\u202c", "תל אביב"
		},
		"invalid UTF-8": func(tk *Ticket) { tk.EventTitle = "bad \xff\xfe bytes \xc3" },
		"PDF syntax":    func(tk *Ticket) { tk.EventTitle = `) Tj ET (\\) /Type /Page %%EOF` },
		"CJK":           func(tk *Ticket) { tk.AttendeeName = "山田太郎" },
		"combining":     func(tk *Ticket) { tk.AttendeeName = "Zoe\u0308 Mu\u0308ller" },
		"odd status":    func(tk *Ticket) { tk.Status = "\x00VOID🎉" },
		"far future in zone": func(tk *Ticket) {
			tk.StartsAt, tk.Location = time.Date(9999, 12, 31, 23, 59, 0, 0, time.UTC), time.FixedZone("", -12*3600)
		},
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			tk := sampleTicket()
			edit(&tk)
			out := renderPlain(t, tk)
			if got := pages(out); got != 1 {
				t.Errorf("%d pages", got)
			}
			var buf bytes.Buffer
			if err := PDF(&buf, tk); err != nil {
				t.Errorf("compressed: %v", err)
			}
		})
	}
}

func TestCleanText(t *testing.T) {
	for in, want := range map[string]string{
		"":                          "",
		"  a \t\n b  ":              "a b",
		"A\x00B\x1bC\u202eD\u200dE": "ABCDE",
		"Zoe\u0308":                 "Zoe",
		"❤\ufe0f":                   "❤",
		"\xff":                      "\ufffd",
	} {
		if got := cleanText(in); got != want {
			t.Errorf("cleanText(%q) = %q, want %q", in, got, want)
		}
	}
	if got := len([]rune(cleanText(strings.Repeat("ab ", 1000)))); got > maxRunes+1 {
		t.Errorf("cleanText kept %d runes", got)
	}
	for in, want := range map[string]string{
		"Zoë Müller": "Zo\xeb M\xfcller",
		"€ – “x” …":  "\x80 \x96 \x93x\x94 \x85",
		"🎉 山":        "? ?",
		"plain":      "plain",
	} {
		if got := cp1252(in); got != want {
			t.Errorf("cp1252(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestWriteSamples writes sample PDFs to $TICKETDOC_SAMPLES for a person to
// look at, e.g. after pdftoppm -png -r 60.
func TestWriteSamples(t *testing.T) {
	dir := os.Getenv("TICKETDOC_SAMPLES")
	if dir == "" {
		t.Skip("TICKETDOC_SAMPLES not set: no sample PDFs written")
	}
	long := sampleTicket()
	long.EventTitle = strings.Repeat("An extraordinarily long festival title that goes on ", 10)
	long.AttendeeName = "Maximiliane Alexandra Wilhelmina von und zu Hohenzollern-Sigmaringen"
	long.Status = "used"
	void := sampleTicket()
	void.Status = "void"
	void.Venue = ""
	void.Price = ""
	bare := Ticket{Code: sampleCode, ID: "01JPQ7X9K2VM3G8H4N5R6S7T8W", EventTitle: "Jazz 🎷 night", TierName: "Free"}
	for name, tickets := range map[string][]Ticket{
		"ticket.pdf": {sampleTicket()},
		"order.pdf":  {sampleTicket(), long, void, bare},
	} {
		var buf bytes.Buffer
		if err := PDF(&buf, tickets...); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPDFQRScans rasterises the printed page, as a phone camera would see a
// printout, and reads the QR code back.
func TestPDFQRScans(t *testing.T) {
	pdftoppm, err := exec.LookPath("pdftoppm")
	if err != nil {
		t.Skip("pdftoppm not installed (Debian poppler-utils): printed-page scan check skipped")
	}
	dir := t.TempDir()
	var buf bytes.Buffer
	if err := PDF(&buf, sampleTicket()); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "t.pdf")
	if err := os.WriteFile(f, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(pdftoppm, "-png", "-r", "72", "-singlefile", f, filepath.Join(dir, "page")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, out)
	}
	page, err := os.ReadFile(filepath.Join(dir, "page.png"))
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeQR(t, page); got != sampleCode {
		t.Errorf("printed page scans as %q, want %q", got, sampleCode)
	}
}

func TestPDFConcurrent(t *testing.T) {
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			var buf bytes.Buffer
			errs <- PDF(&buf, sampleTicket(), sampleTicket())
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// FuzzPDF checks that no text makes PDF fail or panic.
func FuzzPDF(f *testing.F) {
	for _, s := range []string{"", "Zoë Müller", "\x00\x01\u202e🎉", strings.Repeat("W", 2000), "\xff\xfe"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, title, name string) {
		tk := sampleTicket()
		tk.EventTitle, tk.AttendeeName, tk.Venue, tk.ID = title, name, name, title
		if err := PDF(io.Discard, tk); err != nil {
			t.Fatal(err)
		}
	})
}

// TestIndependent keeps the package free of the domain: the caller passes
// plain data.
func TestIndependent(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if p := strings.Trim(imp.Path.Value, `"`); p == "boxoffice" || strings.HasPrefix(p, "boxoffice/") {
				t.Errorf("%s imports %s", name, p)
			}
		}
	}
}
