"""The configuration server: reads and changes config.db keys for the other servers.

Every change is written to config/config.db atomically (temp file, fsync, rename) before it is
acknowledged, so an acknowledged change survives a crash.
"""

from __future__ import annotations

from harness.errors import FiredrillError
from harness.servers.service import WireService
from harness.servers.wire import Reply, Request, WireError
from harness.store.config import ConfigKey, load, save


class ConfigurationServer(WireService):
    program = "confserv"

    async def handle(self, request: Request) -> Reply:
        args = request.args
        try:
            if request.op == "get":
                value = load(self.layout.config).get(ConfigKey.parse(str(args["key"])))
                if value is None:
                    raise WireError("notfound", f"no key {args['key']}")
                return Reply(value)
            if request.op == "set":
                config = load(self.layout.config)
                key = ConfigKey.parse(str(args["key"]))
                old = config.get(key)
                config.set(key, str(args["value"]))
                save(config, self.layout.config)
                return Reply({"key": str(key), "old": old, "new": str(args["value"])})
            if request.op == "list":
                return Reply({str(k): v for k, v in load(self.layout.config).entries()})
            if request.op == "ping":
                return Reply("pong")
        except FiredrillError as exc:
            raise WireError("invalid", str(exc)) from exc
        except KeyError as exc:
            raise WireError("invalid", f"missing argument {exc}") from exc
        raise WireError("invalid", f"unknown operation {request.op!r}")
