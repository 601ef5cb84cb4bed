package storetest

import (
	"cmp"
	"slices"
	"testing"
	"time"

	"boxoffice"
)

func testBookmarks(t *testing.T, s boxoffice.Store) {
	t.Run("PutTwiceKeepsOne", func(t *testing.T) {
		ctx := t.Context()
		u := createUser(t, s)
		e := createEvent(t, s)
		at := now()
		must(t, "PutBookmark", s.PutBookmark(ctx, u.ID, e.ID, at))
		must(t, "PutBookmark again", s.PutBookmark(ctx, u.ID, e.ID, at.Add(time.Minute)))
		got, err := s.ListBookmarks(ctx, boxoffice.BookmarkFilter{UserID: u.ID, Limit: 10})
		must(t, "ListBookmarks", err)
		want := []*boxoffice.Bookmark{{UserID: u.ID, Event: e, CreatedAt: at}}
		diff(t, "bookmarks", want, got)
	})

	t.Run("UnknownEvent", func(t *testing.T) {
		u := createUser(t, s)
		wantErr(t, "PutBookmark(unknown)", s.PutBookmark(t.Context(), u.ID, boxoffice.NewID(), now()), boxoffice.ErrNotFound)
	})

	t.Run("DeleteIdempotent", func(t *testing.T) {
		ctx := t.Context()
		u := createUser(t, s)
		e := createEvent(t, s)
		must(t, "DeleteBookmark(never saved)", s.DeleteBookmark(ctx, u.ID, e.ID))
		must(t, "PutBookmark", s.PutBookmark(ctx, u.ID, e.ID, now()))
		must(t, "DeleteBookmark", s.DeleteBookmark(ctx, u.ID, e.ID))
		must(t, "DeleteBookmark again", s.DeleteBookmark(ctx, u.ID, e.ID))
		must(t, "DeleteBookmark(unknown event)", s.DeleteBookmark(ctx, u.ID, boxoffice.NewID()))
		got, err := s.ListBookmarks(ctx, boxoffice.BookmarkFilter{UserID: u.ID, Limit: 10})
		must(t, "ListBookmarks", err)
		if len(got) != 0 {
			t.Fatalf("got %d bookmarks after delete, want none", len(got))
		}
	})

	t.Run("NewestFirstWithCursor", func(t *testing.T) {
		ctx := t.Context()
		u := createUser(t, s)
		other := createUser(t, s)
		at := now()
		var want []*boxoffice.Bookmark
		for i := range 9 {
			e := createEvent(t, s, 1+i)
			// Events 3, 4 and 5 are bookmarked at the same instant: the
			// event ID breaks the tie.
			created := at.Add(time.Duration(min(i, 3)+max(i-5, 0)) * time.Second)
			if i == 7 {
				created = at.Add(-time.Hour) // older than all others
			}
			must(t, "PutBookmark", s.PutBookmark(ctx, u.ID, e.ID, created))
			must(t, "PutBookmark other user", s.PutBookmark(ctx, other.ID, e.ID, created))
			want = append(want, &boxoffice.Bookmark{UserID: u.ID, Event: e, CreatedAt: created})
		}
		slices.SortFunc(want, func(a, b *boxoffice.Bookmark) int {
			if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
				return c
			}
			return cmp.Compare(b.Event.ID, a.Event.ID)
		})

		for _, limit := range []int{1, 2, 4, 9} {
			var got []*boxoffice.Bookmark
			f := boxoffice.BookmarkFilter{UserID: u.ID, Limit: limit}
			for {
				page, err := s.ListBookmarks(ctx, f)
				must(t, "ListBookmarks", err)
				got = append(got, page...)
				if len(page) < limit || len(got) > len(want) {
					break
				}
				last := page[len(page)-1]
				f.BeforeCreatedAt, f.BeforeEventID = last.CreatedAt, last.Event.ID
			}
			diff(t, "bookmark pages", want, got)
		}
	})
}
