"""Serve the pyramid_site recipe: ``python -m recipes.pyramid_site --port N``.

Loads ``production.ini`` (or ``--config FILE``) with PasteDeploy, sets up
logging from its ``[loggers]`` sections, and serves the ``main`` pipeline
with waitress on 127.0.0.1 until Ctrl-C. See the package's docstring.
"""

from __future__ import annotations

import argparse
import logging.config
from collections.abc import Sequence
from pathlib import Path

import waitress  # type: ignore[import-untyped]
from paste.deploy import loadapp

INI = Path(__file__).resolve().parent / "production.ini"


def run(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m recipes.pyramid_site",
        description="Serve a Pyramid site behind wsgimw's PasteDeploy filters.",
    )
    parser.add_argument("--port", type=int, default=6543, help="default: 6543")
    parser.add_argument(
        "--config", type=Path, default=INI, help="the .ini file (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    config = args.config.resolve()
    if not config.is_file():
        parser.error(f"no such .ini file: {config}")
    # As pserve does: %(here)s and %(__file__)s work in the logging sections.
    logging.config.fileConfig(
        config,
        {"here": str(config.parent), "__file__": str(config)},
        disable_existing_loggers=False,
    )
    application = loadapp(f"config:{config}")
    url = f"http://127.0.0.1:{args.port}"
    print(f"Serving {config.name} on {url}/ (Ctrl-C to stop). Try:")
    print(f"    curl --compressed -i {url}/")
    print(f"    curl '{url}/search?q=wsgi&q=pyramid'")
    print(f"    curl -i {url}/boom")
    print(f"    curl -u demo:wsgimw-demo {url}/admin/", flush=True)
    waitress.serve(application, host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    run()
