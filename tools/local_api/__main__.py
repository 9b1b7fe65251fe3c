"""`python -m local_api`: `sam local start-api` without Docker, with its flags for host, port, template and values
(and --max-workers, the worker processes per function, and --access-log, the file of one JSON line per request)."""

from __future__ import annotations

import logging
import sys
from typing import Any

import click
from samcli.commands._utils.options import parameter_override_click_option

from local_api.pool import DEFAULT_MAX_WORKERS
from local_api.server import serve


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--host", default="127.0.0.1", show_default=True, help="Local hostname or IP address to bind to.")
@click.option("--port", "-p", type=int, default=3000, show_default=True, help="Local port (0: any free port).")
@click.option(
    "--template",
    "--template-file",
    "-t",
    type=click.Path(exists=True, dir_okay=False),
    default="template.yaml",
    show_default=True,
    help="AWS SAM template file.",
)
@click.option(
    "--env-vars",
    "-n",
    type=click.Path(exists=True, dir_okay=False),
    help="JSON file with values for the functions' environment variables (SAM's format).",
)
@parameter_override_click_option()
@click.option(
    "--max-workers",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_WORKERS,
    show_default=True,
    envvar="LOCAL_API_MAX_WORKERS",
    help="Worker processes per function: requests beyond that wait for one (Lambda would scale or throttle).",
)
@click.option(
    "--access-log",
    type=click.Path(dir_okay=False),
    help="Append one JSON line per request to this file (the template's AccessLogSetting.Format); none: no file.",
)
@click.option("--debug", is_flag=True, help="Log SAM CLI's emulator at DEBUG level too.")
def main(
    host: str,
    port: int,
    template: str,
    env_vars: str | None,
    parameter_overrides: Any,
    max_workers: int,
    access_log: str | None,
    debug: bool,
) -> None:
    """Serve the template's API with its Lambda handlers run in worker processes, concurrently."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    # SAM CLI's own INFO lines are container chatter here; werkzeug's access log would show query strings.
    logging.getLogger("samcli").setLevel(logging.DEBUG if debug else logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    try:
        overrides = dict(parameter_overrides or {})
        serve(
            template,
            host=host,
            port=port,
            env_vars=env_vars,
            parameter_overrides=overrides,
            max_workers=max_workers,
            access_log=access_log,
        )
    except (OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None


if __name__ == "__main__":
    main()
