"""The ``unet-tp`` command line: the student's ``data`` commands, then every ``register(subparsers)``
of the ``unet_tp.commands`` entry points (the instructor's checkout installed in place declares
``autograder.cli:register``: train, evaluate, ..., export); a student install has ``data`` only."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

from unet_tp import __version__
from unet_tp.data import commands as data_commands
from unet_tp.data.cases import DataError
from unet_tp.fileio import os_error_message
from unet_tp.i18n import tr

PLUGINS = "unet_tp.commands"
"""Entry-point group of further sub-commands (``register(subparsers)`` functions)."""
INSTRUCTOR_COMMANDS = (
    *("train", "evaluate", "predict", "figures"),  # autograder/model_commands.py
    *("notebook", "grade", "report", "export"),  # autograder/cli.py
)
"""What the instructor's checkout adds (a student install says so in one line)."""
INSTALL_IN_PLACE = "`pip install -e '.[instructor]'`"


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Each flag's help ends with its default (when it has one); epilogs keep their lines."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default in (None, False) or "default" in text:
            return text
        return super()._get_help_string(action)


def all_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """``parser`` and every sub-command's parser, depth first."""
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                found += all_parsers(child)
    return found


def build_parser() -> argparse.ArgumentParser:
    """The parser: ``data``, then the commands of the installed entry points."""
    parser = argparse.ArgumentParser(
        prog="unet-tp",
        description="U-Net brain-tumour segmentation practical",
        epilog="Run as .venv/bin/unet-tp, or after `source .venv/bin/activate` as unet-tp. "
        "`unet-tp COMMAND --help` describes a command and its flags.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    data_commands.register(sub)
    for plugin in entry_points(group=PLUGINS):
        try:
            register = plugin.load()
        except ModuleNotFoundError as exc:  # declared, but its code is not installed here
            if exc.name is None or exc.name.split(".")[0] != plugin.module.split(".")[0]:
                raise
            continue
        except AttributeError:  # a module of that name that is not the plugin
            continue
        register(sub)
    for p in all_parsers(parser):
        p.formatter_class = HelpFormatter
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``unet-tp`` console script."""
    _put_own_scripts_on_path()
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    name = argv[0] if argv else None
    if name in INSTRUCTOR_COMMANDS and name not in _commands(parser):
        return _error(
            f"`unet-tp {name}` is an instructor command: it needs the kit's repository checked "
            f"out and installed in place ({INSTALL_IN_PLACE}, as scripts/setup_env.sh does); a "
            "student install holds the course package only"
        )
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:  # `| head`: the reader left; nothing more to say (Python's advice)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # read-only, permission, not a folder, disk full: one line
        return _error(os_error_message(exc))
    except (DataError, ValueError, RuntimeError) as exc:
        return _error(str(exc))
    except ImportError as exc:  # e.g. an in-place install without the instructor extras
        hint = f": `unet-tp {name}` needs {INSTALL_IN_PLACE}" if name in INSTRUCTOR_COMMANDS else ""
        return _error(f"{exc}{hint}")
    except KeyboardInterrupt as exc:  # (grading says what it kept)
        print(f"interrupted: {exc}" if str(exc) else "interrupted", file=sys.stderr)
        return 130


def _error(text: str) -> int:
    """Say ``error: text`` on stderr; the exit status of a failed command."""
    print(tr("error: {text}", text=text), file=sys.stderr)
    return 2


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The sub-commands ``parser`` knows, by name."""
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


def _put_own_scripts_on_path() -> None:
    """Run as ``.venv/bin/unet-tp`` without activating the venv, the tools it calls (nbgrader
    runs ``alembic``) are found beside it."""
    scripts = os.path.dirname(sys.executable)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")


if __name__ == "__main__":
    sys.exit(main())
