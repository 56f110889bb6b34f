-- wrk script of benchmarks/ingest.py: POST events with unique eventIds.
--
-- wrk ... -s benchmarks/ingest.lua URL -- NONCE BATCH STUDENTS BASE_MS TEMPLATE_FILE [RATE]
--
-- Each request carries BATCH events (a bare JSON object when BATCH is 1) made
-- from the JSON template in TEMPLATE_FILE, whose {{name}} tokens are replaced
-- per event. eventId = NONCE-<wrk thread>-<seq>, so ids never collide across
-- threads or runs; eventTime = BASE_MS + seq milliseconds, so ingest.py can
-- rebuild any sent event byte for byte and re-send it.
-- requests_sent and events_sent include requests still in flight at the end.
--
-- RATE (requests/s of this wrk thread, optional): pace the requests on a fixed
-- schedule instead of sending the next one as soon as a connection is free, so
-- latency is measured at a given load and not only at saturation (where, with
-- a closed loop, latency is just connections / throughput).
--
-- done() prints one line `BENCH_JSON {...}` that ingest.py parses: far more
-- robust than scraping wrk's human-readable report.

-- Globals, not locals: setup() writes thread_id and done() reads the counters
-- through thread:set/get, which only see globals of each thread's Lua state.
thread_id = 0
requests_sent = 0
events_sent = 0
ok_responses = 0 -- 202
other_responses = 0 -- anything else
accepted_events = 0 -- sum of "accepted" over 202 responses
duplicate_events = 0 -- sum of "duplicates": must stay 0, ids are unique
rejecting_responses = 0 -- 202 responses with a non-empty "rejected"
first_error = ""

local threads = {}
local nonce, batch, students, base_ms
-- The template split at its tokens: literals[i] comes before tokens[i], so an
-- event is built by appending into one buffer per request (gsub per event made
-- wrk, not the server, the bottleneck at 100 events per request).
local literals, tokens = {}, {}

local function compile(template)
  local position = 1
  for start, name, finish in template:gmatch("(){{(%a+)}}()") do
    table.insert(literals, template:sub(position, start - 1))
    table.insert(tokens, name)
    position = finish
  end
  table.insert(literals, template:sub(position))
end

-- Wall clock in ms (os.time() has only seconds); LuaJIT's FFI is built into wrk.
local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_usec; } bench_timeval;
int gettimeofday(bench_timeval *tv, void *tz);
]])
local timeval = ffi.new("bench_timeval")

local function now_ms()
  ffi.C.gettimeofday(timeval, nil)
  return tonumber(timeval.tv_sec) * 1000 + tonumber(timeval.tv_usec) / 1000
end

-- Each request takes the next slot of one schedule shared by the thread's
-- connections; a request whose slot has passed goes at once (the server is
-- behind, and wrk's own correction accounts for the wait).
local function paced(interval_ms)
  local next_slot = nil
  return function()
    local now = now_ms()
    next_slot = (next_slot or now) + interval_ms
    return math.max(0, math.floor(next_slot - now))
  end
end

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_id", #threads)
end

function init(args)
  nonce = args[1]
  batch = tonumber(args[2])
  students = tonumber(args[3])
  base_ms = tonumber(args[4])
  local file = assert(io.open(args[5], "r"))
  compile(file:read("*a"))
  file:close()
  local rate = tonumber(args[6] or "0")
  if rate > 0 then
    -- Defined only when pacing: wrk arms a timer per request whenever delay() exists.
    delay = paced(1000 / rate)
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

local cached_second, cached_date = -1, ""

local function iso_time(ms)
  local second = math.floor(ms / 1000)
  if second ~= cached_second then
    cached_second, cached_date = second, os.date("!%Y-%m-%dT%H:%M:%S", second)
  end
  return cached_date .. string.format(".%03dZ", ms - second * 1000)
end

local values = {}

local function append_event(buffer, seq)
  local student = seq % students
  values.id = nonce .. "-" .. thread_id .. "-" .. seq
  values.student = tostring(student)
  values.team = tostring(student % 8)
  values.cell = tostring(seq % 20)
  values.seq = tostring(seq)
  values.time = iso_time(base_ms + seq)
  for i, name in ipairs(tokens) do
    buffer[#buffer + 1] = literals[i]
    buffer[#buffer + 1] = values[name]
  end
  buffer[#buffer + 1] = literals[#literals]
end

-- Note: wrk calls request() once before the run to check the script, so the
-- first request built by wrk thread 1 is never sent.
function request()
  local buffer = { batch == 1 and "" or "[" }
  for i = 1, batch do
    if i > 1 then
      buffer[#buffer + 1] = ","
    end
    events_sent = events_sent + 1
    append_event(buffer, events_sent)
  end
  buffer[#buffer + 1] = batch == 1 and "" or "]"
  requests_sent = requests_sent + 1
  return wrk.format(nil, nil, nil, table.concat(buffer))
end

function response(status, headers, body)
  if status ~= 202 then
    other_responses = other_responses + 1
    if first_error == "" then
      first_error = status .. " " .. body:sub(1, 300)
    end
    return
  end
  ok_responses = ok_responses + 1
  accepted_events = accepted_events + tonumber(body:match('"accepted":(%d+)') or 0)
  duplicate_events = duplicate_events + tonumber(body:match('"duplicates":(%d+)') or 0)
  if not body:find('"rejected":[]', 1, true) then
    rejecting_responses = rejecting_responses + 1
  end
end

local function json_string(text)
  return '"' .. text:gsub('[%c"\\]', function(c)
    return string.format("\\u%04x", c:byte())
  end) .. '"'
end

local COUNTERS = {
  "requests_sent", "events_sent", "ok_responses", "other_responses",
  "accepted_events", "duplicate_events", "rejecting_responses",
}

function done(summary, latency, requests)
  local fields = {}
  for _, name in ipairs(COUNTERS) do
    local total = 0
    for _, thread in ipairs(threads) do
      total = total + thread:get(name)
    end
    table.insert(fields, string.format('"%s":%d', name, total))
  end
  local error_text = ""
  for _, thread in ipairs(threads) do
    if error_text == "" then
      error_text = thread:get("first_error")
    end
  end
  table.insert(fields, '"first_error":' .. json_string(error_text))
  table.insert(fields, string.format('"duration_us":%d', summary.duration))
  table.insert(fields, string.format('"completed":%d', summary.requests))
  for name, count in pairs(summary.errors) do
    table.insert(fields, string.format('"errors_%s":%d', name, count))
  end
  for _, p in ipairs({ 50, 90, 95, 99, 99.9 }) do
    local name = (tostring(p):gsub("%.", "_"))
    table.insert(fields, string.format('"p%s_us":%d', name, latency:percentile(p)))
  end
  table.insert(fields, string.format('"mean_us":%.1f', latency.mean))
  table.insert(fields, string.format('"max_us":%d', latency.max))
  io.write("BENCH_JSON {" .. table.concat(fields, ",") .. "}\n")
end
