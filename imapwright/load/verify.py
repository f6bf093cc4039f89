"""After a load run: what is on the server, to hold against the ledger."""

from __future__ import annotations

import email.parser
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import imapclient

from ..errors import ServerError
from ..servers.handle import ServerHandle
from ..servers.logs import trouble_tail
from ..stores.tree import fetch_chunked
from .mail import MID_DOMAIN

_HEADERS = email.parser.BytesHeaderParser()


def load_message_ids(server: ServerHandle, user: str, folders: list[str],
                     floors: dict[str, int] | None = None) -> dict[str, Counter]:
    """folder -> Message-IDs of load messages (by their domain) in that folder of `user`, read as
    the user (admin credentials with the user as authorization identity); in a folder with a
    floor, only messages from that UID up (the large-mailbox folder: what was there before the
    load is not searched). The server failing to answer (the connection dropped, a NO) is a
    ServerError naming the folder and the server's log."""
    try:
        return _load_message_ids(server, user, folders, floors or {})
    except (imapclient.exceptions.IMAPClientError, OSError) as exc:
        # Found at a million messages on dovecot:2.3: its imap process ended during the SEARCH.
        since = datetime.now(UTC) - timedelta(minutes=5)
        tail = (trouble_tail(server, since, 1) or ["(nothing readable)"])[0]
        raise ServerError(f"{server.name}: reading {user}'s {', '.join(folders)} for the ledger check failed "
                          f"({' '.join(str(exc).split())[:160]}); server log: {tail}") from None


def _load_message_ids(server: ServerHandle, user: str, folders: list[str], floors: dict[str, int]) -> dict[str, Counter]:
    out = {}
    with server.user_session(user) as client:
        for folder in folders:
            client.select_folder(folder, readonly=True)
            try:
                floor = [b"UID", b"%d:*" % floors[folder]] if folder in floors else []
                uids = client.search(floor + [b"HEADER", b"Message-ID", MID_DOMAIN.encode()])
                data = fetch_chunked(client, uids, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
            finally:
                client.unselect_folder()
            ids = Counter()
            for item in data.values():
                raw = next((v for k, v in item.items() if k.startswith(b"BODY[HEADER")), b"")
                mid = (_HEADERS.parsebytes(raw).get("Message-ID") or "").strip()
                if mid.endswith(MID_DOMAIN + ">"):
                    ids[mid] += 1
            out[folder] = ids
    return out


def found_on_server(server: ServerHandle, keys: list[tuple[str, str]], connections: int = 4,
                    floors: dict[tuple[str, str], int] | None = None) -> dict[tuple[str, str], Counter]:
    """(user, folder) -> load Message-IDs, users read side by side (`floors`: see load_message_ids)."""
    by_user: dict[str, list[str]] = {}
    for user, folder in keys:
        by_user.setdefault(user, []).append(folder)
    mine = {u: {f: uid for (v, f), uid in (floors or {}).items() if v == u} for u in by_user}
    with ThreadPoolExecutor(max_workers=connections) as pool:
        results = pool.map(lambda u: (u, load_message_ids(server, u, by_user[u], mine[u])), sorted(by_user))
        return {(user, folder): ids for user, folders in results for folder, ids in folders.items()}
