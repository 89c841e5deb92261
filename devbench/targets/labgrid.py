"""A labgrid place: acquired through its coordinator, driven over the SSH of its NetworkService.

labgrid (>= 25, gRPC `labgrid-coordinator`) is the lab's own scheduler. devbench acquires the
place the way `labgrid-client -p PLACE acquire` does, as labgrid's own identity HOST/USER
(LG_HOSTNAME / LG_USERNAME, else this host's name and login), takes the place's NetworkService
(address, port, username) and connects to it with SshTarget, host keys checked strictly
against the target's `known_hosts`. labgrid has no adb resource (26.0 has fastboot only), so
the NetworkService is the only resource devbench uses.

All labgrid targets of a run share one session per coordinator, on one event loop in a thread
of its own (_Coordinators; targets are opened from concurrent worker threads). The place is
released on close() and on every failure after the acquire; the release names the owner
(`fromuser`), so devbench never releases a place that someone else has taken over meanwhile.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import os
import socket
import sys
import threading
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devbench.config import LabgridOptions, SshOptions
from devbench.errors import TargetError
from devbench.targets.base import CommandResult, LineCallback, TargetDefaults
from devbench.targets.ssh import SshTarget

DEFAULT_COORDINATOR = "127.0.0.1:20408"  # labgrid's own default (LG_COORDINATOR overrides it)
StepCallback = Callable[[str], None]


def _client() -> Any:
    """labgrid's client module, imported on first use (it replaces sys.excepthook: undone)."""
    hook = sys.excepthook
    try:
        import grpc
        from labgrid.remote import client
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb
    finally:
        sys.excepthook = hook
    return client, pb, grpc


class _Coordinators:
    """The coordinator sessions of this process: one per coordinator, shared by every labgrid
    target, on one event loop in a thread of its own, used by one target at a time.

    This is how labgrid's own RemotePlaceManager works, and it has to be: gRPC's asyncio layer
    breaks when loops in several threads use it at once, and the coordinator tells its clients
    apart by connection, which gRPC shares between the channels of one process (a second
    session on it is refused with an AssertionError in the coordinator)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._busy: asyncio.Lock | None = None
        self._sessions: dict[str, Any] = {}

    def run(self, work: Callable[[], Awaitable[Any]], timeout: float) -> Any:
        """Run work() on the loop, alone; interrupted or timed out: it is cancelled and waited for."""
        with self._guard:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                threading.Thread(target=self._loop.run_forever, name="devbench-labgrid", daemon=True).start()
                atexit.register(self.close)
            loop = self._loop

        async def alone() -> Any:
            if self._busy is None:
                self._busy = asyncio.Lock()
            async with self._busy:
                return await work()

        fut = asyncio.run_coroutine_threadsafe(alone(), loop)
        try:
            return fut.result(timeout=timeout)
        except BaseException:
            fut.cancel()
            concurrent.futures.wait([fut], timeout=5)
            raise

    async def session(self, client: Any, address: str, timeout: float) -> Any:
        """The session to ``address`` (a new one if there is none, or the old one has ended)."""
        session = self._sessions.pop(address, None)
        if session is not None and session.stopping.is_set():
            await _stop(session)
            session = None
        if session is None:
            session = client.ClientSession(address, asyncio.get_running_loop())
            try:
                await asyncio.wait_for(session.start(), timeout)
            except BaseException:
                await _stop(session)
                raise
        try:  # an up-to-date view of the places
            if not await asyncio.wait_for(session.sync_with_coordinator(), timeout):
                raise client.ServerError("lost the connection to the coordinator")
        except BaseException:
            await _stop(session)
            raise
        self._sessions[address] = session
        return session

    async def drop(self, address: str) -> None:
        session = self._sessions.pop(address, None)
        if session is not None:
            await _stop(session)

    def close(self) -> None:
        """At exit: end the sessions and the loop (a daemon thread would otherwise die mid-call)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return

        async def stop_all() -> None:
            for address in list(self._sessions):
                await self.drop(address)

        try:
            asyncio.run_coroutine_threadsafe(stop_all(), loop).result(timeout=5)
        except Exception:  # noqa: BLE001 - at exit there is nobody left to tell
            pass
        loop.call_soon_threadsafe(loop.stop)


async def _stop(session: Any) -> None:
    try:
        await session.stop()
        await session.close()
    except Exception:  # noqa: BLE001 - a session that ended badly is dropped all the same
        pass


_COORDINATORS = _Coordinators()


def split_host_port(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    return host.strip("[]"), int(port)


class LabgridTarget(TargetDefaults):
    transport = "labgrid"

    def __init__(self, name: str, options: LabgridOptions, step: StepCallback | None = None):
        step = step or (lambda text: None)
        self.name = name
        self.options = options
        self.workdir = options.workdir
        self.place = options.place
        self.coordinator = options.coordinator or os.environ.get("LG_COORDINATOR") or DEFAULT_COORDINATOR
        self.warnings: list[str] = []
        self.identity = ""  # HOST/USER the place is acquired as
        self.resource = ""  # exporter/group/NetworkService/name
        self.acquired_at = ""
        self.inner: SshTarget | None = None
        self._held = False  # True from the moment AcquirePlace is sent until the release
        try:
            self._lg = _client()
        except ImportError as exc:
            raise TargetError(
                name, "connect", f"labgrid targets need labgrid ({exc}): pip install 'devbench[labgrid]'"
            ) from None
        try:
            step(f"acquiring labgrid place {self.place} on {self.coordinator}")
            address, port, user = self._session("acquire place", self._acquire)
            step(f"connecting over SSH to {user}@{address}:{port}")
            self.inner = SshTarget(name, SshOptions(host=address, port=port, user=user, key=options.key,
                                                    known_hosts=options.known_hosts, workdir=options.workdir,
                                                    connect_timeout=options.connect_timeout))
        except BaseException as exc:
            try:
                self._release()
            except TargetError as failed:  # the first error stays the one reported; this one is added
                if isinstance(exc, TargetError):
                    raise TargetError(name, exc.step, f"{exc.message}; and {failed.message}") from None
                print(f"devbench: {failed}", file=sys.stderr)
            raise

    # -- the coordinator --------------------------------------------------------------------

    def _session(self, step: str, work: Callable[[Any], Awaitable[Any]]) -> Any:
        """Run work(session) with the shared session to this target's coordinator."""
        client, _, _ = self._lg
        host, port = split_host_port(self.coordinator)
        timeout = self.options.connect_timeout
        try:  # a plain TCP check first: a clear message, and none of gRPC's retries and log lines
            socket.create_connection((host, port), timeout=timeout).close()
        except OSError as exc:
            raise TargetError(self.name, step, f"labgrid coordinator {self.coordinator} is not reachable "
                                               f"({exc.strerror or exc})") from None

        async def main() -> Any:
            session = await _COORDINATORS.session(client, self.coordinator, timeout)
            try:
                return await asyncio.wait_for(work(session), timeout)
            except TargetError:
                raise
            except BaseException:  # timed out or failed half-way: the next call starts afresh
                await _COORDINATORS.drop(self.coordinator)
                raise

        try:
            return _COORDINATORS.run(main, 3 * timeout + 5)
        except TargetError:
            raise
        except (TimeoutError, concurrent.futures.TimeoutError):
            raise TargetError(self.name, step, f"labgrid coordinator {self.coordinator} did not answer "
                                               f"within {timeout:.0f} s") from None
        except client.Error as exc:
            raise TargetError(
                self.name, step, f"labgrid coordinator {self.coordinator}: {' '.join(map(str, exc.args))}"
            ) from None

    async def _acquire(self, session: Any) -> tuple[str, int, str]:
        _, pb, grpc = self._lg
        self.identity = f"{session.gethostname()}/{session.getuser()}"
        place = self._place(session)
        if place.acquired:
            raise self._busy(place.acquired)
        self._held = True
        try:
            await session.stub.AcquirePlace(pb.AcquirePlaceRequest(placename=self.place))
        except grpc.aio.AioRpcError as exc:
            await session.sync_with_coordinator()
            owner = self._place(session).acquired
            if owner and owner != self.identity:  # taken by someone else in between
                self._held = False
                raise self._busy(owner) from None
            raise TargetError(self.name, "acquire place", f"labgrid place {self.place}: {exc.details()}") from None
        self.acquired_at = datetime.now(UTC).isoformat(timespec="seconds")
        await session.sync_with_coordinator()
        return self._network_service(session, self._place(session))

    def _place(self, session: Any) -> Any:
        place = session.places.get(self.place)
        if place is None:
            names = sorted(session.places)
            have = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "") if names else "none"
            raise TargetError(self.name, "acquire place", f"labgrid place {self.place} does not exist on coordinator "
                                                          f"{self.coordinator} (places: {have})")
        return place

    def _busy(self, owner: str) -> TargetError:
        why = ("this user on this host: another devbench run holds it, or an earlier one was killed "
               f"(`labgrid-client -x {self.coordinator} -p {self.place} release` frees it)"
               if owner == self.identity else "devbench does not use a place that someone else holds")
        return TargetError(self.name, "acquire place", f"labgrid place {self.place} is acquired by {owner} "
                                                       f"on coordinator {self.coordinator}: {why}")

    def _network_service(self, session: Any, place: Any) -> tuple[str, int, str]:
        """(address, port, username) of the place's NetworkService (or of `resource:`)."""
        client, _, _ = self._lg
        try:
            found = session.get_target_resources(place)
        except client.Error as exc:
            raise TargetError(
                self.name, "acquire place", f"labgrid place {self.place}: {' '.join(map(str, exc.args))}"
            ) from None
        paths = {}
        for path in place.acquired_resources:
            match = place.getmatch(path)
            paths[(match.rename if match and match.rename else path[3], path[2])] = "/".join(path)
        services = {nm: res for (nm, cls), res in found.items() if cls == "NetworkService"}
        wanted = self.options.resource
        if wanted is not None:
            if wanted not in services:
                raise TargetError(
                    self.name,
                    "acquire place",
                    f"labgrid place {self.place} has no NetworkService named "
                    f"{wanted!r} (it has: {', '.join(sorted(services)) or 'none'})",
                )
            services = {wanted: services[wanted]}
        if not services:
            have = ", ".join(sorted(f"{cls} {nm}" for nm, cls in found)) or "no resources"
            raise TargetError(self.name, "acquire place", f"labgrid place {self.place} has no NetworkService (it has: "
                                                          f"{have}); devbench reaches labgrid devices over SSH only")
        if len(services) > 1:
            raise TargetError(self.name, "acquire place", f"labgrid place {self.place} has several NetworkServices "
                                                          f"({', '.join(sorted(services))}): choose one with resource:")
        (rname, res), = services.items()
        self.resource = paths.get((rname, "NetworkService"), rname)
        if not res.avail:
            raise TargetError(self.name, "acquire place", f"labgrid resource {self.resource} is not available "
                                                          "(its exporter reports it unavailable)")
        if res.extra.get("proxy_required"):
            raise TargetError(
                self.name,
                "acquire place",
                f"labgrid resource {self.resource} is reachable only through "
                f"its exporter {res.extra.get('proxy')} (isolated exporter or "
                "interface-scoped address); devbench does not tunnel through exporters",
            )
        args = res.args
        if args.get("password"):
            self.warnings.append(
                f"labgrid resource {self.resource} carries a password: devbench does not use passwords "
                "(the target's key: or ssh-agent is used)"
            )
        return str(args["address"]), int(args.get("port", 22)), str(args["username"])

    def _release(self) -> None:
        if not self._held:
            return
        _, pb, _ = self._lg

        async def release(session: Any) -> None:
            await session.stub.ReleasePlace(pb.ReleasePlaceRequest(placename=self.place, fromuser=self.identity))
            await session.sync_with_coordinator()
            place = session.places.get(self.place)
            if place is not None and place.acquired == self.identity:
                raise TargetError(self.name, "release place", f"labgrid place {self.place} is still acquired by "
                                                              f"{self.identity} after the release")

        try:
            self._session("release place", release)
        except TargetError as exc:
            raise TargetError(self.name, "release place", f"{exc.message}; labgrid place {self.place} may still be "
                                                          f"acquired by {self.identity}: `labgrid-client -x "
                                                          f"{self.coordinator} -p {self.place} release`") from None
        self._held = False

    @property
    def info(self) -> dict[str, object]:
        return {
            "place": self.place,
            "coordinator": self.coordinator,
            "acquired_as": self.identity,
            "resource": self.resource,
            "acquired_at": self.acquired_at,
            "ssh": f"{self.inner.options.user}@{self.inner.options.host}:{self.inner.options.port}"
            if self.inner
            else None,
        }

    # -- the Target protocol, delegated to the SSH connection -------------------------------

    def _ssh(self) -> SshTarget:
        if self.inner is None:
            raise TargetError(self.name, "run", f"labgrid place {self.place} is released")
        return self.inner

    def run(
        self, argv: Sequence[str], *, timeout: float | None = None, on_line: LineCallback | None = None
    ) -> CommandResult:
        return self._ssh().run(argv, timeout=timeout, on_line=on_line)

    def push(self, local: Path, remote: str, mode: int = 0o755) -> None:
        self._ssh().push(local, remote, mode)

    def pull(self, remote: str, local: Path) -> None:
        self._ssh().pull(remote, local)

    def interrupt(self) -> None:
        """Abort the command in flight (from another thread), as the SSH target does."""
        inner = self.inner
        if inner is not None:
            inner.interrupt()

    def close(self) -> None:
        """Close the SSH connection and release the place (TargetError if the release failed)."""
        try:
            if self.inner is not None:
                self.inner.close()
        finally:
            self.inner = None
            self._release()
