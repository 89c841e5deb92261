"""LAVA's XML-RPC API (the one lavacli uses), with the token in an Authorization header.

The token never goes into a URL, a message or an exception: LavaApiError carries the method
and LAVA's own fault text only. Calls are bounded by `timeout_s` each.
"""

from __future__ import annotations

import base64
import http.client
import xmlrpc.client
from dataclasses import dataclass
from typing import Any


class LavaApiError(Exception):
    """A LAVA API call failed: `method`, and what LAVA or the connection said."""

    def __init__(self, method: str, detail: str, code: int | None = None) -> None:
        super().__init__(f"LAVA {method}: {detail}")
        self.method = method
        self.detail = detail
        self.code = code


class _AuthTimeout:
    """The token in a header (never in the URL) and a bounded time per call, for both schemes."""

    def __init__(self, auth: str, timeout: float) -> None:
        super().__init__()
        self._auth = auth
        self._timeout = timeout

    def make_connection(self, host: Any) -> Any:  # an HTTPConnection, or HTTPSConnection for SafeTransport
        conn = super().make_connection(host)  # type: ignore[misc]
        conn.timeout = self._timeout
        return conn

    def send_headers(self, connection: http.client.HTTPConnection, headers: Any) -> None:
        connection.putheader("Authorization", self._auth)
        super().send_headers(connection, headers)  # type: ignore[misc]


class _Transport(_AuthTimeout, xmlrpc.client.Transport):
    pass


class _SafeTransport(_AuthTimeout, xmlrpc.client.SafeTransport):
    pass


@dataclass(frozen=True)
class JobState:
    job: str
    state: str  # Submitted, Scheduling, Scheduled, Running, Canceling, Finished
    health: str  # Unknown, Complete, Incomplete, Canceled
    device: str | None
    failure: str | None = None  # LAVA's failure comment, for an Incomplete job

    @property
    def finished(self) -> bool:
        return self.state == "Finished"


class LavaApi:
    def __init__(self, url: str, user: str, token: str, timeout_s: float = 60.0) -> None:
        self._args = (url, user, token, timeout_s)
        self.url = url.rstrip("/") + "/RPC2"
        auth = "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()
        cls = _SafeTransport if self.url.startswith("https:") else _Transport
        self._proxy = xmlrpc.client.ServerProxy(self.url, transport=cls(auth, timeout_s), allow_none=True)

    def clone(self) -> LavaApi:
        """The same server and credentials on a connection of its own: one connection must not
        serve two threads at once (a cancel from the main thread while a worker polls)."""
        return LavaApi(*self._args)

    def __repr__(self) -> str:  # never the token
        return f"LavaApi({self.url!r})"

    def call(self, method: str, *args: Any) -> Any:
        try:
            return getattr(self._proxy, method)(*args)
        except xmlrpc.client.Fault as exc:
            raise LavaApiError(method, str(exc.faultString).strip()[:300], exc.faultCode) from None
        except xmlrpc.client.ProtocolError as exc:  # its url would hold no token, but keep to the code
            raise LavaApiError(method, f"HTTP {exc.errcode} {exc.errmsg}", exc.errcode) from None
        except (TimeoutError, OSError, http.client.HTTPException) as exc:
            raise LavaApiError(method, f"cannot reach {self.url}: {exc.__class__.__name__}: {exc}") from None

    # -- what devbench uses ----------------------------------------------------------------------
    def version(self) -> str:
        return str(self.call("system.version"))

    def whoami(self) -> str | None:
        return self.call("system.whoami")

    def submit(self, definition: str) -> str:
        ids = self.call("scheduler.jobs.submit", definition)
        return str(ids[0] if isinstance(ids, list) else ids)

    def state(self, job: str) -> JobState:
        d = self.call("scheduler.jobs.show", job)
        failure = d.get("failure_comment") or None
        return JobState(job=str(job), state=str(d.get("state")), health=str(d.get("health")),
                        device=d.get("device") or None, failure=failure)

    def cancel(self, job: str) -> None:
        self.call("scheduler.jobs.cancel", job)

    def results_yaml(self, job: str) -> str:
        return str(self.call("results.get_testjob_results_yaml", job))

    def logs(self, job: str, line: int = 0) -> tuple[bool, str]:
        """(finished, the log's YAML text from `line` on)."""
        finished, data = self.call("scheduler.jobs.logs", job, line)
        text = data.data.decode("utf-8", "replace") if isinstance(data, xmlrpc.client.Binary) else str(data)
        return bool(finished), text

    def devices(self, device_type: str) -> list[dict[str, Any]]:
        return [d for d in self.call("scheduler.devices.list", True) if d.get("type") == device_type]
