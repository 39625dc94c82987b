"""The `suppressor` command: quickstart, serve, worker, keys, hooks, smtp-gateway, train, simulate, lift, evaluate."""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import UTC
from typing import Any

from suppressor.settings import Settings


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .app import create_app

    settings = Settings()
    workers = args.workers or settings.workers
    common: dict[str, Any] = dict(
        host=args.host or settings.host,
        port=args.port or settings.port,
        log_level=settings.log_level,
        access_log=settings.access_log,
    )
    if workers <= 1:
        uvicorn.run(create_app(settings), **common)
        return 0
    from suppressor.storage.store import Store

    from .metrics import share_across_workers

    share_across_workers(settings)  # before any worker imports prometheus_client
    # the embedded server starts once, here, and every worker attaches to it (a real Redis needs nothing)
    store = Store(settings) if not settings.redis_url else None
    try:
        # each worker process builds its own app (and its own caches, all keyed by tenant) from the environment
        uvicorn.run("suppressor.api.app:create_app", factory=True, workers=workers, **common)
    finally:
        if store is not None:
            store.close()
    return 0


def _worker(args: argparse.Namespace) -> int:
    from rq import Queue, Worker

    from suppressor.model import jobs
    from suppressor.storage.store import Store

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    store = Store(Settings())
    try:
        conn = jobs.queue_connection(store)  # blocks waiting for jobs: no socket timeout
        # each job in a process forked for it (LightFM loads there); the scheduler queues nightly retrains
        worker = Worker([Queue(jobs.QUEUE, connection=conn)], connection=conn)
        worker.work(burst=args.burst, with_scheduler=True, logging_level="WARNING")
    finally:
        store.close()
    return 0


def _bad_tenant(name: str) -> bool:
    """True (and said on stderr) when ``name`` cannot be a tenant."""
    from pydantic import TypeAdapter, ValidationError

    from suppressor.domain import TenantName

    try:
        TypeAdapter(TenantName).validate_python(name)
        return False
    except ValidationError:
        print(f"--tenant {name!r}: use 1-63 lowercase letters, digits, '-' or '_'", file=sys.stderr)
        return True


def _keys_create(args: argparse.Namespace) -> int:
    from suppressor.storage.store import BATCH_TIMEOUT, Store
    from suppressor.tenants import apikeys

    if _bad_tenant(args.tenant):
        return 2
    expires = None
    if args.expires:
        from suppressor.policy.document import parse_duration

        try:
            expires = parse_duration(args.expires)
        except ValueError as exc:
            print(f"--expires {args.expires!r}: {exc}", file=sys.stderr)
            return 2
    store = Store(Settings(), bulk_timeout=BATCH_TIMEOUT)
    try:
        key = apikeys.create_key(store, args.tenant, expires, args.scope)
        print(key)
        print(
            f"id {apikeys.key_id(key)}"
            + (f", expires in {args.expires}" if expires else "")
            + (", answers only GET /v1/decide and may travel in its URL (?key=)" if args.scope == "decide" else ""),
            file=sys.stderr,
        )
    finally:
        store.close()
    return 0


def _keys_list(args: argparse.Namespace) -> int:
    import json
    from datetime import datetime

    from suppressor.storage.store import BATCH_TIMEOUT, Store
    from suppressor.tenants import apikeys

    store = Store(Settings(), bulk_timeout=BATCH_TIMEOUT)
    try:
        rows = apikeys.list_keys(store, args.tenant)
    finally:
        store.close()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    when = lambda t: datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M") if t else "-"  # noqa: E731
    print(f"{'id':16} {'tenant':16} {'scope':7} {'created':17} {'last used':17} {'expires':17}")
    for r in rows:
        print(
            f"{r['id']:16} {r['tenant']:16} {r['scope']:7} {when(r['created']):17} {when(r['last_used']):17} "
            f"{when(r['expires']):17}{'  (expired)' if r['expired'] else ''}"
        )
    return 0


def _keys_limit(args: argparse.Namespace) -> int:
    from suppressor.storage.store import BATCH_TIMEOUT, Store
    from suppressor.tenants import limits

    if args.rate < 0 or (args.burst is not None and args.burst < 1 and args.rate > 0):
        print("--rate must be >= 0 (0 lifts the limit) and --burst >= 1", file=sys.stderr)
        return 2
    store = Store(Settings(), bulk_timeout=BATCH_TIMEOUT)
    try:
        limits.set_limit(store, args.tenant, args.rate, args.burst if args.burst is not None else max(1.0, args.rate))
    finally:
        store.close()
    print(
        f"tenant {args.tenant}: {args.rate:g} requests per second per key"
        if args.rate
        else f"tenant {args.tenant}: no limit",
        "(servers apply it within a second)",
    )
    return 0


def _keys_revoke(args: argparse.Namespace) -> int:
    from suppressor.storage.store import BATCH_TIMEOUT, Store
    from suppressor.tenants import apikeys

    store = Store(Settings(), bulk_timeout=BATCH_TIMEOUT)
    try:
        if not apikeys.revoke(store, args.key_id):
            print(f"no key {args.key_id!r} (see `suppressor keys list`)", file=sys.stderr)
            return 1
    finally:
        store.close()
    print(f"revoked {args.key_id}; every server refuses it within a second")
    return 0


def _hooks_create(args: argparse.Namespace) -> int:
    from suppressor.hooks import registry
    from suppressor.storage.store import BATCH_TIMEOUT, Store

    if _bad_tenant(args.tenant):
        return 2
    settings = Settings()
    base = (args.base_url or settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")
    store = Store(settings, bulk_timeout=BATCH_TIMEOUT)
    try:
        hook = registry.create(store, args.tenant, args.provider, args.secret)
    except ValueError as exc:
        print(f"--provider/--secret: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    print(registry.url(base, hook.provider, hook.id, hook.secret))
    if registry.PROVIDERS[hook.provider][1]:
        print(f"secret: {hook.secret}", file=sys.stderr)
    print(
        f"webhook {hook.id} for tenant {hook.tenant}: give this URL to {hook.provider} "
        f"({registry.PROVIDERS[hook.provider][0]})",
        file=sys.stderr,
    )
    return 0


def _hooks_list(args: argparse.Namespace) -> int:
    import json

    from suppressor.hooks import registry
    from suppressor.storage.store import BATCH_TIMEOUT, Store

    store = Store(Settings(), bulk_timeout=BATCH_TIMEOUT)
    try:
        rows = registry.listing(store, args.tenant)
    finally:
        store.close()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(
        f"{'id':26} {'provider':9} {'received':>9} {'accepted':>9} {'dupes':>6} {'unknown':>8} {'ignored':>8}  "
        "last unknown address"
    )
    for r in rows:
        print(
            f"{r['id']:26} {r['provider']:9} {r['received']:9} {r['accepted']:9} {r['duplicates']:6} "
            f"{r['unknown']:8} {r['ignored']:8}  {r['last_unknown'] or '-'}"
        )
    return 0


def _hooks_revoke(args: argparse.Namespace) -> int:
    from suppressor.errors import NotFound
    from suppressor.hooks import registry
    from suppressor.storage.store import BATCH_TIMEOUT, Store

    store = Store(Settings(), bulk_timeout=BATCH_TIMEOUT)
    try:
        registry.revoke(store, args.tenant, args.hook_id)
    except NotFound as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        store.close()
    print(f"revoked webhook {args.hook_id}: its URL answers 404 from now on")
    return 0


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")  # [::1]:2525
    if not host or not port.isdigit():
        raise ValueError(f"{text!r} is not host:port")
    return host, int(port)


def _smtp_gateway(args: argparse.Namespace) -> int:
    import signal
    import threading

    from suppressor.domain import Kind
    from suppressor.storage.store import Store

    from .smtp.gateway import run

    if _bad_tenant(args.tenant):
        return 2
    try:
        listen, relay = _host_port(args.listen), _host_port(args.relay)
        Kind(args.kind)
    except ValueError as exc:
        print(f"--listen/--relay/--kind: {exc}", file=sys.stderr)
        return 2
    settings = Settings()
    store = Store(settings)
    store.watch()
    try:
        running = run(store, args.tenant, listen, relay, args.kind, args.unknown, settings.model_refresh_seconds)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        store.close()
        return 2
    unknown = args.unknown or settings.smtp_unknown
    print(
        f"smtp gateway for tenant {args.tenant} on {listen[0]}:{listen[1]}, relaying to {relay[0]}:{relay[1]}; "
        f"recipients no profile lists: {unknown}",
        file=sys.stderr,
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    running.stop()
    store.close()
    return 0


def _evaluate_hillstrom(args: argparse.Namespace) -> int:
    from pathlib import Path

    from suppressor.training.hillstrom import main as hillstrom

    path = Path(args.data)
    if path.is_dir():
        path = path / "hillstrom.csv"
    if not path.exists():
        print(f"--data {args.data}: no such file (give the Hillstrom CSV or its folder)", file=sys.stderr)
        return 2
    return hillstrom(path, args.seed, args.json)


def _changes(args: argparse.Namespace) -> dict | None:
    """--set a.b=v (repeatable) and --changes JSON as one PATCH-style dict."""
    import json

    from suppressor.policy.document import merge

    out: dict = json.loads(args.changes) if args.changes else {}
    for item in args.set or []:
        path, sep, raw = item.partition("=")
        if not sep:
            raise SystemExit(f"--set {item!r}: use name=value, e.g. relevance_threshold=0.12")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw  # durations like 7d, channel names
        node: dict = value
        for part in reversed(path.split(".")):
            node = {part: node}
        out = merge(out, node)
    return out or None


def _simulate(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from pydantic import ValidationError

    from suppressor.errors import Refused
    from suppressor.policy import document as policies
    from suppressor.storage.store import BATCH_TIMEOUT, Store
    from suppressor.whatif import reports
    from suppressor.whatif.questions import TradeoffRequest, Window, check_sweep

    from . import report

    try:
        window = Window(since=args.since, until=args.until, max_decisions=args.max_decisions)
        values = None
        if args.sweep and args.values:  # checked as the API checks them
            values = TradeoffRequest(param=args.sweep, values=args.values.split(",")).values
            check_sweep(args.sweep, values or [])
    except ValidationError as exc:
        print(f"--since/--until/--max-decisions/--values: {exc.errors()[0]['msg']}", file=sys.stderr)
        return 2
    except Refused as exc:
        print(f"--values: {'; '.join(why for _, why in exc.errors)}", file=sys.stderr)
        return 2
    store = Store(Settings(), bulk_timeout=BATCH_TIMEOUT)
    try:
        try:  # a bad candidate fails before the log is loaded
            whole = policies.Policy.model_validate_json(Path(args.policy).read_text()) if args.policy else None
            saved = policies.get(store, args.tenant)
            candidate = policies.candidate(saved, whole, _changes(args))
        except ValidationError as exc:
            e = exc.errors()[0]
            print(f"{'.'.join(map(str, e['loc']))}: {e['msg']}", file=sys.stderr)
            return 2
        # a sweep varies the candidate; a simulation compares it with the saved policy
        prepared = reports.prepare(store, args.tenant, current=candidate if args.sweep else saved, **window.load())
        if args.sweep:
            curve = reports.tradeoff(store, args.tenant, args.sweep, values, prepared)
            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            csv_path = report.write_csv(curve, out / f"tradeoff-{args.sweep}.csv")
            png_path = report.write_png(curve, out / f"tradeoff-{args.sweep}.png")
            if args.json:
                print(json.dumps(curve, indent=2))
            else:
                _print_curve(curve)
                print(f"\nwrote {csv_path} and {png_path}")
            return 0
        result = reports.simulate(store, args.tenant, candidate, prepared)
        print(json.dumps(result, indent=2) if args.json else _text_report(result))
        return 0
    finally:
        store.close()


def _print_curve(curve: dict) -> None:
    print(
        f"{curve['param']} sweep over {curve['decisions']} logged decisions of {curve['customers']} customers "
        f"(policy v{curve['policy_version']}, model {curve['model_version']}); % of the current policy"
    )
    print(f"{'value':>8} {'sends':>8} {'engagement':>11} {'unsubscribes':>13} {'complaints':>11}")
    for p in curve["points"]:
        mark = "  <- current" if p["current"] else ""
        fmt = lambda x: "–" if x is None else f"{x:.1f}%"  # noqa: E731
        print(
            f"{p['value']:8.4g} {fmt(p['sends_pct']):>8} {fmt(p['engagement_pct']):>11} "
            f"{fmt(p['unsubscribes_pct']):>13} {p['complaints']:11.1f}{mark}"
        )
    for target, p in curve["picks"].items():
        print(
            f"keep {target} of engagement: {curve['param']} {p['value']:.4g} -> {p['sends_pct']}% of sends, "
            f"{p['unsubscribes_pct']}% of unsubscribes"
        )


def _text_report(r: dict) -> str:
    cur, cand, ch = r["current"], r["candidate"], r["change"]
    lines = [
        f"{r['decisions']} logged decisions of {r['customers']} customers replayed "
        f"({r['window']['from']} .. {r['window']['to']}), model {r['model_version']}",
        f"the current policy (v{cur['policy_version']}) reproduces {r['agreement_with_log_pct']}% of the logged verdicts",
        "",
        f"{'':28}{'current':>10}{'candidate':>11}",
    ]
    rows = [
        ("sends", cur["sends"], cand["sends"]),
        ("expected engagement", cur["engagement"], cand["engagement"]),
        ("expected unsubscribes", cur["unsubscribes"], cand["unsubscribes"]),
        ("expected complaints", cur["complaints"], cand["complaints"]),
        ("sales share of sends", cur["mix"]["sales_share"], cand["mix"]["sales_share"]),
    ]
    rows += [(f"{a}", cur["actions"][a], cand["actions"][a]) for a in ("send", "reroute", "defer", "suppress")]
    for verdict in ("suppressed", "deferred"):
        by = f"{verdict}_by"
        for code in sorted(set(cur[by]) | set(cand[by])):
            rows.append((f"  {verdict} by {code}", cur[by].get(code, 0), cand[by].get(code, 0)))
    lines += [f"{name:28}{a:>10}{b:>11}" for name, a, b in rows]
    lines += [
        "",
        f"sends {ch['sends_pct']}% of current, engagement kept {ch['engagement_kept_pct']}%, "
        f"unsubscribes avoided {ch['unsubscribes_avoided']}, complaints avoided {ch['complaints_avoided']}, "
        f"{ch['decisions_changed']} decisions change",
    ]
    iv = ch.get("intervals") or {}
    if iv:
        span = lambda name: "n/a" if not iv.get(name) else f"{iv[name][0]} to {iv[name][1]}"  # noqa: E731
        lines.append(
            f"95% intervals (customers resampled): sends {span('sends_pct')}%, engagement "
            f"{span('engagement_pct')}%, unsubscribes avoided {span('unsubscribes_avoided')}"
        )
    return "\n".join(lines)


def _lift(args: argparse.Namespace) -> int:
    import json

    from suppressor.storage.store import BATCH_TIMEOUT, Store
    from suppressor.whatif import lift

    store = Store(Settings(), bulk_timeout=BATCH_TIMEOUT)
    try:
        r = lift.lift(store, args.tenant, args.bucket_days)
    finally:
        store.close()
    if args.json or not r["overall"]:
        print(json.dumps(r, indent=2))
        return 0
    print(
        f"holdout {r['holdout_fraction']:.0%}: {r['customers']['governed']} governed vs "
        f"{r['customers']['holdout']} holdout customers ({r['window']['from'][:10]} .. {r['window']['to'][:10]})"
    )
    blocks = [("all", r["overall"])] + [(b["from"][:10], b) for b in r["buckets"]]
    for label, b in blocks:
        for outcome in ("engaged", "unsubscribed", "complained"):
            g, h, d = b["governed"][outcome], b["holdout"][outcome], b["difference"][outcome]
            print(
                f"{label:10} {outcome:13} governed {g['rate']:7.2%} [{g['low']:.2%}, {g['high']:.2%}]  "
                f"holdout {h['rate']:7.2%} [{h['low']:.2%}, {h['high']:.2%}]  "
                f"difference {d['diff'] * 100:+.2f} pts [{d['low'] * 100:+.2f}, {d['high'] * 100:+.2f}]"
            )
    return 0


def _quickstart(args: argparse.Namespace) -> int:
    from .quickstart import run

    return run(customers=args.customers, weeks=args.weeks, serve=not args.no_serve, port=args.port, seed=args.seed)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["train"]:  # imported only here: LightFM stays out of `serve`
        from suppressor.training.__main__ import main as train_main

        return train_main(argv[1:], prog="suppressor train")
    p = argparse.ArgumentParser(prog="suppressor", description="Pre-send suppression for marketing messages.")
    sub = p.add_subparsers(dest="command", required=True)

    q = sub.add_parser("quickstart", help="demo dealership end to end on the embedded Redis, then serve")
    q.add_argument("--customers", type=int, default=3000)
    q.add_argument("--weeks", type=int, default=16)
    q.add_argument("--seed", type=int, default=42)
    q.add_argument("--port", type=int, default=8080)
    q.add_argument("--no-serve", action="store_true", help="exit after printing the results")
    q.set_defaults(func=_quickstart)

    s = sub.add_parser("serve", help="run the HTTP API (embedded Redis unless REDIS_URL is set)")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument(
        "--workers",
        type=int,
        help="server processes on the one port (default SUPPRESSOR_WORKERS, 1); about one per core",
    )
    s.set_defaults(func=_serve)

    w = sub.add_parser(
        "worker",
        help="run training jobs from the queue (SUPPRESSOR_TRAINING_RUNNER=queue) and queue the nightly retrains",
    )
    w.add_argument("--burst", action="store_true", help="exit once the queue is empty")
    w.set_defaults(func=_worker)

    k = sub.add_parser("keys", help="API keys")
    ksub = k.add_subparsers(dest="keys_command", required=True)
    kc = ksub.add_parser("create", help="print a new API key for a tenant")
    kc.add_argument("--tenant", required=True)
    kc.add_argument("--expires", help="the key stops working after this long, e.g. 90d")
    kc.add_argument(
        "--scope",
        default="all",
        choices=("all", "decide"),
        help="decide: only GET /v1/decide, and the key may travel in its URL (SFMC AMPscript)",
    )
    kc.set_defaults(func=_keys_create)
    kl = ksub.add_parser("list", help="key ids, tenant, created, last used, expiry (never the secret)")
    kl.add_argument("--tenant")
    kl.add_argument("--json", action="store_true")
    kl.set_defaults(func=_keys_list)
    km = ksub.add_parser("limit", help="a tenant's per-key rate limit (requests per second, burst)")
    km.add_argument("--tenant", required=True)
    km.add_argument("--rate", type=float, required=True, help="requests per second per key; 0 lifts the limit")
    km.add_argument("--burst", type=float, help="bucket size (default: the rate)")
    km.set_defaults(func=_keys_limit)
    kr = ksub.add_parser("revoke", help="revoke a key by its id (from `keys list`)")
    kr.add_argument("key_id")
    kr.set_defaults(func=_keys_revoke)

    h = sub.add_parser(
        "hooks", help="provider webhooks (SendGrid, Mailgun, Postmark, SES, Twilio, Braze, Iterable, Mautic)"
    )
    hsub = h.add_subparsers(dest="hooks_command", required=True)
    hc = hsub.add_parser("create", help="print the URL to give a provider; stores its secret")
    hc.add_argument("--tenant", required=True)
    hc.add_argument(
        "--provider",
        required=True,
        choices=("sendgrid", "mailgun", "postmark", "ses", "twilio", "braze", "iterable", "mautic"),
    )
    hc.add_argument("--secret", help="the provider's key or token (see README, Integrations)")
    hc.add_argument("--base-url", help="where providers reach this service (default SUPPRESSOR_PUBLIC_URL)")
    hc.set_defaults(func=_hooks_create)
    hl = hsub.add_parser("list", help="a tenant's webhooks and what each received (never the secret)")
    hl.add_argument("--tenant", required=True)
    hl.add_argument("--json", action="store_true")
    hl.set_defaults(func=_hooks_list)
    hr = hsub.add_parser("revoke", help="delete a webhook: its URL answers 404")
    hr.add_argument("--tenant", required=True)
    hr.add_argument("hook_id")
    hr.set_defaults(func=_hooks_revoke)

    g = sub.add_parser("smtp-gateway", help="an SMTP relay that asks for a verdict per recipient")
    g.add_argument("--tenant", required=True)
    g.add_argument(
        "--listen",
        default="127.0.0.1:2525",
        help="host:port to accept mail on; beyond loopback it needs SUPPRESSOR_SMTP_CLIENTS or SMTP AUTH",
    )
    g.add_argument("--relay", required=True, help="host:port of the SMTP server that sends (Postfix, Postal, ...)")
    g.add_argument("--kind", default="sales", help="kind of a message without X-Suppressor-Kind (default sales)")
    g.add_argument(
        "--unknown",
        default=None,
        choices=("drop", "relay"),
        help="a recipient no profile lists: drop it (the default, SUPPRESSOR_SMTP_UNKNOWN) or relay it ungoverned",
    )
    g.set_defaults(func=_smtp_gateway)

    # listed for --help only: main() hands `train ...` to training's own parser, one definition
    sub.add_parser("train", add_help=False, help="train and activate a new model for a tenant (see train --help)")

    si = sub.add_parser("simulate", help="replay logged decisions under a candidate policy, or sweep a knob")
    si.add_argument("--tenant", required=True)
    si.add_argument(
        "--set",
        action="append",
        metavar="NAME=VALUE",
        help="change one policy field, e.g. relevance_threshold=0.12 or balance.max_sales_share=0.5",
    )
    si.add_argument("--changes", help="policy changes as JSON (as for PATCH /v1/policy)")
    si.add_argument("--policy", help="a whole candidate policy, as a JSON file (as for PUT /v1/policy)")
    si.add_argument(
        "--sweep", choices=("relevance_threshold", "cap_scale"), help="draw the trade-off curve of one knob"
    )
    si.add_argument("--values", help="comma-separated sweep points (default: score deciles / cap multipliers)")
    si.add_argument("--out", default=".", help="folder for the sweep's CSV and PNG")
    si.add_argument("--since", help="ISO time or a duration like 14d (that long ago)")
    si.add_argument("--until")
    si.add_argument("--max-decisions", type=int, default=50_000)
    si.add_argument("--json", action="store_true")
    si.set_defaults(func=_simulate)

    li = sub.add_parser("lift", help="holdout lift: governed vs holdout customers, with intervals, over time")
    li.add_argument("--tenant", required=True)
    li.add_argument("--bucket-days", type=float, default=7.0)
    li.add_argument("--json", action="store_true")
    li.set_defaults(func=_lift)

    e = sub.add_parser("evaluate", help="measure the model on a real dataset")
    esub = e.add_subparsers(dest="dataset", required=True)
    eh = esub.add_parser(
        "hillstrom", help="the Hillstrom e-mail campaign (randomized; 64,000 customers): response and uplift"
    )
    eh.add_argument("--data", required=True, help="hillstrom.csv or the folder holding it")
    eh.add_argument("--seed", type=int, default=7)
    eh.add_argument("--json", action="store_true")
    eh.set_defaults(func=_evaluate_hillstrom)

    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except Exception as exc:
        from suppressor.storage.store import out_of_memory

        if not out_of_memory(exc):
            raise
        print(
            "suppressor: the store is full (its maxmemory is reached); nothing was stored: make room "
            "(raise maxmemory, or erase what is no longer needed) and try again",
            file=sys.stderr,
        )
        return 75  # EX_TEMPFAIL


if __name__ == "__main__":
    sys.exit(main())
