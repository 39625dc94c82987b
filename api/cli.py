"""The `suppressor` command: quickstart, serve, keys create, train, evaluate."""

from __future__ import annotations

import argparse
import logging
import sys

from suppressor.settings import Settings


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .app import create_app

    settings = Settings()
    uvicorn.run(create_app(settings), host=args.host or settings.host, port=args.port or settings.port,
                log_level=settings.log_level, access_log=settings.access_log)
    return 0


def _keys_create(args: argparse.Namespace) -> int:
    from suppressor import tenants
    from suppressor.domain import TenantName
    from suppressor.store import Store
    from pydantic import TypeAdapter, ValidationError

    try:
        TypeAdapter(TenantName).validate_python(args.tenant)
    except ValidationError:
        print(f"--tenant {args.tenant!r}: use 1-63 lowercase letters, digits, '-' or '_'", file=sys.stderr)
        return 2
    store = Store(Settings())
    try:
        print(tenants.create_key(store, args.tenant))
    finally:
        store.close()
    return 0


def _evaluate_hillstrom(args: argparse.Namespace) -> int:
    from pathlib import Path

    from training.hillstrom import main as hillstrom

    path = Path(args.data)
    if path.is_dir():
        path = path / "hillstrom.csv"
    if not path.exists():
        print(f"--data {args.data}: no such file (give the Hillstrom CSV or its folder)", file=sys.stderr)
        return 2
    return hillstrom(path, args.seed, args.json)


def _quickstart(args: argparse.Namespace) -> int:
    from .quickstart import run

    return run(customers=args.customers, weeks=args.weeks, serve=not args.no_serve, port=args.port, seed=args.seed)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["train"]:  # imported only here: LightFM stays out of `serve`
        from training.__main__ import main as train_main

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
    s.set_defaults(func=_serve)

    k = sub.add_parser("keys", help="API keys")
    ksub = k.add_subparsers(dest="keys_command", required=True)
    kc = ksub.add_parser("create", help="print a new API key for a tenant")
    kc.add_argument("--tenant", required=True)
    kc.set_defaults(func=_keys_create)

    # listed for --help only: main() hands `train ...` to training's own parser, one definition
    sub.add_parser("train", add_help=False, help="train and activate a new model for a tenant (see train --help)")

    e = sub.add_parser("evaluate", help="measure the model on a real dataset")
    esub = e.add_subparsers(dest="dataset", required=True)
    eh = esub.add_parser("hillstrom", help="the Hillstrom e-mail campaign (randomized; 64,000 customers)")
    eh.add_argument("--data", required=True, help="hillstrom.csv or the folder holding it")
    eh.add_argument("--seed", type=int, default=7)
    eh.add_argument("--json", action="store_true")
    eh.set_defaults(func=_evaluate_hillstrom)

    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
