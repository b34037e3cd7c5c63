-- Mixed traffic for `python -m bench.soak`, driven by wrk.
--
-- Each wrk thread goes round a fixed cycle of request kinds (one of each
-- hostile kind per cycle) and tags every request with an X-Soak-Id header,
-- "<run>.<kind>.<thread>.<n>", unique in the soak: both access logs (wsgimw's and
-- gunicorn's) record it, so bench.soak can match them line for line and
-- check each status against what the kind should get.
--
-- Arguments (after "--"): the Authorization value for /private, the sizes
-- of the hostile values in bytes (Accept-Encoding, Accept, path), and the
-- run's name ("warm" or "soak").

local thread_count = 0

function setup(thread)
   thread_count = thread_count + 1
   thread:set("tag", tostring(thread_count))
end

local cycle = {}
local counter = 0
local run = "run"

local function add(times, name, path, headers, distinct)
   for _ = 1, times do
      cycle[#cycle + 1] = {
         name = name, path = path, headers = headers or {}, distinct = distinct
      }
   end
end

function init(args)
   local authorization = args[1]
   local wrong = "Basic " .. "c29hazp3cm9uZw=="  -- soak:wrong
   local ae_size = tonumber(args[2])
   local accept_size = tonumber(args[3])
   local path_size = tonumber(args[4])
   run = args[5]
   local gzip = { ["Accept-Encoding"] = "gzip, deflate, br" }
   -- Some requests end their connection: wrk opens a new one, which either
   -- gunicorn worker may accept, so both get work.
   local closing = { ["Connection"] = "close" }

   -- "gzip;q=0.5, " is 12 bytes; "text/html;q=0.5, " 17; "%C3%A9" is one
   -- non-ASCII character of 2 bytes once the server decodes it.
   local hostile_ae = string.rep("gzip;q=0.5, ", math.floor(ae_size / 12))
   local hostile_accept = string.rep("text/html;q=0.5, ", math.floor(accept_size / 17))
   local hostile_path = "/" .. string.rep("%C3%A9", math.floor(path_size / 2))
   local long_query = "/query?" .. string.rep("tag=value&", 200)
   local too_long_query = "/query?q=" .. string.rep("x", 9000)

   add(30, "page_gzip", "/page", gzip)
   add(8, "page", "/page", closing)
   add(20, "private", "/private/hello",
       { ["Accept-Encoding"] = "gzip", ["Authorization"] = authorization })
   add(6, "no_credentials", "/private/hello", gzip)
   add(2, "wrong_password", "/private/hello",
       { ["Authorization"] = wrong, ["Connection"] = "close" })
   add(4, "boom", "/boom", gzip)
   add(10, "stream", "/stream", gzip)
   add(12, "query", long_query, gzip)
   add(4, "query_too_long", too_long_query)
   -- Hostile values differ from request to request (a cache keyed on them
   -- would keep every one).
   add(1, "hostile_accept_encoding", "/page",
       { ["Accept-Encoding"] = hostile_ae }, "Accept-Encoding")
   add(1, "hostile_accept", "/boom", { ["Accept"] = hostile_accept }, "Accept")
   add(1, "hostile_path", hostile_path, gzip, "path")
end

function request()
   counter = counter + 1
   local kind = cycle[(counter - 1) % #cycle + 1]
   local id = run .. "." .. kind.name .. "." .. tag .. "." .. counter
   local headers = { ["X-Soak-Id"] = id }
   local path = kind.path
   for name, value in pairs(kind.headers) do
      headers[name] = value
   end
   local distinct = kind.distinct
   if distinct == "path" then
      path = path .. "/" .. tag .. "-" .. counter
   elseif distinct then
      headers[distinct] = headers[distinct] .. "x-" .. tag .. "-" .. counter
   end
   return wrk.format("GET", path, headers)
end
