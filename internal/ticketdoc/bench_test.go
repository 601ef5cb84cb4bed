package ticketdoc

import (
	"io"
	"testing"
)

func BenchmarkPDF(b *testing.B) {
	tk := sampleTicket()
	b.ReportAllocs()
	for b.Loop() {
		if err := PDF(io.Discard, tk); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPDF10(b *testing.B) {
	tickets := make([]Ticket, 10)
	for i := range tickets {
		tickets[i] = sampleTicket()
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := PDF(io.Discard, tickets...); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkQRPNG(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := QRPNG(sampleCode, 512); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkQRSVG(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := QRSVG(sampleCode); err != nil {
			b.Fatal(err)
		}
	}
}
