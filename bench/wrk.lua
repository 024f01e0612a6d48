-- wrk scenarios of the Task API benchmark (bench/run.py drives it).
--
--   wrk -t2 -c100 -d20s -s bench/wrk.lua http://127.0.0.1:PORT -- <scenario> <tokens file> <threads> [q]
--
-- Scenarios: live, ready, get, list, list_filtered, list_position, subtasks, sync_empty,
-- create, complete, mix, growth, growth_position, search (the default page with ?q=<q>, the
-- fourth argument: one plain word).
-- The tokens file has one line per user:
-- "<user id> <access token> <list id> <parent id> <sync token> <task id> <task id> ...".
-- wrk has no per-connection hook, so each thread takes its own slice of the users (user i goes
-- to thread i mod threads) and its requests go round-robin over that slice: every user's token
-- is used, by one thread only, and no two consecutive requests of a thread share a user.
-- Requests are built once in init(), so request() only picks one (cheap for the load generator).
-- done() prints one line, "BENCH_JSON {...}", that run.py parses.

local threads = {}

function setup(thread)
   thread:set("thread_index", #threads)
   threads[#threads + 1] = thread
end

-- Filters that the mix and the realistic load use too (bench/paced.py has the same list);
-- {list} and {parent} stand for the user's list and a task with subtasks.
local LIST_VARIANTS = {
   "",
   "?status=pending&sort=due_at",
   "?q=report",
   "?tag=work",
   "?priority=high&sort=-updated_at",
   "?list={list}&parent=none&sort=position",
   "?parent={parent}&sort=position",
}
local IN_LIST = "?list={list}&parent=none&sort=position"
local SUBTASKS = "?parent={parent}&sort=position"
local FILTERED = "?status=pending&priority=high&priority=medium&q=report&sort=due_at"
local PRIORITIES = { "none", "low", "medium", "high" }

local function read_users(path, index, threads)
   local users = {}
   local n = 0
   local file = assert(io.open(path, "r"))
   for line in file:lines() do
      if (n % threads) == index then
         local fields = {}
         for word in line:gmatch("%S+") do
            fields[#fields + 1] = word
         end
         local tasks = {}
         for i = 6, #fields do
            tasks[#tasks + 1] = fields[i]
         end
         users[#users + 1] = {
            id = fields[1], token = fields[2], list = fields[3], parent = fields[4],
            since = fields[5], tasks = tasks,
         }
      end
      n = n + 1
   end
   file:close()
   assert(#users > 0, "no users for thread " .. index .. " in " .. path)
   return users
end

local scenario
local search_word
local users
local prepared = {}
local next_user = 0
counts = {} -- global, so that done() can read every thread's with thread:get

local function headers(user, json)
   local h = { ["Authorization"] = "Bearer " .. user.token }
   if json then
      h["Content-Type"] = "application/json"
   end
   return h
end

local function create_body(user_index, k)
   local title = string.format("Bench new task %d-%d", user_index, k)
   local tags = ({ "[]", '["work"]', '["home", "urgent"]', "[]" })[(k % 4) + 1]
   local due = (k % 2 == 0) and ', "due_at": "2027-01-15T09:00:00Z"' or ""
   return string.format('{"title": "%s", "priority": "%s", "tags": %s%s}',
      title, PRIORITIES[(k % 4) + 1], tags, due)
end

-- Every request a user can send in this scenario, formatted once.
local function prepare(user, user_index)
   local base = "/api/" .. user.id .. "/tasks"
   local p = { get = {}, complete = {}, update = {}, create = {}, lists = {} }
   local h = headers(user, false)
   local hj = headers(user, true)
   for _, task in ipairs(user.tasks) do
      p.get[#p.get + 1] = wrk.format("GET", base .. "/" .. task, h)
      p.complete[#p.complete + 1] = wrk.format("PATCH", base .. "/" .. task .. "/complete", hj, "{}")
      local body = string.format('{"priority": "%s"}', PRIORITIES[(#p.update % 4) + 1])
      p.update[#p.update + 1] = wrk.format("PATCH", base .. "/" .. task, hj, body)
   end
   for k = 1, 8 do
      p.create[k] = wrk.format("POST", base, hj, create_body(user_index, k))
   end
   local function places(query)
      return (query:gsub("{list}", user.list):gsub("{parent}", user.parent))
   end
   for k, query in ipairs(LIST_VARIANTS) do
      p.lists[k] = wrk.format("GET", base .. places(query), h)
   end
   p.list = p.lists[1]
   p.list_filtered = wrk.format("GET", base .. FILTERED, h)
   p.list_position = wrk.format("GET", base .. places(IN_LIST), h)
   p.subtasks = wrk.format("GET", base .. places(SUBTASKS), h)
   p.sync_empty = wrk.format("GET", "/api/" .. user.id .. "/changes?since=" .. user.since, h)
   if search_word then
      p.search = wrk.format("GET", base .. "?q=" .. search_word, h)
   end
   return p
end

function init(args)
   scenario = args[1]
   local threads = tonumber(args[3] or "1")
   search_word = args[4]
   assert(scenario ~= "search" or search_word, "the search scenario needs a word")
   users = read_users(args[2], thread_index or 0, threads)
   math.randomseed(os.time() * 1000 + (thread_index or 0))
   for i, user in ipairs(users) do
      prepared[i] = prepare(user, (thread_index or 0) * 100000 + i)
   end
   if scenario == "live" or scenario == "ready" then
      local path = "/health/" .. scenario
      prepared = { { static = wrk.format("GET", path) } }
   end
end

local function pick(list)
   return list[math.random(#list)]
end

local function count(kind)
   counts[kind] = (counts[kind] or 0) + 1
end

function request()
   next_user = (next_user % #prepared) + 1
   local p = prepared[next_user]
   if p.static then
      return p.static
   elseif scenario == "get" then
      return pick(p.get)
   elseif scenario == "list" or scenario == "growth" then
      return p.list
   elseif scenario == "list_filtered" then
      return p.list_filtered
   elseif scenario == "list_position" or scenario == "growth_position" then
      return p.list_position
   elseif scenario == "subtasks" then
      return p.subtasks
   elseif scenario == "sync_empty" then
      return p.sync_empty
   elseif scenario == "search" then
      return p.search
   elseif scenario == "create" then
      return pick(p.create)
   elseif scenario == "complete" then
      return pick(p.complete)
   elseif scenario == "mix" then
      -- 60% list, 20% get, 10% create, 10% update or complete (half each).
      local roll = math.random(100)
      if roll <= 60 then
         count("list")
         return pick(p.lists)
      elseif roll <= 80 then
         count("get")
         return pick(p.get)
      elseif roll <= 90 then
         count("create")
         return pick(p.create)
      elseif roll <= 95 then
         count("update")
         return pick(p.update)
      else
         count("complete")
         return pick(p.complete)
      end
   end
   error("unknown scenario " .. tostring(scenario))
end

function done(summary, latency, requests)
   local e = summary.errors
   local totals = {}
   for _, thread in ipairs(threads) do
      for kind, n in pairs(thread:get("counts") or {}) do
         totals[kind] = (totals[kind] or 0) + n
      end
   end
   local mix = {}
   for kind, n in pairs(totals) do
      mix[#mix + 1] = string.format('"%s": %d', kind, n)
   end
   io.write(string.format(
      'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "status_errors": %d, '
         .. '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d, '
         .. '"p50_us": %d, "p90_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d, '
         .. '"mean_us": %.1f, "sent": {%s}}\n',
      summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read,
      e.write, e.timeout, latency:percentile(50), latency:percentile(90),
      latency:percentile(95), latency:percentile(99), latency.max, latency.mean,
      table.concat(mix, ", ")))
end
