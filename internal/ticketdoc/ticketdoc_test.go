package ticketdoc

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
)

// sampleCode has the shape of a signed ticket code: 116 characters of
// base64url.
const sampleCode = "eyJ0IjoiMDFKUFE3WDlLMlZNM0c4SDRONVI2UzdUOFciLCJlIjoiMDFKUFE3UjAwMDAwMDAwMDAwMDAwMDAwIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"

func sampleTicket() Ticket {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		berlin = time.FixedZone("CET", 3600)
	}
	return Ticket{
		Code:         sampleCode,
		ID:           "01JPQ7X9K2VM3G8H4N5R6S7T8W",
		EventTitle:   "Nils Frahm — Music for Animals, live at the Philharmonie",
		Venue:        "Philharmonie Berlin, Herbert-von-Karajan-Straße 1",
		StartsAt:     time.Date(2026, 3, 14, 18, 30, 0, 0, time.UTC),
		Location:     berlin,
		TierName:     "Block A, Row 12",
		AttendeeName: "Zoë Müller",
		OrderID:      "01JPQ7W2A8B9C0D1E2F3G4H5J6",
		Price:        "€45.00",
		Status:       "valid",
	}
}

func decodeQR(t *testing.T, pngData []byte) string {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(pngData))
	if err != nil {
		t.Fatalf("decoding the PNG: %v", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatalf("binarising: %v", err)
	}
	res, err := zxqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("the QR code does not scan: %v", err)
	}
	return res.GetText()
}

func TestQRPNGRoundTrip(t *testing.T) {
	for _, code := range []string{sampleCode, "x", strings.Repeat("A-z_9", 60)} {
		for _, size := range []int{256, 300, 512, 1024} {
			data, err := QRPNG(code, size)
			if err != nil {
				t.Fatalf("QRPNG(%d chars, %d): %v", len(code), size, err)
			}
			cfg, err := png.DecodeConfig(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Width != size || cfg.Height != size {
				t.Errorf("size %d: image is %dx%d", size, cfg.Width, cfg.Height)
			}
			if got := decodeQR(t, data); got != code {
				t.Errorf("size %d: scanned %q, want %q", size, got, code)
			}
		}
	}
}

func TestQRPNGZbarimg(t *testing.T) {
	zbar, err := exec.LookPath("zbarimg")
	if err != nil {
		t.Skip("zbarimg not installed (Debian zbar-tools): second decoder skipped")
	}
	data, err := QRPNG(sampleCode, 400)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "qr.png")
	if err := os.WriteFile(f, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(zbar, "--raw", "-q", f).Output()
	if err != nil {
		t.Fatalf("zbarimg: %v", err)
	}
	if got := strings.TrimSpace(string(out)); got != sampleCode {
		t.Errorf("zbarimg read %q, want %q", got, sampleCode)
	}
}

func TestQRPNGModulesAreWholePixels(t *testing.T) {
	bm, err := qrBitmap(sampleCode)
	if err != nil {
		t.Fatal(err)
	}
	n := len(bm)
	size := 5*n + 3 // 5 px a module, 3 px left over for the margin
	data, err := QRPNG(sampleCode, size)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	off := 1 // (3 px left over) / 2
	for y := range n {
		for x := range n {
			for _, p := range []image.Point{{0, 0}, {4, 4}, {0, 4}, {4, 0}} {
				r, _, _, _ := img.At(off+x*5+p.X, off+y*5+p.Y).RGBA()
				if dark := r == 0; dark != bm[y][x] {
					t.Fatalf("module (%d,%d) pixel %v: dark=%v, want %v", x, y, p, dark, bm[y][x])
				}
			}
		}
	}
}

func TestQRPNGRefuses(t *testing.T) {
	for _, c := range []struct {
		name string
		code string
		size int
	}{
		{"empty code", "", 256},
		{"too long", strings.Repeat("a", 5000), 1024},
		{"zero size", sampleCode, 0},
		{"negative size", sampleCode, -5},
		{"smaller than the modules", sampleCode, 20},
		{"huge", sampleCode, MaxQRSize + 1},
	} {
		if _, err := QRPNG(c.code, c.size); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
	if _, err := QRSVG(""); err == nil {
		t.Error("QRSVG of an empty code: no error")
	}
}

func TestQRSVG(t *testing.T) {
	svg, err := QRSVG(sampleCode)
	if err != nil {
		t.Fatal(err)
	}
	s := string(svg)
	bm, _ := qrBitmap(sampleCode)
	n := len(bm)
	for _, want := range []string{
		`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 53 53" shape-rendering="crispEdges">`,
		`<rect width="53" height="53" fill="#fff"/>`,
		`<path fill="#000" d="M`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("SVG lacks %q:\n%.300s", want, s)
		}
	}
	if n != 53 {
		t.Fatalf("a 116-character code is a version 7 symbol (45 modules + quiet zone): got %d", n)
	}
	if c := strings.Count(s, "<path"); c != 1 {
		t.Errorf("%d paths, want 1", c)
	}
	// Redraw the path's runs and compare with the bitmap.
	d := s[strings.Index(s, ` d="`)+4:]
	d = d[:strings.IndexByte(d, '"')]
	got := make([][]bool, n)
	for i := range got {
		got[i] = make([]bool, n)
	}
	for _, sub := range strings.Split(strings.TrimSuffix(d, "z"), "z") {
		var x, y, w, w2 int
		if _, err := fmt.Sscanf(sub, "M%d %dh%dv1h-%d", &x, &y, &w, &w2); err != nil || w != w2 {
			t.Fatalf("subpath %q: %v", sub, err)
		}
		for i := x; i < x+w; i++ {
			got[y][i] = true
		}
	}
	if diff := cmp.Diff(bm, got); diff != "" {
		t.Errorf("path differs from the bitmap (-want +got):\n%s", diff)
	}
	for i := range 4 {
		for j := range n {
			if bm[i][j] || bm[j][i] || bm[n-1-i][j] || bm[j][n-1-i] {
				t.Fatalf("quiet zone has a dark module at ring %d", i)
			}
		}
	}
}
