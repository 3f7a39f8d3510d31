"""Where the local stack keeps its data between runs, and how it writes it without tearing.

`.devstack/data/` holds `firestore/` (the Firestore emulator's own export of the project's
database, read back with `--import-data`) and `amapi-emulator.json` (the AMAPI emulator's world,
written by the emulator itself). A Firestore save exports into `firestore.new/` and only then
swaps it in, so a crash mid-save leaves the previous export whole; a crash between the two
renames leaves `firestore.old/`, which the next start takes back. Starting fresh moves the whole
folder to `data.previous/` (replacing an older one) rather than deleting it.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

from devstack import emulators


class SavedData:
    """The stack's data folder: the Firestore export and the AMAPI emulator's state file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.firestore = root / "firestore"
        self.emulator_file = root / "amapi-emulator.json"
        self._saving = threading.Lock()

    @property
    def previous(self) -> Path:
        """Where a fresh start moves the data it did not restore."""
        return self.root.with_name(self.root.name + ".previous")

    def set_aside(self) -> Path | None:
        """Start empty: move existing data to `previous` (returned), replacing older data."""
        if not self.root.exists():
            return None
        shutil.rmtree(self.previous, ignore_errors=True)
        self.root.rename(self.previous)
        return self.previous

    def firestore_seed(self) -> Path | None:
        """The export the Firestore emulator should import at start, if there is one."""
        interrupted = self.firestore.with_name("firestore.old")
        if not self.firestore.exists() and interrupted.exists():
            interrupted.rename(self.firestore)
        metadata = emulators.firestore_export_metadata(self.firestore)
        return metadata if metadata.exists() else None

    def save_firestore(self, host: str, project: str) -> None:
        """Export the project's Firestore database and swap it in for the previous export."""
        with self._saving:
            incoming = self.firestore.with_name("firestore.new")
            outgoing = self.firestore.with_name("firestore.old")
            shutil.rmtree(incoming, ignore_errors=True)
            self.root.mkdir(parents=True, exist_ok=True)
            emulators.export_firestore(host, project, incoming)
            if self.firestore.exists():
                shutil.rmtree(outgoing, ignore_errors=True)
                self.firestore.rename(outgoing)
            incoming.rename(self.firestore)
            shutil.rmtree(outgoing, ignore_errors=True)
