"""The command line: ``wirelens serve``, termshark-style ``wirelens -r FILE [FILTER]`` and
``wirelens demo-server`` (a ping server to capture)."""
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


def _access_banner(access, lines: list[str]) -> list[str]:
    """The lines to print, with the token in the URLs when it was generated (as Jupyter does)."""
    if not access.required:
        return lines
    lines = lines or ["Open {base}/"]
    if not access.generated:
        return [*lines, "The access token is the value of WIRELENS_TOKEN."]
    out = []
    for line in lines:
        if line.startswith("Open "):
            sep = "&" if "?" in line else "?"
            line = f"{line}{sep}token={quote(access.token, safe='')}"
        out.append(line)
    return out


def serve(settings: Settings, banner: list[str] | None = None, app=None) -> None:
    import uvicorn  # noqa: PLC0415 - only the server needs it

    from app.main import create_app  # noqa: PLC0415

    app = app or create_app(settings)
    base = f"http://{settings.host if settings.host not in ('0.0.0.0', '::') else '127.0.0.1'}:{settings.port}"
    print(f"Wirelens {__version__} serving {settings.data_dir.resolve()} at {base}/", flush=True)
    for line in _access_banner(app.state.access, banner or []):
        print(line.replace("{base}", base), flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")


def port_problem(settings: Settings) -> str | None:
    """Why the server could not listen where asked (None: it can). Checked before a capture
    is added or started, so a taken port leaves nothing half-done in the library."""
    import socket  # noqa: PLC0415

    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((settings.host, settings.port))
    except OSError as exc:
        return (f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}. "
                "Is another server running there? Stop it, or choose another port with --port.")
    return None


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
    if argv and argv[0] == "demo-server":
        from app.demo import main as demo_main  # noqa: PLC0415 - stdlib only, no web stack

        return demo_main(argv[1:])
    if argv and argv[0] == "serve":
        parser = argparse.ArgumentParser(prog="wirelens serve", description="Start the Wirelens server.")
        _server_options(parser)
        args = parser.parse_args(argv[1:])
        settings = _settings(args)
        problem = port_problem(settings)
        if problem:
            print(f"wirelens: {problem}", file=sys.stderr)
            return 2
        serve(settings)
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
    _live_options(parser)
    args = parser.parse_args(argv)
    settings = _settings(args)
    if args.list_interfaces:
        return print_interfaces()
    if args.interface or args.read:
        problem = port_problem(settings)
        if problem:
            print(f"wirelens: {problem}", file=sys.stderr)
            return 2
    if args.interface:
        if args.read:
            parser.error("-r and -i cannot be used together")
        return live_capture(settings, args.interface, args.capture_filter, args.write)
    if args.capture_filter or args.write:
        parser.error("-f and -w need -i INTERFACE")
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


# -- live capture (termshark's -D, -i, -f, -w) ---------------------------------------------------

def _live_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-D", dest="list_interfaces", action="store_true",
                        help="list the interfaces live capture can use, then exit")
    parser.add_argument("-i", dest="interface", metavar="IFACE",
                        help="capture on this interface (lo, eth0, any ...) and open the capture")
    parser.add_argument("-f", dest="capture_filter", metavar="CAPTURE_FILTER",
                        help="capture filter in tcpdump syntax, with -i (e.g. 'tcp port 8080')")
    parser.add_argument("-w", dest="write", metavar="FILE",
                        help="with -i, also write the captured packets to FILE (pcap) at the end")


def print_interfaces() -> int:
    """``wirelens -D``: the interfaces, numbered, as ``dumpcap -D`` (and so ``termshark -D``) prints them."""
    from app.live import interfaces, privileges  # noqa: PLC0415

    for number, iface in enumerate(interfaces.list_interfaces(), 1):
        print(f"{number}. {iface.name}" + (f" ({iface.description})" if iface.description else ""))
    rights = privileges.check()
    if not rights.can_capture:
        print(f"wirelens: {rights.message}", file=sys.stderr)
    return 0


def live_capture(settings: Settings, interface: str, capture_filter: str | None, write: str | None) -> int:
    """``wirelens -i IFACE [-f FILTER] [-w FILE]``: serve with a capture running until Ctrl-C."""
    import shutil  # noqa: PLC0415

    from app.core.errors import WirelensError  # noqa: PLC0415
    from app.main import create_app  # noqa: PLC0415

    app = create_app(settings)
    live = app.state.live
    try:
        record = live.start(interface, capture_filter)
    except WirelensError as exc:
        print(f"wirelens: {exc.message}", file=sys.stderr)
        return 2
    what = f"Capturing on {interface}" + (f" with capture filter {capture_filter!r}" if capture_filter else "")
    try:
        serve(settings, banner=[f"{what}; Ctrl-C stops the capture and keeps it in the library.",
                                f"Open {{base}}/captures/{record.id}"], app=app)
    finally:
        live.shutdown()  # the server's shutdown did it already, unless it never started
    final = live.library.get(record.id)
    print(f"Captured {final.packets} packets into the library as {final.name} ({record.id}).", flush=True)
    if write:
        shutil.copyfile(live.library.original_path(record.id), write)
        print(f"Wrote {write}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
