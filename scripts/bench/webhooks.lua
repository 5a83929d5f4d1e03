-- wrk script: posts pre-signed, distinct Stripe events (one per line: "<signature>\t<body>").
-- Each thread takes every n-th line, so no two threads send the same event.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  events = {}
  local n = 0
  local step = tonumber(args[2])
  for line in io.lines(args[1]) do
    if n % step == id then
      local tab = line:find("\t")
      table.insert(events, { line:sub(1, tab - 1), line:sub(tab + 1) })
    end
    n = n + 1
  end
  i = 0
end

function request()
  i = i % #events + 1
  local e = events[i]
  return wrk.format("POST", "/webhooks/stripe",
    { ["Content-Type"] = "application/json", ["Stripe-Signature"] = e[1] }, e[2])
end
