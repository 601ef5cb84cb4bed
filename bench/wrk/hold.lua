-- bench/wrk/hold.lua: the hold scenario of cmd/loadgen for wrk, a load
-- client that costs a fraction of the CPU per request, so that more of the
-- shared machine is left to the server and the database.
--
-- Every request holds one ticket of the hot tier as a random seeded user
-- (TOKENS: one Authorization value a line, as `loadgen -tokens-out` writes
-- them), with a fresh Idempotency-Key. Every 201's reservation id goes to
-- OUT.<thread> for the invariant check (`loadgen -scenario hold -held-ids
-- 'OUT.*' -admin-email ...`), and done() prints the answers by status and
-- the latency percentiles in a form bench/lib.sh's wrk_hold reads.
--
--   wrk -t2 -c512 -d10s -s bench/wrk/hold.lua http://127.0.0.1:18190 -- \
--       TOKENS EVENT_ID TIER_ID OUT RUN_TAG

local threads = {}

function setup(thread)
	thread:set("tid", #threads)
	table.insert(threads, thread)
end

local tokens, path, body, tag, out
local seq = 0
statuses = {}

function init(args)
	local tokfile, event, tier, prefix = args[1], args[2], args[3], args[4]
	tag = (args[5] or tostring(os.time())) .. "-" .. tid .. "-"
	tokens = {}
	for line in io.lines(tokfile) do
		tokens[#tokens + 1] = line
	end
	if #tokens == 0 then
		error("no tokens in " .. tokfile)
	end
	math.randomseed(os.time() + tid * 7919)
	path = "/api/v1/events/" .. event .. "/reservations"
	body = '{"tier_id":"' .. tier .. '","quantity":1}'
	out = assert(io.open(prefix .. "." .. tid, "w"))
	out:setvbuf("full", 65536)
end

-- The request is assembled from fixed pieces: wrk.format would rebuild
-- every header line each time.
local head, mid, tail

local function pieces()
	head = "POST " .. path .. " HTTP/1.1\r\nHost: " .. wrk.host .. (wrk.port and (":" .. wrk.port) or "") ..
		"\r\nContent-Type: application/json\r\nContent-Length: " .. #body .. "\r\nAuthorization: "
	mid = "\r\nIdempotency-Key: " .. tag
	tail = "\r\n\r\n" .. body
end

function request()
	if not head then
		pieces()
	end
	seq = seq + 1
	return head .. tokens[math.random(#tokens)] .. mid .. seq .. tail
end

function response(status, _, resp)
	statuses[status] = (statuses[status] or 0) + 1
	if status == 201 then
		local id = resp:match('"id":"([^"]+)"')
		out:write(id or "MISSING", "\n")
	end
end

function done(summary, latency)
	local byStatus = {}
	for _, t in ipairs(threads) do
		for status, n in pairs(t:get("statuses")) do
			byStatus[status] = (byStatus[status] or 0) + n
		end
	end
	local secs = summary.duration / 1e6
	io.write(string.format("wrk_requests %d\nwrk_seconds %.3f\n", summary.requests, secs))
	io.write(string.format("wrk_socket_errors %d\n", summary.errors.connect + summary.errors.read +
		summary.errors.write + summary.errors.timeout))
	for status, n in pairs(byStatus) do
		io.write(string.format("wrk_status_%d %d\n", status, n))
	end
	io.write(string.format("wrk_ok_per_s %.1f\n", (byStatus[201] or 0) / secs))
	for _, p in ipairs({ 50, 90, 99, 99.9 }) do
		io.write(string.format("wrk_p%s_ms %.2f\n", p, latency:percentile(p) / 1000))
	end
end
