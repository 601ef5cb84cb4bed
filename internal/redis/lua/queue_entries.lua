-- ARGV: users. Read-only.
local out = info()
for i = 1, #ARGV do
  local e = entry(ARGV[i])
  out[#out + 1] = e[1]
  out[#out + 1] = e[2]
end
return out
