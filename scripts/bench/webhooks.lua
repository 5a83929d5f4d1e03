-- wrk script: posts pre-signed, distinct Stripe events (one per line: "<signature>\t<body>").
-- Arguments: <events file> <threads> <delay ms between a connection's requests, 0 for none>.
-- Each thread takes every n-th line, so no two threads send the same event.
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  events = {}
  local n = 0
  local step = tonumber(args[2])
  pause = tonumber(args[3] or "0")
  for line in io.lines(args[1]) do
    if n % step == id then
      local tab = line:find("\t")
      table.insert(events, { line:sub(1, tab - 1), line:sub(tab + 1) })
    end
    n = n + 1
  end
  i = 0
end

function delay()
  return pause
end

function request()
  i = i % #events + 1
  local e = events[i]
  return wrk.format("POST", "/webhooks/stripe",
    { ["Content-Type"] = "application/json", ["Stripe-Signature"] = e[1] }, e[2])
end
