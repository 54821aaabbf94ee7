"""``python -m bsin_dev.emulator --data DIR --port N``: serve a data directory until interrupted."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading

from bsin.core.paths import SAMPLE_DIR
from bsin.ingest.quota import GOOGLE_QUOTAS
from bsin_dev.emulator.server import start_emulator
from bsin_dev.emulator.store import DEFAULT_CACHE_BYTES


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m bsin_dev.emulator", description=__doc__)
    parser.add_argument(
        "--data", default=str(SAMPLE_DIR), help="data directory (forms/, responses/)"
    )
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--faults", help="JSON list of faults to arm at start (see bsin_dev.emulator.faults)"
    )
    parser.add_argument(
        "--quotas",
        choices=("google", "off"),
        default="google",
        help="answer 429 past Google's per-minute read quotas (default) or never",
    )
    parser.add_argument(
        "--quota-scale",
        type=float,
        default=1.0,
        help="window and limits times this, same rate (0.1: 18 lists per 6 s per user)",
    )
    parser.add_argument(
        "--page-cap", type=int, help="at most this many responses per page (small pages)"
    )
    parser.add_argument(
        "--cache-mb",
        type=int,
        default=DEFAULT_CACHE_BYTES // 2**20,
        help="parsed response files kept in memory, MB (an evicted file is parsed again)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    try:
        if args.quota_scale <= 0 or (args.page_cap is not None and args.page_cap < 1):
            raise ValueError("--quota-scale must be > 0 and --page-cap >= 1")
        if args.cache_mb < 1:
            raise ValueError("--cache-mb must be >= 1")
        quotas = GOOGLE_QUOTAS.scaled(args.quota_scale) if args.quotas == "google" else None
        handle = start_emulator(
            args.data,
            port=args.port,
            host=args.host,
            quotas=quotas,
            page_cap=args.page_cap,
            cache_bytes=args.cache_mb * 2**20,
        )
    except (OSError, ValueError) as exc:
        print(f"error: cannot start the emulator: {exc}", file=sys.stderr)
        return 2
    if args.faults:
        try:
            handle.set_faults(json.loads(args.faults))
        except ValueError as exc:
            handle.stop()
            print(f"error: --faults: {exc}", file=sys.stderr)
            return 2
    done = threading.Event()
    # Before the URL is out: a parent that reads it may stop the emulator at once, and a
    # SIGTERM before this line killed it with -15 instead of a clean stop.
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    # Printed on stdout (and flushed) so a parent process can read the URL when port=0.
    print(handle.url, flush=True)
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    handle.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
