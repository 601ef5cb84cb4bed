package ticketdoc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"codeberg.org/go-pdf/fpdf"
)

// Ticket is what one printed ticket shows. Text fields may hold any UTF-8:
// they are printed in Windows-1252, characters it lacks are replaced, control
// characters are dropped, and text too long for its place is wrapped or cut
// short with an ellipsis.
type Ticket struct {
	Code         string         // the signed ticket code; goes into the QR code verbatim
	ID           string         // the ticket id, printed small under the QR code
	EventTitle   string         // printed large, wrapped to at most three lines
	Venue        string         // may be ""
	StartsAt     time.Time      // shown in Location; the zero time is left out
	Location     *time.Location // the event's time zone; nil is UTC
	TierName     string         // the ticket tier, e.g. "Standing"
	AttendeeName string         // may be ""
	OrderID      string         // the order the ticket belongs to
	Price        string         // already formatted, e.g. "€45.00"; may be ""
	Status       string         // "valid", "used" or "void"; a void ticket carries a large VOID mark
}

// Footer is the line printed at the foot of every ticket that is not void.
const Footer = "Show this code at the entrance. It admits one person once."

// voidFooter replaces Footer on a void ticket.
const voidFooter = "This ticket is void. It admits no one."

// Page geometry in millimetres (A4 portrait).
const (
	pageW    = 210.0
	pageH    = 297.0
	margin   = 20.0
	contentW = pageW - 2*margin
	qrSide   = 90.0 // the image, quiet zone included
	idH      = 6.0  // the ticket id line under the QR code
	footerY  = 262.0
	// qrModulePx is the pixels per module of the embedded QR image: enough
	// for crisp edges in viewers that smooth scaled-up images.
	qrModulePx = 8
)

// ellipsis is "…" in Windows-1252.
const ellipsis = "\x85"

// PDF writes tickets to w as one PDF document with one A4 page per ticket, in
// the order given. Any text is accepted (see Ticket); PDF fails only when
// there is no ticket, when a ticket's Code is empty or too long for a QR
// code, or when writing to w fails. Nothing is written to w before all pages
// are laid out.
func PDF(w io.Writer, tickets ...Ticket) error {
	return render(w, true, tickets)
}

// render is PDF with the choice of stream compression, which tests turn off
// to read the page contents.
func render(w io.Writer, compress bool, tickets []Ticket) error {
	if len(tickets) == 0 {
		return errors.New("ticketdoc: no tickets")
	}
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCompression(compress)
	pdf.SetMargins(margin, margin, margin)
	pdf.SetCellMargin(0)
	pdf.SetAutoPageBreak(false, 0)
	pdf.SetCreator("boxoffice", false)
	title := cleanText(tickets[0].EventTitle)
	if len(tickets) > 1 {
		title = strconv.Itoa(len(tickets)) + " tickets: " + title
	}
	pdf.SetTitle(title, true)

	var img bytes.Buffer
	for i, t := range tickets {
		bm, err := qrBitmap(t.Code)
		if err != nil {
			return fmt.Errorf("ticket %d (id %q): %w", i+1, cleanText(t.ID), err)
		}
		img.Reset()
		if err := pngEncoder.Encode(&img, qrImage(bm, len(bm)*qrModulePx)); err != nil {
			return fmt.Errorf("ticketdoc: encoding the QR PNG: %w", err)
		}
		name := "qr" + strconv.Itoa(i)
		pdf.RegisterImageOptionsReader(name, fpdf.ImageOptions{ImageType: "PNG"}, &img)
		page(pdf, t, name)
	}
	return pdf.Output(w)
}

// page lays out one ticket on a new page; qrName is its registered QR image.
func page(pdf *fpdf.Fpdf, t Ticket, qrName string) {
	pdf.AddPage()
	status := strings.ToLower(strings.TrimSpace(t.Status))

	// Heading line: what this is, and a used ticket says so.
	y := margin
	pdf.SetFont("Helvetica", "B", 9)
	pdf.SetTextColor(110, 110, 110)
	pdf.SetXY(margin, y)
	pdf.CellFormat(contentW/2, 5, "ADMISSION TICKET", "", 0, "L", false, 0, "")
	if status == "used" {
		pdf.SetTextColor(170, 40, 40)
		pdf.CellFormat(contentW/2, 5, "USED", "", 0, "R", false, 0, "")
	}
	y += 8

	// Event title: 26 pt if it fits two lines, else 20 pt on up to three.
	titleText := cp1252(t.EventTitle)
	pdf.SetTextColor(20, 20, 20)
	size, lineH := 26.0, 11.0
	pdf.SetFont("Helvetica", "B", size)
	lines := wrap(pdf, titleText, contentW, 3)
	if len(lines) > 2 {
		size, lineH = 20.0, 8.5
		pdf.SetFont("Helvetica", "B", size)
		lines = wrap(pdf, titleText, contentW, 3)
	}
	for _, l := range lines {
		pdf.SetXY(margin, y)
		pdf.CellFormat(contentW, lineH, l, "", 0, "L", false, 0, "")
		y += lineH
	}
	y += 2

	// When and where.
	pdf.SetFont("Helvetica", "", 13)
	if !t.StartsAt.IsZero() {
		loc := t.Location
		if loc == nil {
			loc = time.UTC
		}
		when := t.StartsAt.In(loc).Format("Monday, 2 January 2006 · 15:04 MST")
		line(pdf, y, cp1252(when))
		y += 7
	}
	if v := cp1252(t.Venue); v != "" {
		pdf.SetTextColor(70, 70, 70)
		line(pdf, y, v)
		y += 7
	}

	y += 3
	pdf.SetDrawColor(200, 200, 200)
	pdf.SetLineWidth(0.3)
	pdf.Line(margin, y, pageW-margin, y)
	y += 5

	// Details, two to a row.
	type field struct{ label, value string }
	var fields []field
	for _, f := range []field{
		{"TIER", t.TierName},
		{"ATTENDEE", t.AttendeeName},
		{"PRICE", t.Price},
		{"ORDER", t.OrderID},
	} {
		if v := cp1252(f.value); v != "" {
			fields = append(fields, field{f.label, v})
		}
	}
	colW := contentW / 2
	for i, f := range fields {
		x := margin + float64(i%2)*colW
		rowY := y + float64(i/2)*15
		pdf.SetFont("Helvetica", "B", 8)
		pdf.SetTextColor(110, 110, 110)
		pdf.SetXY(x, rowY)
		pdf.CellFormat(colW-4, 4, f.label, "", 0, "L", false, 0, "")
		pdf.SetFont("Helvetica", "", 13)
		pdf.SetTextColor(20, 20, 20)
		pdf.SetXY(x, rowY+4.5)
		pdf.CellFormat(colW-4, 7, fit(pdf, f.value, colW-4), "", 0, "L", false, 0, "")
	}

	y += float64((len(fields)+1)/2) * 15

	// The QR code with the ticket id under it, centred in the space left
	// between the details and the footer.
	qrX := (pageW - qrSide) / 2
	qrTop := y + (footerY-y-qrSide-idH)/2
	pdf.ImageOptions(qrName, qrX, qrTop, qrSide, qrSide, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")
	if id := cp1252(t.ID); id != "" {
		pdf.SetFont("Courier", "", 10)
		pdf.SetTextColor(70, 70, 70)
		pdf.SetXY(margin, qrTop+qrSide)
		pdf.CellFormat(contentW, idH, fit(pdf, id, contentW), "", 0, "C", false, 0, "")
	}

	// Footer.
	pdf.SetDrawColor(200, 200, 200)
	pdf.Line(margin, footerY, pageW-margin, footerY)
	pdf.SetFont("Helvetica", "", 11)
	pdf.SetTextColor(40, 40, 40)
	pdf.SetXY(margin, footerY+3)
	foot := Footer
	if status == "void" {
		foot = voidFooter
	}
	pdf.CellFormat(contentW, 6, foot, "", 0, "C", false, 0, "")

	if status == "void" {
		voidMark(pdf)
	}
}

// line prints s on one line at y across the content width, cut short with an
// ellipsis if it does not fit, in the current font and colour.
func line(pdf *fpdf.Fpdf, y float64, s string) {
	pdf.SetXY(margin, y)
	pdf.CellFormat(contentW, 7, fit(pdf, s, contentW), "", 0, "L", false, 0, "")
}

// voidMark draws a large translucent red VOID diagonally across the page.
func voidMark(pdf *fpdf.Fpdf) {
	pdf.TransformBegin()
	pdf.TransformRotate(35, pageW/2, pageH/2)
	pdf.SetAlpha(0.45, "Normal")
	pdf.SetFont("Helvetica", "B", 160)
	pdf.SetTextColor(200, 0, 0)
	// Centred on the page: Helvetica's capitals are 0.718 em high.
	_, em := pdf.GetFontSize()
	pdf.Text((pageW-pdf.GetStringWidth("VOID"))/2, pageH/2+0.718*em/2, "VOID")
	pdf.SetAlpha(1, "Normal")
	pdf.TransformEnd()
}

// wrap breaks s (Windows-1252) into lines no wider than w in the current
// font; beyond maxLines the last line kept ends in an ellipsis.
func wrap(pdf *fpdf.Fpdf, s string, w float64, maxLines int) []string {
	if s == "" {
		return nil
	}
	raw := pdf.SplitLines([]byte(s), w)
	lines := make([]string, 0, min(len(raw), maxLines))
	for _, l := range raw[:min(len(raw), maxLines)] {
		lines = append(lines, string(l))
	}
	if len(raw) > maxLines {
		lines[maxLines-1] = ellipsize(pdf, lines[maxLines-1], w)
	}
	return lines
}

// fit returns s (Windows-1252) unchanged if it is no wider than w in the
// current font, else cut short with an ellipsis.
func fit(pdf *fpdf.Fpdf, s string, w float64) string {
	if pdf.GetStringWidth(s) <= w {
		return s
	}
	return ellipsize(pdf, s, w)
}

// ellipsize returns the longest prefix of s (Windows-1252, one byte per
// character) that, followed by an ellipsis, is no wider than w.
func ellipsize(pdf *fpdf.Fpdf, s string, w float64) string {
	lo, hi := 0, len(s) // the answer's length is in [lo, hi]
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if pdf.GetStringWidth(s[:mid]+ellipsis) <= w {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return strings.TrimRight(s[:lo], " ") + ellipsis
}
