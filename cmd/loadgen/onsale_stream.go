package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"time"
)

// stream follows buyer u's queue status stream (GET …/queue/stream) until
// a final status and returns it with the admission token, or "" when the
// stream could not be opened or ended without one (the caller then polls)
// with the transport error that ended it, if one did.
// Like the queue-stream scenario it speaks HTTP/1.1 on its own connection,
// outside the pool: a stream holds its connection for the whole wait, and
// thousands of them would starve the pool's requests.
func (s *onsale) stream(ctx context.Context, w *Worker, t, u int) (status, token string, err error) {
	select {
	case s.opening <- struct{}{}:
	case <-ctx.Done():
		return "", "", nil
	}
	opening := true
	opened := func() {
		if opening {
			opening = false
			<-s.opening
		}
	}
	defer opened()

	rec := w.Env.Rec
	fail := func(status int, code string, sample []byte) {
		if ctx.Err() != nil {
			rec.Abort()
			return
		}
		rec.Record("stream", status, code, 0, sample)
	}
	target := s.cfg.Targets[t]
	start := time.Now()
	conn, err := s.dialer.DialContext(ctx, "tcp", hostPort(target))
	if err != nil {
		fail(0, errorKind(err), []byte(err.Error()))
		return "", "", err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	req := make([]byte, 0, 512)
	req = append(req, "GET "...)
	req = append(req, s.streams[t]...)
	req = append(req, " HTTP/1.1\r\nHost: "...)
	req = append(req, target.Host...)
	req = append(req, "\r\nAuthorization: "...)
	req = append(req, w.Env.Auth[u][0]...)
	req = append(req, "\r\nAccept: text/event-stream\r\nUser-Agent: boxoffice-loadgen\r\n\r\n"...)
	if _, err := conn.Write(req); err != nil {
		fail(0, errorKind(err), []byte(err.Error()))
		return "", "", err
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(conn, 1024), nil)
	if err != nil {
		fail(0, errorKind(err), []byte(err.Error()))
		return "", "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		fail(resp.StatusCode, problemCode(body), body)
		return "", "", nil
	}
	rec.Record("stream", http.StatusOK, "", time.Since(start), nil)
	opened()

	err = readEvents(bufio.NewReaderSize(resp.Body, 1024), func(event string, data []byte) bool {
		if event != "status" {
			return true
		}
		if st := jsonStringField(data, "status"); st != "waiting" {
			status, token = st, jsonStringField(data, "admission_token")
			return false
		}
		return true
	})
	if status == "" && ctx.Err() == nil {
		code := "ended_early"
		if err != nil && !errors.Is(err, io.EOF) {
			code = errorKind(err)
		}
		rec.Record("stream_end", 0, code, 0, nil)
	}
	if errors.Is(err, io.EOF) {
		err = nil // the server ended the stream: not a sign that it is gone
	}
	return status, token, err
}
