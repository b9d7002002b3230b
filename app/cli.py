"""The command line: ``wirelens serve`` and termshark-style ``wirelens -r FILE [FILTER]``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from urllib.parse import quote

from app import __version__
from app.settings import Settings


def _server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    parser.add_argument("--data-dir", default=None,
                        help="where captures and the library database live (default ./wirelens-data)")


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings(host=args.host, port=args.port)
    if args.data_dir:
        settings.data_dir = Path(args.data_dir)
    return settings


def serve(settings: Settings, banner: list[str] | None = None) -> None:
    import uvicorn  # noqa: PLC0415 - only the server needs it

    from app.main import create_app  # noqa: PLC0415

    app = create_app(settings)
    base = f"http://{settings.host if settings.host not in ('0.0.0.0', '::') else '127.0.0.1'}:{settings.port}"
    print(f"Wirelens {__version__} serving {settings.data_dir.resolve()} at {base}/", flush=True)
    for line in banner or []:
        print(line.replace("{base}", base), flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")


def open_file(settings: Settings, path: Path, display_filter: str | None) -> str:
    """Add ``path`` to the library and return the capture page's path (with the filter)."""
    from app.core.library import Library  # noqa: PLC0415

    library = Library(settings.data_dir, max_upload_bytes=settings.max_upload_bytes)
    record = library.add_file(path, path.name, move=False)
    url = f"/captures/{record.id}"
    if display_filter:
        url += "?filter=" + quote(display_filter, safe="")
    return url


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "serve":
        parser = argparse.ArgumentParser(prog="wirelens serve", description="Start the Wirelens server.")
        _server_options(parser)
        args = parser.parse_args(argv[1:])
        serve(_settings(args))
        return 0
    parser = argparse.ArgumentParser(
        prog="wirelens",
        description="A packet viewer in the browser. `wirelens serve` starts the server; "
                    "`wirelens -r FILE [DISPLAY_FILTER]` opens a capture file.",
    )
    parser.add_argument("-r", dest="read", metavar="FILE", help="open this capture file")
    parser.add_argument("display_filter", nargs="*", help="display filter to apply (with -r)")
    parser.add_argument("--version", action="version", version=f"wirelens {__version__}")
    _server_options(parser)
    args = parser.parse_args(argv)
    settings = _settings(args)
    if args.read:
        path = Path(args.read)
        if not path.is_file():
            parser.error(f"{args.read}: no such file")
        try:
            page = open_file(settings, path, " ".join(args.display_filter) or None)
        except Exception as exc:  # a bad file is reported like the page would, then we stop
            message = getattr(exc, "message", str(exc))
            print(f"wirelens: {path}: {message}", file=sys.stderr)
            return 2
        serve(settings, banner=[f"Open {{base}}{page}"])
        return 0
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
