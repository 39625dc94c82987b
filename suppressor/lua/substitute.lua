-- Remember the substitute offered for a message (suppressor/policy/content.py): a retry of the
-- same decision gets the same one, the next decision another among those that score close.
-- KEYS: 1 the customer's state hash. ARGV: 1 {"mid": message id, "content": content id} as JSON,
-- 2 how long the customer's keys live (ms), for a state hash this call creates.
redis.call('HSET', KEYS[1], 'sub_last', ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
