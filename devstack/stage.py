"""`make stage`: one self-contained folder per deployed function.

gcloud uploads only `--source` and drops symlinks, so each folder gets real copies of the
function's `main.py`, its `requirements.txt` and the `shared/` package.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# deployed function name -> (entry point, source folder under functions/)
DEPLOYED: dict[str, tuple[str, str]] = {
    "enroll": ("enroll", "enroll"),
    "expire-tokens": ("expire_tokens", "enroll"),
    "policy": ("policy", "policy"),
    "commands": ("commands", "commands"),
    "reconcile-commands": ("reconcile_commands", "commands"),
    "notifications": ("notifications", "notifications"),
    "rollouts": ("rollouts", "rollouts"),
    "mcp": ("mcp", "mcp"),
}

# The in-process AMAPI fake serves unit tests only: it is never deployed.
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "fake.py")


def stage(destination: Path, root: Path = ROOT) -> dict[str, Path]:
    """Copy every function with `shared/` into `destination/<function>`; return the folders."""
    folders: dict[str, Path] = {}
    for name, (_entry, source) in DEPLOYED.items():
        folder = destination / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        for file in ("main.py", "requirements.txt"):
            shutil.copy2(root / "functions" / source / file, folder / file)
        shutil.copytree(root / "shared", folder / "shared", ignore=_IGNORED)
        folders[name] = folder
    return folders


def main(argv: list[str] | None = None) -> None:
    """Stage into the folder given on the command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("destination", type=Path)
    args = parser.parse_args(argv)
    for name, folder in stage(args.destination).items():
        print(f"{name}: {folder} (entry point {DEPLOYED[name][0]})")


if __name__ == "__main__":
    main()
