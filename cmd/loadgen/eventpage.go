package main

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// decodeEventPage reads the event IDs and the next cursor of a list page.
// List pages are the largest answers the generator reads (20 events with
// their tiers), and it needs two things of them, so it scans instead of
// decoding: with encoding/json, the browse and mixed scenarios spent
// about 40 % of the generator's CPU in decoding. Anything the scan does not
// expect (escapes in strings, keys that differ from ours only in case,
// items that are not objects) goes to encoding/json instead.
func decodeEventPage(body []byte, page *eventPage) error {
	if scanEventPage(body, page) {
		return nil
	}
	*page = eventPage{}
	return json.Unmarshal(body, page)
}

// scanEventPage fills page from a well-formed list page, reporting false
// when it met something it leaves to encoding/json. It does not validate
// the JSON beyond what it reads.
func scanEventPage(b []byte, page *eventPage) bool {
	type frame struct {
		obj       bool
		expectKey bool   // obj: the next string is a key
		key       string // obj: the key whose value comes next
		name      string // array: the key it is the value of
		item      int    // event object: its index in page.Items, -1 before its id
	}
	*page = eventPage{}
	var stack []frame
	seenItems := false
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ':':
			i++
		case c == ',':
			if n := len(stack); n > 0 && stack[n-1].obj {
				stack[n-1].expectKey = true
			}
			i++
		case c == '{' || c == '[':
			f := frame{obj: c == '{', expectKey: c == '{', item: -1}
			n := len(stack)
			if n > 0 {
				if !stack[n-1].obj && stack[n-1].name == "items" && n == 2 && c != '{' {
					return false // an item that is not an object
				}
				if c == '[' && stack[n-1].obj {
					f.name = stack[n-1].key
					if n == 1 && f.name == "items" {
						if seenItems {
							return false // a repeated key: encoding/json merges them
						}
						seenItems = true
						page.Items = make([]struct {
							ID string `json:"id"`
						}, 0, 20)
					}
				}
			}
			if n == 0 && c != '{' {
				return false
			}
			stack = append(stack, f)
			i++
		case c == '}' || c == ']':
			n := len(stack)
			if n == 0 || stack[n-1].obj != (c == '}') {
				return false
			}
			if n == 3 && stack[1].name == "items" && stack[n-1].item < 0 {
				// An event without an id: encoding/json keeps it, with "".
				page.Items = append(page.Items, struct {
					ID string `json:"id"`
				}{})
			}
			stack = stack[:n-1]
			i++
		case c == '"':
			j := i + 1
			for j < len(b) && b[j] != '"' {
				if b[j] == '\\' || b[j] < 0x20 {
					return false
				}
				j++
			}
			if j >= len(b) {
				return false
			}
			s := b[i+1 : j]
			if !utf8.Valid(s) {
				return false // encoding/json would replace the bad bytes
			}
			i = j + 1
			n := len(stack)
			if n == 0 {
				return false
			}
			top := &stack[n-1]
			if top.obj && top.expectKey {
				top.expectKey = false
				top.key = string(s)
				if top.key != "items" && top.key != "next_cursor" && top.key != "id" {
					for _, k := range [...]string{"items", "next_cursor", "id"} {
						if strings.EqualFold(top.key, k) {
							return false
						}
					}
				}
				continue
			}
			switch {
			case n == 1 && top.key == "next_cursor":
				v := string(s)
				page.NextCursor = &v
			case n == 3 && top.obj && top.key == "id" && stack[1].name == "items":
				if top.item < 0 {
					top.item = len(page.Items)
					page.Items = append(page.Items, struct {
						ID string `json:"id"`
					}{})
				}
				page.Items[top.item].ID = string(s) // a repeated key: the last wins
			case n == 2 && !top.obj && top.name == "items":
				return false // an item that is a string
			}
		default: // a number, true, false or null
			j := i
			for j < len(b) && strings.IndexByte(",}] \t\r\n", b[j]) < 0 {
				j++
			}
			lit := string(b[i:j])
			n := len(stack)
			if n == 0 {
				return false
			}
			top := &stack[n-1]
			switch {
			case n == 1 && top.key == "next_cursor":
				if lit != "null" {
					return false
				}
				page.NextCursor = nil
			case n == 1 && top.key == "items" && lit == "null":
				if seenItems {
					return false
				}
				seenItems = true
				page.Items = nil
			case n == 3 && top.key == "id" && stack[1].name == "items":
				return false // an id that is not a string
			case n == 2 && !top.obj && top.name == "items":
				return false // an item that is not an object
			}
			i = j
		}
	}
	return len(stack) == 0
}
