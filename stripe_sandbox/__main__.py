"""`python -m stripe_sandbox --host 127.0.0.1 --port 12111`: serve the sandbox (threaded)."""

from __future__ import annotations

import argparse
import logging

from werkzeug.serving import make_server

from . import create_app


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m stripe_sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument(
        "--public-url", help="base URL shoppers and webhooks see (default http://HOST:PORT)"
    )
    parser.add_argument(
        "--state",
        metavar="FILE",
        help="keep state in this JSON file across restarts (default: memory only)",
    )
    parser.add_argument(
        "--connect-webhook",
        metavar="URL",
        help="register a live Connect webhook endpoint for URL at start-up",
    )
    parser.add_argument(
        "--connect-webhook-secret",
        metavar="WHSEC",
        help="its signing secret (default: a new random one, printed)",
    )
    parser.add_argument(
        "--latency-ms",
        type=int,
        default=0,
        metavar="N",
        help="answer each /v1/ API call N ms late, like Stripe over the network "
        "(100-200 ms); pages and webhooks are not delayed (default 0)",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no line per request (errors are still logged)"
    )
    args = parser.parse_args(argv)
    if args.latency_ms < 0:
        parser.error("--latency-ms: a number of milliseconds, 0 or more")
    return args


def app_config(args: argparse.Namespace) -> dict:
    """The sandbox app's settings the command line sets."""
    return {
        "STATE_FILE": args.state,
        "CONNECT_WEBHOOK_URL": args.connect_webhook,
        "CONNECT_WEBHOOK_SECRET": args.connect_webhook_secret,
        "API_LATENCY_MS": args.latency_ms,
    }


def main(argv: list[str] | None = None) -> None:
    """Serve until interrupted; prints where to reach the sandbox and which keys to use."""
    args = parse_args(argv)
    app = create_app(app_config(args))
    server = make_server(args.host, args.port, app, threaded=True)
    if args.quiet:  # werkzeug logs each request at INFO: a load test would mostly write logs
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # Known only after binding when --port 0 asks for a free port.
    public_url = args.public_url or f"http://{args.host}:{server.server_port}"
    app.config["PUBLIC_URL"] = public_url
    sandbox = app.extensions["sandbox"]
    _print_banner(app.config, public_url, sandbox)
    sandbox.ensure_ticker()  # expiry and state saving run even before the first request
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        sandbox.stop()


def _print_banner(config, public_url: str, sandbox) -> None:
    lines = [
        f"Stripe sandbox listening on {public_url}",
        f"  platform key (live): {config['PLATFORM_SECRET_KEY']}",
        f"  platform key (test): {config['PLATFORM_TEST_SECRET_KEY']}",
        f"  Connect client id:   {config['CLIENT_ID']}",
    ]
    if config["API_LATENCY_MS"]:
        lines.append(f"  API calls answered:  {config['API_LATENCY_MS']} ms late")
    if config["STATE_FILE"]:
        lines.append(f"  state kept in:       {config['STATE_FILE']}")
    for endpoint in sandbox.store.all("webhook_endpoint", sandbox.store.platform_id):
        if endpoint.extra["connect"]:
            lines.append(
                f"  Connect webhooks to: {endpoint.obj['url']} (secret {endpoint.extra['secret']})"
            )
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
