"""An upgrade rehearsed on the admin's own data: "will *my* store survive?"

The backup (a folder or tar archive of the server's data and configuration, servers/backup.py) is
only read. Before anything starts it is checked: the family's plan maps each folder the
configuration names into the image's layout and refuses, in one line, what cannot be loaded (a
folder missing from the backup, a store written by another version than FROM, settings the image
cannot honour). Then FROM starts on a fresh volume filled with a copy, with the admin's settings
(paths rewritten, overrides listed), and the path runs as `upgrade` runs it (admin/upgrade.py):
snapshot, hop(s) with their documented steps, snapshot, comparison, report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..catalogue import ServerSpec
from ..servers.backup import BackupArchive, LoadPlan
from ..servers.families import FAMILIES
from ..stores.snapshot import Snapshot
from ..stores.store import Store
from .upgrade import PathResult, run_path


def version_tuple(spec: ServerSpec) -> tuple[int, ...]:
    return tuple(int(p) for p in spec.version.split(".") if p.isdigit())


@dataclass
class Backup:
    """The store a rehearsal starts from: a copy of the admin's backup, loaded into FROM's volume."""
    archive: BackupArchive
    plan: LoadPlan
    stage = "read the store"

    @property
    def what(self) -> str:
        return f"the backup {self.archive.path}"

    @property
    def options(self) -> dict[str, object]:
        return dict(self.plan.settings)

    def describe(self) -> dict:
        return {"backup": str(self.archive.path), "kind": self.archive.kind, **self.plan.store}

    def start(self, spec: ServerSpec, progress):
        from ..servers.managed import fill_volume, start_server

        total = self.plan.store.get("bytes") or None
        copied = [0]

        def advance(n: int) -> None:
            copied[0] += n
            progress("copying the backup into a volume", copied[0], total)

        def load(server) -> None:
            fill_volume(server, lambda out: self.archive.write_tar(self.plan, out, advance), self.plan.after_load)
            if total:  # runtime files (locks, sockets) are not copied: the copy is complete short of the total
                progress("copied the backup into a volume", total, total)
        return start_server(spec, options=self.options, prepare=load)

    def make(self, server, progress) -> Store:
        """The accounts the copy holds (every one the admin lists), read by proxy authorization:
        the harness never knows the users' passwords."""
        if self.plan.after_start:
            progress("rebuilding the copy's caches", None, None)
            server.exec(["sh", "-c", self.plan.after_start], user="root").check("after loading the backup")
        progress("listing the accounts", None, None)
        users = [u for u in server.list_users() if u != "anonymous"]
        notes = list(self.plan.notes)
        others = server.mailboxes_outside_accounts()
        if others:
            notes.append(f"{len(others)} mailboxes outside user accounts are not in the snapshots: "
                         + ", ".join(others[:10]) + (" ..." if len(others) > 10 else ""))
        return Store({u: None for u in users}, skipped=notes)

    def problems(self, server, store: Store, before: Snapshot) -> list[str]:
        return [] if store.accounts else ["the copy lists no accounts: nothing to compare"]


def load_backup(spec: ServerSpec, data: Path, older_store: bool = False) -> Backup:
    """The backup read and checked against FROM: every refusal is a UserError, before any start."""
    archive = BackupArchive(data)
    plan = FAMILIES[spec.family].backup_plan(archive, version_tuple(spec), older_store)
    return Backup(archive, plan)


def rehearse(specs: list[ServerSpec], backup: Backup, progress=lambda *_: None, observe=lambda *_: None) -> PathResult:
    return run_path(specs, None, progress, observe=observe, origin=backup)
