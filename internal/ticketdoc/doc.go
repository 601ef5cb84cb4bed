// Package ticketdoc renders tickets for people to carry: the ticket code as a
// QR code in PNG or SVG, and printable PDFs with one A4 page per ticket.
//
// It takes plain data (Ticket) rather than the domain's types, so it depends
// on nothing in boxoffice. QR codes use medium error correction and a quiet
// zone of 4 modules. PDF pages use the PDF core fonts, whose text is
// Windows-1252: characters outside it print as '?', so names in Latin scripts
// print right and others still produce a valid page. Every function is safe
// for concurrent use.
package ticketdoc
