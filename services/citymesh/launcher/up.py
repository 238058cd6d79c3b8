"""`citymesh up`: the whole platform on this machine, fed by the city simulator.

nats-server (JetStream under DIR/nats) → every service of SERVICES as its own process on a free
port → the simulator, in this process → a live status each second. SIGINT or SIGTERM stops them
in the reverse order. Everything lasting is under DIR, so `up` again resumes on the same data:

    DIR/nats/          JetStream store and nats-server.log
    DIR/exchange.duckdb
    DIR/logs/<svc>.log JSON logs of each service (and simulator.log)
    DIR/run/ports.json where each service listens (while running), for people and tests
    DIR/run/simulator.json where the simulated clock stopped, to resume from
    DIR/keys/          governance's Ed25519 key pair, made on the first run

Authentication is on: every service verifies tokens with the public key, governance signs with
the private one, and each process (and the simulator, and the status probes) presents a `service`
token signed here at start, valid SERVICE_TOKEN_TTL_S. `citymesh token sign --signing-key
DIR/keys/signing-key.pem` makes a person's token.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import grpc
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from citymesh.launcher.peaks import active_peaks, peak_spec
from citymesh.launcher.process import Credentials, ServiceFailed, ServiceProcess, last_lines, stop_leftover
from citymesh.launcher.services import SERVICES, ServiceSpec
from citymesh.launcher.status import Screen, ServiceRow, Snapshot
from citymesh.runtime import auth
from citymesh.runtime.errors import CitymeshError
from citymesh.runtime.logs import JsonFormatter
from citymesh.runtime.natsauth import local_users, peak_user
from citymesh.runtime.natsd import NatsServer
from citymesh.simulator import DEFAULT_SEED, Checkpoint, SimulationStats, run_simulation

ERROR_SHOWN_S = 30.0
"""How long the simulator's last error stays in the status view."""
SERVICE_TOKEN_TTL_S = 30 * 86_400
"""How long the processes' `service` token is valid: a run longer than this needs a restart."""


@dataclass
class Options:
    data_dir: Path
    rate: float = 1.0
    simulator: bool = True
    seed: int = DEFAULT_SEED
    services: tuple[ServiceSpec, ...] = SERVICES
    start_timeout_s: float = 90.0
    """How long a service may take to be SERVING."""
    stop_timeout_s: float = 20.0
    """How long a service may take to stop after SIGTERM before SIGKILL."""
    drain_s: float = 5.0
    """How long the simulator waits for its last acks, and exchange for its lag, when stopping."""


def write_json(path: Path, value: Any) -> None:
    """Write atomically: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(value, indent=2) + "\n")
    tmp.replace(path)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


class AlreadyRunning(Exception):
    pass


def credentials(keys_dir: Path, ttl_s: float = SERVICE_TOKEN_TTL_S) -> Credentials:
    """Governance's key pair in `keys_dir` (made once, the signing key readable by its owner only)
    and a fresh `service` token signed with it."""
    signing, public = keys_dir / "signing-key.pem", keys_dir / "public-key.pem"
    if not signing.exists():
        private_pem, public_pem = auth.new_key_pair()
        keys_dir.mkdir(parents=True, exist_ok=True)
        tmp = signing.with_suffix(".tmp")
        tmp.touch(mode=0o600)
        tmp.write_text(private_pem)
        public.write_text(public_pem)
        tmp.replace(signing)
    private_pem = signing.read_text()
    if not public.exists():
        public.write_text(
            auth.load_private_key(private_pem)
            .public_key()
            .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
    identity = auth.Identity(auth.ZONE_TENANT, "", frozenset({auth.SERVICE}))
    token = auth.sign(auth.load_private_key(private_pem), identity, time.time() + ttl_s)
    return Credentials(public.read_text(), private_pem, token)


class Launcher:
    def __init__(self, options: Options, out: TextIO = sys.stdout) -> None:
        self.o = options
        self.data = options.data_dir.resolve()
        self.run_dir = self.data / "run"
        self.ports_path = self.run_dir / "ports.json"
        self.sim_state_path = self.run_dir / "simulator.json"
        self.out = out
        self.screen = Screen(out, tty=out.isatty())
        self.stop = asyncio.Event()
        self.hurry = False
        self.first_signal = 0.0
        self.nats: NatsServer | None = None
        self.services: list[ServiceProcess] = []
        self.sim_stats: SimulationStats | None = None
        self.sim_stop = asyncio.Event()
        self.sim_task: asyncio.Task[SimulationStats] | None = None
        self.sim_log: logging.Handler | None = None
        self.started = time.monotonic()
        self.counters: dict[str, dict[str, float]] = {}
        """Each service's counters, as last read."""
        self.answering: set[str] = set()
        """Services that answered the last probe."""
        self.failed: dict[str, int] = {}
        """Services that exited while running: name → exit code."""
        self.lock_file: TextIO | None = None
        self.keys_dir = self.data / "keys"
        self.credentials: Credentials | None = None

    # -- the run ----------------------------------------------------------------------------

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal)
        try:
            return await self._run()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    async def _run(self) -> int:
        try:
            self._lock()
        except AlreadyRunning as exc:
            self.screen.say(f"citymesh up: {exc}")
            return 1
        try:
            code = await self._start()
            if code == 0 and not self.stop.is_set():
                await self._watch()
        finally:
            await self._shutdown()
            self._unlock()
        if code == 0:
            self._summary()
        return 1 if code or self.failed else 0

    def _on_signal(self) -> None:
        # A second signal a second or more after the first means "now". Closer together they are
        # one request delivered twice (`timeout`, or a supervisor, signals the process and its group).
        now = time.monotonic()
        if self.stop.is_set() and now - self.first_signal >= 1.0:
            self.hurry = True
            self.screen.say("stopping now (SIGKILL)")
        if not self.stop.is_set():
            self.first_signal = now
        self.stop.set()

    async def _start(self) -> int:
        self.data.mkdir(parents=True, exist_ok=True)
        self._stop_leftovers()
        self.screen.say(f"citymesh up: data in {self.data}")
        # Each process connects as its own NATS user (runtime/natsauth.py), peaks as their tenant's.
        self.nats = NatsServer(self.data / "nats", users=local_users(s.name for s in self.o.services))
        try:
            await asyncio.to_thread(self.nats.start)
        except (OSError, RuntimeError, TimeoutError) as exc:
            self.screen.say(f"citymesh up: nats-server did not start: {exc}")
            return 1
        self.screen.say(f"  nats-server   {self.nats.url} (JetStream in {self.data / 'nats'})")
        try:
            self.credentials = credentials(self.keys_dir)
        except (OSError, ValueError, CitymeshError) as exc:
            self.screen.say(f"citymesh up: governance's keys in {self.keys_dir} are unusable: {exc}")
            return 1
        self.screen.say(f"  tokens        signed by the key pair in {self.keys_dir}")
        self.services = [
            ServiceProcess(spec, self.data, self.nats.url_for(spec.name), self.credentials)
            for spec in self.o.services
        ]
        addresses = {s.name: s.address for s in self.services}
        for service in self.services:
            service.start(addresses)
        self._write_ports("starting")
        code = await self._serving(self.services)
        if code == 0 and not self.stop.is_set():
            code = await self._start_peaks()
        if code or self.stop.is_set():
            return code
        self._write_ports("serving")
        self.screen.say(f"  addresses in  {self.ports_path}")
        signing = self.keys_dir / "signing-key.pem"
        self.screen.say(
            f"  your token:   export CITYMESH_TOKEN=$(citymesh token sign --signing-key {signing})"
            "  (the zone administrator;"
        )
        self.screen.say(
            "                add --tenant huawei --district fengyang --roles peak-admin for a peak's tenant)"
        )
        if self.o.simulator:
            self._start_simulator()
        return 0

    async def _serving(self, processes: list[ServiceProcess]) -> int:
        """Wait until each of `processes` is SERVING (0), or one fails (1, with its last log lines)."""
        waits: dict[asyncio.Future[Any], ServiceProcess] = {
            asyncio.ensure_future(s.wait_serving(self.o.start_timeout_s)): s for s in processes
        }
        stopped: asyncio.Future[Any] = asyncio.ensure_future(self.stop.wait())
        try:
            pending = set(waits)
            while pending and not self.stop.is_set():
                done, pending = await asyncio.wait(pending | {stopped}, return_when=asyncio.FIRST_COMPLETED)
                pending.discard(stopped)
                for task in done - {stopped}:
                    task.result()
                    service = waits[task]
                    self.screen.say(f"  {service.name:<13} {service.address} SERVING (pid {service.pid})")
        except ServiceFailed as exc:
            self.screen.say(f"citymesh up: {exc}; its last log lines ({exc.service.log_path}):")
            for line in last_lines(exc.service.log_path):
                self.screen.say(f"    {line}")
            self.screen.say("citymesh up: stopping everything")
            return 1
        finally:
            stopped.cancel()
            for task in waits:
                task.cancel()
        return 0

    async def _start_peaks(self) -> int:
        """One peak process per active peak, as governance lists them (launcher/peaks.py)."""
        governance = next((s for s in self.services if s.name == "governance"), None)
        if governance is None or governance.channel is None or self.nats is None:
            return 0
        try:
            active = await active_peaks(governance.channel)
        except grpc.aio.AioRpcError as exc:
            self.screen.say(
                f"citymesh up: governance did not list the peaks: {exc.code().name} {exc.details()}"
            )
            return 1
        addresses = {s.name: s.address for s in self.services}
        try:
            users = [peak_user(p.peak_id, p.tenant, p.district) for p in active]
            await asyncio.to_thread(self.nats.reload, [*(self.nats.users or []), *users])
        except (ValueError, RuntimeError, TimeoutError) as exc:
            self.screen.say(f"citymesh up: the peaks get no NATS users: {exc}")
            return 1
        peaks = [
            ServiceProcess(peak_spec(p, addresses), self.data, self.nats.url_for(u.name), self.credentials)
            for p, u in zip(active, users, strict=True)
        ]
        self.services[:0] = peaks  # first in line to stop: they call the others
        for peak in peaks:
            peak.start()
        self._write_ports("starting")
        return await self._serving(peaks)

    def _start_simulator(self) -> None:
        collection = next((s for s in self.services if s.name == "collection"), None)
        if collection is None:
            self.screen.say("citymesh up: no collection service to feed: the simulator stays off")
            return
        resume = Checkpoint.from_json(read_json(self.sim_state_path))
        # Its log goes to a file like every service's; the terminal shows the status.
        (self.data / "logs").mkdir(parents=True, exist_ok=True)
        self.sim_log = logging.FileHandler(self.data / "logs" / "simulator.log", encoding="utf-8")
        self.sim_log.setFormatter(JsonFormatter("simulator"))
        logger = logging.getLogger("citymesh.simulator")
        logger.addHandler(self.sim_log)
        logger.setLevel(logging.INFO)
        logger.propagate = False
        self.sim_stats = SimulationStats()
        self.sim_task = asyncio.create_task(
            run_simulation(
                collection.address,
                self.o.rate,
                None,
                self.sim_stats,
                seed=self.o.seed,
                resume=resume,
                stop=self.sim_stop,
                drain_s=self.o.drain_s,
                token=self.credentials.token if self.credentials else "",
            )
        )

    async def _watch(self) -> None:
        """Refresh the status every second until a signal."""
        last_accepted: float | None = None
        last_t = time.monotonic()
        last_error, error_at = "", 0.0
        last_saved = time.monotonic()
        while not self.stop.is_set():
            await self._probe()
            now = time.monotonic()
            accepted = self.counters.get("collection", {}).get("readings_accepted")
            rate = 0.0
            if accepted is not None and last_accepted is not None and accepted >= last_accepted:
                rate = (accepted - last_accepted) / max(now - last_t, 1e-9)
            last_accepted, last_t = accepted, now
            errors = self._check_services()
            if self.sim_task is not None and self.sim_task.done() and not self.sim_task.cancelled():
                exc = self.sim_task.exception()
                if exc is not None:
                    errors.append(f"simulator crashed: {exc!r}")
            if self.sim_stats is not None and self.sim_stats.last_error != last_error:
                last_error, error_at = self.sim_stats.last_error, now
            if last_error and now - error_at < ERROR_SHOWN_S:
                errors.append(f"simulator: {last_error}")
            self.screen.show(self._snapshot(rate, errors))
            if now - last_saved > 10:
                self._save_sim_state()
                last_saved = now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), 1.0)

    async def _probe(self) -> None:
        results = await asyncio.gather(*(s.probe() for s in self.services))
        for service, counters in zip(self.services, results, strict=True):
            if counters is None:
                self.answering.discard(service.name)
            else:
                self.answering.add(service.name)
                self.counters[service.name] = counters

    def _check_services(self) -> list[str]:
        errors = []
        for service in self.services:
            code = service.exit_code()
            if code is None:
                continue
            if service.name not in self.failed:
                self.failed[service.name] = code
                self.screen.say(f"citymesh up: {service.name} exited with code {code}; its last log lines:")
                for line in last_lines(service.log_path, 8):
                    self.screen.say(f"    {line}")
            errors.append(f"{service.name} is down (exit {code}): see {service.log_path}")
        return errors

    def _snapshot(self, rate: float, errors: list[str]) -> Snapshot:
        rows = []
        for service in self.services:
            counters = self.counters.get(service.name)
            rows.append(
                ServiceRow(
                    name=service.name,
                    address=service.address,
                    pid=service.pid,
                    up=service.name in self.answering,
                    exit_code=service.exit_code(),
                    detail=service.spec.describe(counters) if counters else "",
                )
            )
        collection = self.counters.get("collection", {})
        exchange = self.counters.get("exchange")
        return Snapshot(
            data_dir=str(self.data),
            uptime_s=time.monotonic() - self.started,
            services=rows,
            readings_per_s=rate,
            accepted=int(collection.get("readings_accepted", 0)),
            rejected=int(collection.get("readings_rejected", 0)),
            duplicate_batches=int(collection.get("duplicate_batches", 0)),
            rows=None if exchange is None else int(exchange["rows"]),
            lag_batches=None if exchange is None else int(exchange["lag_batches"]),
            simulator=self.sim_stats,
            rate=self.o.rate,
            errors=errors,
        )

    # -- stopping ---------------------------------------------------------------------------

    async def _shutdown(self) -> None:
        """Simulator, then services in table order (SIGTERM, then SIGKILL), then nats-server."""
        nats_alive = self.nats is not None and self.nats.proc is not None and self.nats.proc.poll() is None
        if self.sim_task is not None:
            self.screen.say("stopping: simulator")
            self.sim_stop.set()
            patience = self.o.drain_s + 5.0 if nats_alive and not self.hurry else 1.0
            try:
                await asyncio.wait_for(asyncio.shield(self.sim_task), patience)
            except TimeoutError:
                self.sim_task.cancel()
            except Exception as exc:
                self.screen.say(f"  simulator ended with {exc!r}")
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.sim_task
            self._save_sim_state()
        if self.sim_log is not None:
            logging.getLogger("citymesh.simulator").removeHandler(self.sim_log)
            self.sim_log.close()
        await self._probe()
        for service in self.services:
            if service.exit_code() is None and service.spec.probe is not None:
                await self._settle(service)
            self.screen.say(f"stopping: {service.name}")
            code = await service.stop(0.0 if self.hurry else self.o.stop_timeout_s)
            if code not in (0, None) and service.name not in self.failed:
                self.screen.say(f"  {service.name} exited with code {code}; see {service.log_path}")
        if self.nats is not None:
            self.screen.say("stopping: nats-server")
            await asyncio.to_thread(self.nats.stop)
        with contextlib.suppress(FileNotFoundError):
            self.ports_path.unlink()

    async def _settle(self, service: ServiceProcess) -> None:
        """Give a service with a lag (exchange) a moment to store what upstream already accepted."""
        deadline = time.monotonic() + (0 if self.hurry else self.o.drain_s)
        while True:
            counters = await service.probe()
            if counters is not None:
                self.counters[service.name] = counters
            if counters is None or counters.get("lag_batches", 0) == 0 or time.monotonic() > deadline:
                return
            await asyncio.sleep(0.1)

    def _summary(self) -> None:
        lines = [f"citymesh up stopped after {time.monotonic() - self.started:.0f} s"]
        collection = self.counters.get("collection")
        if collection:
            lines.append(
                f"  collection: {collection['readings_accepted']:,.0f} readings accepted, "
                f"{collection['readings_rejected']:,.0f} rejected in this run"
            )
        exchange = self.counters.get("exchange")
        if exchange:
            lines.append(f"  exchange:   {exchange['rows']:,.0f} rows stored")
        if self.sim_stats is not None:
            lines.append(f"  simulator:  {self.sim_stats.summary()}")
        for name, code in self.failed.items():
            lines.append(f"  {name} had exited with code {code}: see {self.data / 'logs' / name}.log")
        lines.append(f"  data kept in {self.data}: `citymesh up --data {self.data}` resumes on it")
        for line in lines:
            self.screen.say(line)

    # -- files ------------------------------------------------------------------------------

    def _write_ports(self, state: str) -> None:
        assert self.nats is not None
        assert self.nats.proc is not None
        write_json(
            self.ports_path,
            {
                "state": state,
                "launcher_pid": os.getpid(),
                "nats": {"url": self.nats.url, "pid": self.nats.proc.pid},
                "keys": str(self.keys_dir),
                "services": {
                    s.name: {"address": s.address, "pid": s.pid, "log": str(s.log_path)}
                    for s in self.services
                },
            },
        )

    def _save_sim_state(self) -> None:
        if self.sim_stats is not None and self.sim_stats.cursors:
            write_json(self.sim_state_path, self.sim_stats.checkpoint().to_json())

    def _lock(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        f = (self.run_dir / "up.lock").open("a+")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "?"
            f.close()
            raise AlreadyRunning(f"another `citymesh up` (pid {holder}) is running on {self.data}") from None
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        self.lock_file = f

    def _unlock(self) -> None:
        if self.lock_file is not None:
            self.lock_file.close()
            self.lock_file = None

    def _stop_leftovers(self) -> None:
        """A launcher killed without its cleanup leaves its processes and ports.json behind."""
        previous = read_json(self.ports_path)
        if not previous:
            return
        stopped = 0
        for service in previous.get("services", {}).values():
            stopped += stop_leftover(int(service["pid"]), "citymesh")
        if "nats" in previous:
            stopped += stop_leftover(int(previous["nats"]["pid"]), "nats-server")
        if stopped:
            self.screen.say(f"citymesh up: stopped {stopped} processes a previous run left behind")
        self.ports_path.unlink()


def up(options: Options) -> int:
    return asyncio.run(Launcher(options).run())
