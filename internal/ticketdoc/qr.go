package ticketdoc

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"
	"strconv"
	"sync"

	qrcode "github.com/skip2/go-qrcode"
)

// MaxQRSize is the largest edge length in pixels that QRPNG accepts.
const MaxQRSize = 4096

// pngEncoder favours speed: a QR image is two colours in long runs and
// compresses well at any level. Its pool keeps the compressor's state, which
// is far larger than the image, from one image to the next.
var pngEncoder = png.Encoder{CompressionLevel: png.BestSpeed, BufferPool: &encoderPool{}}

// encoderPool is a png.EncoderBufferPool safe for concurrent use.
type encoderPool struct{ p sync.Pool }

// Get returns a pooled encoder buffer, or nil for a new one.
func (e *encoderPool) Get() *png.EncoderBuffer {
	b, _ := e.p.Get().(*png.EncoderBuffer)
	return b
}

// Put returns b to the pool.
func (e *encoderPool) Put(b *png.EncoderBuffer) { e.p.Put(b) }

// qrBitmap encodes code at medium error correction and returns its modules,
// quiet zone of 4 modules included, as bitmap[y][x] (true is dark).
func qrBitmap(code string) ([][]bool, error) {
	if code == "" {
		return nil, errors.New("ticketdoc: empty ticket code")
	}
	q, err := qrcode.New(code, qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("ticketdoc: encoding the QR code: %w", err)
	}
	return q.Bitmap(), nil
}

// qrImage draws bm into a size×size 8-bit grey image, black on white,
// every module an equal square of whole pixels, the symbol centred; the
// pixels left over after the integer scaling widen the white margin. Grey
// rather than a 2-colour palette: it encodes faster, and fpdf embeds it
// without a palette stream of its own.
func qrImage(bm [][]bool, size int) *image.Gray {
	n := len(bm)
	scale := size / n
	off := (size - n*scale) / 2
	img := image.NewGray(image.Rect(0, 0, size, size))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for y, row := range bm {
		for x, dark := range row {
			if !dark {
				continue
			}
			for dy := range scale {
				p := img.PixOffset(off+x*scale, off+y*scale+dy)
				clear(img.Pix[p : p+scale])
			}
		}
	}
	return img
}

// QRPNG returns code as a QR code (medium error correction, quiet zone of 4
// modules) in a PNG image of size×size pixels. Every module is a square of
// whole pixels; what does not divide evenly is added to the white margin. It
// fails when code is empty or too long for a QR code, or when size is smaller
// than the symbol's module count or larger than MaxQRSize.
func QRPNG(code string, size int) ([]byte, error) {
	bm, err := qrBitmap(code)
	if err != nil {
		return nil, err
	}
	if size < len(bm) || size > MaxQRSize {
		return nil, fmt.Errorf("ticketdoc: QR image size %d px outside %d..%d", size, len(bm), MaxQRSize)
	}
	var buf bytes.Buffer
	if err := pngEncoder.Encode(&buf, qrImage(bm, size)); err != nil {
		return nil, fmt.Errorf("ticketdoc: encoding the QR PNG: %w", err)
	}
	return buf.Bytes(), nil
}

// QRSVG returns code as a QR code (medium error correction) in an SVG
// document whose viewBox is measured in modules, quiet zone of 4 modules
// included: a white background and a single path of the dark modules, drawn
// with shape-rendering="crispEdges" so it stays sharp at any scale. It fails
// when code is empty or too long for a QR code.
func QRSVG(code string) ([]byte, error) {
	bm, err := qrBitmap(code)
	if err != nil {
		return nil, err
	}
	n := strconv.Itoa(len(bm))
	b := make([]byte, 0, 8192)
	b = append(b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 `...)
	b = append(b, n...)
	b = append(b, ' ')
	b = append(b, n...)
	b = append(b, `" shape-rendering="crispEdges"><rect width="`...)
	b = append(b, n...)
	b = append(b, `" height="`...)
	b = append(b, n...)
	b = append(b, `" fill="#fff"/><path fill="#000" d="`...)
	// One subpath per horizontal run of dark modules.
	for y, row := range bm {
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			start := x
			for x < len(row) && row[x] {
				x++
			}
			b = append(b, 'M')
			b = strconv.AppendInt(b, int64(start), 10)
			b = append(b, ' ')
			b = strconv.AppendInt(b, int64(y), 10)
			b = append(b, 'h')
			b = strconv.AppendInt(b, int64(x-start), 10)
			b = append(b, "v1h-"...)
			b = strconv.AppendInt(b, int64(x-start), 10)
			b = append(b, 'z')
		}
	}
	b = append(b, "\"/></svg>\n"...)
	return b, nil
}
