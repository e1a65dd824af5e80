"""Requests/s, latency and memory of ``moodreel serve`` under load on loopback.

Against a baseline in the same run: the same snapshot analysed in this process on one thread.

    .venv/bin/python benchmarks/web_load.py                  # `serve`'s defaults, 16 clients, 30 s
    .venv/bin/python benchmarks/web_load.py --workers 2 --threads 2 --duration 10
    .venv/bin/python benchmarks/web_load.py --configs 2x1,2x2,2x4,3x2,4x4   # workers x threads
    .venv/bin/python benchmarks/web_load.py --emotions-only --json
    .venv/bin/python benchmarks/web_load.py --rate 100      # open loop: 100 requests/s due
    git worktree add /tmp/base HEAD~1 && .venv/bin/python benchmarks/web_load.py \
        --against /tmp/base/src --pairs 3 --no-breakdown   # this code against an earlier one

The snapshot: docs/images/astronaut.jpg (512x512), its top 512x384 scaled to 640x480 (one
face, about 130 px), JPEG quality 92 as the page's snapshot button sends it.

Prints, all measured in this run on this machine:
  (a) baseline, in this process on one thread (OpenCV and ONNX Runtime at one thread, best of
      5 rounds): ``decode_image`` + ``Recognizer.analyze`` of the snapshot, ms per call and the
      requests/s one core could serve doing nothing else;
  (b) where one request's time goes, in this process: JPEG decode (and decoding at half size
      instead), face detection, crop + ONNX, ``recommendations()`` (SQL on the built-in
      catalog, films to dicts), each alone (best of 5 rounds) and as timed inside 200 whole
      ``POST /api/analyze`` requests through Flask's test client (mean), where each runs
      slower than alone: the steps share one core's caches; the rest is Flask, multipart
      parsing and JSON;
  (c) per server configuration (workers x threads), a fresh ``moodreel serve`` subprocess
      (its own temporary MOODREEL_DATA_DIR, a SQLite database there with the built-in
      catalog, a free port): once ``/api/health`` answers, one request must find a face
      (and films, unless ``--emotions-only``), ``--warmup`` seconds of load let every worker
      thread build its recognizer and memory settle (it grows for about 10 s after the
      first requests, then stays flat), then ``--duration`` seconds are measured. The load comes
      from ``--concurrency`` threads in this process, each with one keep-alive HTTP/1.1
      connection posting the same pre-encoded multipart body; latency is from sending to the
      last byte read (closed loop: each connection posts again as soon as it has its
      answer, so at saturation latency is mostly queueing, 16 connections / requests/s on
      average). With ``--rate R`` the load is an open loop instead: requests fall due at R
      per second on average (Poisson arrivals, a fixed seed), each sent on a free connection
      at its due time and timed from its due time, so a wait for a free connection counts
      (no coordinated omission): the latency users see at that load. Errors are non-2xx
      answers and exceptions. Table: requests/s (2xx),
      p50/p90/p99/max ms, errors, RSS of the gunicorn master and workers summed after the
      warm-up and at the end (shared pages count once per process) and its growth, server
      CPU ms per request, this client's and other processes' CPU (noise); then the ratio
      server requests/s / baseline requests/s (how many cores' worth of pure analysis the
      server delivers), the requests/s that the server's CPU per request would allow with
      every CPU to itself (less sensitive to other busy processes), the spread of mean
      latency between connections (a keep-alive connection stays with one worker, so an
      uneven share of connections shows up here and in p90/p99), and PASS/MISS against
      the goals: >= 100 requests/s, p99 <= 100 ms, zero errors, RSS growth <= 10%.
      With ``--against SRC`` each configuration is served from another checkout's code
      ("base") and this one's ("this") in turns, ``--pairs`` times, and the means and their
      ratio are printed: this machine's speed drifts by 10% and more over minutes, so a
      change is only seen against its baseline measured in turns with it.

The client shares the CPUs with the server; its CPU time is printed so that it can be
accounted for. Other busy processes on the machine lower the numbers: their CPU share is
printed as well.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import cv2
import numpy as np
from inference import best_ms
from recommend import percentile

from moodreel.vision.image import decode_image
from moodreel.vision.recognizer import Recognizer
from moodreel.web.analysis import group_mood
from moodreel.web.cli import DEFAULT_THREADS, DEFAULT_WORKERS

ROOT = Path(__file__).resolve().parents[1]
ASTRONAUT = ROOT / "docs" / "images" / "astronaut.jpg"
HOST = "127.0.0.1"
PATH = "/api/analyze"
REQUESTS_TIMED = 200  # whole in-process requests whose steps (b) times
GOAL_RPS, GOAL_P99_MS, GOAL_RSS_GROWTH = 100.0, 100.0, 10.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def snapshot_jpeg(quality: int) -> bytes:
    """A 640x480 JPEG with one face: the astronaut photo's top 512x384 (4:3), scaled up."""
    photo = cv2.imread(str(ASTRONAUT), cv2.IMREAD_COLOR)
    if photo is None:
        raise FileNotFoundError(f"cannot read {ASTRONAUT}")
    frame = cv2.resize(photo[:384, :512], (640, 480), interpolation=cv2.INTER_CUBIC)
    ok, encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("OpenCV could not encode the snapshot as JPEG")
    return encoded.tobytes()


def multipart(jpeg: bytes, fields: dict[str, str]) -> tuple[bytes, str]:
    """A multipart/form-data body with ``fields`` and the file field ``image``, and its type."""
    boundary = f"moodreel-{secrets.token_hex(8)}"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
             f"{value}\r\n".encode() for name, value in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="image"; '
                 f'filename="snapshot.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'.encode()
                 + jpeg + f"\r\n--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


# --- processes, from /proc ---------------------------------------------------------------

def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants (the gunicorn master and its workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                ppid = int(stat_fields(int(entry.name))[1])
                children.setdefault(ppid, []).append(int(entry.name))
    tree, queue = [], [root]
    while queue:
        pid = queue.pop()
        tree.append(pid)
        queue += children.get(pid, [])
    return tree


def stat_fields(pid: int) -> list[str]:
    """/proc/PID/stat from the state field on (the command name may hold spaces)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2:].split()


def rss_mb(pids: list[int]) -> float:
    """Summed VmRSS of ``pids`` in MB (pages shared after fork count in each process)."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
    return total


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by ``pids`` (all their threads)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = stat_fields(pid)
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def machine_busy_seconds() -> float:
    """CPU seconds all CPUs spent busy since boot (/proc/stat: all but idle and iowait)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    return (sum(values) - values[3] - values[4]) / CLOCK_TICKS


# --- the server --------------------------------------------------------------------------

@dataclass
class Server:
    pid: int
    port: int
    log: Path

    def log_tail(self, lines: int = 15) -> str:
        text = self.log.read_text(errors="replace").strip().splitlines()
        return "\n".join("    " + line for line in text[-lines:])


@contextlib.contextmanager
def serving(workers: int, threads: int, start_timeout: float = 120,
            source: Path | None = None) -> Iterator[Server]:
    """``moodreel serve`` in a subprocess with its own data folder, SQLite database and port
    (the package in ``source``, another checkout's ``src``, when given); stopped (SIGTERM,
    then SIGKILL of its process group) on leaving."""
    with tempfile.TemporaryDirectory(prefix="moodreel-web-load-") as tmp:
        folder = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOODREEL_")}
        env["MOODREEL_DATA_DIR"] = str(folder / "data")   # a secret key is generated there
        if source is not None:  # ahead of the installed package
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(source),
                                                              env.get("PYTHONPATH")]))
        port = free_port()
        command = [sys.executable, "-m", "moodreel", "serve", "--host", HOST,
                   "--port", str(port), "--workers", str(workers), "--threads", str(threads),
                   "--db", f"sqlite:///{folder / 'movies.db'}"]
        log = folder / "server.log"
        with log.open("wb") as out:
            process = subprocess.Popen(command, env=env, cwd=folder, stdout=out,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        server = Server(process.pid, port, log)
        try:
            wait_until_healthy(process, server, start_timeout)
            yield server
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def wait_until_healthy(process: subprocess.Popen, server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moodreel serve exited with status {process.returncode}:\n"
                               + server.log_tail())
        with contextlib.suppress(OSError, http.client.HTTPException):
            status, body = fetch(server.port, "GET", "/api/health")
            if status == 200 and json.loads(body)["status"] == "ok":
                return
        time.sleep(0.2)
    raise RuntimeError(f"moodreel serve did not answer /api/health in {timeout:.0f} s:\n"
                       + server.log_tail())


def fetch(port: int, method: str, path: str, body: bytes | None = None,
          headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        connection.request(method, path, body, headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def check_answer(port: int, body: bytes, headers: dict[str, str], want_films: bool) -> str:
    """One request must find a face (and films); returns a one-line summary."""
    status, answer = fetch(port, "POST", PATH, body, headers)
    if status != 200:
        raise RuntimeError(f"POST {PATH} answered {status}: {answer[:500]!r}")
    result = json.loads(answer)
    films = result.get("recommendations") or []
    if not result["faces"] or (want_films and not films):
        raise RuntimeError(f"expected a face{' and films' if want_films else ''}, got "
                           f"{answer[:500]!r}")
    return (f"{len(result['faces'])} face ({result['faces'][0]['top']}), {len(films)} films, "
            f"{len(answer):,} bytes")


# --- the load ----------------------------------------------------------------------------

@dataclass
class Load:
    seconds: float
    latencies_ms: list[float]   # every answered request, errors included
    connection_means_ms: list[float]
    ok: int
    errors: Counter
    client_cpu_s: float
    due: int = 0                # open loop: requests that fell due


def arrival_times(rate: float, duration: float, seed: int = 0) -> list[float]:
    """Seconds from the start at which requests are due: a Poisson process at ``rate`` per
    second (independent users; a fixed clock would flatter the tail), the same every run."""
    rng = np.random.default_rng(seed)
    times, now = [], rng.exponential(1 / rate)
    while now < duration:
        times.append(now)
        now += rng.exponential(1 / rate)
    return times


def run_load(port: int, body: bytes, headers: dict[str, str], concurrency: int,
             duration: float, rate: float = 0.0) -> Load:
    """``concurrency`` threads, one keep-alive connection each, posting for ``duration`` s:
    each as soon as its last answer came (closed loop), or with ``rate`` > 0 at the due times
    of ``arrival_times`` (open loop), a request's latency then counted from its due time, so
    that waiting for a free connection counts too."""
    due = arrival_times(rate, duration) if rate > 0 else None
    window: dict[str, float] = {}

    def open_window() -> None:
        window["start"] = time.perf_counter()
        window["deadline"] = window["start"] + duration

    gate = threading.Barrier(concurrency + 1, action=open_window)
    lock = threading.Lock()
    latencies: list[float] = []
    means: list[float] = []
    errors: Counter = Counter()
    answered = [0]
    tickets = itertools.count()   # next() on it is atomic: each due time goes to one thread

    def start_time() -> float | None:
        """When to send the next request, or None when the run is over."""
        if due is None:
            now = time.perf_counter()
            return now if now < window["deadline"] else None
        index = next(tickets)
        if index >= len(due):
            return None
        at = window["start"] + due[index]
        time.sleep(max(0.0, at - time.perf_counter()))
        return at

    def client() -> None:
        mine: list[float] = []
        failed: Counter = Counter()
        connection = http.client.HTTPConnection(HOST, port, timeout=30)
        with contextlib.suppress(OSError):   # else the first request reconnects, or fails
            connection.connect()
        gate.wait()
        while (started := start_time()) is not None:
            try:
                connection.request("POST", PATH, body, headers)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as error:
                failed[type(error).__name__] += 1
                connection.close()   # the next request reconnects
                continue
            mine.append((time.perf_counter() - started) * 1000)
            if not 200 <= response.status < 300:
                failed[f"HTTP {response.status}"] += 1
        connection.close()
        with lock:
            latencies.extend(mine)
            if mine:
                means.append(sum(mine) / len(mine))
            errors.update(failed)
            answered[0] += len(mine)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    cpu_before = sum(os.times()[:2])
    gate.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    failed_answers = sum(n for kind, n in errors.items() if kind.startswith("HTTP "))
    return Load(seconds, latencies, means, answered[0] - failed_answers, errors,
                sum(os.times()[:2]) - cpu_before, len(due or ()))


def measure_config(workers: int, threads: int, body: bytes, headers: dict[str, str],
                   args: argparse.Namespace, source: Path | None = None,
                   code: str = "") -> dict[str, Any]:
    with serving(workers, threads, source=source) as server:
        answer = check_answer(server.port, body, headers, not args.emotions_only)
        warmup = run_load(server.port, body, headers, args.concurrency, args.warmup,
                          args.rate)
        tree = process_tree(server.pid)
        rss_before = rss_mb(tree)
        server_cpu, busy = cpu_seconds(tree), machine_busy_seconds()
        load = run_load(server.port, body, headers, args.concurrency, args.duration,
                        args.rate)
        server_cpu = cpu_seconds(tree) - server_cpu
        busy = machine_busy_seconds() - busy
        rss_after = rss_mb(process_tree(server.pid))
    ordered = sorted(load.latencies_ms) or [float("nan")]
    ncpu = os.cpu_count() or 1
    config = f"{workers}x{threads}" + (f"@{args.rate:g}" if args.rate else "")
    return {
        "config": f"{code} {config}" if code else config, "code": code or None,
        "workers": workers, "threads": threads, "offered_rps": args.rate or None,
        "due_requests": load.due,
        "processes": len(tree), "answer": answer, "warmup_errors": dict(warmup.errors),
        "requests": load.ok, "seconds": load.seconds, "rps": load.ok / load.seconds,
        "p50_ms": percentile(ordered, 0.50), "p90_ms": percentile(ordered, 0.90),
        "p99_ms": percentile(ordered, 0.99), "max_ms": ordered[-1],
        "connection_mean_ms": [min(load.connection_means_ms, default=float("nan")),
                               max(load.connection_means_ms, default=float("nan"))],
        "errors": sum(load.errors.values()), "error_kinds": dict(load.errors),
        "rss_before_mb": rss_before, "rss_after_mb": rss_after,
        "rss_growth_pct": 100 * (rss_after - rss_before) / rss_before,
        "server_cpu_ms_per_request": 1000 * server_cpu / max(1, len(load.latencies_ms)),
        "server_cpu_pct": 100 * server_cpu / (load.seconds * ncpu),
        "rps_cpu_bound": ncpu * len(load.latencies_ms) / max(server_cpu, 1e-9),
        "client_cpu_pct": 100 * load.client_cpu_s / (load.seconds * ncpu),
        "other_cpu_pct": 100 * max(0.0, busy - server_cpu - load.client_cpu_s)
                         / (load.seconds * ncpu),
    }


def goals(row: dict[str, Any]) -> dict[str, bool]:
    """PASS/MISS per goal; in an open loop the throughput goal is that the goal's rate was
    offered and every request that fell due was answered."""
    offered = row["offered_rps"]
    throughput = ({f"{GOAL_RPS:.0f} req/s offered, all answered":
                   offered >= GOAL_RPS and row["requests"] == row["due_requests"]} if offered
                  else {f"req/s >= {GOAL_RPS:.0f}": row["rps"] >= GOAL_RPS})
    return {**throughput,
            f"p99 <= {GOAL_P99_MS:.0f} ms": row["p99_ms"] <= GOAL_P99_MS,
            "zero errors": row["errors"] == 0,
            f"RSS growth <= {GOAL_RSS_GROWTH:.0f}%": row["rss_growth_pct"] <= GOAL_RSS_GROWTH}


# --- in this process ---------------------------------------------------------------------

def baseline_section(jpeg: bytes) -> dict[str, float]:
    print("(a) baseline: decode + Recognizer.analyze in this process, 1 thread")
    recognizer = Recognizer(threads=1)
    faces = recognizer.analyze(decode_image(jpeg, gray=True))
    if len(faces) != 1:
        raise RuntimeError(f"the snapshot should hold one face, found {len(faces)}")
    ms = best_ms(lambda: recognizer.analyze(decode_image(jpeg, gray=True)), 50)
    print(f"  640x480 snapshot, {len(jpeg):,} bytes, 1 face ({faces[0].top}) at "
          f"{list(faces[0].box)}: {ms:6.2f} ms per call = {1000 / ms:5.0f} requests/s on one "
          f"core")
    return {"analyze_ms": ms, "rps_one_core": 1000 / ms}


def steps_in_requests(app: Any, post: Callable[[], None], requests: int) -> dict[str, float]:
    """Mean milliseconds of each step inside ``requests`` whole requests, and of the whole
    request (``whole``), the steps timed where the request calls them."""
    from moodreel.web import api
    from moodreel.web.services import EXTENSION_KEY

    recognizer = app.extensions[EXTENSION_KEY].recognizer
    spent: Counter[str] = Counter()

    def timed(key: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[key] += time.perf_counter() - started
        return call

    patches = [(api, "decode_image", "decode"), (api, "recommendations", "recommend"),
               (recognizer.detector, "locate", "detect"), (recognizer, "classify", "classify")]
    with contextlib.ExitStack() as stack:
        for owner, name, key in patches:
            stack.enter_context(mock.patch.object(owner, name, timed(key, getattr(owner, name))))
        post()
        spent.clear()
        started = time.perf_counter()
        for _ in range(requests):
            post()
        spent["whole"] = time.perf_counter() - started
    return {key: seconds * 1000 / requests for key, seconds in spent.items()}


def breakdown_section(jpeg: bytes, body: bytes, content_type: str,
                      folder: Path) -> dict[str, float]:
    """Milliseconds per step of one request, in this process on one thread: each step alone,
    and inside whole requests, where it runs slower (the steps share the core's caches)."""
    from moodreel.web import create_app
    from moodreel.web.api import recommendations

    print(f"\n(b) one request's time, in this process on one thread: each step alone (best of 5 "
          f"rounds) and inside {REQUESTS_TIMED} whole requests (mean)")
    recognizer = Recognizer(threads=1)
    buffer = np.frombuffer(jpeg, dtype=np.uint8)
    gray = decode_image(jpeg, gray=True)
    half = cv2.imdecode(buffer, cv2.IMREAD_REDUCED_GRAYSCALE_2)
    boxes = recognizer.detector.detect(gray)
    out = {
        "decode": best_ms(lambda: decode_image(jpeg, gray=True), 200),
        "decode_half": best_ms(lambda: cv2.imdecode(buffer, cv2.IMREAD_REDUCED_GRAYSCALE_2),
                               200),
        "detect": best_ms(lambda: recognizer.detector.detect(gray), 50),
        "detect_half": best_ms(lambda: recognizer.detector.detect(half), 50),
        "classify": best_ms(lambda: recognizer.classify(gray, boxes), 200),
    }
    app = create_app({"DATABASE_URL": f"sqlite:///{folder / 'inprocess.db'}",
                      "SNAPSHOT_DIR": str(folder / "snapshots")})
    client = app.test_client()
    emotions_body, emotions_type = multipart(jpeg, {"recommend": "false"})

    def post(data: bytes, kind: str) -> None:
        response = client.post(PATH, data=data, content_type=kind)
        if response.status_code != 200:
            raise RuntimeError(f"in-process POST {PATH}: {response.status_code} "
                               f"{response.get_data()[:300]!r}")

    mood = group_mood(recognizer.analyze(gray), 0.4)["emotions"]
    with app.test_request_context():
        recommendations(mood, {})   # creates and seeds the database
        out["recommend"] = best_ms(lambda: recommendations(mood, {}), 50)
    out["flask_emotions"] = best_ms(lambda: post(emotions_body, emotions_type), 30)
    out["flask_full"] = best_ms(lambda: post(body, content_type), 30)
    inside = steps_in_requests(app, lambda: post(body, content_type), REQUESTS_TIMED)
    rows = [
        ("JPEG decode to gray (decode_image)", "decode"),
        (f"face detection ({type(recognizer.detector).__name__})", "detect"),
        ("crop + ONNX classify, 1 face", "classify"),
        ("recommendations(): SQL + films to dicts", "recommend"),
    ]
    print(f"  {'':<44} {'alone':>7} {'in a request':>13}")
    for name, key in rows:
        out[f"{key}_in_request"] = inside[key]
        share = 100 * inside[key] / inside["whole"]
        print(f"  {name:<44} {out[key]:7.2f} {inside[key]:9.2f} ms {share:3.0f}%")
    out["rest_in_request"] = inside["whole"] - sum(inside[key] for _, key in rows)
    print(f"  {'the rest: Flask, multipart, JSON':<44} {'':>7} {out['rest_in_request']:9.2f} ms "
          f"{100 * out['rest_in_request'] / inside['whole']:3.0f}%")
    print(f"  {'POST /api/analyze, test client, with films':<44} {out['flask_full']:7.2f} "
          f"{inside['whole']:9.2f} ms = {1000 / inside['whole']:4.0f} requests/s on one core")
    print(f"  {'POST /api/analyze, test client, emotions only':<44} "
          f"{out['flask_emotions']:7.2f} ms")
    half_boxes = recognizer.detector.detect(half) * 2
    print(f"  what if: decode at half size (IMREAD_REDUCED_GRAYSCALE_2) {out['decode_half']:5.2f}"
          f" ms (saves {out['decode'] - out['decode_half']:4.2f} ms), detection on it "
          f"{out['detect_half']:5.2f} ms (saves {out['detect'] - out['detect_half']:4.2f} ms),"
          f" boxes x2 {half_boxes.tolist()} vs {boxes.tolist()}")
    return out


# --- the report --------------------------------------------------------------------------

HEADER = (f"  {'w x t':<9} {'req/s':>6} {'p50':>6} {'p90':>6} {'p99':>6} {'max':>6} {'errors':>6}"
          f" {'RSS MB before->after':>21} {'growth':>7} {'CPU ms/req':>10} "
          f"{'server/client/other CPU %':>26}")


def table_row(row: dict[str, Any]) -> str:
    return (f"  {row['config']:<9} {row['rps']:6.1f} {row['p50_ms']:6.1f} {row['p90_ms']:6.1f} "
            f"{row['p99_ms']:6.1f} {row['max_ms']:6.0f} {row['errors']:6d} "
            f"{row['rss_before_mb']:9.0f} -> {row['rss_after_mb']:6.0f} "
            f"{row['rss_growth_pct']:+6.1f}% {row['server_cpu_ms_per_request']:10.2f} "
            f"{row['server_cpu_pct']:12.0f} / {row['client_cpu_pct']:3.0f} / "
            f"{row['other_cpu_pct']:3.0f}")


def turns(args: argparse.Namespace) -> list[tuple[Path | None, str]]:
    """``(source, code)`` of the servers to measure for one configuration: this checkout's
    alone, or with ``--against`` this one's ("this") and the other's ("base"), ``--pairs``
    times, each pair in the other order than the one before (the machine's speed drifts
    over minutes)."""
    if not args.against:
        return [(None, "")]
    pair = [(args.against, "base"), (None, "this")]
    return [turn for i in range(args.pairs) for turn in (pair if i % 2 == 0 else pair[::-1])]


def against_summary(rows: list[dict[str, Any]]) -> str:
    """Means of this checkout's runs and the other's, and their ratio."""
    def mean(label: str, key: str) -> float:
        values = [row[key] for row in rows if row["code"] == label]
        return sum(values) / len(values)

    keys = ("rps", "p99_ms", "server_cpu_ms_per_request")
    this, base = ([mean(label, key) for key in keys] for label in ("this", "base"))
    return (f"  mean of {len(rows) // 2} pairs: this {this[0]:.1f} requests/s, p99 "
            f"{this[1]:.1f} ms, {this[2]:.2f} ms CPU per request; base {base[0]:.1f}, "
            f"{base[1]:.1f} ms, {base[2]:.2f} ms; this / base: requests/s {this[0] / base[0]:.3f},"
            f" CPU per request {this[2] / base[2]:.3f}")


def parse_configs(args: argparse.Namespace) -> list[tuple[int, int]]:
    if not args.configs:
        return [(args.workers, args.threads)]
    configs = []
    for item in args.configs.split(","):
        workers, _, threads = item.strip().partition("x")
        configs.append((int(workers), int(threads)))
    return configs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS,
                        help="gunicorn workers (default: serve's, min(4, CPUs)).")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                        help="Threads per worker (default: serve's).")
    parser.add_argument("--configs", default="",
                        help="Several configurations, e.g. 2x1,2x2,4x4 (workers x threads); "
                             "overrides --workers/--threads.")
    parser.add_argument("--concurrency", type=int, default=16, help="Client connections.")
    parser.add_argument("--rate", type=float, default=0.0,
                        help="Open loop: requests due at this mean rate per second (Poisson "
                             "arrivals) over the connections; default: closed loop.")
    parser.add_argument("--duration", type=float, default=30, help="Measured seconds.")
    parser.add_argument("--warmup", type=float, default=10,
                        help="Seconds of load before measuring (RSS settles in about 10 s).")
    parser.add_argument("--quality", type=int, default=92, help="JPEG quality of the snapshot.")
    parser.add_argument("--emotions-only", action="store_true",
                        help="recommend=false, as the live page asks (no films, no SQL).")
    parser.add_argument("--no-breakdown", action="store_true", help="Skip section (b).")
    parser.add_argument("--against", type=Path, metavar="SRC",
                        help="Another checkout's src folder (e.g. of `git worktree add "
                             "/tmp/base HEAD~1`): serve its code and this one's in turns, "
                             "and print the mean of each and their ratio.")
    parser.add_argument("--pairs", type=int, default=3, help="Turns of each with --against.")
    parser.add_argument("--json", action="store_true", help="Also print the results as JSON.")
    args = parser.parse_args()
    if args.against and not (args.against / "moodreel" / "__init__.py").is_file():
        parser.error(f"--against {args.against}: no moodreel package there (give a src folder)")

    cv2.setNumThreads(1)   # the in-process baseline; the server keeps its own settings
    jpeg = snapshot_jpeg(args.quality)
    fields = {"recommend": "false"} if args.emotions_only else {}
    body, content_type = multipart(jpeg, fields)
    headers = {"Content-Type": content_type, "Content-Length": str(len(body))}
    print(f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, OpenCV {cv2.__version__}; "
          f"load: {args.concurrency} keep-alive connections"
          f"{f', open loop at {args.rate:g} requests/s' if args.rate else ''}, "
          f"{args.warmup:g} s warm-up, "
          f"{args.duration:g} s measured, POST {PATH} "
          f"{'recommend=false' if args.emotions_only else 'with films'}, body {len(body):,} "
          f"bytes\n")
    baseline = baseline_section(jpeg)
    breakdown = {}
    if not args.no_breakdown:
        with tempfile.TemporaryDirectory(prefix="moodreel-web-load-") as tmp:
            breakdown = breakdown_section(jpeg, body, content_type, Path(tmp))

    print(f"\n(c) moodreel serve under load (ms; CPU % of {os.cpu_count()} CPUs)")
    print(HEADER)
    rows = []
    for workers, threads in parse_configs(args):
        for turn in turns(args):
            row = measure_config(workers, threads, body, headers, args, *turn)
            row["goals"] = goals(row)
            row["ratio_to_baseline"] = row["rps"] / baseline["rps_one_core"]
            rows.append(row)
            print(table_row(row), flush=True)
            if row["error_kinds"] or row["warmup_errors"]:
                print(f"         errors: {row['error_kinds']}; in the warm-up: "
                      f"{row['warmup_errors']}")
        if args.against:
            print(against_summary(rows[-2 * args.pairs:]))
    print(f"\n  first answer: {rows[0]['answer']}")
    if args.rate:
        print(f"  open loop: requests due at {args.rate:g}/s on average (Poisson), each timed "
              f"from when it was due; below the server's capacity the queue stays short")
    else:
        print(f"  closed loop: mean latency = {args.concurrency} connections / requests/s, so "
              f"p99 <= {GOAL_P99_MS:.0f} ms needs well over "
              f"{args.concurrency * 1000 / GOAL_P99_MS:.0f} requests/s at this concurrency")
    for row in rows:
        verdicts = ", ".join(f"{name} {'PASS' if met else 'MISS'}"
                             for name, met in row["goals"].items())
        print(f"  {row['config']:<9} {row['ratio_to_baseline']:4.2f}x the in-process "
              f"single-thread requests/s ({row['ratio_to_baseline'] / (os.cpu_count() or 1):.0%}"
              f" of {os.cpu_count()} cores' worth); CPU per request allows at most "
              f"{row['rps_cpu_bound']:.0f} requests/s with every CPU for the server; mean "
              f"latency per connection {row['connection_mean_ms'][0]:.0f}-"
              f"{row['connection_mean_ms'][1]:.0f} ms; {verdicts}")
    if len(rows) > 1:
        best = max(rows, key=lambda r: (sum(r["goals"].values()), r["rps"]))
        print(f"  best: {best['config']} ({best['rps']:.1f} requests/s, p99 "
              f"{best['p99_ms']:.1f} ms)")
    if args.json:
        print(json.dumps({"baseline": baseline, "breakdown_ms": breakdown, "runs": rows,
                          "concurrency": args.concurrency, "duration_s": args.duration,
                          "emotions_only": args.emotions_only, "cpus": os.cpu_count()}))


if __name__ == "__main__":
    main()
